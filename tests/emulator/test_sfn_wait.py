"""A Wait on a timestamp ends at its whole second (milliseconds truncated, as on AWS)."""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

WAIT = {
    "StartAt": "Wait",
    "States": {
        "Wait": {"Type": "Wait", "TimestampPath": "$.timestamp", "Next": "Done"},
        "Done": {"Type": "Pass", "End": True},
    },
}


@pytest.fixture(params=["UTC0", "JST-9"])  # JST-9: local time 9 h ahead of UTC (POSIX TZ)
def local_tz(request: pytest.FixtureRequest) -> Iterator[str]:
    previous = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if previous is None:
        os.environ.pop("TZ")
    else:
        os.environ["TZ"] = previous
    time.tzset()


def test_wait_truncates_the_milliseconds_of_its_timestamp(
    local_tz: str, client: Callable[[str], Any], run_execution: Callable[..., Any]
) -> None:
    second = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    second += datetime.timedelta(seconds=2)
    timestamp = second.strftime("%Y-%m-%dT%H:%M:%S") + ".950Z"

    done = run_execution(WAIT, {"timestamp": timestamp})

    assert done["status"] == "SUCCEEDED", done
    history = client("stepfunctions").get_execution_history(executionArn=done["executionArn"])
    exited = next(e["timestamp"] for e in history["events"] if e["type"] == "WaitStateExited")
    # Released at the whole second, as AWS does: up to 950 ms before the timestamp itself.
    # The upper bound fails an emulator that honours the milliseconds, or is hours off (TZ).
    assert second <= exited < second + datetime.timedelta(milliseconds=900), (local_tz, exited)


def test_invalid_timestamp_fails_the_execution(run_execution: Callable[..., Any]) -> None:
    done = run_execution(WAIT, {"timestamp": "2026-13-01T00:00:00Z"})

    assert (done["status"], done["error"]) == ("FAILED", "States.Runtime")
