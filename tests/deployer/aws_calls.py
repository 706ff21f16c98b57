"""Recorded HTTP requests back to AWS API calls: service, operation and parameters.

The operation is identified the way the AWS protocols define it, from botocore's service
models: the ``X-Amz-Target`` header (JSON protocol), the ``Action`` parameter (query protocol),
or the HTTP method and request URI template (REST-JSON). A service that offers several
protocols (CloudWatch: Smithy RPC v2 CBOR, JSON and query) is parsed in the one the request
uses, told by its Content-Type. Parameters merge the body, the URI
labels and the query string, under the model's member names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import parse_qs, unquote

import botocore.session
from botocore.model import ServiceModel

from task_scheduler_emulator.patches.request_log import RecordedRequest

# SigV4 signing name -> botocore service names that sign with it.
SERVICES_BY_SIGNING_NAME = {
    "apigateway": ["apigatewayv2"],
    "dynamodb": ["dynamodb"],
    "iam": ["iam"],
    "kms": ["kms"],
    "lambda": ["lambda"],
    "logs": ["logs"],
    "monitoring": ["cloudwatch"],
    "sns": ["sns"],
    "sqs": ["sqs"],
    "states": ["stepfunctions"],
    "sts": ["sts"],
}


@dataclass(frozen=True)
class ApiCall:
    """One AWS API call: ``service`` is the SigV4 signing name (the IAM prefix, mostly)."""

    service: str
    operation: str
    params: dict[str, Any]
    path: str
    method: str
    status: int
    response: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.service}:{self.operation}"


@cache
def service_model(name: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(name)


@cache
def _rest_routes(name: str) -> list[tuple[str, re.Pattern[str], int, str, dict[str, str]]]:
    """(method, path regex, literal length, operation, {label: member}) per operation."""
    model = service_model(name)
    routes = []
    for operation_name in model.operation_names:
        operation = model.operation_model(operation_name)
        http = operation.http
        uri = http["requestUri"].split("?")[0]
        labels: dict[str, str] = {}
        members = operation.input_shape.members if operation.input_shape else {}
        for member, shape in members.items():
            if shape.serialization.get("location") == "uri":
                labels[shape.serialization.get("name", member)] = member
        pattern = ""
        for piece in re.split(r"(\{[^}]+\})", uri):
            if piece.startswith("{"):
                label = piece.strip("{}").rstrip("+")
                # ARNs in a path (tagging) carry slashes: SDKs send them percent-encoded.
                greedy = piece.endswith("+}") or "arn" in label.lower()
                pattern += f"(?P<{label.replace('-', '_')}>{'.+' if greedy else '[^/]+'})"
            else:
                pattern += re.escape(piece)
        literal = len(re.sub(r"\{[^}]+\}", "", uri))
        routes.append(
            (http["method"], re.compile(f"^{pattern}/?$"), literal, operation_name, labels)
        )
    return routes


def _query_members(name: str, operation: str) -> dict[str, str]:
    shape = service_model(name).operation_model(operation).input_shape
    if shape is None:
        return {}
    return {
        s.serialization["name"]: member
        for member, s in shape.members.items()
        if s.serialization.get("location") == "querystring"
    }


def _json(data: bytes) -> dict[str, Any]:
    if not data.strip():
        return {}
    try:
        decoded = json.loads(data)
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def _protocol(model: ServiceModel, request: RecordedRequest) -> str:
    """The protocol of ``request`` among those ``model`` offers (its default otherwise)."""
    offered = model.metadata.get("protocols", [model.protocol])
    content_type = request.headers.get("CONTENT_TYPE", "")
    if "query" in offered and content_type.startswith("application/x-www-form-urlencoded"):
        return "query"
    if "json" in offered and request.headers.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if model.protocol not in {"json", "query", "rest-json"}:
        raise ValueError(f"{model.service_name}: unsupported protocol {model.protocol!r}")
    return str(model.protocol)


def parse(request: RecordedRequest) -> ApiCall:
    """The API call a recorded request makes; ValueError if it is none of the known services."""
    names = SERVICES_BY_SIGNING_NAME.get(request.signing_service)
    if not names:
        raise ValueError(f"unknown signing service {request.signing_service!r}: {request.path}")
    name = names[0]
    model = service_model(name)
    protocol = _protocol(model, request)
    params: dict[str, Any]
    if protocol == "json":
        target = request.headers.get("HTTP_X_AMZ_TARGET", "")
        operation = target.rsplit(".", 1)[-1]
        params = _json(request.body)
    elif protocol == "query":
        form = parse_qs(request.body.decode(), keep_blank_values=True)
        form.update(parse_qs(request.query, keep_blank_values=True))
        params = {key: values[0] for key, values in form.items()}
        operation = params.pop("Action")
        params.pop("Version", None)
    else:
        matches = []
        for method, pattern, literal, operation_name, labels in _rest_routes(name):
            found = pattern.match(request.path)
            if method == request.method and found:
                matches.append((literal, operation_name, found, labels))
        if not matches:
            raise ValueError(f"no {name} operation for {request.method} {request.path}")
        _, operation, found, labels = max(matches, key=lambda m: m[0])
        params = _json(request.body)
        for label, member in labels.items():
            params[member] = unquote(found.group(label.replace("-", "_")))
        query = parse_qs(request.query, keep_blank_values=True)
        for key, member in _query_members(name, operation).items():
            if key in query:
                params[member] = query[key][0]
    if operation not in model.operation_names:
        raise ValueError(f"{name} has no operation {operation!r}")
    return ApiCall(
        service=request.signing_service,
        operation=operation,
        params=params,
        path=request.path,
        method=request.method,
        status=request.status,
        response=_json(request.response_body),
    )
