"""Load: many clients schedule tasks all due within the same few seconds; none lost, none twice.

    make load      # or: .venv/bin/python benchmarks/loss_under_load.py --tasks 500 --clients 32

Deploys examples/local into the emulator (as `make bench` does) and warms it up as steady
traffic would: the api function's environments ramp up to the client count (1, 2, 4, ...
concurrent requests), and bursts of tasks due in one second each start the emit environments a
second of the load keeps busy. (Cold starts all share this machine's cores, where on AWS each
environment has its own CPU share: a storm of them here times out Lambda's 10 s Init phase, which
AWS would not.) The warm-up tasks are counted apart. Then `--clients` concurrent clients post
`--tasks` tasks, each with its own id, all due within the same `--window-seconds` (at random
milliseconds), which starts `--lead-seconds` after the first post. A client whose request is
refused retries it with the same id (as the API documents: 429 from the gateway's throttle, 503
with Retry-After from the api function), at most `--attempts` times in all.

Every emission is collected from the worker queue (raw SNS delivery, as a consuming stack
receives it) and, as a cross-check, from GET /events. Counted: accepted tasks (201, or 200 when
a retry replays a request whose answer was lost), refused requests by status (only 429 and 503
are allowed; any other status is a failure), tasks given up after every attempt was refused,
distinct tasks emitted, duplicates (copies beyond the first), and accepted tasks never emitted:
dead-lettered (the state machine gave up and the dead-letter queue holds the task) or lost
(neither); up to `--diagnose` of the tasks not emitted exactly once are explained (their
executions' statuses and failed attempts' errors, their registry status). Lateness is the
publish time (GET /events' `emitted_at`) minus the timestamp. Prints the figures, writes
benchmarks/results/load.json, and exits 1 unless every accepted task was emitted exactly once
and every refusal was a 429 or a 503. Figures depend on the machine (here, also on what
else runs on it).
"""

import argparse
import json
import math
import os
import platform
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from task_scheduler_emulator.local_stack import REPO_ROOT, LocalStack, client
from task_scheduler_emulator.patches.awslambda import runtime as lambda_runtime

RESULTS = REPO_ROOT / "benchmarks" / "results" / "load.json"
ALLOWED_REFUSALS = frozenset({429, 503})
REQUEST_TIMEOUT_SECONDS = 60
MAX_BACKOFF_SECONDS = 8.0


def iso(instant: datetime) -> str:
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Outcome:
    """One task's requests: every answer's status (0: no answer), and the last answer."""

    task_id: str
    due: datetime
    statuses: list[int] = field(default_factory=list)
    posted_ms: list[float] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return bool(self.statuses) and self.statuses[-1] in (200, 201)


def post(url: str, task_id: str, due: datetime) -> tuple[int, float | None]:
    """POST /schedule once: (status, Retry-After seconds); status 0 when no answer came."""
    body = json.dumps({"id": task_id, "timestamp": iso(due), "message": {"load": task_id}})
    request = urllib.request.Request(
        f"{url}/schedule", body.encode(), {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            response.read()
            return response.status, None
    except urllib.error.HTTPError as error:
        error.read()
        retry_after = error.headers.get("Retry-After")
        return error.code, float(retry_after) if retry_after else None
    except OSError:  # timed out or reset: the outcome is unknown, a retry with the id is safe
        return 0, None


def schedule(url: str, task_id: str, due: datetime, attempts: int) -> Outcome:
    """Post the task, retrying refusals and lost answers with the same id."""
    outcome = Outcome(task_id, due)
    for attempt in range(attempts):
        sent = time.monotonic()
        status, retry_after = post(url, task_id, due)
        outcome.statuses.append(status)
        outcome.posted_ms.append((time.monotonic() - sent) * 1000)
        if status not in (0, *ALLOWED_REFUSALS):
            break
        backoff = min(MAX_BACKOFF_SECONDS, 0.25 * 2**attempt) * random.uniform(0.5, 1.0)
        time.sleep(retry_after if retry_after is not None else backoff)
    return outcome


class WorkerQueue:
    """Drains the worker queue (raw delivery) on background threads: task id -> copies.

    A copy is a distinct SQS message: one SNS publication. The same message received again
    (its visibility timeout ran out before this drain deleted it, on a loaded machine) is SQS'
    redelivery, counted apart in `redeliveries`, not a second emission."""

    def __init__(self, endpoint_url: str, queue_url: str, threads: int = 4) -> None:
        self.copies: Counter[str] = Counter()
        self.redeliveries = 0
        self._message_ids: set[str] = set()
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._sqs, self._queue_url = client("sqs", endpoint_url=endpoint_url), queue_url
        self._threads = [threading.Thread(target=self._drain, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            received = self._sqs.receive_message(
                QueueUrl=self._queue_url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not received:
                continue
            with self._lock:
                for message in received:
                    if message["MessageId"] in self._message_ids:
                        self.redeliveries += 1
                        continue
                    self._message_ids.add(message["MessageId"])
                    self.copies[message["MessageAttributes"]["task_id"]["StringValue"]] += 1
            self._sqs.delete_message_batch(
                QueueUrl=self._queue_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(received)
                ],
            )

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self.copies)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


def listen(url: str, deliveries: list[dict[str, Any]]) -> None:
    """GET /events until the stack stops: every emission's SSE data."""
    try:
        with urllib.request.urlopen(f"{url}/events") as stream:
            for raw in stream:
                line = raw.decode()
                if line.startswith("data: "):
                    deliveries.append(json.loads(line.removeprefix("data: ")))
    except (OSError, ValueError):
        pass  # the stack stopped


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "min": round(ordered[0], 1),
        "p50": round(percentile(ordered, 0.50), 1),
        "p99": round(percentile(ordered, 0.99), 1),
        "max": round(ordered[-1], 1),
    }


def warm_api(url: str, clients: int) -> None:
    """Ramp the api function's concurrency up to `clients` (GET of an unknown task: a 404 from
    the function, nothing created), so that at most half of each wave starts cold."""
    width = 1
    while True:
        for _ in range(2):
            with ThreadPoolExecutor(width) as pool:
                list(pool.map(lambda n: status_of(f"{url}/schedule/warm-{n}"), range(width)))
        if width >= clients:
            return
        width = min(clients, width * 2)


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=REQUEST_TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def warm_emit(
    url: str, worker: WorkerQueue, clients: int, per_second: int, attempts: int, settle: float
) -> list[Outcome]:
    """Bursts of tasks all due in one second, doubling up to `per_second`, each awaited: the
    emit environments one second of the load keeps busy, started a few at a time."""
    outcomes: list[Outcome] = []
    width = 8
    while True:
        due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
        dues = [due + timedelta(milliseconds=random.randrange(1000)) for _ in range(width)]
        ids = [f"warm-{len(outcomes) + n:05d}-{uuid.uuid4().hex[:8]}" for n in range(width)]
        with ThreadPoolExecutor(min(width, clients)) as pool:
            wave = list(pool.map(schedule, [url] * width, ids, dues, [attempts] * width))
        outcomes += wave
        accepted = {o.task_id for o in wave if o.accepted}
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline and not accepted <= set(worker.snapshot()):
            time.sleep(0.5)
        if width >= per_second:
            return outcomes
        width = min(per_second, width * 2)


def dead_letters(endpoint_url: str, queue_url: str) -> Counter[str]:
    """Task id -> copies in the dead-letter queue (drained)."""
    sqs, found = client("sqs", endpoint_url=endpoint_url), Counter[str]()
    while received := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
    ).get("Messages", []):
        for message in received:
            found[json.loads(message["Body"]).get("id", "?")] += 1
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return found


def _error_of(event: dict[str, Any]) -> tuple[str, ...]:
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, dict) and "error" in details:
            return (str(details["error"]), str(details.get("cause", ""))[:300])
    return ()


def diagnose(stack: LocalStack, task_ids: list[str]) -> dict[str, Any]:
    """For each task: its executions' statuses and failed attempts' errors, and its status."""
    assert stack.emulator is not None
    sfn = client("stepfunctions", endpoint_url=stack.emulator.endpoint_url)
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=stack.outputs["sfn_state_machine_arn"]
    )
    executions: dict[str, list[dict[str, Any]]] = {}
    for page in pages:
        for execution in page["executions"]:
            executions.setdefault(execution["name"].rsplit("_", 2)[0], []).append(execution)
    found: dict[str, Any] = {}
    for task_id in task_ids:
        runs = []
        for execution in sorted(executions.get(task_id, []), key=lambda e: e["name"]):
            events = sfn.get_execution_history(
                executionArn=execution["executionArn"], maxResults=1000
            )["events"]
            failures = [
                e["taskFailedEventDetails"].get("error")
                for e in events
                if e["type"] == "TaskFailed"
            ]
            # How the execution ended: its last events' types, with an error if one has it.
            ending = [
                (e["type"], *_error_of(e)) for e in sorted(events, key=lambda e: e["id"])[-3:]
            ]
            runs.append(
                {
                    "name": execution["name"],
                    "status": execution["status"],
                    "failed": failures,
                    "ending": ending,
                }
            )
        found[task_id] = {
            "executions": runs,
            "registry": status_of(f"{stack.url}/schedule/{task_id}"),
        }
    return found


def run(args: argparse.Namespace) -> dict[str, Any]:
    with TemporaryDirectory() as state_dir:
        stack = LocalStack(port=0, state_dir=Path(state_dir), echo=lambda _: None)
        try:
            stack.start()
            assert stack.emulator is not None
            worker = WorkerQueue(stack.emulator.endpoint_url, stack.outputs["sqs_worker_queue_url"])
            deliveries: list[dict[str, Any]] = []
            threading.Thread(target=listen, args=(stack.url, deliveries), daemon=True).start()

            warm_started = time.monotonic()
            warm_api(stack.url, args.clients)
            per_second = min(
                lambda_runtime.ACCOUNT_CONCURRENCY, math.ceil(args.tasks / args.window_seconds)
            )
            warmup = warm_emit(
                stack.url, worker, args.clients, per_second, args.attempts, args.settle_seconds
            )
            warm_seconds = time.monotonic() - warm_started
            before = lambda_runtime.statistics()

            started = datetime.now(UTC)
            window_at = started.replace(microsecond=0) + timedelta(seconds=args.lead_seconds)
            dues = [
                window_at
                + timedelta(milliseconds=random.randrange(int(args.window_seconds * 1000)))
                for _ in range(args.tasks)
            ]
            ids = [f"load-{n:05d}-{uuid.uuid4().hex[:8]}" for n in range(args.tasks)]
            with ThreadPoolExecutor(args.clients) as pool:
                outcomes = list(
                    pool.map(
                        schedule, [stack.url] * args.tasks, ids, dues, [args.attempts] * args.tasks
                    )
                )
            posted_at = datetime.now(UTC)
            accepted = {o.task_id for o in outcomes if o.accepted}

            deadline = time.monotonic() + (
                (window_at - datetime.now(UTC)).total_seconds()
                + args.window_seconds
                + args.settle_seconds
            )
            while time.monotonic() < deadline and not accepted <= set(worker.snapshot()):
                time.sleep(0.5)
            time.sleep(args.quiet_seconds)  # let any duplicate arrive
            copies = worker.snapshot()
            worker.stop()
            after = lambda_runtime.statistics()
            dead = dead_letters(
                stack.emulator.endpoint_url, stack.outputs["sqs_dead_letter_queue_url"]
            )
            troubled = sorted(
                {t for t in accepted if copies[t] != 1}
                | {o.task_id for o in warmup if o.accepted and copies[o.task_id] != 1}
            )
            diagnosis = diagnose(stack, troubled[: args.diagnose])
        finally:
            stack.stop()

    statuses = Counter(s for o in outcomes for s in o.statuses)
    refused = {str(s): n for s, n in sorted(statuses.items()) if s in ALLOWED_REFUSALS}
    failures = {
        str(s): n for s, n in sorted(statuses.items()) if s not in {200, 201, *ALLOWED_REFUSALS}
    }
    feed = Counter(d["id"] for d in deliveries if d["id"] in accepted)
    due_by_id = {o.task_id: o.due for o in outcomes}
    lateness = [
        (datetime.fromisoformat(d["emitted_at"]) - due_by_id[d["id"]]).total_seconds() * 1000
        for d in deliveries
        if d["id"] in accepted
    ]
    emitted = {task_id for task_id in copies if task_id in accepted}
    warm_accepted = {o.task_id for o in warmup if o.accepted}
    warm_statuses = Counter(s for o in warmup for s in o.statuses)
    return {
        "tasks": args.tasks,
        "clients": args.clients,
        "window_seconds": args.window_seconds,
        "attempts_per_task": args.attempts,
        "accepted": len(accepted),
        "accepted_first_try": sum(o.accepted and len(o.statuses) == 1 for o in outcomes),
        "replayed_200": statuses.get(200, 0),
        "refused_requests": refused,
        "failed_requests": failures,  # statuses other than 200, 201, 429 and 503 (0: no answer)
        "given_up": sum(not o.accepted for o in outcomes),
        "emitted": len(emitted),
        "duplicates": sum(copies[t] - 1 for t in emitted),
        "sqs_redeliveries": worker.redeliveries,
        # Accepted, never emitted: dead-lettered (the state machine gave up and said so), or
        # lost (neither emitted nor dead-lettered).
        "not_emitted": len(accepted - emitted),
        "dead_lettered": len((accepted - emitted) & dead.keys()),
        "lost": len(accepted - emitted - dead.keys()),
        "diagnosis": diagnosis,
        "unexpected_emissions": sorted(set(copies) - accepted - warm_accepted),
        "events_feed": {
            "emitted": len(feed),
            "duplicates": sum(n - 1 for n in feed.values()),
            "lost": len(accepted - feed.keys()),
        },
        "lateness_ms": summary(lateness),
        "early": sum(ms < 0 for ms in lateness),
        "post_ms": summary([ms for o in outcomes for ms in o.posted_ms]),
        "posting_seconds": round((posted_at - started).total_seconds(), 1),
        "posting_overran_window": posted_at > window_at,
        "lambda": {  # under the load, after the warm-up
            name: {k: n - before.get(name, {}).get(k, 0) for k, n in counts.items()}
            for name, counts in after.items()
        },
        "warmup": {
            "seconds": round(warm_seconds, 1),
            "tasks": len(warmup),
            "accepted": len(warm_accepted),
            "statuses": {str(k): n for k, n in sorted(warm_statuses.items())},
            "emitted": len(warm_accepted & copies.keys()),
            "duplicates": sum(copies[t] - 1 for t in warm_accepted & copies.keys()),
            "not_emitted": len(warm_accepted - copies.keys()),
            "lambda": before,
        },
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}",
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }


def held(results: dict[str, Any]) -> bool:
    """Every accepted task emitted exactly once, and every refusal a 429 or a 503."""
    return (
        results["not_emitted"] == 0
        and results["duplicates"] == 0
        and results["warmup"]["not_emitted"] == 0
        and results["warmup"]["duplicates"] == 0
        and not results["failed_requests"]
        and not results["unexpected_emissions"]
    )


def report(r: dict[str, Any]) -> str:
    late = r["lateness_ms"]
    lines = [
        f"{r['tasks']} tasks from {r['clients']} clients, due within {r['window_seconds']:g} s",
        f"  accepted          {r['accepted']} ({r['accepted_first_try']} at the first try, "
        f"{r['replayed_200']} replays)",
        f"  refused requests  {r['refused_requests'] or 0} (tasks given up: {r['given_up']})",
        f"  failed requests   {r['failed_requests'] or 0}",
        f"  emitted           {r['emitted']} (events feed: {r['events_feed']['emitted']})",
        f"  duplicates        {r['duplicates']} (events feed: {r['events_feed']['duplicates']};"
        f" SQS redeliveries, not emissions: {r['sqs_redeliveries']})",
        f"  not emitted       {r['not_emitted']}: dead-lettered {r['dead_lettered']}, "
        f"lost {r['lost']} (events feed, not emitted: {r['events_feed']['lost']})",
        "  lateness ms       "
        + (" / ".join(f"{k} {v}" for k, v in late.items()) if late else "-")
        + f" (early: {r['early']})",
        f"  POST ms           {' / '.join(f'{k} {v}' for k, v in (r['post_ms'] or {}).items())}",
        f"  posting took      {r['posting_seconds']} s"
        + (" (past the window's start)" if r["posting_overran_window"] else ""),
        f"  lambda under load {r['lambda']}",
        f"  warm-up           {r['warmup']['seconds']} s, {r['warmup']['tasks']} tasks "
        f"({r['warmup']['statuses']}), emitted {r['warmup']['emitted']}, duplicates "
        f"{r['warmup']['duplicates']}, not emitted {r['warmup']['not_emitted']}",
        f"  held              {'yes' if held(r) else 'NO'}",
        *(f"    {task_id}: {json.dumps(found)}" for task_id, found in r["diagnosis"].items()),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--window-seconds", type=float, default=5.0)
    parser.add_argument(
        "--lead-seconds",
        type=float,
        default=None,
        help="from the first post to the window's start (default: 15 + 2 s per task per client)",
    )
    parser.add_argument("--attempts", type=int, default=6, help="requests per task at most")
    parser.add_argument("--settle-seconds", type=float, default=300.0)
    parser.add_argument("--quiet-seconds", type=float, default=5.0)
    parser.add_argument(
        "--diagnose", type=int, default=20, help="tasks not emitted once to explain, at most"
    )
    args = parser.parse_args()
    if args.lead_seconds is None:
        args.lead_seconds = 15 + math.ceil(2 * args.tasks / args.clients)

    results = run(args)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    print(f"Wrote {RESULTS.relative_to(REPO_ROOT)}")
    return 0 if held(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
