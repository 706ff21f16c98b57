"""Scheduling rules: how far ahead and how large a task may be. Pure: callers pass `now`."""

from datetime import datetime, timedelta
from uuid import uuid4

from task_scheduler.emission import build_sns_message
from task_scheduler.errors import BeyondHorizon, TooLarge
from task_scheduler.models import ErrorDetail, ScheduleRequest, ScheduleResponse
from task_scheduler.settings import ONE_YEAR_SECONDS
from task_scheduler.tasks import Task
from task_scheduler.timestamps import format_timestamp, round_up_to_millisecond

# A Standard workflow execution lasts at most one year, and at the timestamp it still has to
# publish (retrying) or send the task to the dead-letter queue. So the latest timestamp leaves
# the execution this much time, whatever MAX_HORIZON_SECONDS says. The emission lead does not
# eat into it: the Wait ends that much before the timestamp, and the emit function holds until
# the timestamp, so the execution still reaches the timestamp when it would without a lead.
EMISSION_RESERVE = timedelta(hours=1)
MAX_EXECUTION_DURATION = timedelta(seconds=ONE_YEAR_SECONDS)

# Step Functions caps execution input and state payloads at 256 KiB. When emission fails, the
# Catch adds the error to the input before sending it to the dead-letter queue: keep room for it.
# The error's Cause holds the function's error message and stack trace: a few KiB in practice.
DEAD_LETTER_RESERVE_BYTES = 16 * 1024
MAX_EXECUTION_INPUT_BYTES = 256 * 1024 - DEAD_LETTER_RESERVE_BYTES
MAX_SNS_MESSAGE_BYTES = 256 * 1024


def latest_timestamp(now: datetime, max_horizon_seconds: int) -> datetime:
    """The latest timestamp a task scheduled at `now` may have."""
    horizon = min(timedelta(seconds=max_horizon_seconds), MAX_EXECUTION_DURATION - EMISSION_RESERVE)
    return round_up_to_millisecond(now + horizon)


def build_task(request: ScheduleRequest, *, now: datetime, max_horizon_seconds: int) -> Task:
    """Give the requested task an id, if its timestamp is within the horizon."""
    latest = latest_timestamp(now, max_horizon_seconds)
    if request.timestamp > latest:
        raise BeyondHorizon(
            "The timestamp is too far in the future.",
            [
                ErrorDetail(
                    field="timestamp",
                    rule="max_horizon",
                    detail=f"the latest timestamp accepted now is {format_timestamp(latest)}",
                )
            ],
        )
    # The id also names the execution, which Step Functions keeps unique per state machine.
    return Task(id=str(uuid4()), timestamp=request.timestamp, message=request.message)


def encode_execution_input(task: Task, *, lead_seconds: int) -> str:
    """Return the execution input for `task`, if it fits Step Functions' and SNS' size limits."""
    execution_input = task.execution_input(lead_seconds)
    sizes = {
        "Step Functions execution input": (
            len(execution_input.encode()),
            MAX_EXECUTION_INPUT_BYTES,
        ),
        "SNS message": (build_sns_message(task).size_bytes, MAX_SNS_MESSAGE_BYTES),
    }
    errors = [
        ErrorDetail(
            field="message",
            rule="too_large",
            detail=f"the {what} would be {size} bytes; at most {limit} bytes are allowed",
        )
        for what, (size, limit) in sizes.items()
        if size > limit
    ]
    if errors:
        raise TooLarge("The message is too large.", errors)
    return execution_input


def describe(task: Task, *, now: datetime) -> ScheduleResponse:
    """The answer to the client who scheduled `task` at `now`."""
    fires_immediately = task.timestamp <= now
    text = f"Scheduled task at {format_timestamp(task.timestamp)}"
    if fires_immediately:
        text += " (timestamp is in the past: the task fires immediately)"
    return ScheduleResponse(
        message=text, id=task.id, timestamp=task.timestamp, fires_immediately=fires_immediately
    )
