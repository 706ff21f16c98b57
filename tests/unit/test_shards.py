"""The emit function on a time slot's shard: every task at its millisecond, exactly once.

A retried invocation publishes nothing twice: the shard's publication log lists what it
published, and the claim names the execution (its retry may claim again what it claimed, no
other execution may). That replaces the Powertools idempotency records of the time before slots.
"""

import importlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from botocore.exceptions import ClientError

from task_scheduler.aws import clients
from task_scheduler.aws.executions import Executions
from task_scheduler.aws.placement import Placer
from task_scheduler.core import slots, timing
from task_scheduler.core.records import TaskStatus
from task_scheduler.core.slots import (
    Placement,
    ShardExecution,
    SoloExecution,
    shard_of,
    slot_release,
    units,
)
from task_scheduler.core.tasks import Task, execution_arn, message_sha256
from task_scheduler.core.timestamps import format_timestamp
from task_scheduler.emit.settings import EmitSettings
from tests.unit.conftest import EMISSION_LEAD, receive, shard_event

# A failed invocation publishes no metric; Powertools warns about it.
NO_METRICS = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def test_a_shard_publishes_each_of_its_tasks_once(
    emit, sqs, topic, place_task, state_machine_arn, registry
):
    second = timing.utc_now().replace(microsecond=0)
    placed = [
        place_task({"n": n}, timestamp=second + timedelta(milliseconds=100 * n)) for n in range(3)
    ]
    # Tasks due in the same second share a shard, whatever their order of scheduling.
    assert len({(p.placement.slot, p.placement.shard) for p in placed}) == 1

    result = emit(shard_event(placed[0].placement, state_machine_arn))

    assert result["published"] == 3
    bodies = sorted(json.loads(m["Body"])["n"] for m in receive(sqs, topic.raw_queue))
    assert bodies == [0, 1, 2]
    assert {registry.get(p.task.id).status for p in placed} == {TaskStatus.EMITTED}
    # A retried invocation publishes nothing again.
    again: dict[str, Any] = emit(shard_event(placed[0].placement, state_machine_arn))
    assert again["published"] == 0
    assert receive(sqs, topic.raw_queue) == []


def this_second(ahead: int = 0) -> datetime:
    """A whole second, `ahead` seconds from now's."""
    return timing.utc_now().replace(microsecond=0) + timedelta(seconds=ahead)


def bodies(sqs: Any, queue_url: str) -> list[Any]:
    """The messages a raw subscriber received, decoded."""
    return [
        json.loads(m["Body"])
        if m["MessageAttributes"]["message_encoding"]["StringValue"] == "json"
        else m["Body"]
        for m in receive(sqs, queue_url)
    ]


def parked(sqs: Any, queue_url: str, task_ids: set[str]) -> list[dict[str, Any]]:
    """The dead-letter queue's messages of these tasks."""
    messages = [json.loads(m["Body"]) for m in receive(sqs, queue_url)]
    return [message for message in messages if message["id"] in task_ids]


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> list[tuple[datetime, list[str]]]:
    """Each PublishBatch call: when it was made, and the task ids it carried, in order."""
    calls: list[tuple[datetime, list[str]]] = []
    sns = clients.client("sns")
    real = sns.publish_batch

    def spy(**arguments: Any) -> Any:
        ids = [
            e["MessageAttributes"]["task_id"]["StringValue"]
            for e in arguments["PublishBatchRequestEntries"]
        ]
        calls.append((timing.utc_now(), ids))
        return real(**arguments)

    monkeypatch.setattr(sns, "publish_batch", spy)
    return calls


# Shard choice


def test_a_message_counts_one_unit_per_16_kib_started():
    assert [units(n) for n in (0, 1, 16 * 1024, 16 * 1024 + 1, 32 * 1024, 32 * 1024 + 1)] == [
        1,
        1,
        1,
        2,
        2,
        3,
    ]


def test_the_ordinal_names_the_shard():
    assert [shard_of(n, 500) for n in (1, 2, 500, 501, 1000, 1001)] == [0, 0, 0, 1, 1, 2]
    assert [shard_of(n, 1) for n in (1, 2, 3)] == [0, 1, 2]
    assert slots.DEFAULT_SHARD_UNITS == 500


def test_tasks_fill_shards_by_their_units(
    slot_store, sfn, state_machine_arn, registry, place_task, monkeypatch
):
    placer = Placer(
        slot_store,
        Executions(state_machine_arn, sfn),
        lead_seconds=EMISSION_LEAD,
        segment_seconds=EmitSettings.execution_segment_seconds,
        shard_units=3,
    )
    second = this_second(ahead=30)
    big = "x" * (16 * 1024)  # 16 KiB and its JSON quotes: two units
    messages = ["a", big, "b", "c", "d", "e"]
    now = timing.utc_now()
    placements = [
        placer.stage(Task(f"task-{uuid4().hex}", second, message), 1, now) for message in messages
    ]

    assert [p.ordinal for p in placements] == [1, 3, 4, 5, 6, 7]
    assert [p.shard for p in placements] == [0, 0, 1, 1, 1, 2]
    assert {p.slot for p in placements} == {int(second.timestamp())}
    # One execution per non-empty shard, whichever task starts it.
    arns = [placer.start(f"t{n}", 1, p, now) for n, p in enumerate(placements)]
    slot = placements[0].slot
    assert [arn.rpartition(":")[2] for arn in arns] == [
        f"slot-{slot}-{shard}" for shard in (0, 0, 1, 1, 1, 2)
    ]
    entries, _ = slot_store.shard(slot, 1)
    assert sorted(e.message for e in entries) == ["b", "c", "d"]


@pytest.mark.parametrize(("shard_units", "shard"), [("1", 1), ("2", 0)])
def test_the_emit_function_reads_shard_units_from_its_environment(
    emit, topic, task_event, registry, monkeypatch, shard_units, shard
):
    # A task started before time slots joins its slot when its segment ends, in the shard
    # SLOT_SHARD_UNITS gives: its message over 16 KiB takes two units, so ordinal 2.
    monkeypatch.setenv("SLOT_SHARD_UNITS", shard_units)
    monkeypatch.setenv("EXECUTION_SEGMENT_SECONDS", "60")
    event = task_event("y" * (16 * 1024), seconds_ago=-40, release_at=this_second())

    result = emit(event)

    placement = registry.get(event["task"]["id"]).placement
    assert (placement.ordinal, placement.shard) == (2, shard)
    assert result["continued"].endswith(f":slot-{placement.slot}-{shard}")


# Publication


def test_tasks_due_at_the_same_millisecond_go_in_one_batch(
    emit, sqs, topic, place_task, state_machine_arn, batches
):
    due = this_second(ahead=-1) + timedelta(milliseconds=250)
    placed = [place_task(n, timestamp=due) for n in range(13)]

    result = emit(shard_event(placed[0].placement, state_machine_arn))

    assert result["published"] == 13
    # Ten at most in a PublishBatch: 13 tasks of one millisecond make two calls, in parallel.
    assert sorted(len(ids) for _, ids in batches) == [3, 10]
    assert sorted(i for _, ids in batches for i in ids) == sorted(p.task.id for p in placed)
    received = [body for _ in range(3) for body in bodies(sqs, topic.raw_queue)]
    assert sorted(received) == list(range(13))


def test_tasks_are_published_in_timestamp_order_none_early(
    emit, topic, place_task, state_machine_arn, batches, registry, monkeypatch
):
    second = this_second(ahead=1)
    offsets = [300, 100, 200, 100]  # scheduled out of order, two sharing a millisecond
    placed = [
        place_task(n, timestamp=second + timedelta(milliseconds=ms)) for n, ms in enumerate(offsets)
    ]
    due = {p.task.id: p.task.timestamp for p in placed}
    holds = []
    hold = timing.hold_until

    def watched(timestamp: datetime, **options: Any) -> Any:
        holds.append(timestamp)
        return hold(timestamp, **options)

    monkeypatch.setattr(timing, "hold_until", watched)

    result = emit(shard_event(placed[0].placement, state_machine_arn))

    assert result["published"] == 4
    # It holds for each millisecond in turn, then hands its tasks to a batch (in parallel with
    # the batches of earlier milliseconds, which may still be claiming).
    assert holds == [second + timedelta(milliseconds=ms) for ms in (100, 200, 300)]
    assert sorted(sorted(ids) for _, ids in batches) == sorted(
        [
            sorted([placed[1].task.id, placed[3].task.id]),
            [placed[2].task.id],
            [placed[0].task.id],
        ]
    )
    for called_at, ids in batches:
        assert all(called_at >= due[i] for i in ids)  # never before its millisecond
    for p in placed:  # claimed at its millisecond, not before
        assert registry.get(p.task.id).emitted_at >= p.task.timestamp


def test_a_cancelled_task_is_skipped(
    emit, sqs, topic, place_task, state_machine_arn, registry, capsys, emit_logs
):
    keep = place_task("kept")
    drop = place_task("dropped", timestamp=keep.task.timestamp)
    registry.cancel(drop.task.id, 1, timing.utc_now())

    result = emit(shard_event(keep.placement, state_machine_arn))

    assert (result["published"], result["skipped"]) == (1, 1)
    assert bodies(sqs, topic.raw_queue) == ["kept"]
    assert registry.get(drop.task.id).status is TaskStatus.CANCELLED
    metrics = json.loads(capsys.readouterr().out)
    assert (metrics["TasksSkipped"], metrics["TasksEmitted"]) == ([1.0], [1.0])
    (log,) = [line for line in emit_logs() if line["message"] == "Skipped superseded task"]
    assert (log["id"], log["skipped"]) == (drop.task.id, "the task is cancelled at version 1")


@pytest.fixture
def reschedule(placer, registry) -> Callable[..., Placement]:
    """Reschedule a placed task as the api function does: stage, registry, start."""

    def change(placed: Any, message: Any, timestamp: datetime) -> Placement:
        now = timing.utc_now()
        task = Task(placed.task.id, timestamp, message)
        placement = placer.stage(task, 2, now)
        registry.reschedule(
            task.id,
            1,
            new_version=2,
            timestamp=timestamp,
            message_sha256=message_sha256(message),
            placement=placement,
            now=now,
        )
        placer.start(task.id, 2, placement, now)
        return placement

    return change


def test_a_task_rescheduled_within_its_shard_emits_only_the_new_version(
    emit, sqs, topic, place_task, state_machine_arn, registry, reschedule
):
    old = place_task("old")
    new = reschedule(old, "new", old.task.timestamp + timedelta(milliseconds=1))
    assert (new.slot, new.shard) == (old.placement.slot, old.placement.shard)

    result = emit(shard_event(old.placement, state_machine_arn))

    assert (result["published"], result["skipped"]) == (1, 1)
    assert bodies(sqs, topic.raw_queue) == ["new"]
    record = registry.get(old.task.id)
    assert (record.status, record.version) == (TaskStatus.EMITTED, 2)


def test_a_task_rescheduled_to_another_slot_emits_only_there(
    emit, sqs, topic, place_task, state_machine_arn, registry, reschedule
):
    second = this_second(ahead=-2)
    old = place_task("old", timestamp=second)
    new = reschedule(old, "new", second + timedelta(seconds=1))
    assert new.slot == old.placement.slot + 1

    skipped = emit(shard_event(old.placement, state_machine_arn))
    published = emit(shard_event(new, state_machine_arn))

    assert (skipped["published"], skipped["skipped"]) == (0, 1)
    assert published["published"] == 1
    assert bodies(sqs, topic.raw_queue) == ["new"]
    assert registry.get(old.task.id).version == 2


def publisher_module() -> Any:
    # Imported once the environment is set: its child logger takes the service name from it.
    return importlib.import_module("task_scheduler.emit.publisher")


@pytest.fixture
def refuse(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], list[int]]:
    """Make SNS refuse, for its own sake (SenderFault), every message of task `task_id`; returns
    the list of attempts at it (their batch sizes)."""
    monkeypatch.setattr(publisher_module(), "RETRY_PAUSE_SECONDS", 0)

    def install(task_id: str) -> list[int]:
        attempts: list[int] = []
        sns = clients.client("sns")
        real = sns.publish_batch

        def publish_batch(**arguments: Any) -> Any:
            requests = arguments["PublishBatchRequestEntries"]
            target = [
                r for r in requests if r["MessageAttributes"]["task_id"]["StringValue"] == task_id
            ]
            others = [r for r in requests if r not in target]
            if target:
                attempts.append(len(requests))
            response = real(**{**arguments, "PublishBatchRequestEntries": others}) if others else {}
            failed = [
                {"Id": r["Id"], "Code": "InvalidParameter", "SenderFault": True, "Message": "no"}
                for r in target
            ]
            return {
                "Successful": response.get("Successful", []),
                "Failed": response.get("Failed", []) + failed,
            }

        monkeypatch.setattr(sns, "publish_batch", publish_batch)
        return attempts

    return install


def test_a_task_sns_refuses_is_dead_lettered_alone(
    emit,
    sqs,
    topic,
    place_task,
    state_machine_arn,
    registry,
    dead_letter_queue,
    refuse,
    capsys,
):
    due = this_second(ahead=-1)
    placed = [place_task(f"m{n}", timestamp=due) for n in range(3)]
    bad = placed[1]
    attempts = refuse(bad.task.id)
    event = shard_event(bad.placement, state_machine_arn)

    result = emit(event)

    assert (result["published"], result["dead_lettered"]) == (2, 1)
    assert sorted(bodies(sqs, topic.raw_queue)) == ["m0", "m2"]
    # Sent with the others once, then alone until the attempts ran out.
    assert attempts == [3] + [1] * (publisher_module().PUBLISH_ATTEMPTS - 1)
    (message,) = parked(sqs, dead_letter_queue, {p.task.id for p in placed})
    assert message == {
        "id": bad.task.id,
        "version": 1,
        "timestamp": format_timestamp(due),
        "message": "m1",
        "error": {"Error": "PublishRefused", "Cause": "InvalidParameter"},
    }
    record = registry.get(bad.task.id)
    assert (record.status, record.claimed_by) == (
        TaskStatus.FAILED,
        event["execution_arn"].rpartition(":")[2],
    )
    assert {registry.get(p.task.id).status for p in (placed[0], placed[2])} == {TaskStatus.EMITTED}
    assert json.loads(capsys.readouterr().out)["TasksDeadLettered"] == [1.0]

    # A retry of the invocation publishes nothing, and leaves the dead-lettered task failed.
    again = emit(event)
    assert again["published"] == 0
    assert receive(sqs, topic.raw_queue) == []
    assert parked(sqs, dead_letter_queue, {bad.task.id}) == []
    assert registry.get(bad.task.id).status is TaskStatus.FAILED


def failing_on(task_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every PublishBatch call carrying `task_id` fail as a whole."""
    sns = clients.client("sns")
    real = sns.publish_batch

    def publish_batch(**arguments: Any) -> Any:
        requests = arguments["PublishBatchRequestEntries"]
        if any(r["MessageAttributes"]["task_id"]["StringValue"] == task_id for r in requests):
            raise ClientError({"Error": {"Code": "InternalError", "Message": "?"}}, "PublishBatch")
        return real(**arguments)

    monkeypatch.setattr(sns, "publish_batch", publish_batch)


@pytest.fixture
def half_published(emit, place_task, state_machine_arn, sqs, topic, monkeypatch):
    """A shard of three tasks whose first invocation failed after publishing two of them (the
    batch of the third failed as a whole); returns the tasks and the shard's event."""
    due = this_second(ahead=-1)
    placed = [place_task(n, timestamp=due) for n in (0, 1)]
    placed.append(place_task(2, timestamp=due + timedelta(milliseconds=1)))
    event = shard_event(placed[0].placement, state_machine_arn)
    with monkeypatch.context() as patch:
        failing_on(placed[2].task.id, patch)
        with pytest.raises(ClientError, match="InternalError"):
            emit(event)
    assert sorted(bodies(sqs, topic.raw_queue)) == [0, 1]
    return placed, event


@NO_METRICS
def test_a_retried_shard_publishes_only_what_was_not_published(
    emit, sqs, topic, half_published, registry, slot_store
):
    placed, event = half_published
    _, logged = slot_store.shard(placed[0].placement.slot, placed[0].placement.shard)
    assert logged == {placed[0].placement.ordinal, placed[1].placement.ordinal}
    # Claimed by the failed attempt: its retry (the same execution) claims it again.
    assert registry.get(placed[2].task.id).status is TaskStatus.EMITTED

    result = emit(event)

    assert result["published"] == 1
    assert bodies(sqs, topic.raw_queue) == [2]


@NO_METRICS
@pytest.mark.parametrize("publication_log", ["false"])
def test_without_the_publication_log_a_retry_publishes_again(
    emit, sqs, topic, publication_log, place_task, state_machine_arn, monkeypatch, slot_store
):
    monkeypatch.setenv("PUBLICATION_LOG", publication_log)
    due = this_second(ahead=-1)
    placed = [place_task(n, timestamp=due) for n in (0, 1)]
    placed.append(place_task(2, timestamp=due + timedelta(milliseconds=1)))
    event = shard_event(placed[0].placement, state_machine_arn)
    with monkeypatch.context() as patch:
        failing_on(placed[2].task.id, patch)
        with pytest.raises(ClientError, match="InternalError"):
            emit(event)
    assert sorted(bodies(sqs, topic.raw_queue)) == [0, 1]

    result = emit(event)

    # Its claims, by the same execution, succeed again: the whole shard goes out again.
    assert result["published"] == 3
    assert sorted(bodies(sqs, topic.raw_queue)) == [0, 1, 2]
    assert slot_store.shard(placed[0].placement.slot, 0)[1] == frozenset()


def test_a_retry_leaves_the_registry_untouched(
    emit, topic, place_task, state_machine_arn, task_item
):
    placed = place_task("x")
    event = shard_event(placed.placement, state_machine_arn)
    emit(event)
    before = task_item(placed.task.id)

    assert emit(event)["published"] == 0

    assert task_item(placed.task.id) == before


def test_another_execution_cannot_claim_what_one_published(
    emit, sqs, topic, place_task, state_machine_arn, registry, monkeypatch
):
    # Without the publication log, which the solo execution would find its task in: the claim.
    monkeypatch.setenv("PUBLICATION_LOG", "false")
    placed = place_task("mine")
    emit(shard_event(placed.placement, state_machine_arn))
    solo = SoloExecution(
        placed.task.id, 1, placed.placement, slot_release(placed.placement.slot, 1)
    )

    result = emit(
        {
            "task": json.loads(solo.execution_input()),
            "execution_arn": execution_arn(state_machine_arn, solo.name),
        }
    )

    assert (result["published"], result["skipped"]) == (0, 1)
    assert bodies(sqs, topic.raw_queue) == ["mine"]
    assert registry.get(placed.task.id).claimed_by == f"slot-{placed.placement.slot}-0"


# Far-future slots: hops


@pytest.mark.parametrize("hop", [1, 2])
def test_a_hop_starts_the_next_and_publishes_nothing(
    emit, sqs, topic, place_task, state_machine_arn, sfn, slot_store, registry, monkeypatch, hop
):
    segment = 60
    monkeypatch.setenv("EXECUTION_SEGMENT_SECONDS", str(segment))
    placed = place_task("far", seconds_ago=-5)
    release = slot_release(placed.placement.slot, EMISSION_LEAD)
    this_hop = ShardExecution(
        placed.placement.slot, 0, hop, release - timedelta(seconds=hop * segment)
    )
    event = {
        "task": json.loads(this_hop.execution_input()),
        "execution_arn": execution_arn(state_machine_arn, this_hop.name),
    }

    result = emit(event)

    following = ShardExecution(
        placed.placement.slot, 0, hop - 1, release - timedelta(seconds=(hop - 1) * segment)
    )
    name = f"slot-{placed.placement.slot}-0" + ("" if hop == 1 else f"-{hop - 1}")
    assert following.name == name
    assert result == {
        "slot": placed.placement.slot,
        "shard": 0,
        "continued": execution_arn(state_machine_arn, name),
    }
    described = sfn.describe_execution(executionArn=result["continued"])
    assert json.loads(described["input"]) == json.loads(following.execution_input())
    assert receive(sqs, topic.raw_queue) == []
    assert slot_store.sealed(placed.placement.slot) == frozenset()  # a hop reads nothing
    assert registry.get(placed.task.id).status is TaskStatus.SCHEDULED
    # A retry of the hop, or a task joining now, starts the same execution again: one execution.
    assert emit(event)["continued"] == result["continued"]


def test_every_joiner_of_a_far_slot_starts_the_same_hop(slot_store, sfn, state_machine_arn):
    segment = 60
    placer = Placer(
        slot_store,
        Executions(state_machine_arn, sfn),
        lead_seconds=EMISSION_LEAD,
        segment_seconds=segment,
        shard_units=slots.DEFAULT_SHARD_UNITS,
    )
    due = this_second(ahead=3600) + timedelta(milliseconds=500)
    now = timing.utc_now()
    placements = [placer.stage(Task(f"t{n}", due, n), 1, now) for n in range(2)]

    arns = [placer.start(f"t{n}", 1, p, now) for n, p in enumerate(placements)]

    assert arns[0] == arns[1]
    name = arns[0].rpartition(":")[2]
    slot, shard, hop = (int(part) for part in name.removeprefix("slot-").split("-"))
    assert (slot, shard) == (placements[0].slot, 0)
    release = slot_release(slot, EMISSION_LEAD) - timedelta(seconds=hop * segment)
    assert timedelta(0) <= release - now <= timedelta(seconds=segment)
    described = sfn.describe_execution(executionArn=arns[0])
    assert json.loads(described["input"])["release_at"] == timing.format_release(release)


def test_a_joiner_whose_hop_closed_starts_the_next(slot_store, sfn, own_state_machine):
    # That hop's emit ran between the joiner's computing it and its start: it started the next.
    segment = 60
    placer = Placer(
        slot_store,
        Executions(own_state_machine, sfn),
        lead_seconds=EMISSION_LEAD,
        segment_seconds=segment,
        shard_units=slots.DEFAULT_SHARD_UNITS,
    )
    due = this_second(ahead=3600)
    now = timing.utc_now()
    first = placer.stage(Task("t0", due, 0), 1, now)
    hop_arn = placer.start("t0", 1, first, now)
    sfn.stop_execution(executionArn=hop_arn)
    joiner = placer.stage(Task("t1", due, 1), 1, now)

    arn = placer.start("t1", 1, joiner, now)

    hop = int(hop_arn.rpartition("-")[2])
    expected = f"slot-{first.slot}-0" + ("" if hop == 1 else f"-{hop - 1}")
    assert arn.rpartition(":")[2] == expected


@pytest.fixture
def own_state_machine(sfn: Any) -> str:
    """A state machine of the test's own: its executions can be stopped without closing those
    other tests of the same second share."""
    arn: str = sfn.create_state_machine(
        name=f"task-scheduler-{uuid4().hex[:8]}",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/task-scheduler",
    )["stateMachineArn"]
    return arn


# The dead-letter path (the Catch, once the retries ran out)


@NO_METRICS
def test_the_dead_letter_path_parks_every_unpublished_task_of_the_shard(
    emit, sqs, topic, half_published, registry, place_task, dead_letter_queue, capsys
):
    placed, event = half_published
    cancelled = place_task("cancelled", timestamp=placed[0].task.timestamp)
    registry.cancel(cancelled.task.id, 1, timing.utc_now())
    waiting = place_task("waiting", timestamp=placed[0].task.timestamp)  # never claimed
    state = {**event["task"], "error": {"Error": "X", "Cause": "Y"}}

    result = emit({"dead_letter": state, "execution_arn": event["execution_arn"]})

    assert result == {"published": 0, "skipped": 1, "dead_lettered": 2, "max_lateness_ms": 0.0}
    ids = {p.task.id for p in (*placed, cancelled, waiting)}
    messages = sorted(parked(sqs, dead_letter_queue, ids), key=lambda m: str(m["message"]))
    assert messages == [
        {
            "id": p.task.id,
            "version": 1,
            "timestamp": format_timestamp(p.task.timestamp),
            "message": p.task.message,
            "error": {"Error": "X", "Cause": "Y"},
        }
        for p in (placed[2], waiting)
    ]
    claimant = event["execution_arn"].rpartition(":")[2]
    for p in (placed[2], waiting):
        record = registry.get(p.task.id)
        assert (record.status, record.claimed_by) == (TaskStatus.FAILED, claimant)
    assert {registry.get(p.task.id).status for p in placed[:2]} == {TaskStatus.EMITTED}
    assert registry.get(cancelled.task.id).status is TaskStatus.CANCELLED
    assert receive(sqs, topic.raw_queue) == []
    assert sum(json.loads(capsys.readouterr().out)["TasksDeadLettered"]) == 2


def test_the_dead_letter_path_leaves_a_task_another_execution_claimed(
    emit, sqs, topic, place_task, state_machine_arn, registry, dead_letter_queue
):
    placed = place_task("published by its solo execution")
    registry.claim(placed.task.id, 1, timing.utc_now(), "its-solo", placed.placement)
    event = shard_event(placed.placement, state_machine_arn)
    state = {**event["task"], "error": {"Error": "X", "Cause": "Y"}}

    result = emit({"dead_letter": state, "execution_arn": event["execution_arn"]})

    assert (result["dead_lettered"], result["skipped"]) == (0, 1)
    assert parked(sqs, dead_letter_queue, {placed.task.id}) == []
    assert registry.get(placed.task.id).claimed_by == "its-solo"


# A late joiner's own execution


def solo_event(placed: Any, state_machine_arn: str, version: int = 1) -> dict[str, Any]:
    solo = SoloExecution(
        placed.task.id,
        version,
        placed.placement,
        slot_release(placed.placement.slot, EMISSION_LEAD),
    )
    return {
        "task": json.loads(solo.execution_input()),
        "execution_arn": execution_arn(state_machine_arn, solo.name),
    }


def test_a_solo_execution_publishes_its_one_task(
    emit, sqs, topic, place_task, state_machine_arn, registry
):
    placed = place_task("late joiner")
    other = place_task("its neighbour", timestamp=placed.task.timestamp)
    event = solo_event(placed, state_machine_arn)

    result = emit(event)

    assert result["published"] == 1
    assert bodies(sqs, topic.raw_queue) == ["late joiner"]
    record = registry.get(placed.task.id)
    assert (record.status, record.claimed_by) == (
        TaskStatus.EMITTED,
        f"{placed.task.id}_1_s{placed.placement.ordinal}",
    )
    assert registry.get(other.task.id).status is TaskStatus.SCHEDULED
    # Its retry publishes nothing again.
    assert emit(event)["published"] == 0
    assert receive(sqs, topic.raw_queue) == []


def test_a_solo_execution_of_a_version_not_in_its_entry_publishes_nothing(
    emit, sqs, topic, place_task, state_machine_arn
):
    placed = place_task("v1")

    result = emit(solo_event(placed, state_machine_arn, version=2))

    assert result["published"] == 0
    assert receive(sqs, topic.raw_queue) == []


def test_shard_executions_and_task_executions_never_share_a_name():
    shard = ShardExecution(1893456000, 0, 0, datetime(2029, 12, 31, 23, 59, 59, tzinfo=UTC))
    solo = SoloExecution("task_1", 1, Placement(1893456000, 0, 7), shard.release_at)
    assert "_" not in shard.name
    assert solo.name == "task_1_1_s7"
    assert json.loads(shard.execution_input()) == {
        "slot": 1893456000,
        "shard": 0,
        "hop": 0,
        "release_at": "2029-12-31T23:59:59Z",
    }


def test_a_shard_out_of_time_leaves_the_rest_to_its_retry(
    emit, emit_handler, lambda_context, sqs, topic, place_task, state_machine_arn, registry
):
    second = timing.utc_now().replace(microsecond=0) - timedelta(seconds=1)
    placed = [place_task({"late": n}, timestamp=second) for n in range(3)]
    event = shard_event(placed[0].placement, state_machine_arn)
    lambda_context.remaining_millis = 9_000  # less than the time kept for publishing

    with pytest.raises(Exception, match="tasks left") as raised:
        emit(event)

    assert type(raised.value).__name__ == "ShardUnfinished"
    assert receive(sqs, topic.raw_queue) == []
    assert {registry.get(p.task.id).status for p in placed} == {TaskStatus.SCHEDULED}
    lambda_context.remaining_millis = 30_000
    assert emit(event)["published"] == 3
