"""A Wait state with ``Timestamp``/``TimestampPath`` ends at the timestamp's whole second.

AWS documents (https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html, note under
``Timestamp``): "if you specify the wait time as a timestamp, Step Functions considers the time
value up to seconds and truncates milliseconds". So a Wait until ``12:00:00.950Z`` ends at
``12:00:00Z``, 950 ms before the timestamp, and the emulator does exactly that.

moto's ``Timestamp._get_wait_seconds`` also drops the fraction, but subtracts naive *local*
time (hours off unless TZ is UTC) and floors the difference to whole seconds, so it ends up to
a further second early. This overrides ``WaitFunction._eval_body`` on
``moto...wait_function.timestamp.Timestamp`` (``TimestampPath`` inherits it): the timestamp is
read as UTC, its fraction truncated, and the state sleeps until the wall clock reaches that
second, resuming after unrelated wake-ups and returning when the execution stops.
"""

from __future__ import annotations

import datetime
import time

from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp
from moto.stepfunctions.parser.asl.eval.environment import Environment


def deadline(timestamp: str) -> float:
    """When a Wait until an ASL timestamp such as ``2026-11-27T10:00:00.123Z`` (always UTC) ends,
    in epoch seconds: its whole second, the fraction truncated as on AWS."""
    whole = timestamp.removesuffix("Z").partition(".")[0]
    moment = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S")
    return moment.replace(tzinfo=datetime.UTC).timestamp()


def _eval_body(self: Timestamp, env: Environment) -> None:
    self.string.eval(env=env)
    timestamp: str = env.stack.pop()
    try:
        due = deadline(timestamp) if self._is_valid_timestamp_pattern(timestamp) else None
    except ValueError:  # matches the pattern but is no date, e.g. month 13
        due = None
    if due is None:
        raise FailureEventException(self._create_failure_event(env, timestamp))
    while env.is_running() and (remaining := due - time.time()) > 0:
        env.program_state_event.wait(remaining)


def patch() -> None:
    seams = (
        "_eval_body",
        "_get_wait_seconds",
        "_is_valid_timestamp_pattern",
        "_create_failure_event",
    )
    for seam in seams:
        assert hasattr(Timestamp, seam), f"moto moved Timestamp.{seam}"
    setattr(Timestamp, "_eval_body", _eval_body)  # noqa: B010
