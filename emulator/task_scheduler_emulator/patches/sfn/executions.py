"""Step Functions execution lifecycle as AWS documents it (start, stop, context times).

**StopExecution** (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html):
"Stops an execution" and answers ``stopDate``. On AWS the execution is ABORTED when the call
returns, its history ends with ``ExecutionAborted`` at that time, and no later state runs. A task
already running is not interrupted: Step Functions "does absolutely nothing to stop a running
task" (https://stackoverflow.com/questions/45596276, tested answer; the issue's premise too), so
a Lambda invocation in flight runs to its end, but its result is never recorded and nothing
after it runs. moto 5.2.5 instead only flags the interpreter: the execution stays RUNNING (and
StopExecution answers no ``stopDate``) until the interpreter's thread notices, which is after
the in-flight Lambda invocation returns, seconds later; the history then records that task's
result, then ``ExecutionAborted`` at the late time. This wraps ``moto.stepfunctions.parser.
backend.execution.Execution.stop`` to close a running execution at once (ABORTED, ``stopDate``,
``ExecutionAborted``) and drop any history event its thread records afterwards; the thread's
own late status update is ignored. Stopping a closed execution changes nothing (moto's and
this module's behaviour; AWS documents no error for it). moto also fails StopExecution with a
500 when it arrives while the execution's thread is still parsing the definition, and ignores
it (the execution runs on) just after; both within milliseconds of StartExecution, which is
when the scheduler's api stops an execution it started for a conflicting request. The stop
waits for that thread to begin the program instead.

**StartExecution** (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html):
with the same name, "the new execution doesn't run": the same input on a running execution
answers success (the original's ARN and start date), a different input or a closed execution
``ExecutionAlreadyExists``; without a name Step Functions generates a UUID. moto implements the
rules but (a) without a lock, so racing starts with one name could both pass the check, and
(b) names an unnamed execution ``None`` (so a second unnamed start is ExecutionAlreadyExists),
and (c) skips the name rules ("A name must not contain: whitespace, brackets ..., wildcard
characters ..., special characters ..., control characters"; at most 80 characters), which
moto's non-interpreting backend enforces with ``_validate_name``. Starts are serialised (one
lock: a start takes milliseconds), an unnamed execution gets a UUID, and names are validated.

**Context object times** (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html):
``$$.Execution.StartTime`` and ``$$.State.EnteredTime`` are ISO 8601 with milliseconds and
``Z`` (``2019-03-26T20:14:13.192Z``); moto gives microseconds and ``+00:00``. A state machine
that writes ``$$.State.EnteredTime`` into a table (as the module's MarkFailed does) would store
a different format locally than on AWS. Both are formatted as AWS does.
"""

from __future__ import annotations

import datetime
import functools
import threading
import time
import types
import uuid
from typing import Any

from moto.stepfunctions.parser.api import (
    ExecutionAbortedEventDetails,
    ExecutionStatus,
    HistoryEventType,
)
from moto.stepfunctions.parser.asl.component.state import state as state_module
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
from moto.stepfunctions.parser.backend import execution as execution_module
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

Execution = execution_module.Execution
_Communication = execution_module.BaseExecutionWorkerCommunication

_stop = Execution.stop
_details = Execution.get_start_execution_details
_reflect: Any = _Communication._reflect_execution_status
_add_event = EventManager.add_event
_start = StepFunctionsParserBackend.start_execution

_CLOSED = "_task_scheduler_closed"  # on an EventManager: record nothing more
_STOPPED = "_task_scheduler_stopped"  # on an Execution: closed by StopExecution
_start_lock = threading.Lock()
ENVIRONMENT_WAIT_SECONDS = 5.0


def aws_timestamp(moment: datetime.datetime) -> str:
    """ISO 8601 as in Step Functions' context object: UTC, milliseconds, ``Z``."""
    if moment.tzinfo is None:  # moto's naive datetimes are UTC
        moment = moment.replace(tzinfo=datetime.UTC)
    moment = moment.astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _ContextDatetime(datetime.datetime):
    """``datetime.datetime`` whose ``isoformat()`` is the context object's format."""

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> str:
        return aws_timestamp(self)


def _add_event_unless_closed(self: EventManager, *args: Any, **kwargs: Any) -> int:
    if self.__dict__.get(_CLOSED):
        return 0  # the execution was stopped: AWS records nothing after ExecutionAborted
    return int(_add_event(self, *args, **kwargs))


def _stop_now(
    self: Any, stop_date: datetime.datetime, error: str | None, cause: str | None
) -> None:
    worker = self.exec_worker
    deadline = time.monotonic() + ENVIRONMENT_WAIT_SECONDS
    while (  # its thread has not begun the program yet: moto would fail or miss the stop
        worker is not None
        and getattr(worker.env, "_program_state", None) is None
        and self.exec_status == ExecutionStatus.RUNNING
        and time.monotonic() < deadline
    ):
        time.sleep(0.001)
    if worker is None or worker.env is None or self.exec_status != ExecutionStatus.RUNNING:
        _stop(self, stop_date, error, cause)  # not running: nothing changes
        return
    if stop_date.tzinfo is None:
        stop_date = stop_date.replace(tzinfo=datetime.UTC)
    _stop(self, stop_date, error, cause)
    env = worker.env
    if not isinstance(env.program_state(), ProgramStopped):
        return  # it ended on its own just before; its thread reports how
    setattr(self, _STOPPED, True)
    self.exec_status = ExecutionStatus.ABORTED
    self.stop_date = stop_date
    events = env.event_manager
    events.__dict__[_CLOSED] = True
    env.event_history_context.source_event_id = 0
    details = ExecutionAbortedEventDetails(error=error, cause=cause)
    _add_event(
        events,
        context=env.event_history_context,
        event_type=HistoryEventType.ExecutionAborted,
        event_details=EventDetails(executionAbortedEventDetails=details),  # type: ignore[typeddict-item]
        timestamp=stop_date,
    )


def _reflect_unless_stopped(self: Any) -> None:
    if not getattr(self.execution, _STOPPED, False):
        _reflect(self)


def _details_with_aws_start_time(self: Any) -> Any:
    details = _details(self)
    setattr(details, "start_time", aws_timestamp(self.start_date))  # noqa: B010 (Final in moto)
    return details


@functools.wraps(_start)
def _start_serialised(
    self: StepFunctionsParserBackend,
    state_machine_arn: str,
    name: Any = None,
    execution_input: Any = None,
    trace_header: Any = None,
) -> Any:
    if name is not None:
        self._validate_name(name)  # moto's rules for the other backend, skipped by this one
    with _start_lock:
        name = name or str(uuid.uuid4())
        return _start(self, state_machine_arn, name, execution_input, trace_header)


def patch() -> None:
    assert getattr(state_module, "datetime", None) is datetime or isinstance(
        getattr(state_module, "datetime", None), types.SimpleNamespace
    ), "moto's state.py no longer uses the datetime module"
    for owner, seam in (
        (Execution, "stop"),
        (Execution, "get_start_execution_details"),
        (_Communication, "_reflect_execution_status"),
        (EventManager, "add_event"),
    ):
        assert callable(getattr(owner, seam, None)), f"moto moved {owner.__name__}.{seam}"
    assert callable(getattr(StepFunctionsParserBackend, "_validate_name", None))
    # state.py stamps $$.State.EnteredTime with datetime.datetime.now(tz=utc).isoformat().
    shim = types.SimpleNamespace(datetime=_ContextDatetime, timezone=datetime.timezone)
    setattr(state_module, "datetime", shim)  # noqa: B010
    Execution.stop = _stop_now  # type: ignore[method-assign]
    Execution.get_start_execution_details = _details_with_aws_start_time  # type: ignore[method-assign]
    _Communication._reflect_execution_status = _reflect_unless_stopped  # type: ignore[method-assign]
    EventManager.add_event = _add_event_unless_closed  # type: ignore[method-assign]
    StepFunctionsParserBackend.start_execution = _start_serialised  # type: ignore[method-assign]
