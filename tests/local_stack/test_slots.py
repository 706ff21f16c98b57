"""A dense second through the local stack: a few hundred tasks due in one second share its
slot's execution (docs/time-slots.md), with cancels, reschedules (into the same second and
elsewhere) and late joiners (scheduled while the second's release runs) mixed in.

Each live task is emitted exactly once, at or after its timestamp, with its last version's
message; no cancelled task and no superseded version is emitted; and the executions' own counts
(what each emit invocation published) add up to the same.
"""

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.local_stack.conftest import (
    Inbox,
    RunningStack,
    all_executions,
    at,
    carriers,
    execution_output,
    fresh_second,
)
from tests.local_stack.test_lifecycle import call

pytestmark = pytest.mark.local_stack

TASKS = 300
THREADS = 16
# How far ahead the dense second is: the tasks are posted, cancelled and rescheduled before
# its release (a whole second, the emission lead, before it), with room to spare.
AHEAD_SECONDS = 40
# Late joiners: posted this long before the second (the last two within it), while its
# release runs: its shard's emit invocation seals and reads the shard, then holds until each
# task's millisecond. Each is due at .950 in the second.
LATE_JOINERS_AT = (0.9, 0.7, 0.5, 0.3, 0.1, -0.1, -0.3)
# Answers a client retries with the same id (the gateway's throttle, a refused start).
RETRIED = {429, 502, 503}
QUIET_SECONDS = 4


@dataclass
class Task:
    id: str
    timestamp: str
    message: Any
    live: bool = True  # False: cancelled, never to be emitted

    @property
    def due(self) -> datetime:
        return datetime.fromisoformat(self.timestamp)


def retrying(request: Callable[[], tuple[int, Any]], ok: set[int]) -> tuple[int, Any]:
    """`request()`, again while it answers a status a client retries, for up to 20 s."""
    deadline = time.monotonic() + 20
    while True:
        status, answer = request()
        if status in ok or status not in RETRIED or time.monotonic() > deadline:
            assert status in ok, (status, answer)
            return status, answer
        time.sleep(0.2)


def post(stack: RunningStack, task: Task) -> None:
    body = {"id": task.id, "timestamp": task.timestamp, "message": task.message}
    retrying(lambda: call(stack, "POST", "/schedule", body), {200, 201})


def patch(stack: RunningStack, task: Task, timestamp: str, message: Any) -> None:
    body = {"timestamp": timestamp, "message": message}
    _, answer = retrying(lambda: call(stack, "PATCH", f"/schedule/{task.id}", body), {200})
    task.timestamp, task.message = answer["timestamp"], message
    assert task.timestamp == timestamp


def cancel(stack: RunningStack, task: Task) -> None:
    _, answer = retrying(lambda: call(stack, "DELETE", f"/schedule/{task.id}"), {200})
    assert answer["status"] == "cancelled"
    task.live = False


def test_dense_second_emits_each_live_task_once_never_early(
    stack: RunningStack, events: Inbox, worker_inbox: Inbox
) -> None:
    run = uuid.uuid4().hex[:8]
    second, elsewhere = fresh_second(AHEAD_SECONDS), fresh_second(AHEAD_SECONDS + 2)
    tasks = [
        Task(f"dense-{run}-{n:03d}", at(second, (n * 37) % 1000), {"n": n, "v": 1})
        for n in range(TASKS)
    ]
    started = time.monotonic()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(lambda task: post(stack, task), tasks))
    posted = time.monotonic() - started

    # Mixed in, by n % 20 (15 tasks each): 0 cancelled; 1 rescheduled within the second; 2
    # moved to another second; 3 rescheduled within the second, then cancelled; 4 rescheduled
    # twice within it. The other 225 stay as they are.
    def change(task: Task) -> None:
        n = task.message["n"]
        kind = n % 20
        if kind == 0:
            cancel(stack, task)
        elif kind in (1, 3, 4):
            patch(stack, task, at(second, (n * 53 + 500) % 1000), {"n": n, "v": 2})
            if kind == 3:
                cancel(stack, task)
            if kind == 4:
                patch(stack, task, at(second, (n * 71) % 1000), {"n": n, "v": 3})
        elif kind == 2:
            patch(stack, task, at(elsewhere, (n * 53) % 1000), {"n": n, "v": 2})

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(change, tasks))
    changed = time.monotonic() - started
    print(f"posted {TASKS} tasks in {posted:.1f} s, changed 75 in {changed - posted:.1f} s")
    release = datetime.fromtimestamp(second - 1, UTC)  # the emission lead is 1 s
    assert datetime.now(UTC) < release, (
        f"posting {TASKS} tasks took {posted:.1f} s and changing them {changed - posted:.1f} s: "
        f"more than the {AHEAD_SECONDS} s ahead"
    )

    # Late joiners, each posted at its moment (in parallel: none waits for another).
    late = [
        Task(f"dense-{run}-late{k}", at(second, 950), {"late": k})
        for k in range(len(LATE_JOINERS_AT))
    ]

    def join_late(task: Task, before: float) -> None:
        time.sleep(max(0.0, second - before - time.time()))
        post(stack, task)

    joiners = [
        threading.Thread(target=join_late, args=(task, before))
        for task, before in zip(late, LATE_JOINERS_AT, strict=True)
    ]
    for joiner in joiners:
        joiner.start()
    for joiner in joiners:
        joiner.join()
    tasks += late

    live = [task for task in tasks if task.live]
    for task in live:
        received = events.wait_for(task.id, timeout=60)
        assert received.data["message"] == task.message, task
        assert received.data["timestamp"] == task.timestamp
        assert datetime.fromisoformat(received.data["emitted_at"]) >= task.due, task
        assert received.received_at >= task.due, task
    for task in live:
        worker_inbox.wait_for(task.id, timeout=30)
    time.sleep(QUIET_SECONDS)  # a duplicate, or a superseded version, would have come by now

    emitted = {task.id: (events.count(task.id), worker_inbox.count(task.id)) for task in tasks}
    assert {i: c for i, c in emitted.items() if c != (1, 1) and i in {t.id for t in live}} == {}
    assert {t.id: emitted[t.id] for t in tasks if not t.live and emitted[t.id] != (0, 0)} == {}

    # The registry agrees: each live task emitted at its last version, each cancelled one not.
    found: dict[str, tuple[str, int]] = {}
    dynamodb, table = stack.client("dynamodb"), stack.outputs["dynamodb_table_name"]
    for start in range(0, len(tasks), 100):
        keys = [{"id": {"S": task.id}} for task in tasks[start : start + 100]]
        request = {table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            answer = dynamodb.batch_get_item(RequestItems=request)
            for item in answer["Responses"][table]:
                found[item["id"]["S"]] = (item["status"]["S"], int(item["version"]["N"]))
            request = answer.get("UnprocessedKeys") or {}
    expected = {t.id: ("emitted" if t.live else "cancelled", t.message.get("v", 1)) for t in tasks}
    assert {i: v for i, v in found.items() if expected[i] != v} == {}
    assert len(found) == len(tasks)

    # The executions' own counts: the slot's shard, and the late joiners' own executions if
    # they found it sealed, published the second's live tasks once in all; the other second's
    # shard published the moved ones.
    in_second = [t for t in live if t.timestamp.startswith(at(second)[:19])]
    published = 0
    for execution in carriers(stack, second):
        assert execution["name"] == f"slot-{second}-0", execution["name"]
        published += execution_output(stack, execution["name"])["published"]
    late_ids = tuple(f"{task.id}_1_s" for task in late)
    for execution in all_executions(stack):
        if execution["name"].startswith(late_ids):
            published += execution_output(stack, execution["name"])["published"]
    assert published == len(in_second)
    moved = [t for t in live if t.timestamp.startswith(at(elsewhere)[:19])]
    assert execution_output(stack, f"slot-{elsewhere}-0")["published"] == len(moved) == 15
