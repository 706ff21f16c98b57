"""Benchmark: precision and loss under load through the local stack, cold starts, cost.

    make bench     # or: .venv/bin/python benchmarks/local_stack.py --tasks 200 --clients 32

Deploys examples/local into the emulator (truncating Wait, warm Lambda environments), posts
`--tasks` tasks from `--clients` concurrent clients, all due within the same `--window-seconds`
at random milliseconds, and collects every emission on GET /events. Writes bench/results.json
and bench/results.md (the table the README shows). Local lateness measures the mechanism
(release, hold, publish) on the emulator, not AWS's own timers. Figures depend on the machine;
ratios are measured within one run.
"""

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pricing import Function, cost_per_million, happy_path_states, seed_cost_per_million

from task_scheduler_emulator import lambda_runtime, runtimes
from task_scheduler_emulator.local_stack import REPO_ROOT, LocalStack, client

RESULTS_DIR = REPO_ROOT / "bench"
ZIP = REPO_ROOT / "dist" / "task_scheduler.zip"
_REPORT = re.compile(r"REPORT RequestId: \S+\tDuration: ([\d.]+) ms")
# Module import plus the first client, in a fresh interpreter of the deployed runtime.
_COLD_INIT = {
    "baseline_boto3": "import boto3; boto3.client('sns')",
    "api": "import task_scheduler.handlers.api; "
    "from task_scheduler import aws; aws.client('stepfunctions')",
    "emit": "import task_scheduler.handlers.emit; "
    "from task_scheduler import aws; aws.client('sns')",
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


def post_task(url: str, due: datetime, index: int) -> tuple[str, float]:
    body = json.dumps({"timestamp": due.isoformat(), "message": {"task": index}}).encode()
    request = urllib.request.Request(f"{url}/schedule", body, method="POST")
    request.add_header("Content-Type", "application/json")
    sent = time.monotonic()
    with urllib.request.urlopen(request, timeout=60) as response:
        task_id = str(json.loads(response.read())["id"])
    return task_id, (time.monotonic() - sent) * 1000


def report_durations(endpoint_url: str, function_name: str) -> list[float]:
    """Each invocation's duration (init and hold included) from the function's REPORT lines."""
    logs = client("logs", endpoint_url=endpoint_url)
    pages = logs.get_paginator("filter_log_events").paginate(
        logGroupName=f"/aws/lambda/{function_name}", filterPattern="REPORT"
    )
    lines = [event["message"] for page in pages for event in page["events"]]
    return [float(match[1]) for line in lines if (match := _REPORT.search(line))]


def deployed_cost(stack: LocalStack, api_ms: list[float], emit_ms: list[float]) -> float:
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
        mean_seconds = statistics.mean(durations) / 1000
        functions.append(Function(config["MemorySize"], config["Architectures"][0], mean_seconds))
    assert happy_path_states(definition) == 2, "the happy path must enter two states"
    return cost_per_million(definition, functions, api_requests=1)


def run(tasks: int, clients: int, window_seconds: float, settle_seconds: float) -> dict[str, Any]:
    with TemporaryDirectory() as state_dir:
        stack = LocalStack(port=0, state_dir=Path(state_dir), echo=lambda _: None)
        try:
            stack.start()
            assert stack.emulator is not None
            deliveries: list[tuple[dict[str, Any], datetime]] = []
            threading.Thread(target=listen, args=(stack.url, deliveries), daemon=True).start()
            # Due in one window after every task is posted, each at a random millisecond.
            window_start = datetime.now(UTC).replace(microsecond=0) + timedelta(
                seconds=10 + tasks * 2 / clients
            )
            dues = [
                window_start + timedelta(milliseconds=random.randrange(int(window_seconds * 1000)))
                for _ in range(tasks)
            ]
            with ThreadPoolExecutor(clients) as pool:
                posted = list(pool.map(post_task, [stack.url] * tasks, dues, range(tasks)))
            assert datetime.now(UTC) < window_start, (
                "posting took longer than planned: lower --tasks"
            )
            due_by_id = {task_id: due for (task_id, _), due in zip(posted, dues, strict=True)}
            deadline = time.monotonic() + (window_start - datetime.now(UTC)).total_seconds()
            deadline += window_seconds + settle_seconds
            while len({e["id"] for e, _ in deliveries}) < tasks and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(2)  # let any duplicate arrive
            endpoint = stack.emulator.endpoint_url
            api_ms = report_durations(endpoint, stack.outputs["lambda_api_function_name"])
            emit_ms = report_durations(endpoint, stack.outputs["lambda_emit_function_name"])
            cost = deployed_cost(stack, api_ms, emit_ms)
            starts = lambda_runtime.statistics()
        finally:
            stack.stop()

    lateness = sorted(
        (datetime.fromisoformat(event["emitted_at"]) - due_by_id[event["id"]]).total_seconds()
        * 1000
        for event, _ in deliveries
        if event["id"] in due_by_id
    )
    copies = Counter(event["id"] for event, _ in deliveries)
    schedule_ms = sorted(ms for _, ms in posted)
    return {
        "tasks": tasks,
        "clients": clients,
        "window_seconds": window_seconds,
        "lateness_ms": {
            "min": round(lateness[0], 1),
            "p50": round(percentile(lateness, 0.50), 1),
            "p99": round(percentile(lateness, 0.99), 1),
            "max": round(lateness[-1], 1),
        }
        if lateness
        else None,
        "early": sum(ms < 0 for ms in lateness),
        "schedule_latency_ms": {
            "p50": round(percentile(schedule_ms, 0.50), 1),
            "p99": round(percentile(schedule_ms, 0.99), 1),
        },
        "cold_starts": sum(s["cold_starts"] for s in starts.values()),
        "warm_starts": sum(s["warm_starts"] for s in starts.values()),
        "throttles": sum(s["throttles"] for s in starts.values()),
        "lambda_environments": starts,
        "emitted": len(copies.keys() & due_by_id.keys()),
        "lost": len(due_by_id.keys() - copies.keys()),
        "duplicates": sum(n - 1 for n in copies.values()),
        "mean_billed_ms": {
            "api": round(statistics.mean(api_ms), 1),
            "emit": round(statistics.mean(emit_ms), 1),
        },
        "cost_per_million_usd": cost,
        "terraform_seconds": stack.timings,
    }


def table(r: dict[str, Any]) -> str:
    """The results as the Markdown table the README shows."""
    late, cold, sched = r["lateness_ms"], r["cold_init_ms"], r["schedule_latency_ms"]
    rows = [
        ("tasks (clients, window)", f"{r['tasks']} ({r['clients']}, {r['window_seconds']:g} s)"),
        ("lateness ms min / p50 / p99 / max", " / ".join(str(late[k]) for k in late)),
        ("early emissions", r["early"]),
        ("emitted / lost / duplicates", f"{r['emitted']} / {r['lost']} / {r['duplicates']}"),
        ("POST /schedule ms p50 / p99", f"{sched['p50']} / {sched['p99']}"),
        ("cold / warm starts", f"{r['cold_starts']} / {r['warm_starts']}"),
        ("throttled invocations", r["throttles"]),
        ("cold init ms: `import boto3` + client", r["baseline_boto3_ms"]),
        ("cold init ms: api (ratio)", f"{cold['api']['ms']} ({cold['api']['ratio']}x)"),
        ("cold init ms: emit (ratio)", f"{cold['emit']['ms']} ({cold['emit']['ratio']}x)"),
        ("zip bytes", r["zip_bytes"]),
        ("USD per million tasks", r["cost_per_million_usd"]),
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
    args = parser.parse_args()

    init = cold_init_ms("python3.13", args.init_runs)
    results = run(args.tasks, args.clients, args.window_seconds, args.settle_seconds)
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
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS_DIR / "results.md").write_text(table(results))
    print(table(results))


if __name__ == "__main__":
    main()
