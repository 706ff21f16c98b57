"""Fault injection: the next N calls of one AWS operation fail as AWS would answer them.

Emulator only, never in the product: the handlers run unchanged and see what an SDK sees when
AWS refuses a call. A fault names a service (botocore's name: ``stepfunctions``, ``sns``,
``dynamodb``, ``lambda``, ``sqs``, ...), an operation (``StartExecution``, ``Publish``,
``PutItem``, ``Invoke``, ...), the AWS error code and the HTTP status, and how many calls it
hits. It wraps moto's WSGI entry point (as :mod:`.patches.request_log` does), so it sees every
request the emulator serves: from the Lambda environments' SDKs, from Step Functions' service
integrations, from tests.

The error is written in the wire format of the service's protocol, as AWS writes it, so that
botocore (and any SDK) parses it into the same ``ClientError`` code, message and status:

* JSON protocols (Step Functions, DynamoDB, SQS): the status, ``x-amzn-ErrorType`` and the body
  ``{"__type": code, "message": ...}``; Query-compatible services (SQS) also send
  ``x-amzn-query-error: code;Sender``. DynamoDB documents the shape:
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
* REST-JSON (Lambda): the status, ``x-amzn-ErrorType`` and ``{"Type": "User"|"Service",
  "message": ...}``: https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
* Query (SNS): ``<ErrorResponse><Error><Type>Sender|Receiver</Type><Code>..</Code><Message>..
  </Message></Error><RequestId>..</RequestId></ErrorResponse>``:
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-responses.html

Without an explicit ``status``, the status is the one AWS documents for the code: the service
model's (botocore's data, generated from AWS's: SNS ``AuthorizationError`` 403 and
``NotFound`` 404, https://docs.aws.amazon.com/sns/latest/api/API_Publish.html; Lambda
``ServiceException`` 500 and ``TooManyRequestsException`` 429), else the errors common to all
AWS APIs (``ThrottlingException`` 400, ``ServiceUnavailable`` 503, ``InternalFailure`` 500,
``AccessDeniedException`` 400, ...:
https://docs.aws.amazon.com/step-functions/latest/apireference/CommonErrors.html), else 400
for the other errors a JSON service models (Step Functions and DynamoDB answer their modeled
errors with 400, DynamoDB's ``InternalServerError`` with 500). An unknown code needs a status.

``when``: ``before`` (the default) answers the error without calling the service: nothing
happens. ``after`` calls the service, then answers the error instead of its result: the call
took effect but the caller cannot know (a lost response; Lambda documents that an invocation
may run although Invoke fails, and that callers retry it:
https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html).
``delay_seconds`` holds the call that long first (without ``error_code``: only a delay, then
the service answers normally), as a slow service would. ``contains`` narrows a fault to the
calls whose body, path or query contains that text (a task id, a table name, a topic ARN).

Served by the local stack as ``POST /emulator/faults`` (a fault as JSON: 201 with the fault),
``GET /emulator/faults`` (every fault, with ``remaining`` and ``hits``) and
``DELETE /emulator/faults`` (clear all). State is in memory, in the emulator's process.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote_plus
from xml.sax.saxutils import escape

import botocore.session
from botocore.exceptions import UnknownServiceError
from botocore.model import OperationNotFoundError, ServiceModel
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from . import patches
from .patches.request_log import _signing_service

# Errors common to all AWS APIs, with the status AWS documents for each.
COMMON_ERRORS = {
    "AccessDeniedException": 400,
    "IncompleteSignature": 400,
    "InternalFailure": 500,
    "InvalidAction": 400,
    "InvalidClientTokenId": 403,
    "NotAuthorized": 400,
    "OptInRequired": 403,
    "RequestExpired": 400,
    "ServiceUnavailable": 503,
    "ThrottlingException": 400,
    "ValidationError": 400,
}
SUPPORTED_PROTOCOLS = ("json", "rest-json", "query")
MAX_DELAY_SECONDS = 60.0
_WHEN = ("before", "after")


class InvalidFault(ValueError):
    """A fault that cannot be injected as asked (the route answers 400)."""


@cache
def _model(service: str) -> ServiceModel:
    try:
        return botocore.session.get_session().get_service_model(service)
    except UnknownServiceError as exc:
        raise InvalidFault(f"unknown service {service!r} (use botocore's service name)") from exc


def _protocol(model: ServiceModel) -> str:
    return str(model.metadata["protocol"])


def _signing_names(model: ServiceModel) -> set[str]:
    return {model.metadata.get("signingName") or model.endpoint_prefix, model.endpoint_prefix}


def _uri_pattern(request_uri: str) -> re.Pattern[str]:
    """A REST operation's path template as a regex: {Name} one segment, {Name+} the rest."""
    path = request_uri.split("?", 1)[0]
    parts = re.split(r"(\{[^}]+\})", path)
    regex = "".join(
        ("(.+)" if p.endswith("+}") else "([^/]+)") if p.startswith("{") else re.escape(p)
        for p in parts
    )
    return re.compile(f"^{regex}/?$")


@dataclass
class Fault:
    """The next ``remaining`` calls of ``service`` ``operation`` fail with ``error_code``."""

    service: str
    operation: str
    error_code: str | None
    status: int
    message: str
    remaining: int
    when: str = "before"
    delay_seconds: float = 0.0
    contains: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    hits: int = 0

    @classmethod
    def from_request(cls, spec: Any) -> Fault:
        """A fault from the route's JSON; InvalidFault says what is wrong with it."""
        if not isinstance(spec, dict):
            raise InvalidFault("expected a JSON object")
        known = {"service", "operation", "error_code", "status", "message", "count"}
        known |= {"when", "delay_seconds", "contains"}
        if unknown := sorted(set(spec) - known):
            raise InvalidFault(f"unknown fields: {', '.join(unknown)}")
        service, operation = spec.get("service"), spec.get("operation")
        if not isinstance(service, str) or not isinstance(operation, str):
            raise InvalidFault("service and operation (strings) are required")
        model = _model(service)
        if _protocol(model) not in SUPPORTED_PROTOCOLS:
            raise InvalidFault(f"{service} uses the {_protocol(model)} protocol: not supported")
        try:
            model.operation_model(operation)
        except OperationNotFoundError as exc:
            raise InvalidFault(f"{service} has no operation {operation!r}") from exc
        code, status = spec.get("error_code"), spec.get("status")
        delay = spec.get("delay_seconds", 0)
        if code is not None and (not isinstance(code, str) or not code):
            raise InvalidFault("error_code must be a non-empty string")
        if not isinstance(delay, int | float) or not 0 <= delay <= MAX_DELAY_SECONDS:
            raise InvalidFault(f"delay_seconds must be between 0 and {MAX_DELAY_SECONDS:g}")
        if code is None and not delay:
            raise InvalidFault("give error_code, delay_seconds or both")
        if code is not None and status is None:
            status = documented_status(service, operation, code)
            if status is None:
                raise InvalidFault(
                    f"{code} is not an error AWS documents a status for: give status"
                )
        if code is not None and (not isinstance(status, int) or not 400 <= status <= 599):
            raise InvalidFault("status must be an HTTP error status (400 to 599)")
        count = spec.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise InvalidFault("count must be a positive integer")
        when = spec.get("when", "before")
        if when not in _WHEN:
            raise InvalidFault("when must be 'before' or 'after'")
        contains = spec.get("contains")
        if contains is not None and (not isinstance(contains, str) or not contains):
            raise InvalidFault("contains must be a non-empty string")
        message = spec.get("message") or _default_message(code)
        if not isinstance(message, str):
            raise InvalidFault("message must be a string")
        return cls(
            service=service,
            operation=operation,
            error_code=code,
            status=int(status or 200),
            message=message,
            remaining=count,
            when=when,
            delay_seconds=float(delay),
            contains=contains,
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _default_message(code: str | None) -> str:
    return f"Injected by the emulator: {code}" if code else ""


def documented_status(service: str, operation: str, code: str) -> int | None:
    """The HTTP status AWS answers ``code`` with for this operation, if it documents one."""
    model = _model(service)
    for shape in model.operation_model(operation).error_shapes:
        error = shape.metadata.get("error") or {}
        if code in (shape.name, error.get("code")):
            if "httpStatusCode" in error:
                return int(error["httpStatusCode"])
            if code in COMMON_ERRORS:
                return COMMON_ERRORS[code]
            return 500 if code == "InternalServerError" else 400
    return COMMON_ERRORS.get(code)


@dataclass(frozen=True)
class _Request:
    """What identifies a call: its service's signing name and its operation."""

    signing_service: str
    method: str
    path: str
    query: str
    target: str
    body: bytes

    def text(self) -> str:
        raw = self.body.decode(errors="replace")
        return "\n".join((self.path, unquote_plus(self.query), raw, unquote_plus(raw)))

    def operation_is(self, model: ServiceModel, operation: str) -> bool:
        protocol = _protocol(model)
        if protocol == "json":
            return self.target == f"{model.metadata['targetPrefix']}.{operation}"
        if protocol == "query":
            form = parse_qs(self.body.decode(errors="replace")) or parse_qs(self.query)
            return form.get("Action", [None])[0] == operation
        http = model.operation_model(operation).http
        return self.method == http["method"] and bool(
            _uri_pattern(http["requestUri"]).match(self.path)
        )


class FaultRegistry:
    """The faults in force in this process."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> int:
        with self._lock:
            cleared, self._faults = len(self._faults), []
        return cleared

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for fault in self._faults]

    def armed(self) -> bool:
        with self._lock:
            return any(fault.remaining > 0 for fault in self._faults)

    def take(self, request: _Request) -> Fault | None:
        """The first armed fault matching ``request``, counted as hit (None: no fault)."""
        with self._lock:
            candidates = [f for f in self._faults if f.remaining > 0]
        text = None
        for fault in candidates:
            model = _model(fault.service)
            if request.signing_service not in _signing_names(model):
                continue
            if not request.operation_is(model, fault.operation):
                continue
            if fault.contains is not None:
                text = request.text() if text is None else text
                if fault.contains not in text:
                    continue
            with self._lock:
                if fault.remaining <= 0:  # another thread took the last one meanwhile
                    continue
                fault.remaining -= 1
                fault.hits += 1
                return fault
        return None


registry = FaultRegistry()


def error_response(fault: Fault) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status line, headers, body) of ``fault``'s error in its service's wire format."""
    model = _model(fault.service)
    code, status, message = str(fault.error_code), fault.status, fault.message
    request_id = str(uuid.uuid4())
    sender = status < 500
    headers = [("x-amzn-RequestId", request_id)]
    protocol = _protocol(model)
    if protocol == "query":
        namespace = model.metadata.get("xmlNamespace", "")
        xmlns = f' xmlns="{escape(namespace)}"' if namespace else ""
        body = (
            f"<ErrorResponse{xmlns}><Error><Type>{'Sender' if sender else 'Receiver'}</Type>"
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers.append(("Content-Type", "text/xml"))
    elif protocol == "json":
        version = model.metadata.get("jsonVersion", "1.0")
        body = json.dumps({"__type": code, "message": message}).encode()
        headers += [("Content-Type", f"application/x-amz-json-{version}")]
        headers += [("x-amzn-ErrorType", code)]
        if model.metadata.get("awsQueryCompatible") is not None:
            headers.append(("x-amzn-query-error", f"{code};{'Sender' if sender else 'Receiver'}"))
    else:  # rest-json
        body = json.dumps({"Type": "User" if sender else "Service", "message": message}).encode()
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
    headers.append(("Content-Length", str(len(body))))
    return f"{status} {_REASONS.get(status, 'Error')}", headers, body


_REASONS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

_WsgiApp = Callable[[DomainDispatcherApplication, dict[str, Any], Any], Iterable[bytes]]
_wrapped: _WsgiApp | None = None
_patch_lock = threading.Lock()


def _call(self: DomainDispatcherApplication, environ: dict[str, Any], start_response: Any) -> Any:
    assert _wrapped is not None
    if not registry.armed():
        return _wrapped(self, environ, start_response)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    request = _Request(
        signing_service=_signing_service(environ.get("HTTP_AUTHORIZATION", "")),
        method=environ["REQUEST_METHOD"],
        path=environ.get("PATH_INFO", ""),
        query=environ.get("QUERY_STRING", ""),
        target=environ.get("HTTP_X_AMZ_TARGET", ""),
        body=body,
    )
    fault = registry.take(request)
    if fault is None:
        return _wrapped(self, environ, start_response)
    if fault.delay_seconds:
        time.sleep(fault.delay_seconds)
    if fault.error_code is None:
        return _wrapped(self, environ, start_response)
    if fault.when == "after":
        answered = _wrapped(self, environ, lambda *_: None)
        b"".join(answered)  # the service did the work; its answer is lost
        close = getattr(answered, "close", None)
        if close is not None:
            close()
    status, headers, payload = error_response(fault)
    start_response(status, headers)
    return [payload]


def patch() -> None:
    """Wrap moto's WSGI entry point (after the emulator's other patches); idempotent."""
    global _wrapped
    patches.apply()
    with _patch_lock:
        if _wrapped is None:
            _wrapped = DomainDispatcherApplication.__call__
            setattr(DomainDispatcherApplication, "__call__", _call)  # noqa: B010


def _answer(request: BaseHTTPRequestHandler, status: int, document: Any) -> None:
    body = json.dumps(document).encode()
    request.send_response(status)
    request.send_header("content-type", "application/json")
    request.send_header("content-length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


def serve(request: BaseHTTPRequestHandler) -> None:
    """The local stack's ``/emulator/faults`` route: POST adds, GET lists, DELETE clears."""
    patch()
    if request.command == "GET":
        return _answer(request, 200, {"faults": registry.list()})
    if request.command == "DELETE":
        return _answer(request, 200, {"cleared": registry.clear()})
    length = int(request.headers.get("content-length") or 0)
    try:
        fault = Fault.from_request(json.loads(request.rfile.read(length) or b"null"))
    except ValueError as exc:  # InvalidFault, or the body is not JSON
        return _answer(request, 400, {"message": str(exc)})
    _answer(request, 201, registry.add(fault).to_json())
