"""How a scheduled task becomes an SNS message (stdlib only: the emit function imports it).

The API function uses it too, to check the size of exactly what the emit function will publish.
"""

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from task_scheduler.core.tasks import Task
from task_scheduler.core.timestamps import format_timestamp

MessageEncoding = Literal["string", "json"]

# The characters SQS, a common SNS subscriber, can carry; text with others is sent JSON-escaped.
_DELIVERABLE_TEXT = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]+")


@dataclass(frozen=True)
class SnsMessage:
    """Arguments of SNS Publish, besides the topic."""

    body: str
    attributes: dict[str, dict[str, str]]

    @property
    def size_bytes(self) -> int:
        # SNS counts the body plus each attribute's name, data type and value against its limit.
        return len(self.body.encode()) + sum(
            len(name.encode())
            + len(value["DataType"].encode())
            + len(value["StringValue"].encode())
            for name, value in self.attributes.items()
        )


def encode_message(message: Any) -> tuple[str, MessageEncoding]:
    """Return the SNS body for `message` and how subscribers decode it.

    Text goes as-is. Everything else is compact JSON, ASCII-only so that it survives every
    subscription protocol unchanged; that includes "" (SNS rejects an empty body) and text
    with characters SQS cannot carry.
    """
    if isinstance(message, str) and _DELIVERABLE_TEXT.fullmatch(message):
        return message, "string"
    return json.dumps(message, separators=(",", ":"), allow_nan=False), "json"


def build_sns_message(task: Task) -> SnsMessage:
    """Encode `task` with attributes subscribers can filter on and decode it by."""
    body, encoding = encode_message(task.message)
    attributes = {
        "task_id": task.id,
        "scheduled_at": format_timestamp(task.timestamp),
        "message_encoding": encoding,
    }
    return SnsMessage(
        body=body,
        attributes={
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
    )
