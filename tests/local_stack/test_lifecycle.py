"""Task lifecycle through the local stack: idempotent scheduling, status, cancel, reschedule,
list, and tasks beyond one execution's reach (a far-future slot reached through hops).

Tasks share executions by time slot (docs/time-slots.md): `slot-<second>-<shard>` carries the
tasks due in that second. Nothing stops an execution: a cancel or reschedule only changes the
registry, and the shard's emit function skips what it cannot claim (its output counts them).
Each test that looks at its slot's executions gives its tasks a second no other test uses
(conftest.fresh_second)."""

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from task_scheduler_client import TaskSchedulerClient
from tests.local_stack.conftest import (
    Inbox,
    RunningStack,
    at,
    carriers,
    execution_output,
    fresh_second,
    registry_item,
)

pytestmark = pytest.mark.local_stack

# How long after its timestamp a task that should not arrive is watched for.
QUIET_SECONDS = 4


def call(
    stack: RunningStack,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{stack.url}{path}",
        data,
        {"Content-Type": "application/json", **(headers or {})},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def iso(instant: datetime) -> str:
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def in_seconds(seconds: float) -> str:
    return iso(datetime.now(UTC) + timedelta(seconds=seconds))


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def wait_for_status(api: TaskSchedulerClient, task_id: str, status: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while (task := api.status(task_id))["status"] != status:
        assert time.monotonic() < deadline, f"{task_id} stayed {task['status']}, not {status}"
        time.sleep(0.2)
    return task


def names(executions: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in executions]


@pytest.fixture(scope="module")
def api(stack: RunningStack) -> TaskSchedulerClient:
    return TaskSchedulerClient(stack.url)


def test_schedule_then_status_follows_the_task_to_emitted(
    stack: RunningStack, api: TaskSchedulerClient, events: Inbox
) -> None:
    status, created = call(stack, "POST", "/schedule", {"timestamp": in_seconds(2), "message": 1})
    assert status == 201, created

    scheduled = api.status(created["id"])
    assert scheduled["status"] == "scheduled"
    assert scheduled["timestamp"] == created["timestamp"]
    assert scheduled["message"] == 1
    assert scheduled["emitted_at"] is None

    events.wait_for(created["id"])
    emitted = wait_for_status(api, created["id"], "emitted", 10)
    assert emitted["emitted_at"] >= created["timestamp"]
    assert emitted["created_at"] <= created["timestamp"]


def test_same_id_replays_and_other_content_conflicts(
    stack: RunningStack, api: TaskSchedulerClient
) -> None:
    task_id, slot = new_id("replay"), fresh_second(120)
    timestamp = at(slot, 250)
    body = {"timestamp": timestamp, "message": {"a": 1, "b": 2}}

    first = call(stack, "POST", "/schedule", {**body, "id": task_id})
    # The header is the same key; key order inside the message does not matter.
    replay = call(
        stack,
        "POST",
        "/schedule",
        {"timestamp": timestamp, "message": {"b": 2, "a": 1}},
        {"Idempotency-Key": task_id},
    )
    conflict = call(stack, "POST", "/schedule", {**body, "id": task_id, "message": "other"})

    assert first[0] == 201
    assert replay == (200, first[1])
    assert conflict[0] == 409
    assert conflict[1]["errors"][0]["rule"] == "id_conflict"
    assert task_id in conflict[1]["errors"][0]["detail"]
    # The replay started its shard's execution again, with the same name and input: the one
    # execution answers as itself.
    assert names(carriers(stack, slot, task_id)) == [f"slot-{slot}-0"]
    assert registry_item(stack, task_id)["ordinal"] == {"N": "1"}  # type: ignore[index]
    api.cancel(task_id)


def test_invalid_ids_are_refused(stack: RunningStack) -> None:
    for bad in ("has space", "x" * 65, "slash/inside", ""):
        status, answer = call(
            stack, "POST", "/schedule", {"timestamp": in_seconds(60), "message": 1, "id": bad}
        )
        assert status == 422, (bad, answer)
        assert answer["errors"][0]["field"] == "id"


def test_cancelled_task_is_never_delivered(
    stack: RunningStack, api: TaskSchedulerClient, events: Inbox, worker_inbox: Inbox
) -> None:
    task_id, slot = new_id("cancel"), fresh_second(3)
    api.schedule(at(slot, 500), {"cancel": "me"}, id=task_id)

    cancelled = api.cancel(task_id)
    again = call(stack, "DELETE", f"/schedule/{task_id}")

    assert cancelled["status"] == "cancelled"
    assert again[0] == 200
    assert again[1]["status"] == "cancelled"
    # Nothing is stopped: the slot's execution runs, its claim fails, and it skips the task (and
    # any other test's cancelled task that happens to share the second).
    output = execution_output(stack, f"slot-{slot}-0")
    assert output["skipped"] >= 1
    time.sleep(QUIET_SECONDS)
    assert events.count(task_id) == 0
    assert worker_inbox.count(task_id) == 0
    assert api.status(task_id)["status"] == "cancelled"
    assert "claimed_by" not in registry_item(stack, task_id)  # type: ignore[operator]
    assert names(carriers(stack, slot, task_id)) == [f"slot-{slot}-0"]


def test_cancel_racing_the_hold_never_emits_a_cancelled_task(
    stack: RunningStack, api: TaskSchedulerClient, events: Inbox
) -> None:
    # The Wait releases each task at a whole second before its timestamp and the emit function
    # holds until the millisecond: cancels sent during that hold race the emit function's
    # claim. Whichever wins, a 200 must mean "never emitted" and a 409 "emitted once".
    base = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    offsets_ms = [-600, -300, -150, -60, -20, 0, 20]
    tasks = []
    for n, offset in enumerate(offsets_ms):
        due = base + timedelta(seconds=n, milliseconds=900)
        task_id = new_id("race")
        api.schedule(iso(due), n, id=task_id)
        tasks.append((task_id, due + timedelta(milliseconds=offset)))

    answers = {}
    for task_id, cancel_at in tasks:
        time.sleep(max(0.0, (cancel_at - datetime.now(UTC)).total_seconds()))
        answers[task_id] = call(stack, "DELETE", f"/schedule/{task_id}")
    time.sleep(QUIET_SECONDS)

    outcomes = {}
    for task_id, (status, answer) in answers.items():
        if status == 200:
            assert answer["status"] == "cancelled"
            assert events.count(task_id) == 0, f"{task_id} was cancelled, then emitted"
        else:
            assert status == 409, answer
            assert answer["errors"][0]["rule"] == "not_scheduled"
            events.wait_for(task_id)
            assert events.count(task_id) == 1
        outcomes[task_id] = status
    # Cancels well before the timestamp win, during the emit function's hold included.
    assert outcomes[tasks[0][0]] == 200
    assert outcomes[tasks[1][0]] == 200


def test_cancel_after_emission_conflicts_and_unknown_ids_are_not_found(
    stack: RunningStack, api: TaskSchedulerClient, events: Inbox
) -> None:
    task_id = new_id("done")
    api.schedule(in_seconds(0), "now", id=task_id)
    events.wait_for(task_id)
    wait_for_status(api, task_id, "emitted", 10)

    assert call(stack, "DELETE", f"/schedule/{task_id}")[0] == 409
    for method in ("GET", "DELETE"):
        status, answer = call(stack, method, "/schedule/no-such-task")
        assert status == 404
        assert answer["errors"][0]["rule"] == "not_found"
    assert call(stack, "PATCH", "/schedule/no-such-task", {"message": 1})[0] == 404


def test_reschedule_delivers_only_the_new_version(
    stack: RunningStack, api: TaskSchedulerClient, events: Inbox
) -> None:
    task_id, old_slot = new_id("moved"), fresh_second(3)
    new_slot = fresh_second(old_slot + 3 - time.time())
    api.schedule(at(old_slot, 400), "old", id=task_id)

    moved = api.reschedule(task_id, at(new_slot, 400), "new")

    assert moved["version"] == 2
    assert moved["id"] == task_id
    new_due = datetime.fromisoformat(at(new_slot, 400))
    received = events.wait_for(task_id, timeout=20)
    assert received.data["message"] == "new"
    assert received.received_at >= new_due
    time.sleep(QUIET_SECONDS)
    assert events.count(task_id) == 1
    assert call(stack, "PATCH", f"/schedule/{task_id}", {"message": "late"})[0] == 409
    # The old slot's execution ran and skipped version 1 (its claim failed on the version);
    # the new slot's published version 2.
    old_output = execution_output(stack, f"slot-{old_slot}-0")
    assert (old_output["published"], old_output["skipped"]) == (0, 1)
    assert execution_output(stack, f"slot-{new_slot}-0")["published"] == 1
    assert registry_item(stack, task_id)["claimed_by"] == {"S": f"slot-{new_slot}-0"}  # type: ignore[index]


def test_list_pages_through_every_task_of_a_status(
    stack: RunningStack, api: TaskSchedulerClient
) -> None:
    ids = {new_id("page") for _ in range(7)}
    for n, task_id in enumerate(sorted(ids)):
        api.schedule(in_seconds(3600 + n), n, id=task_id)

    pages = list(api.pages(status="scheduled", limit=3))
    listed = [task["id"] for page in pages for task in page["tasks"]]

    assert ids <= set(listed)
    assert len(listed) == len(set(listed))
    assert all(len(page["tasks"]) <= 3 for page in pages)
    timestamps = [task["timestamp"] for page in pages for task in page["tasks"]]
    assert timestamps == sorted(timestamps)
    for bad in ("status=waiting", "limit=0", "limit=101", "next=not-a-token"):
        status, answer = call(stack, "GET", f"/schedule?{bad}")
        assert status == 400, (bad, answer)
    for task_id in ids:
        api.cancel(task_id)
    cancelled = {task["id"] for task in api.iter_tasks(status="cancelled", limit=100)}
    assert ids <= cancelled


@pytest.fixture
def short_segments(stack: RunningStack) -> Iterator[int]:
    """The stack re-applied with 4-second executions, so that a slot due in seconds is
    reached through several hops; restored afterwards."""
    segment_seconds = 4
    stack.terraform("apply", "-auto-approve", f"-var=execution_segment_seconds={segment_seconds}")
    try:
        yield segment_seconds
    finally:
        stack.terraform("apply", "-auto-approve")


def test_task_beyond_one_execution_continues_in_follow_on_executions(
    stack: RunningStack, api: TaskSchedulerClient, events: Inbox, short_segments: int
) -> None:
    task_id, cancelled_id = new_id("long"), new_id("long-cancel")
    slot = fresh_second(2.5 * short_segments)
    due = datetime.fromisoformat(at(slot, 300))
    api.schedule(iso(due), {"far": True}, id=task_id)
    api.schedule(iso(due), {"far": "cancelled"}, id=cancelled_id)

    # In the second hop, the task is still one scheduled task with one id.
    time.sleep(short_segments + 1.5)
    assert api.status(task_id)["status"] == "scheduled"
    assert api.status(task_id)["message"] == {"far": True}
    assert task_id in {t["id"] for t in api.iter_tasks(status="scheduled", limit=100)}
    api.cancel(cancelled_id)

    received = events.wait_for(task_id, timeout=30)
    assert received.received_at >= due
    time.sleep(QUIET_SECONDS)
    assert events.count(task_id) == 1
    assert events.count(cancelled_id) == 0
    # Both tasks share the slot's shard: hop j waits a segment and starts hop j - 1, hop 0
    # (`slot-<second>-0`) emits the task and skips the cancelled one. Nothing per task.
    hops = names(carriers(stack, slot, task_id))
    assert len(hops) >= 2, hops
    assert hops == [f"slot-{slot}-0"] + [f"slot-{slot}-0-{j}" for j in range(1, len(hops))]
    assert names(carriers(stack, slot, cancelled_id)) == hops
    for hop in hops[1:]:
        assert execution_output(stack, hop)["continued"]  # it started the next hop
    output = execution_output(stack, f"slot-{slot}-0")
    assert (output["published"], output["skipped"]) == (1, 1)
    assert wait_for_status(api, task_id, "emitted", 10)["version"] == 1
