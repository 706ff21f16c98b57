"""Scheduling rules at a fixed `now`: horizon, sizes, answer."""

from datetime import UTC, datetime, timedelta

import pytest

from task_scheduler import scheduling
from task_scheduler.errors import BeyondHorizon, TooLarge
from task_scheduler.models import ScheduleRequest
from task_scheduler.scheduling import (
    MAX_EXECUTION_INPUT_BYTES,
    build_task,
    describe,
    latest_timestamp,
)
from task_scheduler.tasks import Task
from task_scheduler.timestamps import format_timestamp

NOW = datetime(2030, 1, 1, 0, 0, 0, 250, tzinfo=UTC)  # sub-millisecond on purpose
TASK_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
YEAR = 365 * 24 * 3600


def request_at(instant: datetime) -> ScheduleRequest:
    return ScheduleRequest.model_validate({"timestamp": format_timestamp(instant), "message": 1})


@pytest.mark.parametrize(
    ("max_horizon_seconds", "horizon"),
    [
        (1, timedelta(seconds=1)),
        (3600, timedelta(hours=1)),
        (YEAR - 3600, timedelta(days=365, hours=-1)),
        # A Standard execution lasts a year at most; the Wait leaves an hour to emit.
        (YEAR, timedelta(days=365, hours=-1)),
    ],
)
def test_horizon_boundary(max_horizon_seconds, horizon):
    latest = latest_timestamp(NOW, max_horizon_seconds)
    assert latest == datetime(2030, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) + horizon

    task = build_task(request_at(latest), now=NOW, max_horizon_seconds=max_horizon_seconds)
    assert task.timestamp == latest

    with pytest.raises(BeyondHorizon) as raised:
        build_task(
            request_at(latest + timedelta(milliseconds=1)),
            now=NOW,
            max_horizon_seconds=max_horizon_seconds,
        )
    (error,) = raised.value.errors
    assert (error.field, error.rule) == ("timestamp", "max_horizon")
    assert format_timestamp(latest) in error.detail


def test_task_ids_are_unique_uuid4():
    ids = {build_task(request_at(NOW), now=NOW, max_horizon_seconds=60).id for _ in range(100)}

    assert len(ids) == 100
    assert all(len(task_id) == 36 and task_id[14] == "4" for task_id in ids)


def task_with(message: object) -> Task:
    return Task(id=TASK_ID, timestamp=NOW.replace(microsecond=1000), message=message)


def encode_execution_input(task: Task) -> str:
    return scheduling.encode_execution_input(task, lead_seconds=2)


def test_execution_input_is_compact_utf8_json_of_the_task_and_its_release():
    execution_input = encode_execution_input(task_with({"text": "héllo", "n": [1, None]}))

    # Released two whole seconds early (lead 2), the fraction dropped: the Wait truncates it.
    assert execution_input == (
        '{"id":"0f8fad5b-d9cb-469f-a165-70867728950e","timestamp":"2030-01-01T00:00:00.001Z",'
        '"release_at":"2029-12-31T23:59:58Z","message":{"text":"héllo","n":[1,null]}}'
    )


def test_execution_input_limit_counts_utf8_bytes():
    overhead = len(encode_execution_input(task_with("")).encode())
    fits = "é" * ((MAX_EXECUTION_INPUT_BYTES - overhead) // 2)

    assert len(encode_execution_input(task_with(fits)).encode()) <= MAX_EXECUTION_INPUT_BYTES
    with pytest.raises(TooLarge) as raised:
        encode_execution_input(task_with(fits + "é"))
    assert [(e.field, e.rule) for e in raised.value.errors] == [("message", "too_large")]


def test_sns_limit_applies_to_the_encoded_message():
    # 3 UTF-8 bytes per character in the execution input, 6 as an ASCII JSON escape for SNS.
    task = task_with(["汉" * 45_000])
    assert len(encode_execution_input(task_with("汉" * 45_000)).encode()) < 140_000

    with pytest.raises(TooLarge) as raised:
        encode_execution_input(task)
    (error,) = raised.value.errors
    assert "SNS message" in error.detail


@pytest.mark.parametrize(
    ("offset", "fires_immediately"),
    [(timedelta(seconds=-1), True), (timedelta(0), True), (timedelta(milliseconds=1), False)],
)
def test_answer_says_whether_the_task_fires_immediately(offset, fires_immediately):
    task = Task(id=TASK_ID, timestamp=NOW + offset, message=1)

    answer = describe(task, now=NOW)

    assert answer.fires_immediately is fires_immediately
    assert answer.message.startswith(f"Scheduled task at {format_timestamp(NOW + offset)}")
    assert answer.message.endswith("the task fires immediately)") is fires_immediately
