"""Scheduling rules at a fixed `now`: id, horizon, first segment, sizes, answer."""

from datetime import UTC, datetime, timedelta

import pytest

from task_scheduler.errors import BeyondHorizon, InvalidId, TooLarge
from task_scheduler.scheduling import (
    MAX_EXECUTION_INPUT_BYTES,
    build_task,
    check_size,
    describe,
    first_execution,
    latest_timestamp,
    requested_id,
)
from task_scheduler.tasks import Task, TaskExecution
from task_scheduler.timestamps import format_timestamp

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
        # Beyond a year, follow-on executions carry the task: nothing is kept back.
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


def execution_of(task: Task, segment_seconds: int = YEAR) -> TaskExecution:
    return first_execution(
        task, version=1, now=NOW, lead_seconds=2, segment_seconds=segment_seconds
    )


def test_execution_input_is_compact_utf8_json_of_the_task_and_its_release():
    execution = execution_of(task_with({"text": "héllo", "n": [1, None]}))

    # Released two whole seconds early (lead 2), the fraction dropped: the Wait truncates it.
    assert execution.execution_input() == (
        '{"id":"0f8fad5b-d9cb-469f-a165-70867728950e","version":1,"segment":1,'
        '"timestamp":"2030-01-01T00:00:00.001Z","release_at":"2029-12-31T23:59:58Z",'
        '"message":{"text":"héllo","n":[1,null]}}'
    )
    assert execution.name == f"{TASK_ID}_1_1"


def test_a_task_beyond_the_segment_is_released_at_the_segment_end():
    task = Task(id=TASK_ID, timestamp=NOW + timedelta(days=1000), message=1)

    execution = execution_of(task, segment_seconds=364 * DAY)

    assert execution.release_at == (NOW + timedelta(days=364)).replace(microsecond=0)


def test_execution_input_limit_counts_utf8_bytes():
    overhead = len(execution_of(task_with("")).execution_input().encode())
    fits = "é" * ((MAX_EXECUTION_INPUT_BYTES - overhead) // 2)

    check_size(execution_of(task_with(fits)))
    with pytest.raises(TooLarge) as raised:
        check_size(execution_of(task_with(fits + "é")))
    assert [(e.field, e.rule) for e in raised.value.errors] == [("message", "too_large")]


def test_sns_limit_applies_to_the_encoded_message():
    # 3 UTF-8 bytes per character in the execution input, 6 as an ASCII JSON escape for SNS.
    execution = execution_of(task_with(["汉" * 45_000]))
    assert len(execution.execution_input().encode()) < 140_000

    with pytest.raises(TooLarge) as raised:
        check_size(execution)
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
    assert answer.message.startswith("Scheduled task at 20")
    assert answer.message.endswith("the task fires immediately)") is fires_immediately
