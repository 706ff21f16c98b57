"""What the api function does for each route: registry and time slots, in race-safe order.

A version is placed in its time slot around the registry write that makes it the task's
(placement.py): its entry first, then the registry, then the start of what carries it. So the
registry never names a version that has no entry, and a version whose start fails is withdrawn:
a new task is deleted (unless an emit invocation already claimed it: then it is on its way), a
rescheduled or redriven one is marked failed, where a redrive (POST /schedule again) picks it
up. Executions are shared by a slot's tasks and never stopped: a cancel or reschedule only
changes the registry, and the emit function skips what it cannot claim.

POST /schedule with the id, timestamp and message of a failed (dead-lettered) task redrives it:
its next version, registered on condition that the record is still that failed version, so two
identical redrives schedule it once.
"""

from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from task_scheduler.api import paging, scheduling
from task_scheduler.api.errors import InvalidQuery, TaskConflict, TaskNotFound
from task_scheduler.api.models import (
    RescheduleRequest,
    ScheduleRequest,
    ScheduleResponse,
    TaskList,
    TaskResponse,
    TaskSummary,
)
from task_scheduler.api.settings import ApiSettings
from task_scheduler.aws.executions import Executions
from task_scheduler.aws.placement import Placer
from task_scheduler.aws.registry import ConditionFailed, Registry
from task_scheduler.aws.slot_store import SlotStore
from task_scheduler.core import decisions, timing
from task_scheduler.core.decisions import CancelAction, ScheduleAction
from task_scheduler.core.records import TaskRecord, TaskStatus
from task_scheduler.core.slots import Placement
from task_scheduler.core.tasks import Task, TaskExecution, message_sha256
from task_scheduler.core.timing import Clock

# Conditional writes retried when a concurrent write changed the task under them.
MAX_WRITE_ATTEMPTS = 5
# The claimant a withdrawn version is marked failed by.
WITHDRAWN_BY = "api"


class Scheduled(Enum):
    """What POST /schedule did."""

    CREATED = "created"
    REDRIVEN = "redriven"  # a failed task with this id, timestamp and message: scheduled again
    REPLAYED = "replayed"  # the task with this id, timestamp and message exists: nothing done


class TaskService:
    def __init__(
        self,
        settings: ApiSettings,
        registry: Registry,
        executions: Executions,
        store: SlotStore,
        clock: Clock = timing.utc_now,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.executions = executions
        self.store = store
        self.placer = Placer(
            store,
            executions,
            lead_seconds=settings.emission_lead_seconds,
            segment_seconds=settings.execution_segment_seconds,
            shard_units=settings.shard_units,
        )
        self.clock = clock

    @classmethod
    def from_env(cls) -> "TaskService":
        settings = ApiSettings.from_env()
        return cls(
            settings,
            Registry(settings.tasks_table_name),
            Executions(settings.state_machine_arn),
            SlotStore(settings.slots_table_name),
        )

    def schedule(
        self, request: ScheduleRequest, idempotency_key: str | None
    ) -> tuple[ScheduleResponse, Scheduled]:
        """Schedule the requested task; the answer, and what scheduling it did."""
        chosen_id = scheduling.requested_id(request.id, idempotency_key)
        now = self.clock()
        task = scheduling.build_task(
            request.timestamp,
            request.message,
            task_id=chosen_id,
            now=now,
            max_horizon_seconds=self.settings.max_horizon_seconds,
        )
        scheduling.check_size(task)
        # A generated id is fresh; a chosen one may be a retry of a request that succeeded.
        existing = self.registry.get(task.id) if chosen_id else None
        if existing is not None:
            return self._again(existing, task, now)
        placement = self.placer.stage(task, 1, now)
        record = TaskRecord(
            id=task.id,
            version=1,
            status=TaskStatus.SCHEDULED,
            timestamp=task.timestamp,
            created_at=now,
            updated_at=now,
            message_sha256=message_sha256(task.message),
            placement=placement,
        )
        try:
            self.registry.create(record)
        except ConditionFailed as failed:  # a concurrent request registered the id first
            return self._again(failed.current or self._record(task.id), task, now)
        self._carry(task.id, 1, placement, now, lambda: self.registry.delete_unclaimed(task.id, 1))
        return scheduling.describe(task, now=now), Scheduled.CREATED

    def _carry(
        self,
        task_id: str,
        version: int,
        placement: Placement,
        now: datetime,
        withdraw: Callable[[], object],
    ) -> None:
        """Start what carries the version just registered; if that fails, `withdraw` it and
        fail the request, unless an emit invocation has claimed it meanwhile."""
        try:
            self.placer.start(task_id, version, placement, now)
        except (ClientError, BotoCoreError):
            try:
                withdraw()
            except ConditionFailed:
                return  # claimed (on its way), or changed by another request since
            raise

    def _again(
        self, record: TaskRecord, task: Task, now: datetime
    ) -> tuple[ScheduleResponse, Scheduled]:
        """Schedule `task` under the id `record` holds: a replay, a redrive or a conflict."""
        action = decisions.schedule_action(record, task)
        if action is ScheduleAction.CONFLICT:
            raise TaskConflict.single(
                f"Task {record.id} already exists with another timestamp or message.",
                "id",
                "id_conflict",
                f"the id {record.id} is taken: send the same timestamp and message to retry, "
                "or choose another id (an id stays taken 90 days after its task closed)",
            )
        if action is ScheduleAction.REDRIVE:
            return self._redrive(record, task, now)
        if record.status is TaskStatus.SCHEDULED and record.placement is not None:
            # The request replayed may have failed to start its carrier and to withdraw it
            # (a 5xx): start it now. While it is open, the same name and input start nothing.
            self.placer.start(record.id, record.version, record.placement, now)
        original = Task(id=record.id, timestamp=record.timestamp, message=task.message)
        return scheduling.describe(original, now=record.created_at), Scheduled.REPLAYED

    def _redrive(
        self, record: TaskRecord, task: Task, now: datetime
    ) -> tuple[ScheduleResponse, Scheduled]:
        """Schedule the failed task `record` again, as its next version."""
        version = record.version + 1
        placement = self.placer.stage(task, version, now)
        try:
            self.registry.redrive(
                record.id, record.version, new_version=version, placement=placement, now=now
            )
        except ConditionFailed as failed:  # e.g. an identical request redrove it first
            current = _found(task.id, failed.current)
            if current.status is TaskStatus.FAILED:  # and it failed again since
                raise _changing(current) from None
            return self._again(current, task, now)  # a replay or a conflict now
        self._carry(task.id, version, placement, now, lambda: self._withdraw(task.id, version))
        return scheduling.describe(task, now=now), Scheduled.REDRIVEN

    def _withdraw(self, task_id: str, version: int) -> None:
        """Mark a version that nothing carries failed: a redrive schedules it again."""
        self.registry.fail(task_id, version, self.clock(), WITHDRAWN_BY)

    def status(self, task_id: str) -> TaskResponse:
        record = self._record(task_id)
        return self._response(record, self._message(record))

    def cancel(self, task_id: str) -> TaskResponse:
        record = self._record(task_id)
        for _ in range(MAX_WRITE_ATTEMPTS):
            action = decisions.cancel_action(record)
            if action is CancelAction.NONE:
                return self._response(record, self._message(record))
            if action is CancelAction.REFUSE:
                raise _not_scheduled(record)
            try:
                cancelled = self.registry.cancel(record.id, record.version, self.clock())
            except ConditionFailed as failed:  # emitted, rescheduled or placed meanwhile
                record = _found(task_id, failed.current)
                continue
            # The emit function's claim now fails, whatever its execution does.
            return self._response(cancelled, self._message(cancelled))
        raise _changing(record)

    def reschedule(self, task_id: str, request: RescheduleRequest) -> TaskResponse:
        record = self._record(task_id)
        if record.status is not TaskStatus.SCHEDULED:
            raise _not_scheduled(record)
        if "message" in request.model_fields_set:
            message = request.message
        else:
            message = self._message(record)
        now = self.clock()
        task = scheduling.build_task(
            record.timestamp if request.timestamp is None else request.timestamp,
            message,
            task_id=record.id,
            now=now,
            max_horizon_seconds=self.settings.max_horizon_seconds,
        )
        scheduling.check_size(task)
        version = record.version + 1
        placement = self.placer.stage(task, version, now)
        try:
            updated = self.registry.reschedule(
                record.id,
                record.version,
                new_version=version,
                timestamp=task.timestamp,
                message_sha256=message_sha256(task.message),
                placement=placement,
                now=now,
            )
        except ConditionFailed as failed:
            latest = _found(task_id, failed.current)
            raise (
                _changing(latest)
                if latest.status is TaskStatus.SCHEDULED
                else _not_scheduled(latest)
            ) from None
        self._carry(task.id, version, placement, now, lambda: self._withdraw(task.id, version))
        return self._response(updated, task.message)

    def list_tasks(self, status: TaskStatus | None, limit: int, token: str | None) -> TaskList:
        try:
            start_key = None if token is None else paging.decode_token(token, status)
        except paging.InvalidToken as exc:
            raise InvalidQuery.single(
                "Invalid paging token.",
                "next",
                "invalid_token",
                f"{exc}: pass `next` from the previous page of the same listing",
            ) from exc
        records, last_key = self.registry.page(status, limit, start_key)
        return TaskList(
            tasks=[TaskSummary.model_validate(_fields(record)) for record in records],
            next=None if last_key is None else paging.encode_token(last_key),
        )

    def _record(self, task_id: str) -> TaskRecord:
        return _found(task_id, self.registry.get(task_id))

    def _message(self, record: TaskRecord) -> Any:
        """The message of the task's current version: in its slot entry, or, for a task
        scheduled before time slots, in its own execution's input."""
        if record.placement is not None:
            entry = self.store.get(record.placement)
            if entry is None or entry.version != record.version:  # past the table's TTL
                raise _not_found(record.id)
            return entry.message
        document = (
            None
            if record.execution_arn is None
            else self.executions.task_input(record.execution_arn)
        )
        if document is None:  # the execution outlived Step Functions' retention
            raise _not_found(record.id)
        return TaskExecution.from_execution_input(document).task.message

    @staticmethod
    def _response(record: TaskRecord, message: Any) -> TaskResponse:
        return TaskResponse.model_validate({**_fields(record), "message": message})


def _fields(record: TaskRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "status": record.status,
        "version": record.version,
        "timestamp": record.timestamp,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "emitted_at": record.emitted_at,
    }


def _found(task_id: str, record: TaskRecord | None) -> TaskRecord:
    if record is None:
        raise _not_found(task_id)
    return record


def _not_found(task_id: str) -> TaskNotFound:
    return TaskNotFound.single(
        f"Task {task_id} not found.",
        None,
        "not_found",
        "no task has this id, or it closed more than 90 days ago",
    )


def _not_scheduled(record: TaskRecord) -> TaskConflict:
    return TaskConflict.single(
        f"Task {record.id} is {record.status.value}.",
        None,
        "not_scheduled",
        f"only a scheduled task can change; this one is {record.status.value}",
    )


def _changing(record: TaskRecord) -> TaskConflict:
    return TaskConflict.single(
        f"Task {record.id} changed while the request was handled.",
        None,
        "concurrent_update",
        f"the task is now at version {record.version}: read it and retry",
    )
