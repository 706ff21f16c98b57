"""A request log: every AWS API request the emulator serves, as the client sent it.

Used to prove the module's deployer policy: the tests record what Terraform's AWS provider
calls while applying, refreshing, updating and destroying the module, then map each request
to the IAM action and resource AWS would authorise it against. The recorder wraps moto's WSGI
entry point (``DomainDispatcherApplication.__call__``), so it sees the raw HTTP request (method,
path, query, headers, body) before moto interprets it, and the status and body of the answer.
Nothing is recorded unless a :class:`RequestLog` is active; it changes no response.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_original = DomainDispatcherApplication.__call__
_lock = threading.Lock()
_active: list[RequestLog] = []

# Headers kept: enough to identify the service and operation (SigV4 credential scope, JSON
# protocol target) and the caller, never a signature.
KEPT_HEADERS = ("HTTP_X_AMZ_TARGET", "CONTENT_TYPE", "HTTP_USER_AGENT")


@dataclass(frozen=True)
class RecordedRequest:
    """One request and the emulator's answer."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    signing_service: str
    body: bytes
    status: int
    response_body: bytes


@dataclass
class RequestLog:
    """Requests recorded while this log is active (see :func:`recording`)."""

    requests: list[RecordedRequest] = field(default_factory=list)

    def append(self, request: RecordedRequest) -> None:
        with _lock:
            self.requests.append(request)


@contextmanager
def recording() -> Iterator[RequestLog]:
    """Record every request the emulator serves in this process until the block ends."""
    log = RequestLog()
    with _lock:
        _active.append(log)
    try:
        yield log
    finally:
        with _lock:
            _active.remove(log)


def _signing_service(authorization: str) -> str:
    """The service of a SigV4 ``Authorization`` header's credential scope ('' if unsigned)."""
    # Credential=<key>/<date>/<region>/<service>/aws4_request
    for part in authorization.replace(",", " ").split():
        if part.startswith("Credential="):
            scope = part.removeprefix("Credential=").split("/")
            return scope[3] if len(scope) == 5 else ""
    return ""


def _call(self: DomainDispatcherApplication, environ: dict[str, Any], start_response: Any) -> Any:
    with _lock:
        logs = list(_active)
    if not logs:
        return _original(self, environ, start_response)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    status: list[int] = []

    def recording_start_response(status_line: str, *args: Any) -> Callable[..., Any]:
        status.append(int(status_line.split()[0]))
        return start_response(status_line, *args)  # type: ignore[no-any-return]

    chunks = list(_original(self, environ, recording_start_response))
    request = RecordedRequest(
        method=environ["REQUEST_METHOD"],
        path=environ.get("PATH_INFO", ""),
        query=environ.get("QUERY_STRING", ""),
        headers={key: environ[key] for key in KEPT_HEADERS if key in environ},
        signing_service=_signing_service(environ.get("HTTP_AUTHORIZATION", "")),
        body=body,
        status=status[0] if status else 0,
        response_body=b"".join(chunks),
    )
    for log in logs:
        log.append(request)
    return chunks


def requests_from(log: RequestLog, user_agent: str) -> Iterable[RecordedRequest]:
    """The requests of ``log`` whose User-Agent contains ``user_agent``."""
    return [r for r in log.requests if user_agent in r.headers.get("HTTP_USER_AGENT", "")]


def patch() -> None:
    assert callable(_original), "moto moved DomainDispatcherApplication.__call__"
    setattr(DomainDispatcherApplication, "__call__", _call)  # noqa: B010
