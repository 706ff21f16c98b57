"""How the command line prints results: JSON, or tables for people."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .redrive import RedriveResult, RedriveSummary
from .types import Event, ScheduleResponse, Task, TaskSummary

TASK_FIELDS = ("id", "status", "version", "timestamp", "created_at", "updated_at", "emitted_at")
LIST_COLUMNS = ("id", "status", "version", "timestamp", "emitted_at")  # JSON has them all
MISSING = "-"


def to_json(value: Any, *, compact: bool = False) -> str:
    """JSON as the API sent it: pretty by default, one line with `compact` (JSON Lines)."""
    if compact:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(value, ensure_ascii=False, indent=2)


def cell(value: Any) -> str:
    """A table cell: text as-is, None as '-', a message as compact JSON (so that the string
    "42" and the number 42 stay distinguishable)."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return to_json(value, compact=True)


def message_cell(message: Any) -> str:
    return to_json(message, compact=True)


def key_values(rows: Sequence[tuple[str, str]]) -> str:
    """Two aligned columns: name, value."""
    width = max((len(name) for name, _ in rows), default=0)
    return "\n".join(f"{name:<{width}}  {value}".rstrip() for name, value in rows)


def table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns under an upper-case header."""
    header = [column.upper() for column in columns]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(columns))]
    return "\n".join(
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def task_table(task: Task | Mapping[str, Any]) -> str:
    """One task, one field per line; the message last, as JSON."""
    rows = [(name, cell(task.get(name))) for name in TASK_FIELDS]
    extra = [(name, cell(value)) for name, value in task.items() if name not in TASK_FIELDS]
    rows.extend((name, value) for name, value in extra if name != "message")
    if "message" in task:
        rows.append(("message", message_cell(task["message"])))
    return key_values(rows)


def schedule_table(response: ScheduleResponse | Mapping[str, Any]) -> str:
    order = ("id", "timestamp", "fires_immediately", "message")
    names = [*order, *(name for name in response if name not in order)]
    return key_values([(name, cell(response.get(name))) for name in names if name in response])


def tasks_table(tasks: Sequence[TaskSummary] | Sequence[Mapping[str, Any]]) -> str:
    if not tasks:
        return "No tasks."
    return table(LIST_COLUMNS, [[cell(task.get(name)) for name in LIST_COLUMNS] for task in tasks])


def event_line(event: Event | Mapping[str, Any]) -> str:
    """One emission, one line: when, which task, its timestamp, its message."""
    return (
        f"{event.get('emitted_at', MISSING)}  {event.get('id', MISSING)}  "
        f"scheduled {event.get('timestamp', MISSING)}  {message_cell(event.get('message'))}"
    )


def redrive_line(result: RedriveResult) -> str:
    """One dead-lettered message, one line: outcome, HTTP status, task, version, timestamp,
    and the API's answer or why the message was left."""
    version = MISSING if result.version is None else f"v{result.version}"
    return "  ".join(
        [
            f"{result.outcome.value:<13}",
            f"{cell(result.http_status):<3}",
            cell(result.id),
            version,
            cell(result.timestamp),
            cell(result.detail or result.dead_letter_error),
        ]
    )


def redrive_summary(summary: RedriveSummary) -> str:
    """What a run did, in one or two sentences."""
    name = "Dry run" if summary.dry_run else "Redrive"
    if not summary.results:
        text = f"{name}: no messages in the queue."
    else:
        counts = ", ".join(f"{n} {outcome}" for outcome, n in summary.counts().items())
        plural = "" if summary.received == 1 else "s"
        text = f"{name}: {summary.received} message{plural}: {counts}."
        if summary.dry_run:
            text += " Nothing posted or deleted"
        else:
            text += f" {summary.deleted} deleted, {summary.left} left in the queue"
        if summary.left:
            text += f" ({summary.released} made visible again)"
        text += "."
    if summary.stopped:
        text += f" Stopped early: {summary.stopped}."
    return text
