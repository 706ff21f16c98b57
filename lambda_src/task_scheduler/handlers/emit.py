"""Emit function: hold until a task's exact millisecond, claim it, then publish it to SNS.

The state machine invokes it with `{"task": <execution input>, "execution_arn": ...}` at a whole
second at least the emission lead before the timestamp (see timing.py); it never publishes
before the timestamp, whatever the Wait did. Errors propagate, so that the state machine's Retry
and Catch (dead-letter queue) handle them.

Before publishing, it claims the task in the registry: scheduled -> emitted, for its version.
A cancel or reschedule that committed first makes the claim fail, and nothing is published; one
that comes later finds the task emitted and is refused. When its execution only ends a segment of
a task beyond one execution's reach, it starts the follow-on execution instead.

The claim lets a retry of the same version publish (its earlier attempt may have failed to).
With IDEMPOTENCY_TABLE_NAME set, the hold, the claim and the publish run under the Powertools
Idempotency utility, keyed on the task id and version: a retry after a successful publish
answers the recorded result and publishes nothing. See idempotency.py for its configuration and
for the duplicates that remain possible.

Its imports are kept to boto3 plus the Powertools Logger and Metrics, and its clients are built
at init: a cold start eats into the lead. No Tracer (the X-Ray SDK would add more to the cold
start than boto3 itself) and no pydantic: with tracing on, Lambda's active tracing still records
every invocation. The idempotency utility is imported at its first use, before the hold.

Whatever fails leaves it as a short error of the same type (bounded_message): Step Functions adds
the error to the state it dead-letters, which must stay within 256 KiB.
"""

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.client import BaseClient

from task_scheduler import aws, decisions, idempotency, tasks, timing
from task_scheduler.decisions import Decision, Verdict
from task_scheduler.emission import SnsMessage, build_sns_message
from task_scheduler.emit_settings import EmitSettings
from task_scheduler.executions import Executions
from task_scheduler.registry import ConditionFailed, Registry
from task_scheduler.tasks import TaskExecution
from task_scheduler.timestamps import format_timestamp

# Time kept, out of the function's timeout, for claiming and publishing after the hold.
PUBLISH_RESERVE_SECONDS = 10.0
# The api function registers a task right after starting its execution: an execution released at
# once (a timestamp in the past) may find no record yet. It waits this long before failing.
REGISTRATION_WAIT_SECONDS = 2.0
REGISTRATION_POLL_SECONDS = 0.2

# Step Functions adds a failed invocation's error (its type, message and stack trace) to the
# state with which the Catch sends the task to the dead-letter queue; that state may hold at most
# 256 KiB, and one larger fails the execution with States.DataLimitExceeded, which no Catch
# takes (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
# Every error leaves this function within this many characters, with no stack trace beyond the
# handler, so the dead-letter state fits the room scheduling.DEAD_LETTER_RESERVE_BYTES keeps.
MAX_ERROR_MESSAGE_CHARS = 1000

logger = Logger()
metrics = Metrics()
# Built once per execution environment, at init: a warm invocation reuses them.
aws.client("sns")
aws.client("dynamodb")


class TaskNotDue(Exception):
    """Invoked so early that holding until the timestamp would outlast the function's timeout:
    failing lets the state machine's Retry invoke it again later."""


class TaskNotRegistered(Exception):
    """The task's record does not show this version yet: failing lets the state machine's
    Retry invoke the function again later."""


# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: the event carries the message.
@logger.inject_lambda_context(correlation_id_path="task.id", log_event=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        return _handle(event, context)
    except Exception as error:
        error.args = (bounded_message(error),)
        logger.exception("Emission failed")
        raise error.with_traceback(None) from None


def bounded_message(error: Exception) -> str:
    """`error`'s message as at most MAX_ERROR_MESSAGE_CHARS printable ASCII characters."""
    text = "".join(c if " " <= c <= "~" else "?" for c in str(error))
    if len(text) > MAX_ERROR_MESSAGE_CHARS:
        text = text[: MAX_ERROR_MESSAGE_CHARS - 3] + "..."
    return text


def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = EmitSettings.from_env()
    execution, execution_arn = _parse(event)
    task = execution.task
    # Everything but the claim and the publish happens before the hold, so that they go out at
    # the instant: on a cold start, creating a client alone takes tens of ms.
    sns_message = build_sns_message(task)
    sns = aws.client("sns")
    registry = Registry(settings.tasks_table_name)
    final_release = timing.release_at(task.timestamp, settings.emission_lead_seconds)
    if decisions.continues(execution, final_release=final_release, now=timing.utc_now()):
        return _hand_on(execution, execution_arn, registry, settings, final_release)

    def emit() -> dict[str, Any]:
        return _emit(execution, sns_message, sns, registry, settings.topic_arn, context)

    if not settings.idempotency_table_name:
        return emit()
    # Its INPROGRESS write happens here, before the hold: it costs the instant nothing.
    result, recorded = idempotency.once(
        settings.idempotency_table_name, task.id, execution.version, context, emit
    )
    if recorded:
        logger.info(
            "Already emitted: answered the recorded result, published nothing", extra=result
        )
        metrics.add_metric(name="EmissionsReplayed", unit=MetricUnit.Count, value=1)
    return result


def _emit(
    execution: TaskExecution,
    sns_message: SnsMessage,
    sns: BaseClient,
    registry: Registry,
    topic_arn: str,
    context: LambdaContext,
) -> dict[str, Any]:
    """Hold until the task's instant, claim it, publish it."""
    task = execution.task
    budget = context.get_remaining_time_in_millis() / 1000 - PUBLISH_RESERVE_SECONDS
    now, held_seconds = timing.hold_until(task.timestamp, budget_seconds=budget)
    if now < task.timestamp:
        raise TaskNotDue(f"task {task.id} is due at {format_timestamp(task.timestamp)}")
    claim = _when_registered(lambda: _claim(registry, execution))
    if claim.verdict is Verdict.SKIP:
        return _skipped(execution, claim.reason)
    published = sns.publish(
        TopicArn=topic_arn,
        Message=sns_message.body,
        MessageAttributes=sns_message.attributes,
    )
    emitted_at = timing.utc_now()
    lateness_ms = round((emitted_at - task.timestamp).total_seconds() * 1000, 1)
    result = {
        "id": task.id,
        "version": execution.version,
        "message_id": published["MessageId"],
        "timestamp": format_timestamp(task.timestamp),
        "emitted_at": format_timestamp(emitted_at),
        "held_ms": round(held_seconds * 1000, 1),
        "lateness_ms": lateness_ms,
    }
    logger.info("Emitted task", extra=result)
    metrics.add_metric(name="TasksEmitted", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="EmissionLateness", unit=MetricUnit.Milliseconds, value=lateness_ms)
    return result


def _parse(event: Mapping[str, Any]) -> tuple[TaskExecution, str]:
    if not isinstance(event, Mapping) or not isinstance(event.get("execution_arn"), str):
        raise ValueError("expected an event with the task and its execution_arn")
    return TaskExecution.from_execution_input(event.get("task")), event["execution_arn"]


def _claim(registry: Registry, execution: TaskExecution) -> Decision:
    try:
        registry.claim(execution.task.id, execution.version, timing.utc_now())
    except ConditionFailed as failed:
        return decisions.after_failed_claim(failed.current, execution.version)
    return Decision(Verdict.PROCEED)


def _when_registered(decide: Callable[[], Decision]) -> Decision:
    """`decide()`, again while it finds the task not registered yet, for a short while."""
    deadline = time.monotonic() + REGISTRATION_WAIT_SECONDS
    decision = decide()
    while decision.verdict is Verdict.WAIT:
        if time.monotonic() >= deadline:
            raise TaskNotRegistered(decision.reason)
        time.sleep(REGISTRATION_POLL_SECONDS)
        decision = decide()
    return decision


def _hand_on(
    execution: TaskExecution,
    execution_arn: str,
    registry: Registry,
    settings: EmitSettings,
    final_release: datetime,
) -> dict[str, Any]:
    """Carry the task on in its next segment's execution, if this version still owns it."""
    task = execution.task
    owner = _when_registered(
        lambda: decisions.segment_owner(registry.get(task.id), execution.version)
    )
    if owner.verdict is Verdict.SKIP:
        return _skipped(execution, owner.reason)
    now = timing.utc_now()
    following = TaskExecution(
        task,
        version=execution.version,
        segment=execution.segment + 1,
        release_at=decisions.segment_release(
            final_release, now, settings.execution_segment_seconds
        ),
    )
    executions = Executions(tasks.state_machine_arn(execution_arn))
    # Only an earlier attempt of this hand-on can hold the name: if the task has moved on since,
    # the registry's condition refuses it below. (No DescribeExecution: the role lacks it.)
    started = executions.start_unless_taken(following) or tasks.execution_arn(
        executions.state_machine_arn, following.name
    )
    try:
        registry.hand_on(task.id, execution.version, started, now)
    except ConditionFailed as failed:  # cancelled or rescheduled since the read
        executions.stop(started, "the task was superseded")
        reason = decisions.segment_owner(failed.current, execution.version).reason
        return _skipped(execution, reason)
    result = {"id": task.id, "version": execution.version, "continued": started}
    logger.info("Continued task in a follow-on execution", extra=result)
    metrics.add_metric(name="TasksContinued", unit=MetricUnit.Count, value=1)
    return result


def _skipped(execution: TaskExecution, reason: str) -> dict[str, Any]:
    result = {"id": execution.task.id, "version": execution.version, "skipped": reason}
    logger.info("Skipped superseded task", extra=result)
    metrics.add_metric(name="TasksSkipped", unit=MetricUnit.Count, value=1)
    return result
