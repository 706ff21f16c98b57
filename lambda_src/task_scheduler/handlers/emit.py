"""Emit function: hold until a task's exact millisecond, then publish its message to SNS.

The state machine invokes it at a whole second at least the emission lead before the timestamp
(see timing.py); it never publishes before the timestamp, whatever the Wait did. Errors
propagate, so that the state machine's Retry and Catch (dead-letter queue) handle them.

Its imports are kept to boto3 plus the Powertools Logger and Metrics: a cold start eats into
the lead. No Tracer (the X-Ray SDK would add more to the cold start than boto3 itself) and no
pydantic: with tracing on, Lambda's active tracing still records every invocation.
"""

from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from task_scheduler import aws, timing
from task_scheduler.emission import build_sns_message
from task_scheduler.emit_settings import EmitSettings
from task_scheduler.tasks import Task
from task_scheduler.timestamps import format_timestamp

# Time kept, out of the function's timeout, for publishing after the hold.
PUBLISH_RESERVE_SECONDS = 10.0

logger = Logger()
metrics = Metrics()


class TaskNotDue(Exception):
    """Invoked so early that holding until the timestamp would outlast the function's timeout:
    failing lets the state machine's Retry invoke it again later."""


@logger.inject_lambda_context(correlation_id_path="id")
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = EmitSettings.from_env()
    task = Task.from_execution_input(event)
    # Everything but the publish itself happens before the hold, so that the publish goes out
    # at the instant: on a cold start, creating the SNS client alone takes tens of ms.
    sns_message = build_sns_message(task)
    sns = aws.client("sns")
    budget = context.get_remaining_time_in_millis() / 1000 - PUBLISH_RESERVE_SECONDS
    now, held_seconds = timing.hold_until(task.timestamp, budget_seconds=budget)
    if now < task.timestamp:
        raise TaskNotDue(f"task {task.id} is due at {format_timestamp(task.timestamp)}")
    published = sns.publish(
        TopicArn=settings.topic_arn,
        Message=sns_message.body,
        MessageAttributes=sns_message.attributes,
    )
    emitted_at = timing.utc_now()
    lateness_ms = round((emitted_at - task.timestamp).total_seconds() * 1000, 1)
    result = {
        "id": task.id,
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
