"""Relative and absolute times of the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from task_scheduler_client.times import format_instant, in_from_now, parse_duration, parse_instant


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1w", timedelta(weeks=1)),
        ("90m", timedelta(minutes=90)),
        ("250ms", timedelta(milliseconds=250)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d2h3m4s5ms", timedelta(days=1, hours=2, minutes=3, seconds=4, milliseconds=5)),
        ("1.5h", timedelta(minutes=90)),
        ("0s", timedelta(0)),
        (" 10s ", timedelta(seconds=10)),
        ("3650d", timedelta(days=3650)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "s", "-5s", "+5s", "5x", "5 s", "1h 30m", "1.s", "h1"])
def test_invalid_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"use a number and a unit"):
        parse_duration(text)


def test_in_from_now_adds_to_the_current_utc_time() -> None:
    now = datetime(2030, 8, 21, 4, 29, tzinfo=UTC)
    assert in_from_now(parse_duration("2h"), now=now) == datetime(2030, 8, 21, 6, 29, tzinfo=UTC)
    before = datetime.now(UTC)
    later = in_from_now(timedelta(seconds=30))
    assert later.tzinfo is not None
    assert timedelta(seconds=30) <= later - before < timedelta(seconds=31)


@pytest.mark.parametrize(
    "text", ["2030-08-21T04:29:00.951Z", "2030-08-21T06:29:00.951+02:00", "2030-08-21T04:29Z"]
)
def test_instants_need_an_offset(text: str) -> None:
    assert parse_instant(text).utcoffset() is not None


def test_instant_without_offset_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_instant("2030-08-21T04:29:00")


@pytest.mark.parametrize("text", ["tomorrow", "2030-13-01T00:00:00Z", "1700000000"])
def test_unparseable_instants(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601 with an offset"):
        parse_instant(text)


def test_format_instant_is_utc_with_z_and_keeps_microseconds() -> None:
    plus_two = timezone(timedelta(hours=2))
    instant = datetime(2030, 8, 21, 6, 29, 0, 951_250, tzinfo=plus_two)
    assert format_instant(instant) == "2030-08-21T04:29:00.951250Z"
    with pytest.raises(ValueError, match="without tzinfo"):
        format_instant(datetime(2030, 8, 21))
