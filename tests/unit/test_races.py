"""Races around a time slot's shard: exactly one side wins, in either order.

DynamoDB applies conditional writes to an item one at a time. The emit function's claim is
conditional on (version, scheduled or claimed by this execution, placement); a cancel, a
reschedule and the api function's withdrawal are conditional on (version, scheduled): whichever
commits second fails. A task joining a shard while its emit invocation reads it is handed over
by the seal. These tests drive both sides in each order, by calling the pieces in that order,
through the handlers, then with real threads against moto (whose DynamoDB is made atomic per
write here, as DynamoDB is).
"""

import importlib
import json
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend

from task_scheduler.api.errors import TaskConflict
from task_scheduler.aws.executions import Executions
from task_scheduler.aws.placement import Placer
from task_scheduler.aws.registry import ConditionFailed, Registry
from task_scheduler.aws.slot_store import SlotStore
from task_scheduler.core import decisions, timing
from task_scheduler.core.decisions import CancelAction, Verdict
from task_scheduler.core.records import TaskRecord, TaskStatus
from task_scheduler.core.slots import (
    DEFAULT_SHARD_UNITS,
    Placement,
    SoloExecution,
    slot_release,
)
from task_scheduler.core.tasks import Task, message_sha256
from task_scheduler.core.timestamps import format_timestamp
from tests.unit.conftest import EMISSION_LEAD, Topic, receive, shard_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def new_id() -> str:
    return f"task-{uuid4().hex}"


def task_path(task_id: str) -> str:
    return f"/schedule/{task_id}"


@pytest.fixture
def emit(emit_handler, lambda_context, topic: Topic) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda event: emit_handler.lambda_handler(event, lambda_context)


@pytest.fixture
def scheduled(call_api, registry, state_machine_arn):
    """Schedule a task through the API; returns its id and the emit function's event for its
    shard, as the state machine would build it."""

    def schedule(message: Any = "hi", *, in_seconds: float = 0) -> tuple[str, dict[str, Any]]:
        task_id = new_id()
        timestamp = format_timestamp(timing.utc_now() + timedelta(seconds=in_seconds))
        answer = call_api(
            "POST", "/schedule", {"timestamp": timestamp, "message": message, "id": task_id}
        )
        assert answer.status == 201, answer.body
        return task_id, shard_event(registry.get(task_id).placement, state_machine_arn)

    return schedule


def bodies(sqs: Any, topic: Topic) -> list[str]:
    return [m["Body"] for m in receive(sqs, topic.raw_queue)]


def claimant_of(event: dict[str, Any]) -> str:
    return str(event["execution_arn"].rpartition(":")[2])


def record_at(task: Task, placement: Placement, version: int = 1) -> TaskRecord:
    now = timing.utc_now()
    return TaskRecord(
        id=task.id,
        version=version,
        status=TaskStatus.SCHEDULED,
        timestamp=task.timestamp,
        created_at=now,
        updated_at=now,
        message_sha256=message_sha256(task.message),
        placement=placement,
    )


# The decisions, with the conditional writes in each order


@pytest.mark.parametrize("first", ["claim", "cancel"])
def test_claim_and_cancel_from_the_same_state_exactly_one_wins(
    scheduled, registry: Registry, first: str
):
    task_id, event = scheduled()
    read_by_both = registry.get(task_id)
    assert decisions.cancel_action(read_by_both) is CancelAction.CANCEL

    def claim() -> bool:
        try:
            registry.claim(
                task_id,
                read_by_both.version,
                timing.utc_now(),
                claimant_of(event),
                read_by_both.placement,
            )
        except ConditionFailed as failed:
            decision = decisions.after_failed_claim(
                failed.current, read_by_both.version, own_execution=False
            )
            return decision.verdict is Verdict.PROCEED
        return True

    def cancel() -> bool:
        try:
            registry.cancel(task_id, read_by_both.version, timing.utc_now())
        except ConditionFailed as failed:
            return decisions.cancel_action(failed.current) is not CancelAction.REFUSE
        return True

    steps = {"claim": claim, "cancel": cancel}
    outcomes = {name: steps[name]() for name in (first, *(set(steps) - {first}))}

    assert outcomes == {"claim": first == "claim", "cancel": first == "cancel"}
    expected = TaskStatus.EMITTED if first == "claim" else TaskStatus.CANCELLED
    assert registry.get(task_id).status is expected


@pytest.mark.parametrize("first", ["claim", "reschedule"])
def test_claim_and_reschedule_from_the_same_state_exactly_one_wins(
    scheduled, registry: Registry, placer: Placer, first: str
):
    task_id, event = scheduled("v1")
    read_by_both = registry.get(task_id)
    new_task = Task(task_id, read_by_both.timestamp, "v2")
    new_placement = placer.stage(new_task, 2, timing.utc_now())

    def claim() -> bool:
        try:
            registry.claim(task_id, 1, timing.utc_now(), claimant_of(event), read_by_both.placement)
        except ConditionFailed as failed:
            decision = decisions.after_failed_claim(failed.current, 1, own_execution=False)
            assert decision.reason == "the task is scheduled at version 2"
            return False
        return True

    def reschedule() -> bool:
        try:
            registry.reschedule(
                task_id,
                1,
                new_version=2,
                timestamp=new_task.timestamp,
                message_sha256=message_sha256("v2"),
                placement=new_placement,
                now=timing.utc_now(),
            )
        except ConditionFailed as failed:
            return failed.current is None or failed.current.status is not TaskStatus.EMITTED
        return True

    steps = {"claim": claim, "reschedule": reschedule}
    outcomes = {name: steps[name]() for name in (first, *(set(steps) - {first}))}

    assert outcomes == {"claim": first == "claim", "reschedule": first == "reschedule"}
    record = registry.get(task_id)
    expected = (TaskStatus.EMITTED, 1) if first == "claim" else (TaskStatus.SCHEDULED, 2)
    assert (record.status, record.version) == expected


@pytest.mark.parametrize("first", ["claim", "withdraw"])
def test_claim_and_the_apis_withdrawal_exactly_one_wins(
    placer: Placer, registry: Registry, state_machine_arn: str, first: str
):
    # The api function registered the task, then failed to start its shard's execution: it
    # withdraws the task (delete_unclaimed) unless an emit invocation claimed it meanwhile.
    task = Task(new_id(), timing.utc_now(), "withdrawn?")
    placement = placer.stage(task, 1, timing.utc_now())
    registry.create(record_at(task, placement))
    event = shard_event(placement, state_machine_arn)

    def claim() -> bool:
        try:
            registry.claim(task.id, 1, timing.utc_now(), claimant_of(event), placement)
        except ConditionFailed as failed:
            decision = decisions.after_failed_claim(failed.current, 1, own_execution=False)
            assert (decision.verdict, decision.reason) == (
                Verdict.SKIP,
                "the task is not registered",
            )
            return False
        return True

    def withdraw() -> bool:
        try:
            registry.delete_unclaimed(task.id, 1)
        except ConditionFailed as failed:
            # Claimed: on its way, the api function answers 201.
            return failed.current is None or failed.current.status is not TaskStatus.EMITTED
        return True

    steps = {"claim": claim, "withdraw": withdraw}
    outcomes = {name: steps[name]() for name in (first, *(set(steps) - {first}))}

    assert outcomes == {"claim": first == "claim", "withdraw": first == "withdraw"}
    record = registry.get(task.id)
    if first == "claim":
        assert record.status is TaskStatus.EMITTED
    else:
        assert record is None


@pytest.mark.parametrize("claimed", [True, False])
def test_a_failed_start_withdraws_the_task_unless_a_claim_came_first(
    invoke_api, registry, monkeypatch, claimed
):
    # invoke_api: the api function's environment.
    service_module = importlib.import_module("task_scheduler.api.service")

    def claim_then_fail(self: Placer, task_id: str, version: int, placement: Placement, now):
        if claimed:  # the shard's emit, already released, claims it between the two steps
            registry.claim(task_id, version, timing.utc_now(), "slot-shard", placement)
        raise ClientError({"Error": {"Code": "ServiceUnavailable"}}, "StartExecution")

    monkeypatch.setattr(service_module.Placer, "start", claim_then_fail)
    service = service_module.TaskService.from_env()
    task_id = new_id()
    request = service_module.ScheduleRequest.model_validate(
        {"timestamp": format_timestamp(timing.utc_now()), "message": "m", "id": task_id}
    )

    if claimed:  # on its way: acknowledged
        _, done = service.schedule(request, None)
        assert done is service_module.Scheduled.CREATED
        assert registry.get(task_id).status is TaskStatus.EMITTED
    else:  # withdrawn, and the request fails (a 5xx: the client retries)
        with pytest.raises(ClientError):
            service.schedule(request, None)
        assert registry.get(task_id) is None


# A late joiner and the shard's seal, in each order


@pytest.fixture
def own_state_machine(sfn: Any) -> str:
    """A state machine of the test's own: closing its executions closes none another test of
    the same second uses."""
    arn: str = sfn.create_state_machine(
        name=f"task-scheduler-{uuid4().hex[:8]}",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/task-scheduler",
    )["stateMachineArn"]
    return arn


@pytest.fixture
def own_placer(slot_store: SlotStore, sfn: Any, own_state_machine: str) -> Placer:
    from task_scheduler.core.decisions import MAX_SEGMENT_SECONDS

    return Placer(
        slot_store,
        Executions(own_state_machine, sfn),
        lead_seconds=EMISSION_LEAD,
        segment_seconds=MAX_SEGMENT_SECONDS,
        shard_units=DEFAULT_SHARD_UNITS,
    )


def solo_name(task: Task, placement: Placement) -> str:
    return f"{task.id}_1_s{placement.ordinal}"


def test_a_joiner_before_the_seal_is_read_by_the_shard(
    placer, registry, slot_store, emit, sqs, topic, state_machine_arn, place_task
):
    first = place_task("first")
    joiner = Task(new_id(), first.task.timestamp, "joiner")
    now = timing.utc_now()

    placement = placer.stage(joiner, 1, now)
    registry.create(record_at(joiner, placement))
    arn = placer.start(joiner.id, 1, placement, now)  # not sealed: the shard's execution
    slot_store.seal(placement.slot, placement.shard)
    entries, _ = slot_store.shard(placement.slot, placement.shard)

    assert arn == first.execution_arn
    assert arn.endswith(f":slot-{placement.slot}-{placement.shard}")
    assert joiner.id in {e.id for e in entries}
    result = emit(shard_event(placement, state_machine_arn))
    assert result["published"] == 2
    assert sorted(bodies(sqs, topic)) == ["first", "joiner"]


def test_a_joiner_after_the_seal_gets_its_own_execution(
    placer, registry, slot_store, emit, sqs, topic, state_machine_arn, place_task, sfn
):
    first = place_task("first")
    joiner = Task(new_id(), first.task.timestamp, "joiner")
    now = timing.utc_now()

    slot_store.seal(first.placement.slot, first.placement.shard)  # the emit's seal, then its read
    entries, _ = slot_store.shard(first.placement.slot, first.placement.shard)
    placement = placer.stage(joiner, 1, now)
    registry.create(record_at(joiner, placement))
    arn = placer.start(joiner.id, 1, placement, now)

    assert joiner.id not in {e.id for e in entries}  # the read missed it
    assert (placement.slot, placement.shard) == (first.placement.slot, first.placement.shard)
    assert arn.endswith(f":{solo_name(joiner, placement)}")
    solo = SoloExecution(joiner.id, 1, placement, slot_release(placement.slot, EMISSION_LEAD))
    assert sfn.describe_execution(executionArn=arn)["input"] == solo.execution_input()
    # The solo execution publishes the joiner; a retry of the shard's emit, which reads it now,
    # finds it claimed by the solo execution.
    solo_result = emit({"task": json.loads(solo.execution_input()), "execution_arn": arn})
    assert solo_result["published"] == 1
    shard_result = emit(shard_event(placement, state_machine_arn))
    assert shard_result["published"] == 1  # the first; the joiner is in its publication log
    assert sorted(bodies(sqs, topic)) == ["first", "joiner"]
    assert registry.get(joiner.id).claimed_by == solo_name(joiner, placement)


@pytest.mark.parametrize("publication_log", ["true", "false"])
@pytest.mark.parametrize("first", ["shard", "solo"])
def test_a_joiner_read_by_the_shard_and_carried_alone_is_published_once(
    placer,
    registry,
    slot_store,
    emit,
    sqs,
    topic,
    state_machine_arn,
    monkeypatch,
    first,
    publication_log,
):
    # Written before the read, but its start found the shard sealed: both carry it. The shard's
    # publication log, which both write, leaves it out of the second; without it, the claim
    # (another execution's) refuses it.
    monkeypatch.setenv("PUBLICATION_LOG", publication_log)
    joiner = Task(new_id(), timing.utc_now(), "once")
    now = timing.utc_now()
    placement = placer.stage(joiner, 1, now)
    registry.create(record_at(joiner, placement))
    slot_store.seal(placement.slot, placement.shard)
    entries, _ = slot_store.shard(placement.slot, placement.shard)
    arn = placer.start(joiner.id, 1, placement, now)
    assert joiner.id in {e.id for e in entries}
    assert arn.endswith(f":{solo_name(joiner, placement)}")
    solo = SoloExecution(joiner.id, 1, placement, slot_release(placement.slot, EMISSION_LEAD))
    events = {
        "shard": shard_event(placement, state_machine_arn),
        "solo": {"task": json.loads(solo.execution_input()), "execution_arn": arn},
    }
    second = "solo" if first == "shard" else "shard"

    results = {name: emit(events[name]) for name in (first, second)}

    assert (results[first]["published"], results[second]["published"]) == (1, 0)
    assert results[second]["skipped"] == (1 if publication_log == "false" else 0)
    assert bodies(sqs, topic) == ["once"]
    assert registry.get(joiner.id).claimed_by == claimant_of(events[first])


def test_a_joiner_whose_shard_execution_closed_gets_its_own_execution(
    own_placer, registry, slot_store, sfn
):
    # The shard's execution closed before the joiner's start (Step Functions answers
    # ExecutionAlreadyExists): whatever the seal says, its read may have missed the joiner.
    now = timing.utc_now()
    first = Task(new_id(), now, "first")
    first_placement = own_placer.stage(first, 1, now)
    shard_arn = own_placer.start(first.id, 1, first_placement, now)
    sfn.stop_execution(executionArn=shard_arn)
    joiner = Task(new_id(), now, "joiner")
    placement = own_placer.stage(joiner, 1, now)
    registry.create(record_at(joiner, placement))

    arn = own_placer.start(joiner.id, 1, placement, now)

    assert arn.endswith(f":{solo_name(joiner, placement)}")
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    # Its retry (the api function's, or a replayed request) adopts it.
    assert own_placer.start(joiner.id, 1, placement, now) == arn


# Through the handlers, in each order


def test_a_cancel_before_the_emission_wins(call_api, emit, scheduled, sqs, topic):
    task_id, event = scheduled("never")

    cancelled = call_api("DELETE", task_path(task_id))
    result = emit(event)

    assert cancelled.body["status"] == "cancelled"
    assert (result["published"], result["skipped"]) == (0, 1)
    assert bodies(sqs, topic) == []


def test_an_emission_before_the_cancel_wins(call_api, emit, scheduled, sqs, topic):
    task_id, event = scheduled("once")

    result = emit(event)
    refused = call_api("DELETE", task_path(task_id))

    assert result["published"] == 1
    assert (refused.status, refused.body["errors"][0]["rule"]) == (409, "not_scheduled")
    assert bodies(sqs, topic) == ["once"]
    assert call_api("GET", task_path(task_id)).body["status"] == "emitted"


def test_a_cancel_during_the_hold_wins(call_api, emit, scheduled, sqs, topic, monkeypatch):
    # The emit function was invoked and holds for the exact millisecond when the cancel
    # arrives: nothing stops its execution, the failed claim stops the task.
    task_id, event = scheduled("held", in_seconds=0.3)
    hold = timing.hold_until
    answers = []

    def cancelled_while_holding(*args: Any, **kwargs: Any) -> Any:
        answers.append(call_api("DELETE", task_path(task_id)))
        return hold(*args, **kwargs)

    monkeypatch.setattr(timing, "hold_until", cancelled_while_holding)

    result = emit(event)

    assert answers[0].body["status"] == "cancelled"
    assert (result["published"], result["skipped"]) == (0, 1)
    assert bodies(sqs, topic) == []


def test_a_cancel_after_the_claim_during_the_hold_is_refused(
    call_api, emit, scheduled, sqs, topic, monkeypatch, registry, state_machine_arn
):
    # Two tasks of the shard, due a few milliseconds apart: the first is claimed and published,
    # then the cancel of it arrives while the shard holds for the second.
    task_id, event = scheduled("first", in_seconds=0.2)
    due = registry.get(task_id).timestamp
    later = call_api(
        "POST",
        "/schedule",
        {
            "timestamp": format_timestamp(due + timedelta(milliseconds=5)),
            "message": "second",
            "id": new_id(),
        },
    )
    assert later.status == 201
    assert shard_event(registry.get(later.body["id"]).placement, state_machine_arn) == event
    hold = timing.hold_until
    answers = []

    def cancel_the_first_while_holding(timestamp: datetime, **kwargs: Any) -> Any:
        if timestamp > due:
            # The first millisecond's batch runs on: the cancel comes once it has claimed.
            deadline = time.monotonic() + 5
            while registry.get(task_id).status is TaskStatus.SCHEDULED:
                assert time.monotonic() < deadline
                time.sleep(0.005)
            answers.append(call_api("DELETE", task_path(task_id)))
        return hold(timestamp, **kwargs)

    monkeypatch.setattr(timing, "hold_until", cancel_the_first_while_holding)

    result = emit(event)

    (answer,) = answers
    assert (answer.status, answer.body["errors"][0]["rule"]) == (409, "not_scheduled")
    assert result["published"] == 2
    assert sorted(bodies(sqs, topic)) == ["first", "second"]


def test_after_a_reschedule_only_the_new_version_is_emitted(
    call_api, emit, scheduled, sqs, topic, registry, state_machine_arn
):
    task_id, old = scheduled("old")
    answer = call_api("PATCH", task_path(task_id), {"message": "new"})
    new = shard_event(registry.get(task_id).placement, state_machine_arn)

    results = [emit(old), emit(new)]

    assert answer.body["version"] == 2
    # Same timestamp, same shard: its one emit holds both entries and claims only version 2.
    assert new == old
    assert (results[0]["published"], results[0]["skipped"]) == (1, 1)
    assert results[1]["published"] == 0
    assert bodies(sqs, topic) == ["new"]
    assert call_api("GET", task_path(task_id)).body["status"] == "emitted"


def test_a_reschedule_to_another_slot_leaves_the_old_shard_nothing(
    call_api, emit, scheduled, sqs, topic, registry, state_machine_arn
):
    task_id, old = scheduled("old", in_seconds=-5)
    later = format_timestamp(timing.utc_now() - timedelta(seconds=2))
    answer = call_api("PATCH", task_path(task_id), {"timestamp": later, "message": "new"})
    new = shard_event(registry.get(task_id).placement, state_machine_arn)

    results = [emit(old), emit(new)]

    assert answer.body["version"] == 2
    assert new != old
    assert results[0]["skipped"] == 1
    assert results[1]["published"] == 1
    assert bodies(sqs, topic) == ["new"]


def test_a_reschedule_after_the_emission_is_refused(call_api, emit, scheduled, sqs, topic):
    task_id, event = scheduled("first")
    emit(event)

    answer = call_api("PATCH", task_path(task_id), {"message": "second"})

    assert answer.status == 409
    assert bodies(sqs, topic) == ["first"]


def test_a_losing_concurrent_schedule_leaves_an_entry_that_is_never_published(
    placer, registry, emit, sqs, topic, state_machine_arn
):
    # Two requests for one id: both stage an entry of version 1; one registers, the other's
    # create fails (a 409 if its message differs). The shard publishes the winner's only.
    task_id = new_id()
    now = timing.utc_now()
    winner = Task(task_id, now, "winner")
    loser = Task(task_id, now, "loser")
    winner_placement = placer.stage(winner, 1, now)
    loser_placement = placer.stage(loser, 1, now)
    registry.create(record_at(winner, winner_placement))
    with pytest.raises(ConditionFailed):
        registry.create(record_at(loser, loser_placement))
    placer.start(task_id, 1, winner_placement, now)

    result = emit(shard_event(winner_placement, state_machine_arn))

    assert (result["published"], result["skipped"]) == (1, 1)
    assert bodies(sqs, topic) == ["winner"]


# A task placed by its execution of the time before slots, then changed through the API


@pytest.fixture
def placed_legacy(task_event, emit, registry, monkeypatch, state_machine_arn):
    """A task 1 hour ahead whose pre-slot execution ended a 60 s segment: now in its slot."""
    monkeypatch.setenv("EXECUTION_SEGMENT_SECONDS", "60")
    event = task_event("far", seconds_ago=-3600, release_at=timing.utc_now().replace(microsecond=0))
    result = emit(event)
    assert "continued" in result
    task_id = event["task"]["id"]
    placement = registry.get(task_id).placement
    return task_id, shard_event(placement, state_machine_arn)


def test_status_and_list_follow_the_placement(call_api, placed_legacy, invoke_api):
    task_id, _ = placed_legacy

    status = call_api("GET", task_path(task_id)).body
    listed = call_api("GET", "/schedule", query={"status": "scheduled", "limit": "100"}).body

    assert (status["status"], status["version"], status["message"]) == ("scheduled", 1, "far")
    assert task_id in [task["id"] for task in listed["tasks"]]


def test_cancel_follows_the_placement(call_api, placed_legacy, registry):
    task_id, event = placed_legacy

    answer = call_api("DELETE", task_path(task_id))

    assert answer.body["status"] == "cancelled"
    placement = registry.get(task_id).placement
    claim = Placement(placement.slot, placement.shard, placement.ordinal)
    with pytest.raises(ConditionFailed):
        registry.claim(task_id, 1, timing.utc_now(), claimant_of(event), claim)


def test_reschedule_follows_the_placement(call_api, placed_legacy, registry, slot_store):
    task_id, event = placed_legacy
    old = registry.get(task_id).placement

    answer = call_api("PATCH", task_path(task_id), {"message": "nearer"})

    assert answer.body["version"] == 2
    record = registry.get(task_id)
    assert record.placement != old
    assert slot_store.get(record.placement).message == "nearer"
    with pytest.raises(ConditionFailed):
        registry.claim(task_id, 1, timing.utc_now(), claimant_of(event), old)


# With real threads


@pytest.fixture
def atomic_dynamodb_writes(monkeypatch) -> None:
    """moto checks a condition and applies the update in separate steps, without a lock;
    DynamoDB applies each conditional write atomically. So does moto, with this."""
    lock = threading.Lock()
    update_item = DynamoDBBackend.update_item

    def atomic(self: DynamoDBBackend, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return update_item(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", atomic)


ROUNDS = 12


def test_a_cancel_racing_the_emission_on_threads_lets_exactly_one_happen(
    scheduled, emit, sqs, topic, atomic_dynamodb_writes
):
    # Each round: the shard's emit holds until a timestamp 150 ms ahead while a cancel arrives
    # within 40 ms either side of it.
    rng = random.Random(8)
    # Imported once the environment is set: its module's logger takes the service name from it.
    service = importlib.import_module("task_scheduler.api.service").TaskService.from_env()
    outcomes = []
    for _ in range(ROUNDS):
        task_id, event = scheduled("raced", in_seconds=0.15)
        results: dict[str, Any] = {}

        def emission(event: dict[str, Any] = event, results: dict[str, Any] = results) -> None:
            results["emit"] = emit(event)

        def cancellation(
            task_id: str = task_id, results: dict[str, Any] = results, delay: float = 0.15
        ) -> None:
            time.sleep(delay + rng.uniform(-0.04, 0.04))
            try:
                results["cancel"] = service.cancel(task_id).status
            except TaskConflict as conflict:
                results["cancel"] = conflict.errors[0].rule

        threads = [threading.Thread(target=emission), threading.Thread(target=cancellation)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)

        published = receive(sqs, topic.raw_queue)
        emitted = results["emit"]["published"] == 1
        cancelled = results["cancel"] == TaskStatus.CANCELLED
        assert emitted != cancelled, results
        assert len(published) == int(emitted)
        assert results["cancel"] in (TaskStatus.CANCELLED, "not_scheduled")
        outcomes.append("emitted" if emitted else "cancelled")
    print(f"outcomes over {ROUNDS} rounds: {sorted(outcomes)}")
