"""Release and hold, with an injected clock: never early, whatever the Wait state did."""

from datetime import UTC, datetime, timedelta

import pytest

from task_scheduler.core.timing import EARLIEST_RELEASE, format_release, hold_until, release_at

DUE = datetime(2030, 1, 1, 12, 0, 0, 950_000, tzinfo=UTC)  # 12:00:00.950Z


class FakeClock:
    """A clock that a fake sleep advances; `wake_early` makes each sleep end short."""

    def __init__(self, now: datetime, wake_early: float = 0.0) -> None:
        self.now, self.wake_early, self.sleeps = now, wake_early, []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=max(seconds - self.wake_early, 0.001))


@pytest.mark.parametrize(
    ("lead", "released"),
    [
        (0, "2030-01-01T12:00:00Z"),  # the fraction is dropped: the Wait would truncate it
        (1, "2030-01-01T11:59:59Z"),
        (2, "2030-01-01T11:59:58Z"),
        (60, "2030-01-01T11:59:00Z"),
    ],
)
def test_release_is_a_whole_second_at_least_the_lead_before(lead, released):
    release = release_at(DUE, lead)

    assert format_release(release) == released
    assert release.microsecond == 0
    assert DUE - release >= timedelta(seconds=lead)
    assert DUE - release < timedelta(seconds=lead + 1)


@pytest.mark.parametrize(
    "timestamp",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC),
        EARLIEST_RELEASE,
    ],
)
def test_a_timestamp_before_1970_is_released_at_once(timestamp):
    # Found by schemathesis: year 1 minus the lead left datetime's range (a 500).
    assert release_at(timestamp, 60) == EARLIEST_RELEASE
    assert format_release(release_at(timestamp, 1)) == "1970-01-01T00:00:00Z"


def test_released_on_time_it_holds_until_the_exact_millisecond():
    clock = FakeClock(release_at(DUE, 2))

    now, held = hold_until(DUE, budget_seconds=20, clock=clock, sleep=clock.sleep)

    assert now >= DUE
    assert now - DUE < timedelta(milliseconds=2)
    assert held == pytest.approx(2.95, abs=0.002)


def test_a_sleep_that_wakes_early_sleeps_again():
    clock = FakeClock(release_at(DUE, 2), wake_early=0.5)

    now, _ = hold_until(DUE, budget_seconds=20, clock=clock, sleep=clock.sleep)

    assert now >= DUE
    assert len(clock.sleeps) > 1


@pytest.mark.parametrize(
    "released_at",
    [
        DUE.replace(microsecond=0),  # a Wait that honoured only the whole second (lead 0)
        DUE - timedelta(minutes=5),  # a Wait that misfired early
    ],
)
def test_an_early_wait_is_held_back(released_at):
    clock = FakeClock(released_at)

    now, _ = hold_until(DUE, budget_seconds=600, clock=clock, sleep=clock.sleep)

    assert now >= DUE


def test_a_late_wait_does_not_hold():
    clock = FakeClock(DUE + timedelta(seconds=1.5))

    now, held = hold_until(DUE, budget_seconds=20, clock=clock, sleep=clock.sleep)

    assert (now, held, clock.sleeps) == (DUE + timedelta(seconds=1.5), 0, [])


def test_a_past_timestamp_fires_at_once():
    clock = FakeClock(DUE + timedelta(days=3))

    now, held = hold_until(DUE, budget_seconds=20, clock=clock, sleep=clock.sleep)

    assert (held, clock.sleeps) == (0, [])
    assert now > DUE


def test_the_hold_never_outlasts_its_budget():
    clock = FakeClock(DUE - timedelta(hours=1))

    now, held = hold_until(DUE, budget_seconds=5, clock=clock, sleep=clock.sleep)

    assert now < DUE  # not due: the caller must not publish
    assert held == pytest.approx(5)
