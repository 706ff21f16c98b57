"""Capacity of three designs, computed from AWS's documented default quotas (never run on AWS).

    .venv/bin/python benchmarks/aws_capacity.py          # print the Markdown table (us-east-1)
    .venv/bin/python benchmarks/aws_capacity.py --write  # and write benchmarks/results/


For N tasks due in one second (all at its first millisecond, nothing else in the account,
messages up to 1 KB): time to emit them, open executions, scheduling ceiling, USD per million,
and the quota that binds first. A bucket of size B refilling R/s serves n requests in
max(0, (n - B) / R) s; a quota per second is a bucket with B = R. Method: docs/capacity.md.
"""

import argparse
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pricing import (
    PRICES_USD,
    REGISTRY_WRITE_UNITS_PER_TASK,
    SLOT_WRITE_UNITS_PER_TASK,
    shard_write_units,
)


@dataclass(frozen=True)
class Bucket:
    size: float
    refill_per_second: float

    def drain_seconds(self, requests: float) -> float:
        return max(0.0, (requests - self.size) / self.refill_per_second)


# Step Functions, https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html
# Standard: "StartExecution — US East (N. Virginia), US West (Oregon), and Europe (Ireland) |
# 1,300 | 300" and "StartExecution — All other regions | 800 | 150" (bucket size, refill/s).
SFN_START_EXECUTION = {"us-east-1": Bucket(1_300, 300), "other": Bucket(800, 150)}
# Standard: "StateTransition — US East (N. Virginia), US West (Oregon), and Europe (Ireland) |
# 5,000 | 5,000" and "StateTransition — All other regions | 800 | 800".
SFN_STATE_TRANSITION = {"us-east-1": Bucket(5_000, 5_000), "other": Bucket(800, 800)}
# "Maximum open executions per account | 1,000,000 executions for each AWS account in each AWS
# Region. Exceeding this limit will cause an ExecutionLimitExceeded error."
SFN_MAX_OPEN_EXECUTIONS = 1_000_000
# "Maximum execution time | 1 year": no design can hold a task further ahead than this.
SFN_MAX_EXECUTION_DAYS = 365

# Lambda, https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html:
# "Concurrent executions | 1,000" (per Region, shared by every function of the account) and
# "Invocation requests per Region (requests per second) | 10 x concurrent executions quota".
LAMBDA_CONCURRENCY = 1_000
LAMBDA_INVOCATIONS_PER_SECOND = 10 * LAMBDA_CONCURRENCY
# https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html: "for each function, your
# concurrency scaling rate is 1,000 execution environment instances every 10 seconds".
LAMBDA_SCALING = Bucket(1_000, 1_000 / 10)

# SNS, https://docs.aws.amazon.com/general/latest/gr/sns.html, "Publish API throttling per
# account" (Publish and PublishBatch together, in messages), standard topics: "US East (N.
# Virginia) Region | 30,000 messages per second", "All other supported Regions | 300 messages
# per second" (us-west-2 and eu-west-1: 9,000; eight more Regions: 1,500).
SNS_MESSAGES_PER_SECOND = {"us-east-1": 30_000, "other": 300}
# "Maximum number of messages in PublishBatchRequest | 10 PublishBatchRequestEntries".
SNS_BATCH_SIZE = 10
# Billed requests per batched message: 1.0, NOT confirmed in a stored copy of the SNS pricing
# page; the SNS Developer Guide (sns-batch-api-actions.html) says batches "reduce the costs ...
# by a factor of up to 10" (0.1): notes() prints that reading too.
SNS_BILLED_REQUESTS_PER_BATCHED_MESSAGE = 1.0

# DynamoDB, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html:
# on-demand "Per table | 40,000 read request units and 40,000 write request units" (the table
# and its global secondary indexes together); "One write request unit = one write, for items up
# to 1 KB in size".
DDB_TABLE_WRITES_PER_SECOND = 40_000
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html:
# "every partition in the table will strive to deliver the full capacity of 3,000 RCU and 1,000
# WCU": the bound on one item (the slot counter); task records are keyed by id, so spread.
DDB_PARTITION_WRITES_PER_SECOND = 1_000
DDB_PARTITION_READS_PER_SECOND = 3_000  # a full shard's Query: 500 KB / 4 KB = 125 read units

# API Gateway, https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html:
# "Throttle quota per account, per Region across HTTP APIs, REST APIs, ... | 10,000 requests per
# second (RPS) with an additional burst capacity ... maximum bucket capacity of 5,000 requests".
API_GATEWAY = Bucket(5_000, 10_000)

# Assumptions, not quotas.
API_MEMORY_MB, API_SECONDS = 256, 0.040  # the api function, arm64, per POST
EMIT_MEMORY_MB = 128  # the emit function, arm64
EMIT_HOLD_SECONDS = 1.5  # released a whole second at least 1 s ahead: 1.5 s held on average
EMIT_LEAD_SECONDS = 1.0  # ... and at least 1 s: the head start its release gets (worst case)
EMIT_WORK_SECONDS = 0.040  # today's emit function once due: claim and Publish
PUBLISH_BATCH_IN_FLIGHT, PUBLISH_BATCH_SECONDS = 16, 0.020  # one slot invocation's threads
# The per-task design's Powertools idempotency record: put IN_PROGRESS, then COMPLETED.
PER_TASK_IDEMPOTENCY_WRITE_UNITS = 2
SHARD_TASKS = 500  # tasks per shard (messages of up to 16 KiB count one each)
CLAIM_WRITE_UNITS = 1 + 2  # UpdateItem changing an indexed key: the item and two index writes
TASK_COUNTS = (1, 10, 100, 1_000, 10_000)
DESIGNS = ("seed", "per-task", "slot")


@dataclass(frozen=True)
class Limit:
    name: str
    delay: float  # seconds this quota alone keeps the last task waiting
    load: float  # demand over what it serves without delay (above 1.0, it delays)


def bucket_limit(name: str, demand: float, bucket: Bucket, lead: float = 0.0) -> Limit:
    """Demand met by a token bucket, starting `lead` seconds before the second."""
    return Limit(name, max(0.0, bucket.drain_seconds(demand) - lead), demand / bucket.size)


def per_second(name: str, demand: float, rate: float) -> Limit:
    return bucket_limit(name, demand, Bucket(rate, rate))


def shard_publish_seconds(n: int) -> float:
    """The fullest shard's invocation publishing its tasks: PublishBatch calls, 16 in flight."""
    calls = math.ceil(min(n, SHARD_TASKS) / SNS_BATCH_SIZE)
    return math.ceil(calls / PUBLISH_BATCH_IN_FLIGHT) * PUBLISH_BATCH_SECONDS


def slot_write_units(n: int) -> int:
    """Task records (index and claim included), slot counters and entries (1 KB); per shard,
    its seal and publication log (benchmarks/pricing.py)."""
    shards = math.ceil(n / SHARD_TASKS)
    per_task = REGISTRY_WRITE_UNITS_PER_TASK + SLOT_WRITE_UNITS_PER_TASK
    return n * per_task + shards * shard_write_units(math.ceil(n / shards))


def emit_limits(design: str, n: int, region: str) -> list[Limit]:
    transitions, sns = SFN_STATE_TRANSITION[region], SNS_MESSAGES_PER_SECOND[region]
    publish = per_second("SNS Publish quota", n, sns)
    if design == "seed":  # every Wait ends at the timestamp: n transitions into Publish at once
        return [bucket_limit("StateTransition bucket", n, transitions), publish]
    if design == "per-task":  # n invocations held; those past concurrency wait for the holds
        held, late = min(n, LAMBDA_CONCURRENCY), max(0, n - LAMBDA_CONCURRENCY)
        late_rate = min(LAMBDA_CONCURRENCY / EMIT_WORK_SECONDS, LAMBDA_INVOCATIONS_PER_SECOND)
        claims = n * CLAIM_WRITE_UNITS
        return [
            Limit("Lambda concurrency (account)", late / late_rate, n / LAMBDA_CONCURRENCY),
            bucket_limit("Lambda scaling rate (emit)", held, LAMBDA_SCALING, EMIT_LEAD_SECONDS),
            bucket_limit("StateTransition bucket", n, transitions, EMIT_LEAD_SECONDS),
            publish,
            per_second("DynamoDB table writes", claims, DDB_TABLE_WRITES_PER_SECOND),
        ]
    shards = math.ceil(n / SHARD_TASKS)
    if shards > LAMBDA_CONCURRENCY:
        raise ValueError(f"{n} tasks need more shard invocations than Lambda's concurrency")
    writes = slot_write_units(n) - n * ((1 + 1) + 1 + 1)  # the emission's: claims, log, seals
    publishing = shard_publish_seconds(n)
    rounds = publishing / PUBLISH_BATCH_SECONDS  # of 16 calls in flight
    return [
        Limit("PublishBatch calls per invocation (assumed)", publishing, rounds),
        publish,
        per_second("DynamoDB table writes", writes, DDB_TABLE_WRITES_PER_SECOND),
        Limit("Lambda concurrency (one per shard)", 0.0, shards / LAMBDA_CONCURRENCY),
        bucket_limit("StateTransition bucket", shards, transitions, EMIT_LEAD_SECONDS),
    ]


def schedule_ceilings(design: str, n: int, region: str) -> dict[str, float]:
    """Tasks accepted per second, sustained, by each quota: its refill over the use per task."""
    transitions = SFN_STATE_TRANSITION[region].refill_per_second
    ceilings = {
        "HTTP API throttle": API_GATEWAY.refill_per_second,
        "StartExecution refill": SFN_START_EXECUTION[region].refill_per_second,  # every POST
    }
    if design == "seed":
        return ceilings | {"StateTransition refill": transitions / 2}
    per_task = 1 / SHARD_TASKS if design == "slot" else 1.0  # executions and emits per task
    held = EMIT_HOLD_SECONDS + (shard_publish_seconds(n) if design == "slot" else EMIT_WORK_SECONDS)
    # Sustained, the emits of earlier seconds hold concurrency while new POSTs arrive.
    lambda_seconds = API_SECONDS + per_task * held
    ceilings["Lambda concurrency (api + emit holds)"] = LAMBDA_CONCURRENCY / lambda_seconds
    ceilings["Lambda invocations"] = LAMBDA_INVOCATIONS_PER_SECOND / (1 + per_task)
    ceilings["StateTransition refill"] = transitions / (2 * per_task)
    # per-task: the registry table only (its idempotency records are a table of their own)
    units = slot_write_units(n) / n if design == "slot" else REGISTRY_WRITE_UNITS_PER_TASK
    ceilings["DynamoDB table writes"] = DDB_TABLE_WRITES_PER_SECOND / units
    if design == "slot":  # every join of a slot updates its one counter item
        ceilings["slot counter item (per slot)"] = DDB_PARTITION_WRITES_PER_SECOND
    return ceilings


def lambda_usd(memory_mb: int, seconds: float) -> float:
    gb_seconds = memory_mb / 1024 * seconds
    return PRICES_USD["lambda_request"] + gb_seconds * PRICES_USD["lambda_gb_second_arm64"]


def usd_per_million(design: str, n: int, sns_per_batched: float) -> float:
    transition, http = PRICES_USD["sfn_state_transition"], PRICES_USD["http_api_request"]
    sns, wru = PRICES_USD["sns_publish"], PRICES_USD["dynamodb_write_request_unit"]
    api = http + lambda_usd(API_MEMORY_MB, API_SECONDS)
    if design == "seed":  # the HTTP API request counted too, unlike seed_cost_per_million()
        per_task = 2 * transition + http + sns
    elif design == "per-task":
        emit = lambda_usd(EMIT_MEMORY_MB, EMIT_HOLD_SECONDS + EMIT_WORK_SECONDS)
        units = REGISTRY_WRITE_UNITS_PER_TASK + PER_TASK_IDEMPOTENCY_WRITE_UNITS  # 7
        per_task = api + 2 * transition + emit + sns + units * wru
    else:
        emit_seconds = EMIT_HOLD_SECONDS + shard_publish_seconds(n)
        per_shard = 2 * transition + lambda_usd(EMIT_MEMORY_MB, emit_seconds)
        per_task = api + sns_per_batched * sns + slot_write_units(n) / n * wru
        per_task += math.ceil(n / SHARD_TASKS) * per_shard / n
    return round(per_task * 1_000_000, 2)


def capacity_row(design: str, n: int, region: str = "us-east-1") -> dict[str, Any]:
    # The quota that delays most; when none delays, the nearest to doing so.
    emit = max(emit_limits(design, n, region), key=lambda limit: (limit.delay, limit.load))
    ceilings = schedule_ceilings(design, n, region)
    ceiling = min(ceilings, key=lambda name: ceilings[name])
    executions = math.ceil(n / SHARD_TASKS) if design == "slot" else n
    return {
        "design": design,
        "tasks": n,
        "emit_seconds": round(emit.delay, 3),
        # Invocations throttled at release also wait for Step Functions' retry backoff.
        "emit_seconds_is_lower_bound": design == "per-task" and n > LAMBDA_CONCURRENCY,
        "emit_binds": emit.name,
        "emit_binds_load": round(emit.load, 4),
        "open_executions": executions,
        "pending_seconds_under_open_limit": SFN_MAX_OPEN_EXECUTIONS // executions,
        "schedule_ceiling_per_second": round(ceilings[ceiling], 1),
        "schedule_binds": ceiling,
        "usd_per_million": usd_per_million(design, n, SNS_BILLED_REQUESTS_PER_BATCHED_MESSAGE),
    }


def capacity_table(region: str = "us-east-1") -> list[dict[str, Any]]:
    return [capacity_row(design, n, region) for design in DESIGNS for n in TASK_COUNTS]


def markdown(rows: list[dict[str, Any]]) -> str:
    head = "design|tasks due in the second|time to emit all (s)|binds first (load if no delay)"
    head += "|open executions|scheduling ceiling (tasks/s)|binds first|USD per million tasks"
    lines = [f"| {head.replace('|', ' | ')} |", "|---|--:|--:|---|--:|--:|---|--:|"]
    for row in rows:
        emit = ("≥ " if row["emit_seconds_is_lower_bound"] else "") + f"{row['emit_seconds']:.2f}"
        binds = row["emit_binds"]
        if row["emit_seconds"] == 0:
            binds += f" ({row['emit_binds_load']:.2%})"
        lines.append(
            f"| {row['design']} | {row['tasks']:,} | {emit} | {binds} "
            f"| {row['open_executions']:,} | {row['schedule_ceiling_per_second']:,.0f} "
            f"| {row['schedule_binds']} | {row['usd_per_million']:.2f} |"
        )
    return "\n".join(lines)


def notes() -> list[str]:
    """Figures the table leaves out, from the same constants."""
    n = TASK_COUNTS[-1]
    calls = SHARD_TASKS + math.ceil(SHARD_TASKS / SNS_BATCH_SIZE)
    claims = math.ceil(calls / PUBLISH_BATCH_IN_FLIGHT) * PUBLISH_BATCH_SECONDS
    return [
        f"slot, {n:,} tasks, if SNS bills a PublishBatch call as one request: "
        f"{usd_per_million('slot', n, 1 / SNS_BATCH_SIZE):.2f} USD per million",
        f"slot, a full shard, if its {SHARD_TASKS} claims (UpdateItem) share the invocation's "
        f"{PUBLISH_BATCH_IN_FLIGHT} calls in flight after the slot starts: {claims:.2f} s to emit",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--write", action="store_true", help="also write benchmarks/results/capacity.json"
    )
    parser.add_argument("--region", choices=sorted(SFN_START_EXECUTION), default="us-east-1")
    args = parser.parse_args()
    rows = capacity_table(args.region)
    print(f"Computed from documented default quotas ({args.region}), not run on AWS.\n")
    print(markdown(rows) + "\n\n" + "\n".join(f"- {note}" for note in notes()))
    if args.write:
        path = Path(__file__).resolve().parent / "results" / "capacity.json"
        document = {
            "source": "computed from documented default quotas, not run on AWS",
            "region": args.region,
            # Every quota and assumption above, by its constant's name.
            "constants": {name: value for name, value in globals().items() if name.isupper()},
            "rows": rows,
            "notes": notes(),
        }
        text = json.dumps(document, indent=2, ensure_ascii=False, default=asdict)
        path.write_text(text + "\n")
        print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
