"""Scheduling rules at a fixed `now`: id, horizon, sizes, answer."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from task_scheduler.api.errors import BeyondHorizon, InvalidId, TooLarge
from task_scheduler.api.scheduling import (
    MAX_SNS_MESSAGE_BYTES,
    MAX_TASK_BYTES,
    build_task,
    check_size,
    describe,
    latest_timestamp,
    requested_id,
)
from task_scheduler.core.slots import Entry, describe_entry
from task_scheduler.core.sns_message import build_sns_message
from task_scheduler.core.tasks import Task
from task_scheduler.core.timestamps import format_timestamp

NOW = datetime(2030, 1, 1, 0, 0, 0, 250, tzinfo=UTC)  # sub-millisecond on purpose
TASK_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
DAY = 24 * 3600
YEAR = 365 * DAY


@pytest.mark.parametrize(
    ("max_horizon_seconds", "horizon"),
    [
        (1, timedelta(seconds=1)),
        (3600, timedelta(hours=1)),
        (YEAR, timedelta(days=365)),
        # Beyond a year, the hops of its shard carry the task: nothing is kept back.
        (3650 * DAY, timedelta(days=3650)),
    ],
)
def test_horizon_boundary(max_horizon_seconds, horizon):
    latest = latest_timestamp(NOW, max_horizon_seconds)
    assert latest == datetime(2030, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) + horizon

    task = build_task(latest, 1, task_id=None, now=NOW, max_horizon_seconds=max_horizon_seconds)
    assert task.timestamp == latest

    with pytest.raises(BeyondHorizon) as raised:
        build_task(
            latest + timedelta(milliseconds=1),
            1,
            task_id=None,
            now=NOW,
            max_horizon_seconds=max_horizon_seconds,
        )
    (error,) = raised.value.errors
    assert (error.field, error.rule) == ("timestamp", "max_horizon")
    assert format_timestamp(latest) in error.detail


def test_generated_task_ids_are_unique_uuid4():
    ids = {build_task(NOW, 1, task_id=None, now=NOW, max_horizon_seconds=60).id for _ in range(100)}

    assert len(ids) == 100
    assert all(len(task_id) == 36 and task_id[14] == "4" for task_id in ids)


def test_a_chosen_id_is_kept():
    assert build_task(NOW, 1, task_id="mine", now=NOW, max_horizon_seconds=60).id == "mine"


@pytest.mark.parametrize(
    ("body_id", "header", "chosen"),
    [(None, None, None), ("a", None, "a"), (None, "b", "b"), ("same", "same", "same")],
)
def test_requested_id_comes_from_the_body_or_the_header(body_id, header, chosen):
    assert requested_id(body_id, header) == chosen


@pytest.mark.parametrize(
    ("body_id", "header", "rule"),
    [
        ("a", "b", "id_mismatch"),
        (None, "has space", "invalid_id"),
        (None, "", "invalid_id"),
        (None, "x" * 65, "invalid_id"),
        (None, "dot.ted", "invalid_id"),
    ],
)
def test_requested_id_refusals(body_id, header, rule):
    with pytest.raises(InvalidId) as raised:
        requested_id(body_id, header)

    assert [(e.field, e.rule) for e in raised.value.errors] == [("id", rule)]


def task_with(message: object) -> Task:
    return Task(id=TASK_ID, timestamp=NOW.replace(microsecond=1000), message=message)


def dead_letter_bytes(task: Task) -> int:
    """The size of the task as the dead-letter queue holds it, without its error."""
    entry = Entry(task.id, 1, task.timestamp, task.message, placement=None)
    return len(
        json.dumps(describe_entry(entry), ensure_ascii=False, separators=(",", ":")).encode()
    )


def test_the_dead_letter_form_is_compact_utf8_json_of_the_task():
    task = task_with({"text": "héllo", "n": [1, None]})

    assert dead_letter_bytes(task) == len(
        '{"id":"0f8fad5b-d9cb-469f-a165-70867728950e","version":1,'
        '"timestamp":"2030-01-01T00:00:00.001Z","message":{"text":"héllo","n":[1,null]}}'.encode()
    )


def test_the_dead_letter_limit_counts_utf8_bytes():
    overhead = dead_letter_bytes(task_with(""))
    room = MAX_TASK_BYTES - overhead
    fits = "é" * (room // 2) + "x" * (room % 2)  # two bytes each, and one to make it exact
    assert dead_letter_bytes(task_with(fits)) == MAX_TASK_BYTES

    check_size(task_with(fits))
    with pytest.raises(TooLarge) as raised:
        check_size(task_with(fits + "x"))
    (error,) = raised.value.errors
    assert (error.field, error.rule) == ("message", "too_large")
    assert "dead-letter message" in error.detail
    assert str(MAX_TASK_BYTES) in error.detail


def test_the_dead_letter_limit_leaves_room_for_the_error():
    # SQS takes at most 256 KiB; the error the emit function adds stays well within the rest.
    assert 256 * 1024 - MAX_TASK_BYTES >= 16 * 1024


def test_sns_limit_applies_to_the_encoded_message():
    # 3 UTF-8 bytes per character in the dead-letter queue, 6 as an ASCII JSON escape for SNS.
    task = task_with(["汉" * 45_000])
    assert dead_letter_bytes(task) < 140_000
    assert build_sns_message(task).size_bytes > MAX_SNS_MESSAGE_BYTES

    with pytest.raises(TooLarge) as raised:
        check_size(task)
    (error,) = raised.value.errors
    assert "SNS message" in error.detail
    assert str(MAX_SNS_MESSAGE_BYTES) in error.detail


def test_a_message_too_large_for_both_reports_both():
    with pytest.raises(TooLarge) as raised:
        check_size(task_with("\u0000" * 50_000))  # JSON escapes it in both: 6 bytes each

    details = [error.detail for error in raised.value.errors]
    assert len(details) == 2
    assert "dead-letter message" in details[0]
    assert "SNS message" in details[1]


@pytest.mark.parametrize(
    ("offset", "fires_immediately"),
    [(timedelta(seconds=-1), True), (timedelta(0), True), (timedelta(milliseconds=1), False)],
)
def test_answer_says_whether_the_task_fires_immediately(offset, fires_immediately):
    task = Task(id=TASK_ID, timestamp=NOW + offset, message=1)

    answer = describe(task, now=NOW)

    assert answer.fires_immediately is fires_immediately
    assert answer.message.startswith("Scheduled task at 20")
    assert answer.message.endswith("the task fires immediately)") is fires_immediately
