"""Routes that only read tasks: status and list."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from task_scheduler.api.models import TaskList, TaskResponse
from task_scheduler.api.paging import MAX_TOKEN_CHARS
from task_scheduler.api.routes.common import TaskIdPath, answer, errors
from task_scheduler.api.service import TaskService
from task_scheduler.core.records import TaskStatus

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]  # Powertools' __init__


@router.get(
    "/schedule/<id>",
    operation_id="getTask",
    summary="A task's status",
    description="The task's status, timestamp, creation, emission and message.",
    responses={200: answer("The task.", TaskResponse), **errors(400, 404)},
)
def status(id: TaskIdPath) -> TaskResponse:
    return TaskService.from_env().status(id)


@router.get(
    "/schedule",
    operation_id="listTasks",
    summary="List tasks",
    description="Tasks page by page; filtered by status, oldest timestamp first.",
    responses={200: answer("A page of tasks.", TaskList), **errors(400)},
)
def list_tasks(
    status: Annotated[TaskStatus | None, Query(description="Only tasks in this status.")] = None,
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description="At most this many tasks.")
    ] = DEFAULT_PAGE_SIZE,
    next: Annotated[
        str | None,
        Query(max_length=MAX_TOKEN_CHARS, description="The previous page's `next`."),
    ] = None,
) -> TaskList:
    return TaskService.from_env().list_tasks(status, limit, next)
