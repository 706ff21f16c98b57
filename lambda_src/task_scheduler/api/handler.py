"""API function: the task routes (routes/), and how every refusal becomes an HTTP answer.

No Powertools Tracer: importing the X-Ray SDK creates X-Ray clients and adds about half of
boto3's own cold start; with tracing on, Lambda's active tracing still records every invocation.
"""

import binascii
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from task_scheduler.api.errors import TaskRejected
from task_scheduler.api.models import ErrorDetail, ErrorResponse
from task_scheduler.api.request_body import EXPECTED, parse_request_body
from task_scheduler.api.routes import read, write

# Step Functions and DynamoDB errors that mean "try again later"; botocore has retried them.
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequests",
        "ServiceUnavailable",
        "RequestLimitExceeded",
        "ExecutionLimitExceeded",
        "ProvisionedThroughputExceededException",
    }
)
RETRY_AFTER_SECONDS = 5
# Keep error bodies small whatever the request: a Lambda answer is at most 6 MB.
MAX_REPORTED_ERRORS = 20
MAX_FIELD_NAME_CHARS = 100
# Malformed query and path parameters answer 400, with these rules (else pydantic's error type).
_PARAMETER_RULES = {"status": "invalid_filter", "limit": "invalid_filter", "next": "invalid_token"}

logger = Logger()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=parse_request_body)
app.include_router(write.router)
app.include_router(read.router)


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
    errors = exc.errors()
    parameters = [e for e in errors if e["loc"][0] != "body"]
    if parameters:
        # loc is ("query" | "path" | "header", name).
        details = [
            ErrorDetail(
                field=str(e["loc"][1]),
                rule=_PARAMETER_RULES.get(str(e["loc"][1]), e["type"]),
                detail=e["msg"],
            )
            for e in parameters
        ]
        names = ", ".join(dict.fromkeys(str(d.field) for d in details))
        return _error_response(HTTPStatus.BAD_REQUEST, f"Invalid parameters: {names}.", details)
    # Powertools reads a body without Content-Type as JSON, and a form body as a form.
    content_type = app.current_event.headers.get("content-type", "").strip()
    if content_type and not content_type.startswith(content_types.APPLICATION_JSON):
        return _unsupported_media_type()
    if errors[0]["loc"] == ("body",) and errors[0]["type"] == "missing":  # only an empty body
        return _single_error(
            HTTPStatus.BAD_REQUEST, "The request body is empty.", "invalid_json", EXPECTED
        )
    # loc is ("body", field, ...), or ("body",) for a rule on the body as a whole; what follows
    # the field is pydantic's own bookkeeping.
    details = [
        ErrorDetail(
            field=str(e["loc"][1])[:MAX_FIELD_NAME_CHARS] if len(e["loc"]) > 1 else None,
            rule=e["type"],
            detail=e["msg"],
        )
        for e in errors[:MAX_REPORTED_ERRORS]
    ]
    fields = ", ".join(dict.fromkeys(d.field or "body" for d in details))
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
    return _error_response(exc.status, exc.message, exc.errors)


@app.not_found
def _no_route(_: NotFoundError) -> Response[dict[str, Any]]:
    method, path = app.current_event.request_context.http.method, app.current_event.path
    return _single_error(
        HTTPStatus.NOT_FOUND, "No such route.", "no_route", f"{method} {path} is not a route"
    )


@app.exception_handler([ClientError, BotoCoreError])  # type: ignore[untyped-decorator]
def _upstream_failed(exc: Exception) -> Response[dict[str, Any]]:
    logger.exception("An AWS call failed")
    code, operation = None, None
    if isinstance(exc, ClientError):
        code, operation = exc.response.get("Error", {}).get("Code"), exc.operation_name
    if code in THROTTLING_CODES:
        return _single_error(
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"The scheduler is busy: retry in {RETRY_AFTER_SECONDS} seconds.",
            "upstream_throttled",
            f"{operation}: {code}",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return _single_error(
        HTTPStatus.BAD_GATEWAY,
        "The scheduler could not reach an AWS service.",
        "upstream_error",
        f"{operation}: {code}" if code else type(exc).__name__,
    )


# log_event=False whatever POWERTOOLS_LOGGER_LOG_EVENT says: the event carries credentials
# (Authorization, X-Amz-Security-Token, cookies) and the authorizer's claims.
@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False
)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Media types are case-insensitive, but Powertools compares them as written.
    headers = event.get("headers") or {}
    if "content-type" in headers:
        headers["content-type"] = headers["content-type"].lower()
    return app.resolve(event, context)
