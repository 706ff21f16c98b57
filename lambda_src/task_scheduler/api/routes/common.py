"""What the routes share: the task id path parameter, and the answers they document in the
OpenAPI document (docs/openapi.json)."""

from typing import Annotated

from aws_lambda_powertools.event_handler import content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from pydantic import BaseModel

from task_scheduler.api.models import ErrorResponse, GatewayResponse, TaskId

TaskIdPath = Annotated[TaskId, Path(description="The task id.")]

_ERRORS = {
    400: "The body is not a JSON object, or a path or query parameter is malformed "
    "(rules invalid_json, not_an_object, invalid_id, invalid_filter, invalid_token).",
    404: "No task has this id (rule not_found).",
    409: "The id holds another task (id_conflict), the task is no longer scheduled "
    "(not_scheduled), or it changed while the request was handled (concurrent_update).",
    413: "The body or the task's message is too large (rule too_large).",
    415: "The body is not sent as application/json (rule unsupported_media_type).",
    422: "A body field breaks a rule: each error names the field and the rule.",
    502: "An AWS service the scheduler uses failed (rule upstream_error).",
    503: "An AWS service the scheduler uses is throttling it (rule upstream_throttled): "
    "retry after Retry-After seconds.",
}

# API Gateway answers these itself, with a body of its own ({"message": ...}).
_GATEWAY_ANSWERS = {
    401: "JWT authorization: the bearer token is missing or invalid.",
    403: "AWS_IAM authorization: the request is unsigned, wrongly signed, or its caller may not "
    "invoke this route; JWT authorization: the token lacks the route's scope.",
    429: "Past the stage's or the route's throttling limits: retry later.",
}


# Built afresh for each route: Powertools rewrites these dictionaries as it generates the document.
def answer(description: str, model: type[BaseModel]) -> OpenAPIResponse:
    return {
        "description": description,
        "content": {content_types.APPLICATION_JSON: {"model": model}},
    }


def errors(*statuses: int) -> dict[int, OpenAPIResponse]:
    """The error answers `statuses`, plus those every route may give (502, 503, and API
    Gateway's own 401, 403 and 429)."""
    documented = {
        status: answer(_ERRORS[status], ErrorResponse) for status in (*statuses, 502, 503)
    }
    documented[503]["headers"] = {
        "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
    }
    for status, description in _GATEWAY_ANSWERS.items():
        documented[status] = answer(description, GatewayResponse)
    return documented
