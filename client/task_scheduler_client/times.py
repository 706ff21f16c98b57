"""Relative and absolute times for the command line: `--in 1h30m`, `--at 2030-08-21T04:29:00Z`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION = re.compile(rf"(?:{_PART.pattern})+")


def parse_duration(text: str) -> timedelta:
    """Parse `30s`, `2h`, `1d`, `1h30m`, `1.5h`, `250ms` (units ms, s, m, h, d, w).

    A number needs its unit; spaces and signs are not accepted. Raises ValueError.
    """
    compact = text.strip()
    if not _DURATION.fullmatch(compact):
        raise ValueError(
            f"invalid duration {text!r}: use a number and a unit (ms, s, m, h, d, w), "
            "e.g. 30s, 2h, 1d, 1h30m"
        )
    return sum(
        (float(number) * _UNITS[unit] for number, unit in _PART.findall(compact)),
        timedelta(),
    )


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 date-time with a UTC offset (`Z` or `±hh:mm`). Raises ValueError."""
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"invalid timestamp {text!r}: use ISO 8601 with an offset, "
            "e.g. 2030-08-21T04:29:00.951Z"
        ) from None
    if instant.tzinfo is None:
        raise ValueError(
            f"timestamp {text!r} has no UTC offset: add Z or ±hh:mm (the API rejects it)"
        )
    return instant


def format_instant(instant: datetime) -> str:
    """`instant` in UTC as ISO 8601 with microseconds and `Z` (the API rounds up to the
    millisecond, so nothing is lost). A naive datetime is refused: it names no instant."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("a datetime without tzinfo names no instant: pass an aware datetime")
    return instant.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def in_from_now(duration: timedelta, *, now: datetime | None = None) -> datetime:
    """The instant `duration` after `now` (default: the current time, UTC)."""
    return (now or datetime.now(UTC)) + duration
