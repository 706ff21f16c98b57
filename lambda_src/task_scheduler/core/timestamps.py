"""ISO 8601 instants as the scheduler accepts and writes them (stdlib only: emit imports it)."""

import re
from datetime import UTC, datetime, timedelta, timezone

_DATE_TIME = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?"
    r"(?P<offset>[Zz]|(?P<sign>[+-])(?P<offset_hours>\d{2}):(?P<offset_minutes>\d{2}))?",
    re.ASCII,
)
_EXAMPLE = "2030-01-01T12:00:00Z or 2030-01-01T17:30:00.250+05:30"


class InvalidTimestamp(ValueError):
    """Why a value is no timestamp the scheduler accepts; `rule` is the machine-readable id."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


def parse_timestamp(value: object) -> datetime:
    """Return the instant `value` names, in UTC, rounded up to the millisecond.

    Rounding up means a task never fires before the instant it asked for. Raises
    InvalidTimestamp saying which rule the value breaks.
    """
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise _offset_required()
        return round_up_to_millisecond(value.astimezone(UTC))
    if not isinstance(value, str):
        raise InvalidTimestamp(
            "timestamp_format",
            f"timestamp must be an ISO 8601 string such as {_EXAMPLE}; "
            "numbers such as Unix epochs are not accepted",
        )
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        raise InvalidTimestamp(
            "timestamp_format", f"timestamp must be an ISO 8601 date and time such as {_EXAMPLE}"
        )
    if match["offset"] is None:
        raise _offset_required()
    try:
        return _to_utc(match)
    except (ValueError, OverflowError) as exc:
        raise InvalidTimestamp(
            "timestamp_format", f"timestamp is not a valid instant: {exc}"
        ) from exc


def format_timestamp(instant: datetime) -> str:
    """Write `instant` as YYYY-MM-DDTHH:MM:SS.mmmZ, the RFC 3339 form Step Functions' Wait reads."""
    utc = instant.astimezone(UTC).replace(tzinfo=None)
    return utc.isoformat(timespec="milliseconds") + "Z"


def round_up_to_millisecond(instant: datetime) -> datetime:
    """The first whole millisecond at or after `instant`."""
    return instant + timedelta(microseconds=-instant.microsecond % 1000)


def _to_utc(match: re.Match[str]) -> datetime:
    offset = timedelta(0)
    if match["sign"] is not None:
        hours, minutes = int(match["offset_hours"]), int(match["offset_minutes"])
        if hours > 23 or minutes > 59:
            raise ValueError("UTC offset out of range")
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if match["sign"] == "-" else 1)
    local = datetime(
        int(match["year"]),
        int(match["month"]),
        int(match["day"]),
        int(match["hour"]),
        int(match["minute"]),
        int(match["second"]),
        tzinfo=timezone(offset),
    )
    nanoseconds = int((match["fraction"] or "0").ljust(9, "0"))
    milliseconds = -(-nanoseconds // 1_000_000)  # ceiling division
    return local.astimezone(UTC) + timedelta(milliseconds=milliseconds)


def _offset_required() -> InvalidTimestamp:
    return InvalidTimestamp(
        "timestamp_offset_required",
        "timestamp has no UTC offset, so the instant is ambiguous; "
        f"end it with Z or +hh:mm/-hh:mm, e.g. {_EXAMPLE}",
    )
