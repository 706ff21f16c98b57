"""API function: validate POST /schedule, then start the Step Functions execution that waits.

No Powertools Tracer: importing the X-Ray SDK creates X-Ray clients and adds about half of
boto3's own cold start; with tracing on, Lambda's active tracing still records every invocation.
"""

import binascii
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from task_scheduler import aws, scheduling
from task_scheduler.errors import BeyondHorizon, InvalidBody, TaskRejected, TooLarge
from task_scheduler.models import ErrorDetail, ErrorResponse, ScheduleRequest, ScheduleResponse
from task_scheduler.request_body import EXPECTED, parse_request_body
from task_scheduler.settings import ApiSettings

# Step Functions errors that mean "try again later"; botocore has already retried them.
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequests",
        "ServiceUnavailable",
        "RequestLimitExceeded",
        "ExecutionLimitExceeded",
    }
)
RETRY_AFTER_SECONDS = 5
# Keep error bodies small whatever the request: a Lambda answer is at most 6 MB.
MAX_REPORTED_ERRORS = 20
MAX_FIELD_NAME_CHARS = 100
_REJECTION_STATUS: dict[type[TaskRejected], HTTPStatus] = {
    InvalidBody: HTTPStatus.BAD_REQUEST,
    BeyondHorizon: HTTPStatus.UNPROCESSABLE_ENTITY,
    TooLarge: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
}

logger = Logger()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=parse_request_body)


@app.post("/schedule")
def schedule(request: ScheduleRequest) -> Response[ScheduleResponse]:
    settings = ApiSettings.from_env()
    now = datetime.now(UTC)
    task = scheduling.build_task(request, now=now, max_horizon_seconds=settings.max_horizon_seconds)
    execution_input = scheduling.encode_execution_input(
        task, lead_seconds=settings.emission_lead_seconds
    )
    _start_execution(settings.state_machine_arn, task.id, execution_input)
    answer = scheduling.describe(task, now=now)
    logger.info("Scheduled task", extra=answer.model_dump(mode="json", exclude={"message"}))
    metrics.add_metric(name="TasksScheduled", unit=MetricUnit.Count, value=1)
    return Response(
        status_code=HTTPStatus.CREATED, content_type=content_types.APPLICATION_JSON, body=answer
    )


def _start_execution(state_machine_arn: str, name: str, execution_input: str) -> None:
    try:
        aws.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=name, input=execution_input
        )
    except ClientError as error:
        # The name is a fresh uuid4, so only our own earlier attempt can hold it: botocore
        # retried a call that had started the execution but timed out before answering.
        if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise


def _error_response(
    status: HTTPStatus,
    message: str,
    errors: Sequence[ErrorDetail],
    headers: Mapping[str, str] | None = None,
) -> Response[dict[str, Any]]:
    logger.info(
        "Answered with an error", extra={"status": status, "rules": [e.rule for e in errors]}
    )
    metrics.add_metric(
        name="UpstreamFailures" if status >= 500 else "RequestsRejected",
        unit=MetricUnit.Count,
        value=1,
    )
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=ErrorResponse(message=message, errors=list(errors)).model_dump(mode="json"),
        headers=headers,
    )


def _single_error(
    status: HTTPStatus,
    message: str,
    rule: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
) -> Response[dict[str, Any]]:
    error = ErrorDetail(field=None, rule=rule, detail=detail)
    return _error_response(status, message, [error], headers)


# Powertools types its route decorators but not exception_handler: hence the type: ignore.
@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def _invalid_request(exc: RequestValidationError) -> Response[dict[str, Any]]:
    # Powertools reads a body without Content-Type as JSON, and a form body as a form.
    content_type = app.current_event.headers.get("content-type", "").strip()
    if content_type and not content_type.startswith(content_types.APPLICATION_JSON):
        return _unsupported_media_type()
    errors = exc.errors()
    if len(errors[0]["loc"]) == 1:  # the body as a whole: only an empty one gets here
        return _single_error(
            HTTPStatus.BAD_REQUEST, "The request body is empty.", "invalid_json", EXPECTED
        )
    # loc is ("body", field, ...); what follows the field is pydantic's own bookkeeping.
    details = [
        ErrorDetail(field=str(e["loc"][1])[:MAX_FIELD_NAME_CHARS], rule=e["type"], detail=e["msg"])
        for e in errors[:MAX_REPORTED_ERRORS]
    ]
    fields = ", ".join(dict.fromkeys(str(d.field) for d in details))
    return _error_response(
        HTTPStatus.UNPROCESSABLE_ENTITY, f"Invalid request fields: {fields}.", details
    )


def _unsupported_media_type() -> Response[dict[str, Any]]:
    return _single_error(
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        "The request body must be JSON.",
        "unsupported_media_type",
        "send the body with Content-Type: application/json",
    )


# Powertools raises it for a body that is neither JSON nor a form.
@app.exception_handler(NotImplementedError)  # type: ignore[untyped-decorator]
def _not_json(_: NotImplementedError) -> Response[dict[str, Any]]:
    return _unsupported_media_type()


# Powertools raises them decoding a base64-encoded body.
@app.exception_handler([binascii.Error, UnicodeDecodeError])  # type: ignore[untyped-decorator]
def _undecodable_body(_: Exception) -> Response[dict[str, Any]]:
    return _single_error(
        HTTPStatus.BAD_REQUEST,
        "The request body is not valid JSON.",
        "invalid_json",
        "the base64-encoded body does not decode to UTF-8 text",
    )


@app.exception_handler(TaskRejected)  # type: ignore[untyped-decorator]
def _task_rejected(exc: TaskRejected) -> Response[dict[str, Any]]:
    return _error_response(_REJECTION_STATUS[type(exc)], exc.message, exc.errors)


@app.exception_handler([ClientError, BotoCoreError])  # type: ignore[untyped-decorator]
def _upstream_failed(exc: Exception) -> Response[dict[str, Any]]:
    logger.exception("StartExecution failed")
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
    if code in THROTTLING_CODES:
        return _single_error(
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"The scheduler is busy: retry in {RETRY_AFTER_SECONDS} seconds.",
            "upstream_throttled",
            f"Step Functions: {code}",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return _single_error(
        HTTPStatus.BAD_GATEWAY,
        "The scheduler could not start the task.",
        "upstream_error",
        f"Step Functions: {code or type(exc).__name__}",
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Media types are case-insensitive, but Powertools compares them as written.
    headers = event.get("headers") or {}
    if "content-type" in headers:
        headers["content-type"] = headers["content-type"].lower()
    return app.resolve(event, context)
