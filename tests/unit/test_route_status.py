"""GET /schedule/{id} through API Gateway HTTP API events, against moto: a task's status in
each state, and where its message is read from."""

from typing import Any

import pytest
from botocore.exceptions import ClientError

from task_scheduler.aws import clients
from task_scheduler.aws.registry import Registry
from task_scheduler.core import timing
from task_scheduler.core.records import TaskRecord, TaskStatus
from task_scheduler.core.tasks import Task, TaskExecution, execution_arn, message_sha256
from task_scheduler.core.timestamps import parse_timestamp
from tests.unit.api_helpers import (
    FUTURE,
    assert_error,
    claim,
    close_to_now,
    mark_failed,
    new_id,
    task_path,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def test_status_of_a_scheduled_task(call_api, schedule):
    task_id = schedule({"hello": "world"})

    answer = call_api("GET", task_path(task_id))

    assert answer.status == 200
    body = answer.body
    assert body == {
        "id": task_id,
        "status": "scheduled",
        "version": 1,
        "timestamp": FUTURE.replace("Z", ".000Z"),
        "created_at": body["created_at"],
        "updated_at": body["created_at"],
        "emitted_at": None,
        "message": {"hello": "world"},
    }
    assert close_to_now(body["created_at"])


def test_status_of_an_emitted_task(call_api, schedule, registry):
    task_id = schedule(None)
    claim(registry, task_id)

    body = call_api("GET", task_path(task_id)).body

    assert (body["status"], body["message"]) == ("emitted", None)
    assert close_to_now(body["emitted_at"])


def test_status_of_a_failed_task(call_api, schedule, dynamodb, tasks_table):
    task_id = schedule()
    mark_failed(dynamodb, tasks_table, task_id)

    body = call_api("GET", task_path(task_id)).body

    assert (body["status"], body["updated_at"]) == ("failed", "2030-01-01T00:00:00.124Z")


def test_status_of_an_unknown_task(call_api):
    answer = call_api("GET", task_path("nobody"))

    error = assert_error(answer, 404, "not_found")
    assert "nobody" in error.message


def legacy_task(registry: Registry, sfn: Any, state_machine_arn: str, message: Any) -> str:
    """A task scheduled before time slots: its own execution's input carries its message."""
    task_id, now = new_id(), timing.utc_now()
    task = Task(task_id, parse_timestamp(FUTURE), message)
    execution = TaskExecution(task, 1, 1, timing.release_at(task.timestamp, 1))
    sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=execution.name,
        input=execution.execution_input(),
    )
    registry.create(
        TaskRecord(
            id=task_id,
            version=1,
            status=TaskStatus.SCHEDULED,
            timestamp=task.timestamp,
            created_at=now,
            updated_at=now,
            message_sha256=message_sha256(message),
            execution_arn=execution_arn(state_machine_arn, execution.name),
        )
    )
    return task_id


def test_a_task_scheduled_before_time_slots_reads_its_message_from_its_execution(
    call_api, registry, sfn, state_machine_arn
):
    task_id = legacy_task(registry, sfn, state_machine_arn, {"legacy": True})

    body = call_api("GET", task_path(task_id)).body

    assert (body["status"], body["message"]) == ("scheduled", {"legacy": True})


def test_step_functions_failure_reading_a_task(
    call_api, registry, sfn, state_machine_arn, monkeypatch
):
    task_id = legacy_task(registry, sfn, state_machine_arn, 1)

    def fail(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "InternalServerError", "Message": "no"}}, "DescribeExecution"
        )

    monkeypatch.setattr(clients.client("stepfunctions"), "describe_execution", fail)

    error = assert_error(call_api("GET", task_path(task_id)), 502, "upstream_error")
    assert error.errors[0].detail == "DescribeExecution: InternalServerError"


def test_a_task_whose_slot_entry_expired_is_not_found(
    call_api, schedule, registry, dynamodb, slots_table
):
    task_id = schedule()
    placement = registry.get(task_id).placement
    dynamodb.delete_item(
        TableName=slots_table,
        Key={
            "pk": {"S": f"{placement.slot}#{placement.shard}"},
            "sk": {"N": str(placement.ordinal)},
        },
    )

    assert_error(call_api("GET", task_path(task_id)), 404, "not_found")
