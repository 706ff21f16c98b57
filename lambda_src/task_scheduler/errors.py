"""Why the scheduler refuses a task. The API maps each exception to an HTTP status."""

from task_scheduler.models import ErrorDetail


class TaskRejected(Exception):
    """A task the scheduler refuses; `errors` names each broken rule."""

    def __init__(self, message: str, errors: list[ErrorDetail]) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class InvalidBody(TaskRejected):
    """The request body is not a JSON object that Step Functions and SNS can carry."""


class BeyondHorizon(TaskRejected):
    """The timestamp is later than the scheduler may wait."""


class TooLarge(TaskRejected):
    """The request, or the task it makes, exceeds a size limit."""
