"""The task registry against DynamoDB in moto: items, conditional writes, pages."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from task_scheduler.aws.registry import ConditionFailed, Registry
from task_scheduler.core.records import TaskRecord, TaskStatus, from_item, to_item
from task_scheduler.core.slots import Placement
from tests.unit.conftest import create_tasks_table

NOW = datetime(2030, 1, 1, 12, 0, 0, 123_000, tzinfo=UTC)
LATER = NOW + timedelta(seconds=5)
PLACED = Placement(slot=1893585600, shard=0, ordinal=3)
ELSEWHERE = Placement(slot=1893672000, shard=1, ordinal=501)
SHARD = "slot-1893585600-0"  # the claimant: the execution of the task's shard


def a_record(task_id: str = "t", **changes: object) -> TaskRecord:
    record = TaskRecord(
        id=task_id,
        version=1,
        status=TaskStatus.SCHEDULED,
        timestamp=NOW + timedelta(days=1),
        created_at=NOW,
        updated_at=NOW,
        placement=PLACED,
        message_sha256="0" * 64,
    )
    return replace(record, **changes)


def a_legacy_record(task_id: str = "t") -> TaskRecord:
    """A task scheduled before time slots: its own execution carries it."""
    return a_record(
        task_id,
        placement=None,
        execution_arn=f"arn:aws:states:eu-west-1:123456789012:execution:sm:{task_id}_1_1",
    )


@pytest.fixture
def empty(dynamodb) -> Registry:
    return Registry(create_tasks_table(dynamodb), dynamodb)


def test_items_round_trip():
    for record in (
        a_record(),
        a_record(status=TaskStatus.EMITTED, emitted_at=LATER, claimed_by=SHARD),
        a_legacy_record(),
    ):
        item = to_item(record)
        assert from_item(item) == record
        assert item["timestamp"] == {"S": "2030-01-02T12:00:00.123Z"}  # sorts as time


def test_an_item_names_its_placement_and_holds_no_message():
    item = to_item(a_record())

    assert (item["slot"], item["shard"], item["ordinal"]) == (
        {"N": "1893585600"},
        {"N": "0"},
        {"N": "3"},
    )
    assert "message" not in item
    assert "execution_arn" not in item


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

    claimed = empty.claim("t", 1, LATER, SHARD)

    assert (claimed.status, claimed.emitted_at, claimed.updated_at, claimed.claimed_by) == (
        TaskStatus.EMITTED,
        LATER,
        LATER,
        SHARD,
    )
    with pytest.raises(ConditionFailed) as raised:
        empty.cancel("t", 1, LATER)
    assert raised.value.current == claimed


def test_cancel_then_claim_fails(empty):
    empty.create(a_record())

    cancelled = empty.cancel("t", 1, LATER)

    assert cancelled.status is TaskStatus.CANCELLED
    with pytest.raises(ConditionFailed) as raised:
        empty.claim("t", 1, LATER, SHARD)
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
        placement=ELSEWHERE,
        now=LATER,
    )

    assert rescheduled == a_record(
        version=2,
        timestamp=NOW + timedelta(days=2),
        message_sha256="1" * 64,
        placement=ELSEWHERE,
        updated_at=LATER,
    )
    with pytest.raises(ConditionFailed):
        empty.claim("t", 1, LATER, SHARD, PLACED)
    assert empty.claim("t", 2, LATER, "slot-1893672000-1", ELSEWHERE).status is TaskStatus.EMITTED


def test_a_reschedule_moves_a_task_scheduled_before_time_slots_into_its_slot(empty):
    empty.create(a_legacy_record())

    rescheduled = empty.reschedule(
        "t",
        1,
        new_version=2,
        timestamp=NOW,
        message_sha256="1" * 64,
        placement=PLACED,
        now=LATER,
    )

    assert (rescheduled.placement, rescheduled.execution_arn) == (PLACED, None)


def test_placing_a_task_scheduled_before_time_slots_keeps_its_version(empty):
    empty.create(a_legacy_record())

    placed = empty.place("t", 1, PLACED, LATER)

    assert (placed.version, placed.placement, placed.execution_arn) == (1, PLACED, None)
    empty.cancel("t", 1, LATER)
    with pytest.raises(ConditionFailed):
        empty.place("t", 1, ELSEWHERE, LATER)


def test_only_the_claimant_claims_again(empty):
    empty.create(a_record())
    first = empty.claim("t", 1, NOW, SHARD, PLACED)

    # A retry of the same execution: claimed again, for it to publish.
    assert empty.claim("t", 1, LATER, SHARD, PLACED).claimed_by == SHARD
    with pytest.raises(ConditionFailed) as raised:
        empty.claim("t", 1, LATER, "t_1_s3", PLACED)  # the version's own late execution
    assert raised.value.current.claimed_by == SHARD
    assert first.emitted_at == NOW


def test_an_entry_the_registry_does_not_place_claims_nothing(empty):
    # An entry of the same id and version left by a request that failed or lost a race.
    empty.create(a_record())

    for elsewhere in (
        ELSEWHERE,
        Placement(PLACED.slot, PLACED.shard, PLACED.ordinal + 1),
        Placement(PLACED.slot, PLACED.shard + 1, PLACED.ordinal),
    ):
        with pytest.raises(ConditionFailed):
            empty.claim("t", 1, LATER, SHARD, elsewhere)
        with pytest.raises(ConditionFailed):
            empty.fail("t", 1, LATER, SHARD, elsewhere)
    assert empty.get("t") == a_record()
    assert empty.claim("t", 1, LATER, SHARD, PLACED).status is TaskStatus.EMITTED


def test_a_claimant_marks_its_version_failed(empty):
    empty.create(a_record())
    empty.claim("t", 1, NOW, SHARD, PLACED)

    with pytest.raises(ConditionFailed):
        empty.fail("t", 1, LATER, "another", PLACED)
    failed = empty.fail("t", 1, LATER, SHARD, PLACED)

    assert (failed.status, failed.claimed_by, failed.updated_at) == (
        TaskStatus.FAILED,
        SHARD,
        LATER,
    )


def test_an_unclaimed_task_is_deleted_and_a_claimed_one_kept(empty):
    empty.create(a_record("unclaimed"))
    empty.create(a_record("claimed"))
    empty.claim("claimed", 1, NOW, SHARD)

    empty.delete_unclaimed("unclaimed", 1)
    with pytest.raises(ConditionFailed) as raised:
        empty.delete_unclaimed("claimed", 1)

    assert empty.get("unclaimed") is None
    assert raised.value.current.status is TaskStatus.EMITTED
    with pytest.raises(ConditionFailed):  # another version: not this request's to remove
        empty.delete_unclaimed("claimed", 2)


def test_a_redrive_schedules_a_failed_task_again_as_a_new_version(empty, dynamodb):
    empty.create(a_record())
    empty.claim("t", 1, NOW, SHARD)  # claimed, then the publish failed for good: dead-lettered
    dynamodb.update_item(
        TableName=empty.table_name,
        Key={"id": {"S": "t"}},
        UpdateExpression="SET #status = :failed",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":failed": {"S": "failed"}},
    )

    redriven = empty.redrive("t", 1, new_version=2, placement=ELSEWHERE, now=LATER)

    assert redriven == a_record(version=2, placement=ELSEWHERE, updated_at=LATER)
    item = dynamodb.get_item(TableName=empty.table_name, Key={"id": {"S": "t"}})["Item"]
    assert "expires_at" not in item  # scheduled again: it must not expire
    assert "claimed_by" not in item  # the earlier claimant may not claim the new version
    assert empty.claim("t", 2, LATER, "other", ELSEWHERE).status is TaskStatus.EMITTED


@pytest.mark.parametrize("close", ["scheduled", "cancel", "claim"])
def test_only_a_failed_task_can_be_redriven(empty, close):
    empty.create(a_record())
    if close == "cancel":
        empty.cancel("t", 1, LATER)
    elif close == "claim":
        empty.claim("t", 1, LATER, SHARD)

    with pytest.raises(ConditionFailed) as raised:
        empty.redrive("t", 1, new_version=2, placement=ELSEWHERE, now=LATER)

    assert raised.value.current.version == 1


def test_a_write_to_a_missing_task_fails_with_none(empty):
    with pytest.raises(ConditionFailed) as raised:
        empty.claim("missing", 1, LATER, SHARD)

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
