"""When a task is released by the Wait state, and how the emit function holds until its instant.

Step Functions' Wait considers a timestamp "up to seconds and truncates milliseconds"
(https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html), so it alone would
release a task due at 12:00:00.950Z at 12:00:00Z, 950 ms early. The state machine therefore
waits until a whole second at least the lead before the timestamp, which also leaves time for a
cold start, and the emit function holds until the exact millisecond. Pure: callers pass clocks.
"""

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]

# How long before its timestamp a task is released, read by both functions' settings.
DEFAULT_EMISSION_LEAD_SECONDS = 1  # the module's default: see variable emission_lead_seconds
MAX_EMISSION_LEAD_SECONDS = 60


# The earliest release: a task due before it is long overdue and the Wait ends at once, and
# subtracting the lead from a timestamp in year 1 would leave datetime's range.
EARLIEST_RELEASE = datetime(1970, 1, 1, tzinfo=UTC)


def release_at(timestamp: datetime, lead_seconds: int) -> datetime:
    """The whole second at least `lead_seconds` before `timestamp` (not before 1970)."""
    if timestamp <= EARLIEST_RELEASE + timedelta(seconds=lead_seconds):
        return EARLIEST_RELEASE
    return (timestamp - timedelta(seconds=lead_seconds)).replace(microsecond=0)


def format_release(instant: datetime) -> str:
    """`instant` as the Wait state reads it: whole seconds, UTC, `Z`."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now() -> datetime:
    return datetime.now(UTC)


def hold_until(
    timestamp: datetime,
    *,
    budget_seconds: float,
    clock: Clock = utc_now,
    sleep: Sleep = time.sleep,
) -> tuple[datetime, float]:
    """Sleep until `clock()` reaches `timestamp`, for at most `budget_seconds`.

    Returns (now, seconds held). `now` is before `timestamp` only if the budget ran out; the
    caller must not emit then. A timestamp in the past returns at once.
    """
    started = now = clock()
    deadline = started + timedelta(seconds=max(budget_seconds, 0))
    while now < timestamp and now < deadline:
        sleep((min(timestamp, deadline) - now).total_seconds())  # may wake early: check again
        now = clock()
    return now, (now - started).total_seconds()
