"""Exceptions: every failure the client reports derives from TaskSchedulerError."""

from __future__ import annotations

from .types import ErrorDetail, ErrorResponse


class TaskSchedulerError(Exception):
    """Base class of the client's errors."""


class ConfigurationError(TaskSchedulerError):
    """The client cannot make the request as configured (no credentials, no region, ...)."""


class TransportError(TaskSchedulerError):
    """The request got no HTTP answer: connection refused, DNS failure, timeout, TLS error."""


class AwsError(TaskSchedulerError):
    """An AWS call of `tail` failed (the topic does not exist, access denied, ...)."""


class InvalidResponseError(TaskSchedulerError):
    """A successful answer whose body is not the JSON the API promises."""

    def __init__(self, message: str, *, status: int, body: bytes) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ApiError(TaskSchedulerError):
    """The API answered 4xx or 5xx (or redirected, which it never does). `body` is its
    ErrorResponse (`errors` is empty for API Gateway's own answers, such as 403 to an unsigned
    request), or None when the body was not JSON; `raw_body` is the body as received."""

    def __init__(
        self,
        status: int,
        body: ErrorResponse | None,
        *,
        raw_body: bytes = b"",
        reason: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.raw_body = raw_body
        self.reason = reason
        self.retry_after = retry_after
        super().__init__(self._describe())

    @property
    def message(self) -> str:
        """The API's `message`, else the HTTP reason phrase."""
        if self.body is not None and self.body["message"]:
            return self.body["message"]
        text = self.raw_body.decode("utf-8", "replace").strip()
        return text[:200] if text else self.reason

    @property
    def errors(self) -> list[ErrorDetail]:
        return [] if self.body is None else self.body["errors"]

    @property
    def rules(self) -> list[str]:
        """The `rule` of each error detail, e.g. ["not_found"]."""
        return [error["rule"] for error in self.errors]

    def _describe(self) -> str:
        lines = [f"HTTP {self.status}: {self.message}"]
        for error in self.errors:
            field = f"{error['field']}: " if error["field"] else ""
            lines.append(f"  {field}{error['rule']}: {error['detail']}")
        if self.retry_after is not None:
            lines.append(f"  retry after {self.retry_after:g} s")
        return "\n".join(lines)


class BadRequestError(ApiError):
    """400, 413, 415 or 422: the request was malformed or invalid; `rules` says why."""


class AuthorizationError(ApiError):
    """401 or 403: unsigned, wrongly signed, or the caller lacks execute-api:Invoke."""


class NotFoundError(ApiError):
    """404: no such task (rule `not_found`), or no such route."""


class ConflictError(ApiError):
    """409: `id_conflict` (the id exists with other content) or `not_scheduled`."""


class ThrottledError(ApiError):
    """429 or 503: retry later (`retry_after` seconds, when the API says)."""


class ServerError(ApiError):
    """Any other 5xx: the API or what it calls failed."""


def error_class(status: int) -> type[ApiError]:
    """The ApiError subclass for an HTTP status (ApiError itself for a redirect)."""
    if status < 400:
        return ApiError
    if status in (429, 503):
        return ThrottledError
    if status in (401, 403):
        return AuthorizationError
    return {404: NotFoundError, 409: ConflictError}.get(
        status, ServerError if status >= 500 else BadRequestError
    )
