"""Client library and command line (`task-scheduler`) for terraform-aws-task-scheduler's API."""

from ._version import __version__
from .client import UNSET, TaskSchedulerClient
from .errors import (
    ApiError,
    AuthorizationError,
    AwsError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    InvalidResponseError,
    NotFoundError,
    ServerError,
    TaskSchedulerError,
    ThrottledError,
    TransportError,
)
from .redrive import Redrive, RedriveResult, RedriveSummary, redrive
from .types import (
    ErrorDetail,
    ErrorResponse,
    Event,
    ScheduleResponse,
    Task,
    TaskPage,
    TaskStatus,
    TaskSummary,
)

__all__ = [
    "UNSET",
    "ApiError",
    "AuthorizationError",
    "AwsError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "ErrorDetail",
    "ErrorResponse",
    "Event",
    "InvalidResponseError",
    "NotFoundError",
    "Redrive",
    "RedriveResult",
    "RedriveSummary",
    "ScheduleResponse",
    "ServerError",
    "Task",
    "TaskPage",
    "TaskSchedulerClient",
    "TaskSchedulerError",
    "TaskStatus",
    "TaskSummary",
    "ThrottledError",
    "TransportError",
    "__version__",
    "redrive",
]
