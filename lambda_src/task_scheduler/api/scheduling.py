"""Scheduling rules: which id, how far ahead, how large a task may be. Pure: callers pass `now`."""

import json
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from task_scheduler.api.errors import BeyondHorizon, InvalidId, TooLarge
from task_scheduler.api.models import ErrorDetail, ScheduleResponse
from task_scheduler.core.slots import Entry, describe_entry
from task_scheduler.core.sns_message import build_sns_message
from task_scheduler.core.tasks import TASK_ID_RULE, Task, is_task_id
from task_scheduler.core.timestamps import format_timestamp, round_up_to_millisecond

# A task that cannot be emitted is parked in the SQS dead-letter queue as
# {id, version, timestamp, message, error}; SQS takes at most 256 KiB in a message. Keep room for
# the error: the emit function bounds it (emit/handler.py, MAX_ERROR_MESSAGE_CHARS), and Step
# Functions' error Cause wraps it in the Lambda error payload: a few KiB at most.
DEAD_LETTER_RESERVE_BYTES = 16 * 1024
MAX_TASK_BYTES = 256 * 1024 - DEAD_LETTER_RESERVE_BYTES
MAX_SNS_MESSAGE_BYTES = 256 * 1024


def requested_id(body_id: str | None, idempotency_key: str | None) -> str | None:
    """The id the client chose, in the body or the Idempotency-Key header (None: none)."""
    if idempotency_key is not None and not is_task_id(idempotency_key):
        raise InvalidId.single(
            "Invalid Idempotency-Key header.",
            "id",
            "invalid_id",
            f"the Idempotency-Key header is the task id, which has {TASK_ID_RULE}",
        )
    if body_id is not None and idempotency_key is not None and body_id != idempotency_key:
        raise InvalidId.single(
            "The body's id and the Idempotency-Key header differ.",
            "id",
            "id_mismatch",
            "give the task id in the body or in the Idempotency-Key header, or the same in both",
        )
    return body_id if body_id is not None else idempotency_key


def latest_timestamp(now: datetime, max_horizon_seconds: int) -> datetime:
    """The latest timestamp a task scheduled at `now` may have. Beyond what one execution can
    wait, the task continues in follow-on executions."""
    return round_up_to_millisecond(now + timedelta(seconds=max_horizon_seconds))


def build_task(
    timestamp: datetime,
    message: Any,
    *,
    task_id: str | None,
    now: datetime,
    max_horizon_seconds: int,
) -> Task:
    """The task, if its timestamp is within the horizon; with a fresh id unless `task_id`."""
    latest = latest_timestamp(now, max_horizon_seconds)
    if timestamp > latest:
        raise BeyondHorizon.single(
            "The timestamp is too far in the future.",
            "timestamp",
            "max_horizon",
            f"the latest timestamp accepted now is {format_timestamp(latest)}",
        )
    return Task(id=task_id or str(uuid4()), timestamp=timestamp, message=message)


def check_size(task: Task) -> None:
    """Raise TooLarge unless `task` fits the dead-letter queue's and SNS' size limits."""
    entry = Entry(task.id, 1, task.timestamp, task.message, placement=None)
    parked = json.dumps(describe_entry(entry), ensure_ascii=False, separators=(",", ":"))
    sizes = {
        "dead-letter message": (len(parked.encode()), MAX_TASK_BYTES),
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


def describe(task: Task, *, now: datetime) -> ScheduleResponse:
    """The answer to the client who scheduled `task` at `now`."""
    fires_immediately = task.timestamp <= now
    text = f"Scheduled task at {format_timestamp(task.timestamp)}"
    if fires_immediately:
        text += " (timestamp is in the past: the task fires immediately)"
    return ScheduleResponse(
        message=text, id=task.id, timestamp=task.timestamp, fires_immediately=fires_immediately
    )
