"""The task registry's records and their DynamoDB items (stdlib only: the emit function imports it).

The message is not stored here but with the task's entry in its slot (slot_store.py), or, for a
task scheduled before time slots, in the input of its own execution: an item stays under 1 KB,
one write unit, however often it changes. `message_sha256` is enough to recognise a replay.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from task_scheduler.core.slots import Placement
from task_scheduler.core.timestamps import format_timestamp, parse_timestamp

# Step Functions keeps a closed execution's name this long: within it, a task id cannot be reused,
# so the registry keeps the task as long, then DynamoDB's TTL deletes it.
DEDUPLICATION_WINDOW = timedelta(days=90)

Item = dict[str, dict[str, str]]
"""A DynamoDB item in the low-level client's typed form, e.g. {"id": {"S": "..."}}."""


class TaskStatus(StrEnum):
    SCHEDULED = "scheduled"
    EMITTED = "emitted"
    CANCELLED = "cancelled"
    FAILED = "failed"  # dead-lettered; written by the state machine


@dataclass(frozen=True)
class TaskRecord:
    id: str
    version: int
    status: TaskStatus
    timestamp: datetime
    created_at: datetime
    updated_at: datetime
    message_sha256: str
    # Where the version waits: its slot entry; None for a task scheduled before time slots, whose
    # own execution (execution_arn) carries it and its message.
    placement: Placement | None = None
    execution_arn: str | None = None
    emitted_at: datetime | None = None
    # The execution whose emit invocation claimed the version (it alone may publish it).
    claimed_by: str | None = None


def expires_at(closed_at: datetime) -> int:
    """The TTL of a task closed at `closed_at`, in epoch seconds."""
    return int((closed_at + DEDUPLICATION_WINDOW).timestamp())


def timestamp_attribute(instant: datetime) -> dict[str, str]:
    return {"S": format_timestamp(instant)}


def to_item(record: TaskRecord) -> Item:
    item = {
        "id": {"S": record.id},
        "version": {"N": str(record.version)},
        "status": {"S": record.status.value},
        "timestamp": timestamp_attribute(record.timestamp),
        "created_at": timestamp_attribute(record.created_at),
        "updated_at": timestamp_attribute(record.updated_at),
        "message_sha256": {"S": record.message_sha256},
    }
    if record.placement is not None:
        item.update(placement_attributes(record.placement))
    if record.execution_arn is not None:
        item["execution_arn"] = {"S": record.execution_arn}
    if record.emitted_at is not None:
        item["emitted_at"] = timestamp_attribute(record.emitted_at)
    if record.claimed_by is not None:
        item["claimed_by"] = {"S": record.claimed_by}
    return item


def placement_attributes(placement: Placement) -> Item:
    return {
        "slot": {"N": str(placement.slot)},
        "shard": {"N": str(placement.shard)},
        "ordinal": {"N": str(placement.ordinal)},
    }


def from_item(item: Item) -> TaskRecord:
    emitted_at, execution_arn, claimed_by = (
        item.get("emitted_at"),
        item.get("execution_arn"),
        item.get("claimed_by"),
    )
    placement = None
    if "slot" in item:
        placement = Placement(
            int(item["slot"]["N"]), int(item["shard"]["N"]), int(item["ordinal"]["N"])
        )
    return TaskRecord(
        id=item["id"]["S"],
        version=int(item["version"]["N"]),
        status=TaskStatus(item["status"]["S"]),
        timestamp=parse_timestamp(item["timestamp"]["S"]),
        created_at=parse_timestamp(item["created_at"]["S"]),
        # The state machine writes its own clock's format here (MarkFailed): parsed, not trusted.
        updated_at=parse_timestamp(item["updated_at"]["S"]),
        message_sha256=item["message_sha256"]["S"],
        placement=placement,
        execution_arn=None if execution_arn is None else execution_arn["S"],
        emitted_at=None if emitted_at is None else parse_timestamp(emitted_at["S"]),
        claimed_by=None if claimed_by is None else claimed_by["S"],
    )
