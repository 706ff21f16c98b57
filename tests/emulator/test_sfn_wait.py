"""Gap 6: a Wait on a timestamp fires at, never before, the timestamp, in any local TZ."""

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


def test_wait_never_fires_early(
    local_tz: str, client: Callable[[str], Any], run_execution: Callable[..., Any]
) -> None:
    due = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1.5)
    due = due.replace(microsecond=due.microsecond // 1000 * 1000)
    timestamp = due.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    done = run_execution(WAIT, {"timestamp": timestamp})

    assert done["status"] == "SUCCEEDED", done
    history = client("stepfunctions").get_execution_history(executionArn=done["executionArn"])
    exited = next(e["timestamp"] for e in history["events"] if e["type"] == "WaitStateExited")
    # Never early; the upper bound only catches waits that are off by hours (a TZ mix-up).
    assert due <= exited < due + datetime.timedelta(seconds=10), (local_tz, timestamp, exited)


def test_invalid_timestamp_fails_the_execution(run_execution: Callable[..., Any]) -> None:
    done = run_execution(WAIT, {"timestamp": "2026-13-01T00:00:00Z"})

    assert (done["status"], done["error"]) == ("FAILED", "States.Runtime")
