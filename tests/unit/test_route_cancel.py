"""DELETE /schedule/{id} through API Gateway HTTP API events, against moto: cancelling a task,
and every refusal."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from task_scheduler.aws import clients
from task_scheduler.aws.registry import Registry
from task_scheduler.core.records import TaskStatus
from tests.unit.api_helpers import PAST, assert_error, claim, mark_failed, task_path
from tests.unit.conftest import receive

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def test_cancel_a_scheduled_task(call_api, schedule, stored, shard, aborted, task_item):
    task_id = schedule("never")

    answer = call_api("DELETE", task_path(task_id))

    assert answer.status == 200
    assert (answer.body["status"], answer.body["message"]) == ("cancelled", "never")
    assert answer.body["updated_at"] > answer.body["created_at"]
    # Nothing is stopped: the shard's execution carries other tasks, and skips this one.
    assert aborted() == []
    assert shard(stored(task_id)[0].placement)[0] == "RUNNING"
    expires_at = int(task_item(task_id)["expires_at"]["N"])
    assert abs(expires_at - (datetime.now(UTC) + timedelta(days=90)).timestamp()) < 10
    assert call_api("GET", task_path(task_id)).body["status"] == "cancelled"


def test_a_cancelled_task_is_not_emitted(call_api, schedule, emit_shard, sqs, topic, registry):
    kept, cancelled = schedule("kept", timestamp=PAST), schedule("cancelled", timestamp=PAST)
    assert call_api("DELETE", task_path(cancelled)).status == 200

    emitted = emit_shard(kept)

    assert (emitted["published"], emitted["skipped"]) == (1, 1)
    assert [m["Body"] for m in receive(sqs, topic.raw_queue)] == ["kept"]
    assert registry.get(cancelled).status is TaskStatus.CANCELLED


def test_cancelling_twice_is_harmless(call_api, schedule):
    task_id = schedule()
    first = call_api("DELETE", task_path(task_id))

    second = call_api("DELETE", task_path(task_id))

    assert (first.status, second.status) == (200, 200)
    assert second.body == first.body


def test_cancelling_an_emitted_task_is_a_conflict(call_api, schedule, registry, execution_status):
    task_id = schedule()
    claim(registry, task_id)

    answer = call_api("DELETE", task_path(task_id))

    error = assert_error(answer, 409, "not_scheduled")
    assert "emitted" in error.message
    assert registry.get(task_id).status is TaskStatus.EMITTED


def test_cancelling_a_failed_task_is_a_conflict(call_api, schedule, dynamodb, tasks_table):
    task_id = schedule()
    mark_failed(dynamodb, tasks_table, task_id)

    assert_error(call_api("DELETE", task_path(task_id)), 409, "not_scheduled")


def test_cancelling_an_unknown_task(call_api):
    assert_error(call_api("DELETE", task_path("nobody")), 404, "not_found")


def test_a_cancel_that_finds_the_task_rescheduled_cancels_the_new_version(
    call_api, schedule, monkeypatch, registry, aborted
):
    task_id = schedule("old")
    get = Registry.get

    def get_then_reschedule(self: Registry, wanted: str) -> Any:
        record = get(self, wanted)
        monkeypatch.setattr(Registry, "get", get)
        assert call_api("PATCH", task_path(task_id), {"message": "new"}).status == 200
        return record

    monkeypatch.setattr(Registry, "get", get_then_reschedule)

    answer = call_api("DELETE", task_path(task_id))

    assert answer.status == 200
    assert (answer.body["status"], answer.body["version"]) == ("cancelled", 2)
    assert answer.body["message"] == "new"
    assert registry.get(task_id).status is TaskStatus.CANCELLED
    assert aborted() == []


def test_a_cancel_needs_no_step_functions(call_api, schedule, monkeypatch):
    # What guarantees no emission is the registry, which the emit function claims from: a
    # cancel neither stops nor starts an execution.
    task_id = schedule()

    def fail(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "no"}}, "States")

    for operation in ("stop_execution", "start_execution", "describe_execution"):
        monkeypatch.setattr(clients.client("stepfunctions"), operation, fail)

    answer = call_api("DELETE", task_path(task_id))

    assert (answer.status, answer.body["status"]) == (200, "cancelled")
