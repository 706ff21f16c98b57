"""Data exchanged with clients of the API."""

import json
import re
from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    JsonValue,
    PlainSerializer,
)
from pydantic_core import PydanticCustomError

from task_scheduler.timestamps import InvalidTimestamp, format_timestamp, parse_timestamp

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


class ScheduleRequest(BaseModel):
    """Body of POST /schedule."""

    # Unknown fields are rejected rather than dropped: a typo must not go unnoticed.
    model_config = ConfigDict(extra="forbid", frozen=True)

    timestamp: Timestamp
    message: Message


class ScheduleResponse(BaseModel):
    """Body of a 201 answer to POST /schedule."""

    message: str
    id: str
    timestamp: Timestamp
    fires_immediately: bool


class ErrorDetail(BaseModel):
    """One broken rule: `field` names the body field at fault, None when no single field is."""

    field: str | None
    rule: str
    detail: str


class ErrorResponse(BaseModel):
    """Body of every 4xx and 5xx answer."""

    message: str
    errors: list[ErrorDetail]
