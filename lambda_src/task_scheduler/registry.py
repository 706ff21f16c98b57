"""The task registry, a DynamoDB table: reads and conditional writes (no pydantic: emit imports it).

Every write that changes a task's fate is conditional on its version and status, so that a
claim, a cancel, a reschedule and a follow-on execution cannot both succeed from the same state.
A failed condition raises ConditionFailed with the record as DynamoDB found it.
"""

from datetime import datetime
from typing import Any

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from task_scheduler import aws
from task_scheduler.records import (
    Item,
    TaskRecord,
    TaskStatus,
    expires_at,
    from_item,
    timestamp_attribute,
    to_item,
)

STATUS_INDEX = "status-timestamp"
_STILL_AS_READ = "version = :version AND #status = :expected"


class ConditionFailed(Exception):
    """A conditional write found the task in another state: `current` (None: no such task)."""

    def __init__(self, current: TaskRecord | None) -> None:
        super().__init__("the task is not in the state the write expected")
        self.current = current


class Registry:
    def __init__(self, table_name: str, client: BaseClient | None = None) -> None:
        self.table_name = table_name
        self.client = client or aws.client("dynamodb")

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

    def claim(self, task_id: str, version: int, now: datetime) -> TaskRecord:
        """Mark `version` of a scheduled task emitted: from then on, nothing can cancel it."""
        return self._update(
            task_id,
            version,
            "SET #status = :emitted, emitted_at = :now, updated_at = :now, expires_at = :expires",
            {
                ":emitted": {"S": TaskStatus.EMITTED.value},
                ":now": timestamp_attribute(now),
                ":expires": {"N": str(expires_at(now))},
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
        execution_arn: str,
        now: datetime,
    ) -> TaskRecord:
        return self._update(
            task_id,
            version,
            "SET version = :new_version, #timestamp = :timestamp, message_sha256 = :sha256, "
            "execution_arn = :execution_arn, updated_at = :now",
            {
                ":new_version": {"N": str(new_version)},
                ":timestamp": timestamp_attribute(timestamp),
                ":sha256": {"S": message_sha256},
                ":execution_arn": {"S": execution_arn},
                ":now": timestamp_attribute(now),
            },
            names={"#timestamp": "timestamp"},  # a DynamoDB reserved word, as status is
        )

    def redrive(
        self, task_id: str, version: int, *, new_version: int, execution_arn: str, now: datetime
    ) -> TaskRecord:
        """Schedule `version` of a failed task again, as `new_version` in `execution_arn`.

        Its timestamp and message stay; so does an earlier claim's emitted_at and expires_at,
        which go: a scheduled task neither was emitted nor expires.
        """
        return self._update(
            task_id,
            version,
            "SET version = :new_version, #status = :scheduled, execution_arn = :execution_arn, "
            "updated_at = :now REMOVE emitted_at, expires_at",
            {
                ":new_version": {"N": str(new_version)},
                ":scheduled": {"S": TaskStatus.SCHEDULED.value},
                ":execution_arn": {"S": execution_arn},
                ":now": timestamp_attribute(now),
            },
            expected=TaskStatus.FAILED,
        )

    def hand_on(self, task_id: str, version: int, execution_arn: str, now: datetime) -> TaskRecord:
        """Record that the follow-on execution `execution_arn` now carries the task."""
        return self._update(
            task_id,
            version,
            "SET execution_arn = :execution_arn, updated_at = :now",
            {":execution_arn": {"S": execution_arn}, ":now": timestamp_attribute(now)},
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
    ) -> TaskRecord:
        """Apply `update` to `version` of the task if it is still `expected` (scheduled)."""
        response = self._write(
            "update_item",
            Key={"id": {"S": task_id}},
            UpdateExpression=update,
            ConditionExpression=_STILL_AS_READ,
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
