"""The task registry, a DynamoDB table: reads and conditional writes (no pydantic: emit imports it).

Every write that changes a task's fate is conditional on its version and status, so that a
claim, a cancel, a reschedule and a placement cannot both succeed from the same state. A claim
names its claimant (the execution whose emit invocation makes it): that execution alone may
claim the version again (a retry) or mark it failed. A failed condition raises ConditionFailed
with the record as DynamoDB found it.
"""

from datetime import datetime
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from task_scheduler.aws import clients
from task_scheduler.core.records import (
    Item,
    TaskRecord,
    TaskStatus,
    expires_at,
    from_item,
    placement_attributes,
    timestamp_attribute,
    to_item,
)
from task_scheduler.core.slots import Placement

STATUS_INDEX = "status-timestamp"
_STILL_AS_READ = "version = :version AND #status = :expected"
# DynamoDB reserved words (status, timestamp, shard) are written through these names.
_SHARD = {"#shard": "shard"}
_OURS = "version = :version AND (#status = :expected OR claimed_by = :claimant)"
# A claimant claims again what it claimed (its retry), never what it marked failed: that task is
# in the dead-letter queue already.
_CLAIMABLE = (
    "version = :version AND "
    "(#status = :expected OR (claimed_by = :claimant AND #status = :emitted))"
)


class ConditionFailed(Exception):
    """A conditional write found the task in another state: `current` (None: no such task)."""

    def __init__(self, current: TaskRecord | None) -> None:
        super().__init__("the task is not in the state the write expected")
        self.current = current


class Registry:
    def __init__(self, table_name: str, client: BaseClient | None = None) -> None:
        self.table_name = table_name
        self.client = client or clients.client("dynamodb")

    def get(self, task_id: str) -> TaskRecord | None:
        response = self.client.get_item(
            TableName=self.table_name, Key={"id": {"S": task_id}}, ConsistentRead=True
        )
        return from_item(response["Item"]) if "Item" in response else None

    def create(self, record: TaskRecord) -> None:
        """Register a new task; ConditionFailed if the id is taken."""
        self._write(
            "put_item",
            Item=to_item(record),
            ConditionExpression="attribute_not_exists(id)",
        )

    def claim(
        self,
        task_id: str,
        version: int,
        now: datetime,
        claimant: str,
        placement: Placement | None = None,
    ) -> TaskRecord:
        """Mark `version` of a scheduled task emitted by `claimant`: from then on, nothing can
        cancel it, and only `claimant` may claim it again (its retry). With `placement`, only
        if the version is registered there: an entry left by a request that failed or lost a
        race (same id and version, maybe another message) is never the version's."""
        return self._close(
            task_id, version, TaskStatus.EMITTED, now, claimant, placement, _CLAIMABLE
        )

    def fail(
        self,
        task_id: str,
        version: int,
        now: datetime,
        claimant: str,
        placement: Placement | None = None,
    ) -> TaskRecord:
        """Mark `version` failed (dead-lettered) by `claimant`, unless another claimed it (with
        `placement`: unless the version is registered elsewhere, as for claim)."""
        return self._close(task_id, version, TaskStatus.FAILED, now, claimant, placement, _OURS)

    def _close(
        self,
        task_id: str,
        version: int,
        status: TaskStatus,
        now: datetime,
        claimant: str,
        placement: Placement | None,
        ours: str,
    ) -> TaskRecord:
        """Set `status` on `version`, by `claimant`, if `ours` (and the placement) holds."""
        emitted = "emitted_at = :now, " if status is TaskStatus.EMITTED else ""
        # DynamoDB refuses a value the expressions do not use.
        named = {":emitted": {"S": TaskStatus.EMITTED.value}} if ":emitted" in ours else {}
        return self._update(
            task_id,
            version,
            f"SET #status = :closed, {emitted}updated_at = :now, expires_at = :expires, "
            "claimed_by = :claimant",
            {
                ":closed": {"S": status.value},
                **named,
                ":now": timestamp_attribute(now),
                ":expires": {"N": str(expires_at(now))},
                ":claimant": {"S": claimant},
                **_placed_values(placement),
            },
            **_placed_condition(placement, ours),
        )

    def delete_unclaimed(self, task_id: str, version: int) -> None:
        """Remove a task that was never acknowledged, unless an emit invocation claimed it."""
        self._write(
            "delete_item",
            Key={"id": {"S": task_id}},
            ConditionExpression=_STILL_AS_READ,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":version": {"N": str(version)},
                ":expected": {"S": TaskStatus.SCHEDULED.value},
            },
        )

    def cancel(self, task_id: str, version: int, now: datetime) -> TaskRecord:
        return self._update(
            task_id,
            version,
            "SET #status = :cancelled, updated_at = :now, expires_at = :expires",
            {
                ":cancelled": {"S": TaskStatus.CANCELLED.value},
                ":now": timestamp_attribute(now),
                ":expires": {"N": str(expires_at(now))},
            },
        )

    def reschedule(
        self,
        task_id: str,
        version: int,
        *,
        new_version: int,
        timestamp: datetime,
        message_sha256: str,
        placement: Placement,
        now: datetime,
    ) -> TaskRecord:
        return self._update(
            task_id,
            version,
            "SET version = :new_version, #timestamp = :timestamp, message_sha256 = :sha256, "
            "slot = :slot, #shard = :shard, ordinal = :ordinal, updated_at = :now "
            "REMOVE execution_arn",
            {
                ":new_version": {"N": str(new_version)},
                ":timestamp": timestamp_attribute(timestamp),
                ":sha256": {"S": message_sha256},
                **_placement_values(placement),
                ":now": timestamp_attribute(now),
            },
            names={"#timestamp": "timestamp", **_SHARD},
        )

    def redrive(
        self, task_id: str, version: int, *, new_version: int, placement: Placement, now: datetime
    ) -> TaskRecord:
        """Schedule `version` of a failed task again, as `new_version` at `placement`.

        Its timestamp and message stay; an earlier claim's emitted_at, expires_at and claimant
        go: a scheduled task neither was emitted nor expires.
        """
        return self._update(
            task_id,
            version,
            "SET version = :new_version, #status = :scheduled, slot = :slot, #shard = :shard, "
            "ordinal = :ordinal, updated_at = :now "
            "REMOVE emitted_at, expires_at, claimed_by, execution_arn",
            {
                ":new_version": {"N": str(new_version)},
                ":scheduled": {"S": TaskStatus.SCHEDULED.value},
                **_placement_values(placement),
                ":now": timestamp_attribute(now),
            },
            names=_SHARD,
            expected=TaskStatus.FAILED,
        )

    def place(self, task_id: str, version: int, placement: Placement, now: datetime) -> TaskRecord:
        """Move a task scheduled before time slots, still at `version`, to its slot entry."""
        return self._update(
            task_id,
            version,
            "SET slot = :slot, #shard = :shard, ordinal = :ordinal, updated_at = :now "
            "REMOVE execution_arn",
            {**_placement_values(placement), ":now": timestamp_attribute(now)},
            names=_SHARD,
        )

    def page(
        self, status: TaskStatus | None, limit: int, start_key: Item | None
    ) -> tuple[list[TaskRecord], Item | None]:
        """Up to `limit` tasks, oldest timestamp first when filtered by `status`, and the key
        to start the next page from (None: no more)."""
        arguments: dict[str, Any] = {"TableName": self.table_name, "Limit": limit}
        if start_key is not None:
            arguments["ExclusiveStartKey"] = start_key
        if status is None:
            response = self.client.scan(**arguments)
        else:
            response = self.client.query(
                IndexName=STATUS_INDEX,
                KeyConditionExpression="#status = :status",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":status": {"S": status.value}},
                ScanIndexForward=True,
                **arguments,
            )
        return [from_item(item) for item in response["Items"]], response.get("LastEvaluatedKey")

    def _update(
        self,
        task_id: str,
        version: int,
        update: str,
        values: dict[str, dict[str, str]],
        names: dict[str, str] | None = None,
        expected: TaskStatus = TaskStatus.SCHEDULED,
        condition: str = _STILL_AS_READ,
    ) -> TaskRecord:
        """Apply `update` to `version` of the task if `condition` holds: by default, if it is
        still `expected` (scheduled)."""
        response = self._write(
            "update_item",
            Key={"id": {"S": task_id}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeNames={**(names or {}), "#status": "status"},
            ExpressionAttributeValues={
                **values,
                ":version": {"N": str(version)},
                ":expected": {"S": expected.value},
            },
            ReturnValues="ALL_NEW",
        )
        return from_item(response["Attributes"])

    def _write(self, operation: str, **arguments: Any) -> dict[str, Any]:
        try:
            response: dict[str, Any] = getattr(self.client, operation)(
                TableName=self.table_name,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                **arguments,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            old = error.response.get("Item")
            raise ConditionFailed(from_item(old) if old else None) from error
        return response


def _placed_values(placement: Placement | None) -> dict[str, dict[str, str]]:
    return {} if placement is None else _placement_values(placement)


def _placed_condition(placement: Placement | None, ours: str = _OURS) -> dict[str, Any]:
    """The condition (and names) of a write by the claimant of the version at `placement`."""
    if placement is None:
        return {"condition": ours}
    return {
        "condition": f"{ours} AND slot = :slot AND #shard = :shard AND ordinal = :ordinal",
        "names": _SHARD,
    }


def _placement_values(placement: Placement) -> dict[str, dict[str, str]]:
    return {f":{name}": value for name, value in placement_attributes(placement).items()}
