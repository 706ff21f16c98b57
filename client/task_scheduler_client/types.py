"""The API's JSON bodies, as typed dictionaries (the client passes them through unchanged)."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

TaskStatus = Literal["scheduled", "emitted", "cancelled", "failed"]
TASK_STATUSES: tuple[TaskStatus, ...] = ("scheduled", "emitted", "cancelled", "failed")


class ScheduleResponse(TypedDict):
    """`POST /schedule`: 201 for a new task, 200 for an idempotent replay of the same request."""

    message: str
    id: str
    timestamp: str
    fires_immediately: bool


class TaskSummary(TypedDict):
    """One task in `GET /schedule` (list): a task without its message."""

    id: str
    status: TaskStatus
    version: int
    timestamp: str
    created_at: str
    updated_at: str
    emitted_at: str | None


class Task(TaskSummary):
    """`GET`, `DELETE` and `PATCH /schedule/{id}`: the task with its message (any JSON value)."""

    message: Any


class TaskPage(TypedDict):
    """`GET /schedule`: one page of tasks; `next` is the opaque token of the next page, or None."""

    tasks: list[TaskSummary]
    next: str | None


class ErrorDetail(TypedDict):
    """One broken rule; `field` names the request field at fault, None when no single one is."""

    field: str | None
    rule: str
    detail: str


class ErrorResponse(TypedDict):
    """Body of the API's 4xx and 5xx answers. API Gateway's own answers carry `message` only."""

    message: str
    errors: list[ErrorDetail]


class Event(TypedDict):
    """One emitted task, as `tail` reports it (the shape of the local stack's `/events` feed)."""

    id: str
    timestamp: str
    emitted_at: str
    message: Any
