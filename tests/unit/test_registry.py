"""The task registry against DynamoDB in moto: items, conditional writes, pages."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from task_scheduler.records import TaskRecord, TaskStatus, from_item, to_item
from task_scheduler.registry import ConditionFailed, Registry
from tests.unit.conftest import create_tasks_table

NOW = datetime(2030, 1, 1, 12, 0, 0, 123_000, tzinfo=UTC)
LATER = NOW + timedelta(seconds=5)


def a_record(task_id: str = "t", **changes: object) -> TaskRecord:
    record = TaskRecord(
        id=task_id,
        version=1,
        status=TaskStatus.SCHEDULED,
        timestamp=NOW + timedelta(days=1),
        created_at=NOW,
        updated_at=NOW,
        execution_arn=f"arn:aws:states:eu-west-1:123456789012:execution:sm:{task_id}_1_1",
        message_sha256="0" * 64,
    )
    return replace(record, **changes)


@pytest.fixture
def empty(dynamodb) -> Registry:
    return Registry(create_tasks_table(dynamodb), dynamodb)


def test_items_round_trip():
    for record in (a_record(), a_record(status=TaskStatus.EMITTED, emitted_at=LATER)):
        item = to_item(record)
        assert from_item(item) == record
        assert item["timestamp"] == {"S": "2030-01-02T12:00:00.123Z"}  # sorts as time


def test_create_then_get(empty):
    empty.create(a_record())

    assert empty.get("t") == a_record()
    assert empty.get("other") is None


def test_create_an_existing_id_fails_with_the_current_record(empty):
    empty.create(a_record())

    with pytest.raises(ConditionFailed) as raised:
        empty.create(a_record(version=7))

    assert raised.value.current == a_record()


def test_claim_then_cancel_fails(empty):
    empty.create(a_record())

    claimed = empty.claim("t", 1, LATER)

    assert (claimed.status, claimed.emitted_at, claimed.updated_at) == (
        TaskStatus.EMITTED,
        LATER,
        LATER,
    )
    with pytest.raises(ConditionFailed) as raised:
        empty.cancel("t", 1, LATER)
    assert raised.value.current == claimed


def test_cancel_then_claim_fails(empty):
    empty.create(a_record())

    cancelled = empty.cancel("t", 1, LATER)

    assert cancelled.status is TaskStatus.CANCELLED
    with pytest.raises(ConditionFailed) as raised:
        empty.claim("t", 1, LATER)
    assert raised.value.current == cancelled


def test_closing_sets_the_ttl(empty, dynamodb):
    empty.create(a_record())
    empty.cancel("t", 1, LATER)

    item = dynamodb.get_item(TableName=empty.table_name, Key={"id": {"S": "t"}})["Item"]

    assert int(item["expires_at"]["N"]) == int((LATER + timedelta(days=90)).timestamp())


def test_a_reschedule_makes_the_old_version_unclaimable(empty):
    empty.create(a_record())

    rescheduled = empty.reschedule(
        "t",
        1,
        new_version=2,
        timestamp=NOW + timedelta(days=2),
        message_sha256="1" * 64,
        execution_arn="arn-2",
        now=LATER,
    )

    assert rescheduled == a_record(
        version=2,
        timestamp=NOW + timedelta(days=2),
        message_sha256="1" * 64,
        execution_arn="arn-2",
        updated_at=LATER,
    )
    with pytest.raises(ConditionFailed):
        empty.claim("t", 1, LATER)
    assert empty.claim("t", 2, LATER).status is TaskStatus.EMITTED


def test_a_hand_on_keeps_the_version(empty):
    empty.create(a_record())

    handed_on = empty.hand_on("t", 1, "arn-segment-2", LATER)

    assert (handed_on.version, handed_on.execution_arn) == (1, "arn-segment-2")
    empty.cancel("t", 1, LATER)
    with pytest.raises(ConditionFailed):
        empty.hand_on("t", 1, "arn-segment-3", LATER)


def test_a_redrive_schedules_a_failed_task_again_as_a_new_version(empty, dynamodb):
    empty.create(a_record())
    empty.claim("t", 1, NOW)  # claimed, then the publish failed for good: dead-lettered
    dynamodb.update_item(
        TableName=empty.table_name,
        Key={"id": {"S": "t"}},
        UpdateExpression="SET #status = :failed",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":failed": {"S": "failed"}},
    )

    redriven = empty.redrive("t", 1, new_version=2, execution_arn="arn-2", now=LATER)

    assert redriven == a_record(version=2, execution_arn="arn-2", updated_at=LATER)
    item = dynamodb.get_item(TableName=empty.table_name, Key={"id": {"S": "t"}})["Item"]
    assert "expires_at" not in item  # scheduled again: it must not expire
    assert empty.claim("t", 2, LATER).status is TaskStatus.EMITTED


@pytest.mark.parametrize("close", ["scheduled", "cancel", "claim"])
def test_only_a_failed_task_can_be_redriven(empty, close):
    empty.create(a_record())
    if close != "scheduled":
        getattr(empty, close)("t", 1, LATER)

    with pytest.raises(ConditionFailed) as raised:
        empty.redrive("t", 1, new_version=2, execution_arn="arn-2", now=LATER)

    assert raised.value.current.version == 1


def test_a_write_to_a_missing_task_fails_with_none(empty):
    with pytest.raises(ConditionFailed) as raised:
        empty.claim("missing", 1, LATER)

    assert raised.value.current is None


def test_pages_by_status_oldest_first(empty):
    for day in (3, 1, 2):
        empty.create(a_record(f"s{day}", timestamp=NOW + timedelta(days=day)))
    empty.create(a_record("c"))
    empty.cancel("c", 1, LATER)

    first, key = empty.page(TaskStatus.SCHEDULED, 2, None)
    rest, last = empty.page(TaskStatus.SCHEDULED, 2, key)

    assert [r.id for r in first + rest] == ["s1", "s2", "s3"]
    assert set(key) == {"id", "status", "timestamp"}
    assert last is None or empty.page(TaskStatus.SCHEDULED, 2, last)[0] == []
    assert [r.id for r in empty.page(TaskStatus.CANCELLED, 10, None)[0]] == ["c"]
    everything, _ = empty.page(None, 10, None)
    assert sorted(r.id for r in everything) == ["c", "s1", "s2", "s3"]
