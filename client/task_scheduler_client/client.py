"""TaskSchedulerClient: the scheduler's HTTP API over the standard library's urllib."""

from __future__ import annotations

import builtins
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from datetime import datetime
from email.message import Message
from enum import Enum
from typing import Any, Final, Literal, cast
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from ._version import __version__
from .aws import (
    SigV4Signer,
    configuration_errors,
    default_session,
    region_from_url,
    session_region,
)
from .errors import (
    ApiError,
    ConfigurationError,
    InvalidResponseError,
    TransportError,
    error_class,
)
from .times import format_instant
from .types import ErrorResponse, ScheduleResponse, Task, TaskPage, TaskStatus, TaskSummary

Auth = Literal["none", "iam"]
DEFAULT_TIMEOUT = 30.0


class _Unset(Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset.UNSET
"""Marks an argument as not given, where None is a value (a task's message may be JSON null)."""


def normalize_base_url(url: str) -> str:
    """The API's base URL without a trailing slash. The module's `api_schedule_url` output
    (ending in /schedule) is accepted too."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"invalid API URL {url!r}: expected http(s)://host[:port][/path]")
    if parts.query or parts.fragment:
        raise ValueError(f"invalid API URL {url!r}: no query or fragment expected")
    path = parts.path.rstrip("/").removesuffix("/schedule")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _host_header(url: str) -> str:
    """The Host header for `url`, as botocore signs it: lowercase, default port omitted."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[parts.scheme]
    if parts.port is not None and parts.port != default_port:
        host = f"{host}:{parts.port}"
    return host


def _retry_after(headers: Message) -> float | None:
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:  # an HTTP date: not sent by this API
        return None


def _error_body(raw: bytes) -> ErrorResponse | None:
    try:
        decoded = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("message"), str):
        return None
    errors = decoded.get("errors")
    valid_errors = [
        {"field": e.get("field"), "rule": str(e.get("rule")), "detail": str(e.get("detail", ""))}
        for e in errors or []
        if isinstance(e, dict)
    ]
    return cast(ErrorResponse, {"message": decoded["message"], "errors": valid_errors})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answered as errors: the API never redirects, and a signature is bound to
    the URL it was made for."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class TaskSchedulerClient:
    """A client of one deployment's API.

    `base_url`: the module's `api_endpoint` output (or `api_schedule_url`), or the local
    stack's http://127.0.0.1:8080. `auth="iam"` signs every request with SigV4 for
    `execute-api` (the module's default authorization, AWS_IAM); credentials come from
    `session` (a botocore or boto3 Session), else `profile`, else the default credential
    chain. The signing region is `region`, else the one in an execute-api URL, else the
    session's. `timeout` bounds each request, in seconds.

    Every method raises an ApiError subclass when the API answers 4xx or 5xx, TransportError
    when it does not answer, ConfigurationError when a request cannot be signed.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth = "none",
        region: str | None = None,
        session: Any = None,
        profile: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.timeout = timeout
        self.auth = auth
        self.signer: SigV4Signer | None = None
        if auth == "iam":
            resolved_session = default_session(session, profile)
            with configuration_errors("auth iam: reading the AWS configuration"):
                resolved_region = (
                    region or region_from_url(self.base_url) or session_region(resolved_session)
                )
            if resolved_region is None:
                raise ConfigurationError(
                    "auth iam: no region to sign for: pass region (--region), use the "
                    "execute-api URL, or set AWS_DEFAULT_REGION or AWS_REGION"
                )
            self.signer = SigV4Signer(resolved_session, resolved_region)
        elif auth != "none":
            raise ValueError(f"auth must be 'none' or 'iam', not {auth!r}")
        self._opener = urllib.request.build_opener(_NoRedirect)

    @property
    def region(self) -> str | None:
        """The region requests are signed for (None without IAM auth)."""
        return self.signer.region if self.signer else None

    @property
    def events_url(self) -> str:
        """The local stack's Server-Sent Events feed of emitted tasks (not served on AWS)."""
        return f"{self.base_url}/events"

    def __repr__(self) -> str:
        return f"TaskSchedulerClient({self.base_url!r}, auth={self.auth!r})"

    # The API's routes.

    def schedule(
        self, timestamp: datetime | str, message: Any, id: str | None = None
    ) -> ScheduleResponse:
        """`POST /schedule`: schedule `message` (any JSON value, None included) at `timestamp`
        (an aware datetime, or an ISO 8601 string with an offset, sent as-is).

        With `id`, the request is idempotent: the same id, timestamp and message answer the
        original task (nothing new is created); the same id with other content raises
        ConflictError (rule `id_conflict`). Without, the API generates an id."""
        return self.schedule_with_status(timestamp, message, id=id)[1]

    def schedule_with_status(
        self, timestamp: datetime | str, message: Any, id: str | None = None
    ) -> tuple[int, ScheduleResponse]:
        """`schedule`, with the HTTP status of the answer: 201 when this request created the
        task (or re-scheduled a `failed` one as a new version), 200 when a task with this id,
        timestamp and message already existed."""
        body: dict[str, Any] = {
            "timestamp": timestamp if isinstance(timestamp, str) else format_instant(timestamp),
            "message": message,
        }
        if id is not None:
            body["id"] = id
        status, answer = self.request_with_status("POST", "/schedule", body=body)
        return status, cast(ScheduleResponse, answer)

    def status(self, id: str) -> Task:
        """`GET /schedule/{id}`: the task, its state and its message. NotFoundError if unknown."""
        return cast(Task, self.request("GET", f"/schedule/{quote(id, safe='')}"))

    def cancel(self, id: str) -> Task:
        """`DELETE /schedule/{id}`: cancel a scheduled task (again: harmless). ConflictError
        (`not_scheduled`) once emitted or failed; NotFoundError if unknown."""
        return cast(Task, self.request("DELETE", f"/schedule/{quote(id, safe='')}"))

    def reschedule(
        self,
        id: str,
        timestamp: datetime | str | None = None,
        message: Any = UNSET,
    ) -> Task:
        """`PATCH /schedule/{id}`: a new timestamp, a new message (None is JSON null) or both,
        for a task not emitted yet; the id stays and the version increases."""
        body: dict[str, Any] = {}
        if timestamp is not None:
            body["timestamp"] = (
                timestamp if isinstance(timestamp, str) else format_instant(timestamp)
            )
        if message is not UNSET:
            body["message"] = message
        if not body:
            raise ValueError("reschedule needs a timestamp, a message or both")
        return cast(Task, self.request("PATCH", f"/schedule/{quote(id, safe='')}", body=body))

    def list(
        self,
        status: TaskStatus | None = None,
        limit: int | None = None,
        next: str | None = None,
    ) -> TaskPage:
        """`GET /schedule`: one page of tasks (`limit` 1..100, the API's default 25), filtered
        by `status` (oldest timestamp first) or not; pass the page's `next` for the next one."""
        query = {"status": status, "limit": limit, "next": next}
        return cast(TaskPage, self.request("GET", "/schedule", query=query))

    def pages(
        self, status: TaskStatus | None = None, limit: int | None = None
    ) -> Iterator[TaskPage]:
        """Every page of `list`, following `next` until the last page."""
        token: str | None = None
        while True:
            page = self.list(status=status, limit=limit, next=token)
            yield page
            token = page.get("next")
            if not token:
                return

    def iter_tasks(
        self, status: TaskStatus | None = None, limit: int | None = None
    ) -> Iterator[TaskSummary]:
        """Every task of `list`, page after page (`limit`: page size)."""
        for page in self.pages(status=status, limit=limit):
            yield from page["tasks"]

    def list_all(
        self, status: TaskStatus | None = None, limit: int | None = None
    ) -> builtins.list[TaskSummary]:
        """Every task of `list`, as one list."""
        return builtins.list(self.iter_tasks(status=status, limit=limit))

    # The transport.

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = None,
        body: Any = UNSET,
    ) -> Any:
        """Send one request (signed with IAM auth) and return the decoded JSON answer."""
        return self.request_with_status(method, path, query=query, body=body)[1]

    def request_with_status(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, object] | None = None,
        body: Any = UNSET,
    ) -> tuple[int, Any]:
        """`request`, returning (HTTP status, decoded JSON answer) of a 2xx answer."""
        url = self.base_url + path
        params = {k: str(v) for k, v in (query or {}).items() if v is not None}
        if params:
            # RFC 3986 percent-encoding, which SigV4's canonical query string expects.
            url += "?" + urlencode(params, quote_via=quote)
        headers = {
            "Host": _host_header(url),
            "Accept": "application/json",
            "User-Agent": f"task-scheduler-client/{__version__}",
        }
        data = b""
        if body is not UNSET:
            data = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        if self.signer is not None:
            headers = self.signer.sign(method, url, headers, data)
        status, reason, response_headers, raw = self._send(method, url, headers, data or None)
        if not 200 <= status < 300:  # redirects too: the API never redirects
            raise error_class(status)(
                status,
                _error_body(raw),
                raw_body=raw,
                reason=reason,
                retry_after=_retry_after(response_headers),
            )
        try:
            return status, json.loads(raw)
        except ValueError:
            raise InvalidResponseError(
                f"HTTP {status} from {method} {url}: the body is not JSON", status=status, body=raw
            ) from None

    def _send(
        self, method: str, url: str, headers: dict[str, str], data: bytes | None
    ) -> tuple[int, str, Message, bytes]:
        """(status, reason, headers, body); 4xx and 5xx included, as urllib raises them."""
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.status, response.reason, response.headers, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, str(error.reason or ""), error.headers, error.read()
        except urllib.error.URLError as error:
            raise TransportError(f"{method} {url}: {error.reason}") from error
        except (OSError, http.client.HTTPException) as error:  # timeouts, resets, bad answers
            raise TransportError(f"{method} {url}: {error!r}") from error


__all__ = [
    "UNSET",
    "ApiError",
    "Auth",
    "TaskSchedulerClient",
    "normalize_base_url",
]
