"""Helpers of the api function's route tests: timestamps, ids, paths, the registry record and
slot entry of a task, and error answers."""

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from task_scheduler.api.models import ErrorResponse
from task_scheduler.aws.registry import Registry
from task_scheduler.aws.slot_store import SlotStore
from task_scheduler.core import timing
from task_scheduler.core.records import TaskRecord
from task_scheduler.core.slots import Entry, Placement
from task_scheduler.core.tasks import execution_arn
from task_scheduler.core.timestamps import format_timestamp, parse_timestamp

# A day within every horizon, whenever the tests run.
SOON = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
FUTURE = f"{SOON}T12:00:00Z"
# Long overdue: the emit function publishes it at once.
PAST = "2001-01-01T00:00:00Z"
# Who claims a task in these tests: the execution of some shard.
CLAIMANT = "slot-978307200-0"


def in_seconds(seconds: float) -> str:
    return format_timestamp(datetime.now(UTC) + timedelta(seconds=seconds))


def slot_entry(registry: Registry, store: SlotStore, task_id: str) -> tuple[TaskRecord, Entry]:
    """The registry record of a task and the entry its placement names in the slot table."""
    record = registry.get(task_id)
    assert record is not None
    assert record.placement is not None
    assert record.execution_arn is None  # no execution of its own
    entry = store.get(record.placement)
    assert entry is not None
    assert (entry.id, entry.version, entry.timestamp) == (task_id, record.version, record.timestamp)
    assert entry.placement == record.placement
    return record, entry


def shard_name(placement: Placement, hop: int = 0) -> str:
    base = f"slot-{placement.slot}-{placement.shard}"
    return base if hop == 0 else f"{base}-{hop}"


def described(sfn: Any, state_machine_arn: str, name: str) -> tuple[str, dict[str, Any]]:
    """The status and input of the execution named `name`."""
    execution = sfn.describe_execution(executionArn=execution_arn(state_machine_arn, name))
    return execution["status"], json.loads(execution["input"])


def assert_error(answer: Any, status: int, rule: str, field: str | None = None) -> ErrorResponse:
    assert answer.status == status, answer.body
    assert answer.headers["Content-Type"] == "application/json"
    error = ErrorResponse.model_validate(answer.body)
    assert error.message
    assert (field, rule) in [(e.field, e.rule) for e in error.errors], error
    return error


_seconds = itertools.count(1)


def own_second() -> str:
    """A timestamp in a slot of its own: no other test's task starts its shard's execution."""
    return format_timestamp(parse_timestamp(FUTURE) + timedelta(hours=1, seconds=next(_seconds)))


_ids = iter(range(10**9))


def new_id() -> str:
    """A fresh task id that uses every kind of character the rules allow."""
    return f"Task_{next(_ids)}-{datetime.now(UTC):%H%M%S%f}"


def claim(registry: Registry, task_id: str, version: int = 1) -> TaskRecord:
    """Claim a task as the emit function does before publishing it."""
    return registry.claim(task_id, version, timing.utc_now(), CLAIMANT)


def task_path(task_id: str) -> str:
    return f"/schedule/{task_id}"


def close_to_now(timestamp: str) -> bool:
    return abs(datetime.fromisoformat(timestamp) - datetime.now(UTC)) < timedelta(seconds=5)


def mark_failed(dynamodb: Any, table: str, task_id: str, version: int = 1) -> None:
    """What the state machine's MarkFailed state writes, with its own clock's format."""
    dynamodb.update_item(
        TableName=table,
        Key={"id": {"S": task_id}},
        UpdateExpression="SET #status = :failed, updated_at = :now",
        ConditionExpression="version = :version",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":failed": {"S": "failed"},
            ":now": {"S": "2030-01-01T00:00:00.123456Z"},
            ":version": {"N": str(version)},
        },
    )
