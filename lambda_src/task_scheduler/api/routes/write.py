"""Routes that change tasks: schedule, cancel, reschedule."""

from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from aws_lambda_powertools.metrics import MetricUnit

from task_scheduler.api.models import (
    TASK_ID_SCHEMA,
    RescheduleRequest,
    ScheduleRequest,
    ScheduleResponse,
    TaskResponse,
)
from task_scheduler.api.routes.common import TaskIdPath, answer, errors
from task_scheduler.api.service import Scheduled, TaskService

logger = Logger(child=True)
metrics = Metrics()
router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools' __init__

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="The task id, as the body's `id` also sets it (both: they must agree).",
        json_schema_extra=TASK_ID_SCHEMA,
    ),
]


@router.post(
    "/schedule",
    operation_id="scheduleTask",
    summary="Schedule a task",
    description="Schedule `message` for publication to the topic at `timestamp`. With an id "
    "(body `id` or Idempotency-Key header), retrying is safe within the deduplication window: "
    "Step Functions keeps a task's execution names 90 days after the task closes. The id of a "
    "failed (dead-lettered) task with the same timestamp and message schedules it again, as its "
    "next version: that is how `task-scheduler redrive` re-runs the dead-letter queue.",
    responses={
        201: answer(
            "Scheduled; or a failed task with this id, timestamp and message scheduled again.",
            ScheduleResponse,
        ),
        200: answer(
            "A replay: the task with this id, timestamp and message exists (scheduled, "
            "emitted or cancelled); nothing was done.",
            ScheduleResponse,
        ),
        **errors(400, 409, 413, 415, 422),
    },
)
def schedule(
    request: ScheduleRequest, idempotency_key: IdempotencyKey = None
) -> Response[ScheduleResponse]:
    answered, scheduled = TaskService.from_env().schedule(request, idempotency_key)
    details = answered.model_dump(mode="json", exclude={"message"})
    if scheduled is Scheduled.CREATED:
        logger.info("Scheduled task", extra=details)
        metrics.add_metric(name="TasksScheduled", unit=MetricUnit.Count, value=1)
    elif scheduled is Scheduled.REDRIVEN:
        logger.info("Scheduled a failed task again", extra=details)
        metrics.add_metric(name="TasksRedriven", unit=MetricUnit.Count, value=1)
    else:
        logger.info("Replayed a request", extra=details)
    return Response(
        status_code=HTTPStatus.OK if scheduled is Scheduled.REPLAYED else HTTPStatus.CREATED,
        content_type=content_types.APPLICATION_JSON,
        body=answered,
    )


@router.delete(
    "/schedule/<id>",
    operation_id="cancelTask",
    summary="Cancel a task",
    description="A cancelled task is never emitted, even when the cancel races its timestamp. "
    "Cancelling a cancelled task answers it again; an emitted or failed one answers 409.",
    responses={200: answer("Cancelled.", TaskResponse), **errors(400, 404, 409)},
)
def cancel(id: TaskIdPath) -> TaskResponse:
    cancelled = TaskService.from_env().cancel(id)
    logger.info("Cancelled task", extra={"id": id, "version": cancelled.version})
    metrics.add_metric(name="TasksCancelled", unit=MetricUnit.Count, value=1)
    return cancelled


@router.patch(
    "/schedule/<id>",
    operation_id="rescheduleTask",
    summary="Reschedule a task",
    description="Change a scheduled task's timestamp, message or both; it keeps its id and "
    "its version grows. Exactly one of the old and new versions is ever emitted.",
    responses={200: answer("Rescheduled.", TaskResponse), **errors(400, 404, 409, 413, 415, 422)},
)
def reschedule(id: TaskIdPath, request: RescheduleRequest) -> TaskResponse:
    rescheduled = TaskService.from_env().reschedule(id, request)
    logger.info("Rescheduled task", extra={"id": id, "version": rescheduled.version})
    metrics.add_metric(name="TasksRescheduled", unit=MetricUnit.Count, value=1)
    return rescheduled
