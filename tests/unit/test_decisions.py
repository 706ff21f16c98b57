"""What the emit function, cancel and schedule decide from a task's record. Pure."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from task_scheduler.core.decisions import (
    CancelAction,
    ScheduleAction,
    Verdict,
    after_failed_claim,
    cancel_action,
    continues,
    is_replay,
    schedule_action,
    segment_owner,
    segment_release,
)
from task_scheduler.core.records import TaskRecord, TaskStatus
from task_scheduler.core.tasks import Task, TaskExecution, message_sha256

NOW = datetime(2030, 1, 1, 12, 0, 0, 400_000, tzinfo=UTC)
RECORD = TaskRecord(
    id="t",
    version=2,
    status=TaskStatus.SCHEDULED,
    timestamp=NOW + timedelta(days=400),
    created_at=NOW,
    updated_at=NOW,
    execution_arn="arn:aws:states:eu-west-1:123456789012:execution:sm:t_2_1",
    message_sha256=message_sha256({"m": 1}),
)


def record(status: TaskStatus, version: int = 2) -> TaskRecord:
    return replace(RECORD, status=status, version=version)


@pytest.mark.parametrize(
    ("current", "verdict", "reason"),
    [
        # Only a task's own execution (scheduled before time slots) may run before its record.
        (None, Verdict.WAIT, "the task is not registered yet"),
        (record(TaskStatus.SCHEDULED, 1), Verdict.WAIT, "the task is not registered yet"),
        # The claim lets its claimant's retry through: failed, it is another's or superseded.
        (record(TaskStatus.SCHEDULED), Verdict.SKIP, "the task is scheduled at version 2"),
        (record(TaskStatus.EMITTED), Verdict.SKIP, "the task is emitted at version 2"),
        (record(TaskStatus.CANCELLED), Verdict.SKIP, "the task is cancelled at version 2"),
        (record(TaskStatus.FAILED), Verdict.SKIP, "the task is failed at version 2"),
        (record(TaskStatus.SCHEDULED, 3), Verdict.SKIP, "the task is scheduled at version 3"),
        (record(TaskStatus.EMITTED, 3), Verdict.SKIP, "the task is emitted at version 3"),
        (record(TaskStatus.CANCELLED, 1), Verdict.SKIP, "the task is cancelled at version 1"),
        (record(TaskStatus.EMITTED, 1), Verdict.SKIP, "the task is emitted at version 1"),
    ],
)
def test_after_a_failed_claim_of_version_2_by_its_own_execution(current, verdict, reason):
    decision = after_failed_claim(current, 2, own_execution=True)

    assert (decision.verdict, decision.reason) == (verdict, reason)


@pytest.mark.parametrize(
    ("current", "reason"),
    [
        # A slot entry is written before its record: unregistered, it was never acknowledged.
        (None, "the task is not registered"),
        (record(TaskStatus.SCHEDULED, 1), "the task is scheduled at version 1"),
        (record(TaskStatus.SCHEDULED), "the task is scheduled at version 2"),
        (record(TaskStatus.EMITTED), "the task is emitted at version 2"),
        (record(TaskStatus.CANCELLED), "the task is cancelled at version 2"),
        (record(TaskStatus.SCHEDULED, 3), "the task is scheduled at version 3"),
    ],
)
def test_a_shard_skips_a_version_whose_claim_failed(current, reason):
    decision = after_failed_claim(current, 2, own_execution=False)

    assert (decision.verdict, decision.reason) == (Verdict.SKIP, reason)


@pytest.mark.parametrize(
    ("current", "verdict"),
    [
        (None, Verdict.WAIT),
        (record(TaskStatus.SCHEDULED, 1), Verdict.WAIT),
        (record(TaskStatus.SCHEDULED), Verdict.PROCEED),
        (record(TaskStatus.SCHEDULED, 3), Verdict.SKIP),
        (record(TaskStatus.CANCELLED), Verdict.SKIP),
        (record(TaskStatus.EMITTED), Verdict.SKIP),
        (record(TaskStatus.FAILED), Verdict.SKIP),
    ],
)
def test_which_version_may_carry_the_task_on(current, verdict):
    assert segment_owner(current, 2).verdict is verdict


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (TaskStatus.SCHEDULED, CancelAction.CANCEL),
        (TaskStatus.CANCELLED, CancelAction.NONE),
        (TaskStatus.EMITTED, CancelAction.REFUSE),
        (TaskStatus.FAILED, CancelAction.REFUSE),
    ],
)
def test_cancel_action(status, action):
    assert cancel_action(record(status)) is action


@pytest.mark.parametrize(
    ("task", "replay"),
    [
        (Task("t", RECORD.timestamp, {"m": 1}), True),
        (Task("t", RECORD.timestamp + timedelta(milliseconds=1), {"m": 1}), False),
        (Task("t", RECORD.timestamp, {"m": 2}), False),
        (Task("t", RECORD.timestamp, {"m": 1.0}), False),  # 1.0 is not 1 in JSON text
    ],
)
def test_replay_or_conflict(task, replay):
    assert is_replay(RECORD, task) is replay


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (TaskStatus.SCHEDULED, ScheduleAction.REPLAY),
        (TaskStatus.EMITTED, ScheduleAction.REPLAY),
        (TaskStatus.CANCELLED, ScheduleAction.REPLAY),
        # Dead-lettered: the same task posted again (the client's redrive) runs again.
        (TaskStatus.FAILED, ScheduleAction.REDRIVE),
    ],
)
def test_scheduling_the_same_task_again(status, action):
    task = Task(id="t", timestamp=RECORD.timestamp, message={"m": 1})

    assert schedule_action(record(status), task) is action


@pytest.mark.parametrize("status", list(TaskStatus))
@pytest.mark.parametrize(
    "change", [{"message": {"m": 2}}, {"timestamp": NOW}], ids=["message", "timestamp"]
)
def test_scheduling_other_content_under_a_taken_id_conflicts(status, change):
    task = Task(**{"id": "t", "timestamp": RECORD.timestamp, "message": {"m": 1}, **change})

    assert schedule_action(record(status), task) is ScheduleAction.CONFLICT


@pytest.mark.parametrize(
    ("final", "segment_seconds", "released"),
    [
        # The segment ends first: at a whole second, at most the segment after the start.
        (NOW + timedelta(days=400), 364 * 86400, datetime(2030, 12, 31, 12, 0, 0, tzinfo=UTC)),
        (NOW + timedelta(hours=1), 60, datetime(2030, 1, 1, 12, 1, 0, tzinfo=UTC)),
        # The final release comes first.
        (
            NOW.replace(microsecond=0) + timedelta(seconds=30),
            60,
            NOW.replace(microsecond=0) + timedelta(seconds=30),
        ),
        (
            NOW.replace(microsecond=0) - timedelta(days=1),
            60,
            NOW.replace(microsecond=0) - timedelta(days=1),
        ),
    ],
)
def test_segment_release(final, segment_seconds, released):
    assert segment_release(final, NOW, segment_seconds) == released


def execution_released_at(release_at: datetime, due_in: timedelta) -> TaskExecution:
    return TaskExecution(Task("t", NOW + due_in, 1), 1, 1, release_at)


@pytest.mark.parametrize(
    ("release_at", "due_in", "hands_on"),
    [
        # A segment's end, the timestamp far off: a follow-on execution.
        (NOW - timedelta(seconds=1), timedelta(hours=1), True),
        # A segment's end 30 s before the timestamp: a follow-on execution too, released at the
        # final release, rather than a 30 s hold billed to the emit function.
        (NOW - timedelta(seconds=1), timedelta(seconds=30), True),
        # A segment's end after which the final release has come: hold and emit.
        (NOW - timedelta(seconds=1), timedelta(milliseconds=800), False),
        # The final release: hold, and let TaskNotDue retry if it comes too early.
        (NOW + timedelta(hours=1) - timedelta(seconds=1), timedelta(hours=1), False),
    ],
)
def test_continues(release_at, due_in, hands_on):
    execution = execution_released_at(release_at.replace(microsecond=0), due_in)
    final = (execution.task.timestamp - timedelta(seconds=1)).replace(microsecond=0)

    assert continues(execution, final_release=final, now=NOW) is hands_on
