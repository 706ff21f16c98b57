"""Why the scheduler refuses a request. Each exception carries the HTTP status the API answers."""

from http import HTTPStatus
from typing import ClassVar, Self

from task_scheduler.api.models import ErrorDetail


class TaskRejected(Exception):
    """A request the scheduler refuses; `errors` names each broken rule."""

    status: ClassVar[HTTPStatus]

    def __init__(self, message: str, errors: list[ErrorDetail]) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors

    @classmethod
    def single(cls, message: str, field: str | None, rule: str, detail: str) -> Self:
        return cls(message, [ErrorDetail(field=field, rule=rule, detail=detail)])


class InvalidBody(TaskRejected):
    """The request body is not a JSON object that Step Functions and SNS can carry."""

    status = HTTPStatus.BAD_REQUEST


class InvalidQuery(TaskRejected):
    """A query parameter is malformed."""

    status = HTTPStatus.BAD_REQUEST


class InvalidId(TaskRejected):
    """The task id breaks the execution-name rules, or the body and header disagree on it."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY


class BeyondHorizon(TaskRejected):
    """The timestamp is later than the scheduler may wait."""

    status = HTTPStatus.UNPROCESSABLE_ENTITY


class TooLarge(TaskRejected):
    """The request, or the task it makes, exceeds a size limit."""

    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class TaskNotFound(TaskRejected):
    status = HTTPStatus.NOT_FOUND


class TaskConflict(TaskRejected):
    """The id holds another task, or the task is no longer in a state that allows the change."""

    status = HTTPStatus.CONFLICT
