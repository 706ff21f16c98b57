"""What to do next, decided from a task's record and executions. Pure: callers pass the state.

Race safety comes from DynamoDB's conditional writes: the emit function claims a task (status
scheduled -> emitted, for its version, by its execution) before publishing, a cancel or
reschedule changes the status or version under the same condition, and only one of them can
succeed. These functions decide what a writer whose condition failed does, given the record as
it now is.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from task_scheduler.core.records import TaskRecord, TaskStatus
from task_scheduler.core.tasks import Task, TaskExecution, message_sha256

# A Standard workflow execution lasts at most a year (365 days). A segment ends a day short of
# it, which leaves the last execution time to hold, publish, retry and dead-letter.
MAX_SEGMENT_SECONDS = 364 * 24 * 60 * 60


class Verdict(Enum):
    PROCEED = "proceed"
    WAIT = "wait"  # the api function registers a task right after starting its execution
    SKIP = "skip"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str = ""


def after_failed_claim(
    current: TaskRecord | None, version: int, *, own_execution: bool
) -> Decision:
    """What the emit function of `version` does when its claim failed, `current` being the
    record at the time (None: no record). The claim's condition lets a retry of the claimant
    through, so a failed claim means the version is not, or no longer, to be published by it.

    Only a task's own execution (scheduled before time slots) can run before the task is
    registered: the api function of that time started it first. A slot entry is written before
    its registry item, and a version that races its shard's read is given its own execution
    (placement.py), so the shard skips a version it finds unregistered."""
    unregistered = current is None or (
        current.status is TaskStatus.SCHEDULED and current.version < version
    )
    if own_execution and unregistered:
        return Decision(Verdict.WAIT, "the task is not registered yet")
    if current is None:
        return Decision(Verdict.SKIP, "the task is not registered")
    return Decision(Verdict.SKIP, _superseded(current))


def segment_owner(current: TaskRecord | None, version: int) -> Decision:
    """Whether the execution of `version` may carry the task on into a follow-on execution."""
    if current is None or (current.status is TaskStatus.SCHEDULED and current.version < version):
        return Decision(Verdict.WAIT, "the task is not registered yet")
    if current.version == version and current.status is TaskStatus.SCHEDULED:
        return Decision(Verdict.PROCEED)
    return Decision(Verdict.SKIP, _superseded(current))


def _superseded(current: TaskRecord) -> str:
    return f"the task is {current.status.value} at version {current.version}"


class CancelAction(Enum):
    CANCEL = "cancel"
    NONE = "none"  # already cancelled: cancelling twice is harmless
    REFUSE = "refuse"  # emitted or failed: too late


def cancel_action(record: TaskRecord) -> CancelAction:
    if record.status is TaskStatus.SCHEDULED:
        return CancelAction.CANCEL
    if record.status is TaskStatus.CANCELLED:
        return CancelAction.NONE
    return CancelAction.REFUSE


class ScheduleAction(Enum):
    """What a POST /schedule does when its task id is registered already."""

    REPLAY = "replay"  # answer the task as registered (200)
    REDRIVE = "redrive"  # schedule the failed task again as a new version (201)
    CONFLICT = "conflict"  # the id holds another task (409)


def schedule_action(record: TaskRecord, task: Task) -> ScheduleAction:
    """Scheduling `task` again under `record`'s id: a failed task re-runs, as the client's
    `redrive` of a dead-lettered task does; anything else is a replay or a conflict."""
    if not is_replay(record, task):
        return ScheduleAction.CONFLICT
    if record.status is TaskStatus.FAILED:
        return ScheduleAction.REDRIVE
    return ScheduleAction.REPLAY


def is_replay(record: TaskRecord, task: Task) -> bool:
    """Whether `task` is what `record` registered: same timestamp and message."""
    return record.timestamp == task.timestamp and record.message_sha256 == message_sha256(
        task.message
    )


def segment_release(final_release: datetime, start: datetime, segment_seconds: int) -> datetime:
    """When an execution started at `start` releases the task: at its final release, or at the
    end of the segment if that comes first (a whole second, as the Wait state reads it)."""
    segment_end = (start + timedelta(seconds=segment_seconds)).replace(microsecond=0)
    return min(final_release, segment_end)


def continues(execution: TaskExecution, *, final_release: datetime, now: datetime) -> bool:
    """Whether `execution` hands the task on to a follow-on execution at `now`: its release was
    a segment's end and the final release is still ahead. Holding instead would bill the emit
    function for up to its whole timeout; once the final release has come, it holds (lead + 1 s
    at most) and emits, whichever execution it is."""
    return execution.release_at < final_release and now < final_release
