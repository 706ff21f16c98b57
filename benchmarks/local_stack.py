"""Benchmark the local stack: apply/destroy times and emission lateness.

    make bench            # or: .venv/bin/python benchmarks/local_stack.py --tasks 30

Deploys examples/local into the emulator, schedules tasks spread over a few seconds through
the HTTP API, and prints how late each was emitted (SNS publish time minus timestamp) and
received on GET /events, as percentiles. Figures depend on the machine; compare runs on one.
"""

import argparse
import json
import statistics
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from task_scheduler_emulator.local_stack import LocalStack


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return f"p50 {cut[49]:.3f} s, p90 {cut[89]:.3f} s, max {ordered[-1]:.3f} s"


def listen(url: str, received: dict[str, tuple[dict[str, Any], datetime]]) -> None:
    with urllib.request.urlopen(f"{url}/events") as stream:
        for raw in stream:
            line = raw.decode()
            if line.startswith("data: "):
                event = json.loads(line.removeprefix("data: "))
                received[event["id"]] = (event, datetime.now(UTC))


def schedule(url: str, due: datetime, index: int) -> str:
    body = json.dumps({"timestamp": due.isoformat(), "message": {"task": index}}).encode()
    request = urllib.request.Request(f"{url}/schedule", body, method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request) as response:
        return str(json.loads(response.read())["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--spread-seconds", type=float, default=10.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as state_dir:
        stack = LocalStack(port=0, state_dir=Path(state_dir), echo=lambda _: None)
        try:
            stack.start()
            received: dict[str, tuple[dict[str, Any], datetime]] = {}
            threading.Thread(target=listen, args=(stack.url, received), daemon=True).start()
            # Every task is due after all are scheduled (each request is a cold-start invocation).
            start = datetime.now(UTC) + timedelta(seconds=5 + args.tasks)
            step = args.spread_seconds / max(args.tasks - 1, 1)
            api_seconds, ids = [], []
            for index in range(args.tasks):
                sent = time.monotonic()
                ids.append(schedule(stack.url, start + timedelta(seconds=index * step), index))
                api_seconds.append(time.monotonic() - sent)
            assert datetime.now(UTC) < start, "scheduling took longer than planned"
            deadline = time.monotonic() + args.spread_seconds + 60
            while len(received) < len(ids) and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            stack.stop()

    emitted, streamed = [], []
    for event, arrived in received.values():
        due = datetime.fromisoformat(event["timestamp"])
        emitted.append((datetime.fromisoformat(event["emitted_at"]) - due).total_seconds())
        streamed.append((arrived - due).total_seconds())
    print(f"terraform: {stack.timings}")
    early = sum(lateness < 0 for lateness in emitted)
    print(f"tasks: {len(ids)} scheduled, {len(received)} received, {early} emitted early")
    print(f"POST /schedule response time:   {percentiles(api_seconds)}")
    print(f"lateness at SNS publish:        {percentiles(emitted)}")
    print(f"lateness at GET /events client: {percentiles(streamed)}")


if __name__ == "__main__":
    main()
