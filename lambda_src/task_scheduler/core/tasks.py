"""A scheduled task and the executions that carry it (stdlib only: the emit function imports it).

A task lives in one execution per version (1, then +1 on each reschedule) and segment (1, then +1
on each follow-on execution of a task beyond one execution's reach). Each execution is named
`{id}_{version}_{segment}`, so Step Functions' unique names deduplicate starts.
"""

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

from task_scheduler.core.timestamps import format_timestamp, parse_timestamp
from task_scheduler.core.timing import format_release

# Characters Step Functions allows in an execution name when the state machine logs to
# CloudWatch; 64 leaves room for the `_{version}_{segment}` suffix within its 80.
TASK_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
TASK_ID_RULE = "1 to 64 characters, each a letter (A-Z, a-z), a digit, - or _"


def is_task_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and TASK_ID_PATTERN.fullmatch(value) is not None


def message_sha256(message: Any) -> str:
    """The hash of `message`'s canonical JSON: equal for equal JSON values, whatever their order."""
    canonical = json.dumps(message, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def execution_name(task_id: str, version: int, segment: int) -> str:
    return f"{task_id}_{version}_{segment}"


def execution_arn(state_machine_arn: str, name: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def state_machine_arn(of_execution_arn: str) -> str:
    """`arn:...:execution:SM:NAME` -> `arn:...:stateMachine:SM`."""
    prefix, separator, _ = of_execution_arn.rpartition(":")
    if not separator or ":execution:" not in prefix:
        raise ValueError(f"not an execution ARN: {of_execution_arn!r}")
    return prefix.replace(":execution:", ":stateMachine:", 1)


@dataclass(frozen=True)
class Task:
    """What a client scheduled: `message` is any JSON value, null included."""

    id: str
    timestamp: datetime
    message: Any


@dataclass(frozen=True)
class TaskExecution:
    """One execution of a task: it waits until `release_at`, then invokes the emit function."""

    task: Task
    version: int
    segment: int
    release_at: datetime

    @property
    def name(self) -> str:
        return execution_name(self.task.id, self.version, self.segment)

    def execution_input(self) -> str:
        """The execution's input (the Wait state reads `release_at`), as compact UTF-8 JSON."""
        document = {
            "id": self.task.id,
            "version": self.version,
            "segment": self.segment,
            "timestamp": format_timestamp(self.task.timestamp),
            "release_at": format_release(self.release_at),
            "message": self.task.message,
        }
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_execution_input(cls, document: object) -> "TaskExecution":
        """The execution an input describes; raises ValueError if it is not one."""
        if not isinstance(document, Mapping) or "message" not in document:
            raise ValueError("expected an execution input object with a message")
        task_id, version, segment = (
            document.get("id"),
            document.get("version"),
            document.get("segment"),
        )
        if not is_task_id(task_id):
            raise ValueError(f"expected an execution input with a task id ({TASK_ID_RULE})")
        if not _is_count(version) or not _is_count(segment):
            raise ValueError("expected an execution input with a positive version and segment")
        task = Task(
            id=task_id,
            timestamp=parse_timestamp(document.get("timestamp")),
            message=document["message"],
        )
        return cls(task, version, segment, parse_timestamp(document.get("release_at")))


def _is_count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1
