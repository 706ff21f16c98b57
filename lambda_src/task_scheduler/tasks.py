"""A scheduled task as the state machine carries it (stdlib only: the emit function imports it)."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from task_scheduler.timestamps import format_timestamp, parse_timestamp
from task_scheduler.timing import format_release, release_at


@dataclass(frozen=True)
class Task:
    """What the api function accepted: `message` is any JSON value, null included."""

    id: str
    timestamp: datetime
    message: Any

    def execution_input(self, lead_seconds: int) -> str:
        """The execution's input: the task plus `release_at`, the whole second the Wait state
        waits until (`lead_seconds` or more before the timestamp), as compact UTF-8 JSON."""
        document = {
            "id": self.id,
            "timestamp": format_timestamp(self.timestamp),
            "release_at": format_release(release_at(self.timestamp, lead_seconds)),
            "message": self.message,
        }
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_execution_input(cls, document: object) -> "Task":
        """The task in an execution input; raises ValueError if it is not one."""
        if not isinstance(document, Mapping):
            raise ValueError("expected an execution input object")
        task_id, timestamp = document.get("id"), document.get("timestamp")
        if not isinstance(task_id, str) or not task_id or "message" not in document:
            raise ValueError("expected an execution input with id, timestamp and message")
        return cls(id=task_id, timestamp=parse_timestamp(timestamp), message=document["message"])
