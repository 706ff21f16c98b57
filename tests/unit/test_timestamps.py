"""Timestamp parsing and normalisation (the api tests cover rejection through HTTP)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from task_scheduler.core.timestamps import InvalidTimestamp, format_timestamp, parse_timestamp


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("2030-01-01T00:00:00Z", "2030-01-01T00:00:00.000Z"),
        ("2030-01-01T05:30:00+05:30", "2030-01-01T00:00:00.000Z"),
        ("2029-12-31T23:00:00-01:00", "2030-01-01T00:00:00.000Z"),
        ("2030-01-01T00:00:00-00:00", "2030-01-01T00:00:00.000Z"),
        ("2030-01-01T00:00:00.5Z", "2030-01-01T00:00:00.500Z"),
        ("2030-01-01T00:00:00.123Z", "2030-01-01T00:00:00.123Z"),
        ("2030-01-01T00:00:00.123000000Z", "2030-01-01T00:00:00.123Z"),
        ("2030-01-01T00:00:00.1230001Z", "2030-01-01T00:00:00.124Z"),
        ("2030-01-01T00:00:00.000000001Z", "2030-01-01T00:00:00.001Z"),
        ("2030-12-31T23:59:59.9995Z", "2031-01-01T00:00:00.000Z"),
        ("0999-01-01T00:00:00Z", "0999-01-01T00:00:00.000Z"),
    ],
)
def test_normalises_to_utc_rounding_up_to_the_millisecond(text, normalised):
    assert format_timestamp(parse_timestamp(text)) == normalised


def test_never_rounds_down():
    for micros in range(0, 1_000_000, 997):
        text = f"2030-01-01T00:00:00.{micros:06d}Z"
        instant = parse_timestamp(text)
        assert instant >= datetime.fromisoformat(text)
        assert instant - datetime.fromisoformat(text) < timedelta(milliseconds=1)
        assert instant.microsecond % 1000 == 0


def test_aware_datetime_is_normalised():
    local = datetime(2030, 1, 1, 5, 30, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30)))

    assert parse_timestamp(local) == datetime(2030, 1, 1, 0, 0, 0, 1000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (datetime(2030, 1, 1), "timestamp_offset_required"),
        ("2030-01-01T00:00:00", "timestamp_offset_required"),
        (1893456000, "timestamp_format"),
        ("2030-01-01T00:00:00+23:60", "timestamp_format"),
    ],
)
def test_rejection_names_the_rule(value, rule):
    with pytest.raises(InvalidTimestamp) as raised:
        parse_timestamp(value)

    assert raised.value.rule == rule
