"""Data exchanged with clients of the API."""

import json
import re
from datetime import datetime
from typing import Annotated, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from task_scheduler.core.records import TaskStatus
from task_scheduler.core.tasks import TASK_ID_PATTERN, TASK_ID_RULE, is_task_id
from task_scheduler.core.timestamps import InvalidTimestamp, format_timestamp, parse_timestamp

_NONCHARACTERS = re.compile("[\ufffe\uffff]")


def _require_unicode(message: JsonValue) -> JsonValue:
    # JSON escapes such as "\ud800" decode to unpaired surrogates, which no UTF-8 payload can carry.
    try:
        text = json.dumps(message, ensure_ascii=False)
        text.encode()
    except UnicodeEncodeError as exc:
        raise PydanticCustomError(
            "invalid_unicode", "message contains an unpaired UTF-16 surrogate escape"
        ) from exc
    # Step Functions writes these noncharacters unescaped into the dead-letter message, and SQS
    # refuses them: a task holding one could not be parked if its emission failed.
    if _NONCHARACTERS.search(text):
        raise PydanticCustomError(
            "invalid_unicode", "message contains U+FFFE or U+FFFF, which SQS cannot carry"
        )
    return message


def _timestamp(value: object) -> datetime:
    try:
        return parse_timestamp(value)
    except InvalidTimestamp as exc:
        raise PydanticCustomError(exc.rule, str(exc)) from exc


Timestamp = Annotated[
    datetime, BeforeValidator(_timestamp), PlainSerializer(format_timestamp, return_type=str)
]
"""An instant in UTC, at millisecond precision, written as YYYY-MM-DDTHH:MM:SS.mmmZ."""

Message = Annotated[JsonValue, AfterValidator(_require_unicode)]
"""Any JSON value, null included."""


def _task_id(value: object) -> str:
    if not is_task_id(value):
        raise PydanticCustomError("invalid_id", f"a task id has {TASK_ID_RULE}")
    return value


TASK_ID_SCHEMA = {"type": "string", "pattern": f"^{TASK_ID_PATTERN.pattern}$"}
TaskId = Annotated[str, BeforeValidator(_task_id), WithJsonSchema(TASK_ID_SCHEMA)]
"""A task id: it names the task's executions, so it follows Step Functions' name rules."""


class ScheduleRequest(BaseModel):
    """Body of POST /schedule."""

    # Unknown fields are rejected rather than dropped: a typo must not go unnoticed.
    model_config = ConfigDict(extra="forbid", frozen=True)

    timestamp: Timestamp
    message: Message
    id: TaskId | None = Field(
        default=None,
        description="Your id for the task, to retry the request safely: the same id with the "
        "same timestamp and message answers 200 with the task and creates nothing; if that "
        "task failed (dead-lettered), it is scheduled again (201). "
        "Without it, the scheduler generates one.",
    )


class RescheduleRequest(BaseModel):
    """Body of PATCH /schedule/{id}: a new timestamp, a new message, or both."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra={"minProperties": 1})

    timestamp: Timestamp | None = Field(default=None, description="null keeps the timestamp")
    message: Message = Field(default=None, description="absent keeps the message; null is one")

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.timestamp is None and "message" not in self.model_fields_set:
            raise PydanticCustomError("no_change", "give a new timestamp, a new message or both")
        return self


class ScheduleResponse(BaseModel):
    """Body of a 201 answer to POST /schedule, and of a 200 answer to its replay."""

    message: str
    id: str
    timestamp: Timestamp
    fires_immediately: bool


class TaskSummary(BaseModel):
    """A task as GET /schedule lists it."""

    id: str
    status: TaskStatus
    version: int = Field(description="1 when scheduled, +1 on each reschedule")
    timestamp: Timestamp
    created_at: Timestamp
    updated_at: Timestamp
    emitted_at: Timestamp | None


class TaskResponse(TaskSummary):
    """A task with its message: the answer of GET, DELETE and PATCH /schedule/{id}."""

    message: Message


class TaskList(BaseModel):
    """A page of GET /schedule."""

    tasks: list[TaskSummary]
    next: str | None = Field(description="pass it as `next` for the next page; null on the last")


class ErrorDetail(BaseModel):
    """One broken rule: `field` names the body field at fault, None when no single field is."""

    field: str | None
    rule: str
    detail: str


class ErrorResponse(BaseModel):
    """Body of every 4xx and 5xx answer of the api function."""

    message: str
    errors: list[ErrorDetail]


class GatewayResponse(BaseModel):
    """Body of an answer API Gateway gives itself, before the api function runs."""

    message: str
