"""Races between the emit function and cancel or reschedule: exactly one of them wins.

DynamoDB applies conditional writes to an item one at a time; both the emit function's claim
and a cancel are conditional on (version, scheduled), so whichever commits second fails. These
tests drive both sides in each order, at the decision level and through the handlers, then with
real threads against moto (whose DynamoDB is made atomic per write here, as DynamoDB is).
"""

import importlib
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend

from task_scheduler import decisions, timing
from task_scheduler.decisions import CancelAction, Verdict
from task_scheduler.errors import TaskConflict
from task_scheduler.records import TaskStatus
from task_scheduler.registry import ConditionFailed, Registry
from task_scheduler.timestamps import format_timestamp
from tests.unit.conftest import Topic, receive
from tests.unit.test_api_tasks import new_id, task_path

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def emit(emit_handler, lambda_context, topic: Topic) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda event: emit_handler.lambda_handler(event, lambda_context)


@pytest.fixture
def scheduled(call_api, execution_input, state_machine_arn):
    """Schedule a task through the API; returns the emit function's event for its execution,
    as the state machine would build it."""

    def schedule(message: Any = "hi", *, in_seconds: float = 0) -> dict[str, Any]:
        task_id = new_id()
        timestamp = format_timestamp(datetime.now(UTC) + timedelta(seconds=in_seconds))
        answer = call_api(
            "POST", "/schedule", {"timestamp": timestamp, "message": message, "id": task_id}
        )
        assert answer.status == 201, answer.body
        return event_for(execution_input, state_machine_arn, task_id, 1, 1)

    return schedule


def event_for(
    execution_input: Callable[..., Any], state_machine_arn: str, task_id: str, *name: int
) -> dict[str, Any]:
    executions = state_machine_arn.replace(":stateMachine:", ":execution:")
    suffix = "_".join(str(n) for n in name)
    return {
        "task": execution_input(task_id, *name),
        "execution_arn": f"{executions}:{task_id}_{suffix}",
    }


# The decisions, with the conditional writes in each order


@pytest.mark.parametrize("first", ["claim", "cancel"])
def test_claim_and_cancel_from_the_same_state_exactly_one_wins(
    scheduled, registry: Registry, first: str
):
    task_id = scheduled()["task"]["id"]
    read_by_both = registry.get(task_id)
    assert decisions.cancel_action(read_by_both) is CancelAction.CANCEL

    def claim() -> bool:
        try:
            registry.claim(task_id, read_by_both.version, timing.utc_now())
        except ConditionFailed as failed:
            decision = decisions.after_failed_claim(failed.current, read_by_both.version)
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


# Through the handlers, in each order


def test_a_cancel_before_the_emission_wins(call_api, emit, scheduled, sqs, topic):
    event = scheduled("never")

    cancelled = call_api("DELETE", task_path(event["task"]["id"]))
    result = emit(event)

    assert cancelled.body["status"] == "cancelled"
    assert "skipped" in result
    assert receive(sqs, topic.raw_queue) == []


def test_an_emission_before_the_cancel_wins(call_api, emit, scheduled, sqs, topic):
    event = scheduled("once")

    result = emit(event)
    refused = call_api("DELETE", task_path(event["task"]["id"]))

    assert "message_id" in result
    assert (refused.status, refused.body["errors"][0]["rule"]) == (409, "not_scheduled")
    assert [m["Body"] for m in receive(sqs, topic.raw_queue)] == ["once"]
    assert call_api("GET", task_path(event["task"]["id"])).body["status"] == "emitted"


def test_a_cancel_during_the_hold_wins(
    call_api,
    emit,
    scheduled,
    sqs,
    topic,
    monkeypatch,
):
    # The emit function was invoked and holds for the exact millisecond when the cancel arrives;
    # stopping the execution does not stop the invocation, the failed claim does.
    event = scheduled("held", in_seconds=0.3)
    hold = timing.hold_until
    answers = []

    def cancelled_while_holding(*args: Any, **kwargs: Any) -> Any:
        answers.append(call_api("DELETE", task_path(event["task"]["id"])))
        return hold(*args, **kwargs)

    monkeypatch.setattr(timing, "hold_until", cancelled_while_holding)

    result = emit(event)

    assert answers[0].body["status"] == "cancelled"
    assert result["skipped"].startswith("the task is cancelled")
    assert receive(sqs, topic.raw_queue) == []


def test_after_a_reschedule_only_the_new_version_is_emitted(
    call_api,
    emit,
    scheduled,
    sqs,
    topic,
    execution_input,
    state_machine_arn,
):
    old = scheduled("old")
    task_id = old["task"]["id"]
    answer = call_api("PATCH", task_path(task_id), {"message": "new"})
    new = event_for(execution_input, state_machine_arn, task_id, 2, 1)

    # Both executions reach the emit function: the old one's stop came too late.
    results = [emit(old), emit(new)]

    assert answer.body["version"] == 2
    assert results[0]["skipped"] == "the task is scheduled at version 2"
    assert "message_id" in results[1]
    assert [m["Body"] for m in receive(sqs, topic.raw_queue)] == ["new"]
    assert call_api("GET", task_path(task_id)).body["status"] == "emitted"


def test_a_reschedule_after_the_emission_is_refused(call_api, emit, scheduled, sqs, topic):
    event = scheduled("first")
    emit(event)

    answer = call_api("PATCH", task_path(event["task"]["id"]), {"message": "second"})

    assert answer.status == 409
    assert [m["Body"] for m in receive(sqs, topic.raw_queue)] == ["first"]


# The chain of follow-on executions


@pytest.fixture
def continued(scheduled, emit, monkeypatch, execution_input, state_machine_arn):
    """A task 1 hour ahead whose first 60 s segment ended: now carried by `{id}_1_2`."""
    monkeypatch.setenv("EXECUTION_SEGMENT_SECONDS", "60")
    first = scheduled("far", in_seconds=3600)
    task_id = first["task"]["id"]
    emit(first)
    return event_for(execution_input, state_machine_arn, task_id, 1, 2)


def test_cancel_follows_the_chain(call_api, continued, execution_status, emit, sqs, topic):
    task_id = continued["task"]["id"]

    answer = call_api("DELETE", task_path(task_id))

    assert answer.body["status"] == "cancelled"
    assert execution_status(task_id, 1, 2) == "ABORTED"
    assert "skipped" in emit(continued)


def test_status_and_list_follow_the_chain(call_api, continued):
    task_id = continued["task"]["id"]

    status = call_api("GET", task_path(task_id)).body
    listed = call_api("GET", "/schedule", query={"status": "scheduled", "limit": "100"}).body

    assert (status["status"], status["version"], status["message"]) == ("scheduled", 1, "far")
    assert task_id in [task["id"] for task in listed["tasks"]]


def test_reschedule_follows_the_chain(call_api, continued, execution_status, emit):
    task_id = continued["task"]["id"]

    answer = call_api("PATCH", task_path(task_id), {"message": "nearer"})

    assert answer.body["version"] == 2
    assert execution_status(task_id, 1, 2) == "ABORTED"
    assert execution_status(task_id, 2, 1) == "RUNNING"
    assert emit(continued)["skipped"] == "the task is scheduled at version 2"


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
    scheduled,
    emit,
    sqs,
    topic,
    atomic_dynamodb_writes,
):
    # Each round: the emit function holds until a timestamp 150 ms ahead while a cancel arrives
    # within 40 ms either side of it.
    rng = random.Random(8)
    # Imported once the environment is set: its module's logger takes the service name from it.
    service = importlib.import_module("task_scheduler.service").TaskService.from_env()
    outcomes = []
    for _ in range(ROUNDS):
        event = scheduled("raced", in_seconds=0.15)
        results: dict[str, Any] = {}

        def emission(event: dict[str, Any] = event, results: dict[str, Any] = results) -> None:
            results["emit"] = emit(event)

        def cancellation(
            event: dict[str, Any] = event, results: dict[str, Any] = results, delay: float = 0.15
        ) -> None:
            time.sleep(delay + rng.uniform(-0.04, 0.04))
            try:
                results["cancel"] = service.cancel(event["task"]["id"]).status
            except TaskConflict as conflict:
                results["cancel"] = conflict.errors[0].rule

        threads = [threading.Thread(target=emission), threading.Thread(target=cancellation)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)

        published = receive(sqs, topic.raw_queue)
        emitted = "message_id" in results["emit"]
        cancelled = results["cancel"] == TaskStatus.CANCELLED
        assert emitted != cancelled, results
        assert len(published) == int(emitted)
        assert results["cancel"] in (TaskStatus.CANCELLED, "not_scheduled")
        outcomes.append("emitted" if emitted else "cancelled")
    print(f"outcomes over {ROUNDS} rounds: {sorted(outcomes)}")
