"""Benchmark: precision and loss under load through the local stack, cold starts, cost.

    make bench     # or: .venv/bin/python benchmarks/lateness_and_cost.py --tasks 200 --clients 32

Deploys examples/local into the emulator (truncating Wait, warm Lambda environments), posts
`--tasks` tasks from `--clients` concurrent clients, all due within the same `--window-seconds`
at random milliseconds, and collects every emission on GET /events. Writes
benchmarks/results/results.json and results.md, and puts that table in docs/benchmarks.md
between its bench markers. Local lateness measures the mechanism (release, hold, publish) on
the emulator, not AWS's own timers. Figures depend on the machine; ratios are measured
within one run.
"""

import argparse
import json
import math
import os
import platform
import random
import re
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pricing import (
    REGISTRY_WRITE_UNITS_PER_TASK,
    SLOT_WRITE_UNITS_PER_TASK,
    Function,
    cost_per_million,
    happy_path_states,
    seed_cost_per_million,
    shard_write_units,
)

from task_scheduler_emulator import runtimes
from task_scheduler_emulator.local_stack import REPO_ROOT, LocalStack, client
from task_scheduler_emulator.patches.awslambda import runtime as lambda_runtime

RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"
ZIP = REPO_ROOT / "dist" / "task_scheduler.zip"
_REPORT = re.compile(r"REPORT RequestId: \S+\tDuration: ([\d.]+) ms")
# Module import plus the first client, in a fresh interpreter of the deployed runtime.
_COLD_INIT = {
    "baseline_boto3": "import boto3; boto3.client('sns')",
    "api": "import task_scheduler.api.handler; "
    "from task_scheduler.aws import clients; clients.client('stepfunctions')",
    "emit": "import task_scheduler.emit.handler; "
    "from task_scheduler.aws import clients; clients.client('sns')",
}


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


def cold_init_ms(runtime: str, runs: int) -> dict[str, float]:
    """Median milliseconds of each _COLD_INIT snippet, interleaved so that load hits all alike."""
    python, site_dir = runtimes.interpreter(runtime), runtimes.ensure(runtime).site_dir
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": f"{REPO_ROOT / 'lambda_src'}:{site_dir}",
        "PYTHONDONTWRITEBYTECODE": "1",  # the function's own code is compiled at every cold start
        "AWS_DEFAULT_REGION": "us-east-1",
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:bench",
        "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench",
        "POWERTOOLS_SERVICE_NAME": "bench",
    }
    samples: dict[str, list[float]] = {name: [] for name in _COLD_INIT}
    for _ in range(runs):
        for name, snippet in _COLD_INIT.items():
            timed = (
                f"import time; t = time.perf_counter(); {snippet}; print(time.perf_counter() - t)"
            )
            out = subprocess.run(
                [str(python), "-S", "-c", timed],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            samples[name].append(float(out) * 1000)
    return {name: round(statistics.median(values), 1) for name, values in samples.items()}


def listen(url: str, deliveries: list[tuple[dict[str, Any], datetime]]) -> None:
    with urllib.request.urlopen(f"{url}/events") as stream:
        for raw in stream:
            line = raw.decode()
            if line.startswith("data: "):
                deliveries.append((json.loads(line.removeprefix("data: ")), datetime.now(UTC)))


@dataclass(frozen=True)
class Posted:
    due: datetime
    status: int
    task_id: str | None  # None unless accepted (201)
    ms: float


def post_task(url: str, due: datetime) -> Posted:
    body = json.dumps({"timestamp": due.isoformat(), "message": {"due": due.isoformat()}})
    request = urllib.request.Request(f"{url}/schedule", body.encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    sent = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = Posted(due, response.status, str(json.loads(response.read())["id"]), 0)
    except urllib.error.HTTPError as error:
        answer = Posted(due, error.code, None, 0)
    return replace(answer, ms=(time.monotonic() - sent) * 1000)


def post_all(url: str, dues: list[datetime], clients: int) -> list[Posted]:
    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(post_task, [url] * len(dues), dues))


def in_window(start: datetime, seconds: float, count: int) -> list[datetime]:
    """`count` instants at random milliseconds within `seconds` from `start`."""
    return [
        start + timedelta(milliseconds=random.randrange(int(seconds * 1000))) for _ in range(count)
    ]


def await_deliveries(
    deliveries: list[tuple[dict[str, Any], datetime]], ids: set[str], until: datetime
) -> None:
    while not ids <= {event["id"] for event, _ in deliveries} and datetime.now(UTC) < until:
        time.sleep(0.2)
    time.sleep(2)  # let any duplicate arrive


def lateness_by_task(
    deliveries: list[tuple[dict[str, Any], datetime]], posted: list[Posted]
) -> list[tuple[Posted, float]]:
    """Publish time (the SNS envelope's) minus timestamp, per delivery of a posted task."""
    tasks = {p.task_id: p for p in posted if p.task_id}
    return [
        (task, (datetime.fromisoformat(event["emitted_at"]) - task.due).total_seconds() * 1000)
        for event, _ in deliveries
        if (task := tasks.get(event["id"]))
    ]


def lateness_ms(
    deliveries: list[tuple[dict[str, Any], datetime]], posted: list[Posted]
) -> list[float]:
    return sorted(ms for _, ms in lateness_by_task(deliveries, posted))


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "min": round(values[0], 1),
        "p50": round(percentile(values, 0.50), 1),
        "p99": round(percentile(values, 0.99), 1),
        "max": round(values[-1], 1),
    }


def warm_durations(
    endpoint_url: str, function_name: str, since: datetime, until: datetime
) -> list[float]:
    """The durations of the function's warm invocations (hold included) that ended between
    `since` and `until`, from its REPORT lines."""
    logs = client("logs", endpoint_url=endpoint_url)
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=f"/aws/lambda/{function_name}",
        filterPattern="REPORT",
        startTime=int(since.timestamp() * 1000),
        endTime=int(until.timestamp() * 1000),
    )
    lines = [event["message"] for page in pages for event in page["events"]]
    return [
        float(match[1])
        for line in lines
        if "Init Duration" not in line and (match := _REPORT.search(line))
    ]


def emit_logs(endpoint_url: str, function_name: str) -> dict[str, dict[str, Any]]:
    """The emit function's "Emitted task" log records, by task id."""
    logs = client("logs", endpoint_url=endpoint_url)
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=f"/aws/lambda/{function_name}", filterPattern="Emitted task"
    )
    records = [json.loads(e["message"]) for page in pages for e in page["events"]]
    return {record["id"]: record for record in records if record.get("message") == "Emitted task"}


# Tasks one shard carries (variable slot_shard_size, the default of examples/local).
SHARD_TASKS = 500
DENSITIES = (1, 10, 100, 1000)


def deployed_functions(
    stack: LocalStack, api_ms: list[float], emit_ms: list[float]
) -> tuple[dict[str, Any], Function, Function]:
    """The deployed definition, and the api and emit functions billed for the mean of the
    measured durations."""
    assert stack.emulator is not None
    endpoint = stack.emulator.endpoint_url
    definition = json.loads(
        client("stepfunctions", endpoint_url=endpoint).describe_state_machine(
            stateMachineArn=stack.outputs["sfn_state_machine_arn"]
        )["definition"]
    )
    functions = []
    for output, durations in (
        ("lambda_api_function_name", api_ms),
        ("lambda_emit_function_name", emit_ms),
    ):
        config = client("lambda", endpoint_url=endpoint).get_function_configuration(
            FunctionName=stack.outputs[output]
        )
        seconds = statistics.mean(durations) / 1000
        functions.append(Function(config["MemorySize"], config["Architectures"][0], seconds))
    assert happy_path_states(definition) == 2, "the happy path must enter two states"
    return definition, functions[0], functions[1]


def cost_at_density(definition: dict[str, Any], api: Function, emit: Function, due: int) -> float:
    """USD per million tasks when `due` tasks are due in each second: they share its shards'
    executions and emit invocations (each billed `emit`'s measured duration)."""
    shards = math.ceil(due / SHARD_TASKS)
    per_shard = math.ceil(due / shards)
    return cost_per_million(
        definition,
        [api],
        api_requests=1,
        dynamodb_write_units=REGISTRY_WRITE_UNITS_PER_TASK + SLOT_WRITE_UNITS_PER_TASK,
        shard_functions=(emit,),
        tasks_per_shard=per_shard,
        shard_dynamodb_write_units=shard_write_units(per_shard),
    )


def delivered(
    deliveries: list[tuple[dict[str, Any], datetime]], posted: list[Posted]
) -> dict[str, Any]:
    """Lateness, early, lost and duplicated emissions of the accepted tasks of `posted`."""
    ids = {p.task_id for p in posted if p.task_id}
    late = lateness_ms(deliveries, posted)
    copies = Counter(event["id"] for event, _ in deliveries if event["id"] in ids)
    return {
        "lateness_ms": summary(late),
        "early": sum(ms < 0 for ms in late),
        "emitted": len(copies),
        "lost": len(ids - copies.keys()),
        "duplicates": sum(n - 1 for n in copies.values()),
    }


def dense_second(
    stack: LocalStack,
    deliveries: list[tuple[dict[str, Any], datetime]],
    tasks: int,
    clients: int,
    settle_seconds: float,
) -> tuple[dict[str, Any], list[float]]:
    """`tasks` tasks due in one second (random milliseconds), posted ahead by `clients`; and
    the emit function's durations while it emitted them."""
    assert stack.emulator is not None
    due_at = datetime.now(UTC).replace(microsecond=0) + timedelta(
        seconds=math.ceil(10 + tasks * 2 / clients)
    )
    posted = post_all(stack.url, in_window(due_at, 1, tasks), clients)
    if datetime.now(UTC) >= due_at - timedelta(seconds=2):
        return {"tasks": tasks, "not_measured": "posting overran its window"}, []
    ids = {p.task_id for p in posted if p.task_id}
    # Longer than the window run's: a dense second can outrun the emulator's one process (each
    # AWS call costs it tens of ms), and a late task must not be counted lost.
    await_deliveries(deliveries, ids, due_at + timedelta(seconds=1 + 3 * settle_seconds))
    emit_ms = warm_durations(
        stack.emulator.endpoint_url,
        stack.outputs["lambda_emit_function_name"],
        due_at - timedelta(seconds=3),
        datetime.now(UTC),
    )
    return {
        "tasks": tasks,
        "clients": clients,
        "second": due_at.isoformat(),
        "rejected": dict(Counter(str(p.status) for p in posted if p.task_id is None)),
        **delivered(deliveries, posted),
    }, emit_ms


def run(
    tasks: int, clients: int, window_seconds: float, settle_seconds: float, dense_tasks: int
) -> dict[str, Any]:
    """Warm up (ramping clients 1, 2, 4, ... as traffic would), then measure the load."""
    with TemporaryDirectory() as state_dir:
        stack = LocalStack(port=0, state_dir=Path(state_dir), echo=lambda _: None)
        try:
            stack.start()
            assert stack.emulator is not None
            deliveries: list[tuple[dict[str, Any], datetime]] = []
            threading.Thread(target=listen, args=(stack.url, deliveries), daemon=True).start()

            # Warm-up: clients ramp up, and tasks all due in one second start as many emit
            # environments as the load keeps busy at once (each holds for the lead and up to
            # a second more, and a whole second's tasks are released together).
            ramp = [2**n for n in range(clients.bit_length()) if 2**n <= clients]
            ramp.append(max(0, math.ceil(5 * tasks / window_seconds) - sum(ramp)))
            warm_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=20)
            warmup = [
                posted
                for width in ramp
                for posted in post_all(stack.url, in_window(warm_at, 1, width), max(width, 1))
            ]
            warm_ids = {p.task_id for p in warmup if p.task_id}
            await_deliveries(deliveries, warm_ids, warm_at + timedelta(seconds=settle_seconds))
            # The api function's own duration, one request at a time (under the load below it
            # mostly measures this 2-core machine): what the cost figure bills per request.
            probe_since = datetime.now(UTC)
            far = datetime.now(UTC) + timedelta(days=1)
            post_all(stack.url, [far] * 20, 1)
            api_ms = warm_durations(
                stack.emulator.endpoint_url,
                stack.outputs["lambda_api_function_name"],
                probe_since,
                datetime.now(UTC) + timedelta(seconds=1),
            )
            before = lambda_runtime.statistics()

            # The load: every task due within one window that starts after all are posted.
            window_at = datetime.now(UTC).replace(microsecond=0) + timedelta(
                seconds=math.ceil(5 + tasks * 2 / clients)
            )
            posted = post_all(stack.url, in_window(window_at, window_seconds, tasks), clients)
            overran = datetime.now(UTC) >= window_at
            ids = {p.task_id for p in posted if p.task_id}
            until = window_at + timedelta(seconds=window_seconds + settle_seconds)
            await_deliveries(deliveries, ids, until)
            emit_ms = warm_durations(
                stack.emulator.endpoint_url,
                stack.outputs["lambda_emit_function_name"],
                window_at - timedelta(seconds=2),
                datetime.now(UTC),
            )
            after = lambda_runtime.statistics()
            held = emit_logs(
                stack.emulator.endpoint_url, stack.outputs["lambda_emit_function_name"]
            )
            dense, dense_emit_ms = dense_second(
                stack, deliveries, dense_tasks, clients, settle_seconds
            )
            definition, api, emit = deployed_functions(stack, api_ms, emit_ms)
            dense_emit = replace(
                emit, billed_seconds=statistics.mean(dense_emit_ms or emit_ms) / 1000
            )
        finally:
            stack.stop()

    late = lateness_ms(deliveries, posted)
    copies = Counter(event["id"] for event, _ in deliveries if event["id"] in ids)
    schedule_ms = sorted(p.ms for p in posted)
    # A second's shard invocation is billed as measured: in the window run (a few tasks per
    # second) for sparse seconds, in the dense second for dense ones.
    by_density = {
        str(due): cost_at_density(definition, api, emit if due < 100 else dense_emit, due)
        for due in DENSITIES
    }

    def total(starts: dict[str, dict[str, int]], kind: str) -> int:
        return sum(counts[kind] for counts in starts.values())

    return {
        "tasks": tasks,
        "clients": clients,
        "window_seconds": window_seconds,
        "not_measured": "posting overran its window" if overran else None,
        "lateness_ms": summary(late),
        "early": sum(ms < 0 for ms in late),
        "rejected": dict(Counter(str(p.status) for p in posted if p.task_id is None)),
        "schedule_latency_ms": {
            "p50": round(percentile(schedule_ms, 0.50), 1),
            "p99": round(percentile(schedule_ms, 0.99), 1),
        },
        "cold_starts": total(after, "cold_starts") - total(before, "cold_starts"),
        "warm_starts": total(after, "warm_starts") - total(before, "warm_starts"),
        "throttles": total(after, "throttles") - total(before, "throttles"),
        "warmup": {
            "tasks": len(warmup),
            "rejected": dict(Counter(str(p.status) for p in warmup if p.task_id is None)),
            "lateness_ms": summary(lateness_ms(deliveries, warmup)),
            "cold_starts": total(before, "cold_starts"),
        },
        "lambda_environments": after,
        "emitted": len(copies),
        "lost": len(ids - copies.keys()),
        "duplicates": sum(n - 1 for n in copies.values()),
        "billed_ms": {  # mean warm durations: api one request at a time, emit under the load
            "api": round(statistics.mean(api_ms), 1),
            "emit": round(statistics.mean(emit_ms), 1),
            "emit_dense_second": round(dense_emit.billed_seconds * 1000, 1),
        },
        "window_start": window_at.isoformat(),
        # Where the slowest lost their time: a short hold means a late release or invocation.
        "slowest": [
            {
                "timestamp": p.due.isoformat(),
                "lateness_ms": round(ms, 1),
                "held_ms": held.get(str(p.task_id), {}).get("held_ms"),
                "lateness_in_function_ms": held.get(str(p.task_id), {}).get("lateness_ms"),
            }
            for p, ms in sorted(lateness_by_task(deliveries, posted), key=lambda pair: -pair[1])[:5]
        ],
        "dense_second": dense,
        # The window run's own density: about tasks / window_seconds per second.
        "cost_per_million_usd": cost_at_density(
            definition, api, emit, max(1, round(tasks / window_seconds))
        ),
        "cost_per_million_usd_by_density": by_density,
        "terraform_seconds": stack.timings,
    }


def table(r: dict[str, Any]) -> str:
    """The results as the Markdown table docs/benchmarks.md shows."""
    late, cold, sched = r["lateness_ms"], r["cold_init_ms"], r["schedule_latency_ms"]
    warmup = r["warmup"]["lateness_ms"]
    warmup_late = f"{warmup['p50']} / {warmup['max']}" if warmup else "-"
    dense = r["dense_second"]
    dense_late = dense.get("lateness_ms")
    rows = [
        ("tasks (clients, window)", f"{r['tasks']} ({r['clients']}, {r['window_seconds']:g} s)"),
        ("not measured", r["not_measured"] or "-"),
        ("lateness ms min / p50 / p99 / max", " / ".join(map(str, late.values())) if late else "-"),
        ("early emissions", r["early"]),
        ("emitted / lost / duplicates", f"{r['emitted']} / {r['lost']} / {r['duplicates']}"),
        ("requests rejected (by status)", r["rejected"] or 0),
        ("POST /schedule ms p50 / p99", f"{sched['p50']} / {sched['p99']}"),
        ("cold / warm starts under load", f"{r['cold_starts']} / {r['warm_starts']}"),
        ("warm-up: tasks, cold starts", f"{r['warmup']['tasks']}, {r['warmup']['cold_starts']}"),
        ("warm-up lateness ms p50 / max", warmup_late),
        ("throttled invocations", r["throttles"]),
        ("cold init ms: `import boto3` + client", r["baseline_boto3_ms"]),
        ("cold init ms: api (ratio)", f"{cold['api']['ms']} ({cold['api']['ratio']}x)"),
        ("cold init ms: emit (ratio)", f"{cold['emit']['ms']} ({cold['emit']['ratio']}x)"),
        ("zip bytes", r["zip_bytes"]),
        ("dense second: tasks due in one second", dense["tasks"]),
        ("dense second: not measured", dense.get("not_measured", "-")),
        (
            "dense second: lateness ms p50 / p99 / max",
            f"{dense_late['p50']} / {dense_late['p99']} / {dense_late['max']}"
            if dense_late
            else "-",
        ),
        (
            "dense second: early / lost / duplicates",
            " / ".join(str(dense.get(kind, "-")) for kind in ("early", "lost", "duplicates")),
        ),
        ("USD per million tasks (the window run's density)", r["cost_per_million_usd"]),
        (
            "USD per million, 1 / 10 / 100 / 1,000 due per second",
            " / ".join(str(v) for v in r["cost_per_million_usd_by_density"].values()),
        ),
        ("USD per million, seed's design", r["seed_cost_per_million_usd"]),
        ("cost ratio to the seed's design", f"{r['cost_ratio_to_seed']}x"),
    ]
    head = [f"Measured {r['date']} on {r['machine']}.", "", "| figure | value |", "|---|---|"]
    return "\n".join(head + [f"| {name} | {value} |" for name, value in rows]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--window-seconds", type=float, default=10.0)
    parser.add_argument("--settle-seconds", type=float, default=60.0)
    parser.add_argument("--init-runs", type=int, default=9)
    parser.add_argument("--dense-tasks", type=int, default=1000)
    args = parser.parse_args()

    init = cold_init_ms("python3.13", args.init_runs)
    results = run(
        args.tasks, args.clients, args.window_seconds, args.settle_seconds, args.dense_tasks
    )
    baseline = init.pop("baseline_boto3")
    results["baseline_boto3_ms"] = baseline
    results["cold_init_ms"] = {
        name: {"ms": ms, "ratio": round(ms / baseline, 2)} for name, ms in init.items()
    }
    results["zip_bytes"] = ZIP.stat().st_size
    results["seed_cost_per_million_usd"] = seed_cost_per_million()
    results["cost_ratio_to_seed"] = round(
        results["cost_per_million_usd"] / results["seed_cost_per_million_usd"], 3
    )
    results["date"] = datetime.now(UTC).strftime("%Y-%m-%d")
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS_DIR / "results.md").write_text(table(results))
    page = REPO_ROOT / "docs" / "benchmarks.md"
    before, start, rest = page.read_text().partition("<!-- bench:start -->\n")
    _, end, after = rest.partition("<!-- bench:end -->")
    page.write_text(before + start + table(results) + end + after)
    print(table(results))


if __name__ == "__main__":
    main()
