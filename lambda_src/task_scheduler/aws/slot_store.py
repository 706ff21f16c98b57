"""The slot table, a DynamoDB table: slot counters, shard entries, what was published.

Items, keyed by `pk` (string) and `sk` (number):
- `<slot>` / 0, the slot's counter: `joined` (units drawn so far) and `sealed` (the shards whose
  emit invocation has read them). Every task joining the slot writes it once.
- `<slot>#<shard>` / ordinal, an entry: one task version with its message, written once. The
  message is kept here, not in the registry item that claims, cancels and reschedules rewrite:
  DynamoDB bills a write by the whole item's size
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/capacity-unit-calculations.html).
- `<slot>#<shard>` / 0, what the shard's emit invocations have published (`ordinals`), so that a
  retried invocation publishes nothing twice.

The emit function reads a shard with a strongly consistent Query of its partition, never through
an index: "a strongly consistent read returns a result that reflects all writes that received a
successful response prior to the read", whereas a global secondary index supports eventually
consistent reads only
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html).
Items expire (TTL) 91 days after their slot or their writing, whichever is later: longer than
the registry keeps a closed task, which reads its message here.
"""

import json
from datetime import datetime, timedelta
from typing import Any

from botocore.client import BaseClient

from task_scheduler.aws import clients
from task_scheduler.core.slots import Entry, Placement
from task_scheduler.core.timestamps import format_timestamp, parse_timestamp

KEEP_AFTER_SLOT = timedelta(days=91)
_COUNTER_SK = "0"
_PUBLISHED_SK = "0"


class SlotStore:
    def __init__(self, table_name: str, client: BaseClient | None = None) -> None:
        self.table_name = table_name
        self.client = client or clients.client("dynamodb")

    def join(self, slot: int, units: int, now: datetime) -> tuple[int, frozenset[int]]:
        """Draw `units` from the slot's counter: the last unit's ordinal, and the shards
        sealed so far (one atomic write: no join is counted twice or missed)."""
        response = self.client.update_item(
            TableName=self.table_name,
            Key=_key(str(slot), _COUNTER_SK),
            UpdateExpression="ADD joined :units SET expires_at = if_not_exists(expires_at, :ttl)",
            ExpressionAttributeValues={
                ":units": {"N": str(units)},
                ":ttl": {"N": str(_expires_at(slot, now))},
            },
            ReturnValues="ALL_NEW",
        )
        attributes = response["Attributes"]
        return int(attributes["joined"]["N"]), _shards(attributes)

    def sealed(self, slot: int) -> frozenset[int]:
        """The slot's shards sealed so far (a strongly consistent read)."""
        response = self.client.get_item(
            TableName=self.table_name,
            Key=_key(str(slot), _COUNTER_SK),
            ConsistentRead=True,
            ProjectionExpression="sealed",
        )
        return _shards(response.get("Item", {}))

    def seal(self, slot: int, shard: int) -> None:
        """Mark the shard read: a task that joins it from now on is carried on its own."""
        self.client.update_item(
            TableName=self.table_name,
            Key=_key(str(slot), _COUNTER_SK),
            UpdateExpression="ADD sealed :shard",
            ExpressionAttributeValues={":shard": {"NS": [str(shard)]}},
        )

    def put(self, entry: Entry, now: datetime) -> None:
        placement = entry.placement
        if placement is None:
            raise ValueError("only a placed entry is kept in the slot table")
        self.client.put_item(
            TableName=self.table_name,
            Item={
                **_key(_shard_pk(placement.slot, placement.shard), str(placement.ordinal)),
                "id": {"S": entry.id},
                "version": {"N": str(entry.version)},
                "timestamp": {"S": format_timestamp(entry.timestamp)},
                "message": {"S": _encode(entry.message)},
                "expires_at": {"N": str(_expires_at(placement.slot, now))},
            },
        )

    def get(self, placement: Placement) -> Entry | None:
        response = self.client.get_item(
            TableName=self.table_name,
            Key=_key(_shard_pk(placement.slot, placement.shard), str(placement.ordinal)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return None if item is None else _entry(item, placement.slot, placement.shard)

    def shard(self, slot: int, shard: int) -> tuple[list[Entry], frozenset[int]]:
        """The shard's entries, and the ordinals already published (strongly consistent)."""
        entries: list[Entry] = []
        published: frozenset[int] = frozenset()
        arguments: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": _shard_pk(slot, shard)}},
            "ConsistentRead": True,
        }
        while True:
            response = self.client.query(**arguments)
            for item in response["Items"]:
                if item["sk"]["N"] == _PUBLISHED_SK:
                    published = frozenset(int(n) for n in item.get("ordinals", {}).get("NS", []))
                else:
                    entries.append(_entry(item, slot, shard))
            if "LastEvaluatedKey" not in response:
                return entries, published
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def published(self, slot: int, shard: int) -> frozenset[int]:
        """The ordinals the shard's executions have published (a strongly consistent read)."""
        response = self.client.get_item(
            TableName=self.table_name,
            Key=_key(_shard_pk(slot, shard), _PUBLISHED_SK),
            ConsistentRead=True,
            ProjectionExpression="ordinals",
        )
        ordinals = response.get("Item", {}).get("ordinals", {}).get("NS", [])
        return frozenset(int(n) for n in ordinals)

    def record_published(self, slot: int, shard: int, ordinals: list[int], now: datetime) -> None:
        """Add `ordinals` to what the shard has published."""
        self.client.update_item(
            TableName=self.table_name,
            Key=_key(_shard_pk(slot, shard), _PUBLISHED_SK),
            UpdateExpression=(
                "ADD ordinals :ordinals SET expires_at = if_not_exists(expires_at, :ttl)"
            ),
            ExpressionAttributeValues={
                ":ordinals": {"NS": [str(n) for n in ordinals]},
                ":ttl": {"N": str(_expires_at(slot, now))},
            },
        )


def _key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": pk}, "sk": {"N": sk}}


def _shard_pk(slot: int, shard: int) -> str:
    return f"{slot}#{shard}"


def _shards(attributes: dict[str, Any]) -> frozenset[int]:
    return frozenset(int(n) for n in attributes.get("sealed", {}).get("NS", []))


def _expires_at(slot: int, now: datetime) -> int:
    return int(max(slot, now.timestamp()) + KEEP_AFTER_SLOT.total_seconds())


def _encode(message: Any) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _entry(item: dict[str, Any], slot: int, shard: int) -> Entry:
    return Entry(
        id=item["id"]["S"],
        version=int(item["version"]["N"]),
        timestamp=parse_timestamp(item["timestamp"]["S"]),
        message=json.loads(item["message"]["S"]),
        placement=Placement(slot, shard, int(item["sk"]["N"])),
    )
