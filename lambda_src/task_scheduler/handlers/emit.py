"""Emit function: publish a scheduled task's message to SNS once its timestamp has come.

Errors propagate, so that the state machine's Retry and Catch (dead-letter queue) handle them.
"""

from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from task_scheduler import aws
from task_scheduler.emission import build_sns_message, lateness_seconds
from task_scheduler.models import EmissionResult, ScheduledTask
from task_scheduler.settings import EmitSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path="id")
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser
def lambda_handler(task: ScheduledTask, context: LambdaContext) -> dict[str, Any]:
    settings = EmitSettings.from_env()
    sns_message = build_sns_message(task)
    published = aws.client("sns").publish(
        TopicArn=settings.topic_arn,
        Message=sns_message.body,
        MessageAttributes=sns_message.attributes,
    )
    now = datetime.now(UTC)
    result = EmissionResult(
        id=task.id,
        message_id=published["MessageId"],
        emitted_at=now,
        lateness_seconds=lateness_seconds(task, now),
    )
    logger.info("Emitted task", extra=result.model_dump(mode="json"))
    metrics.add_metric(name="TasksEmitted", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="EmissionLateness", unit=MetricUnit.Seconds, value=result.lateness_seconds
    )
    return result.model_dump(mode="json")
