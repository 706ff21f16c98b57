"""Opaque paging tokens of GET /schedule: base64url of DynamoDB's LastEvaluatedKey. Pure.

A token goes back to DynamoDB as ExclusiveStartKey, so decoding checks it strictly: a token
forged, truncated or from another filter is refused here rather than by DynamoDB (a 5xx).
"""

import base64
import binascii
import json
import re

from task_scheduler.core.records import Item, TaskStatus
from task_scheduler.core.tasks import is_task_id

# A key is at most ~230 characters of JSON: id (64), status, timestamp (24).
MAX_TOKEN_CHARS = 512
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", re.ASCII)
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)


class InvalidToken(ValueError):
    """Not a token this API gave for this filter."""


def encode_token(last_evaluated_key: Item) -> str:
    document = json.dumps(last_evaluated_key, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def decode_token(token: str, status: TaskStatus | None) -> Item:
    """The ExclusiveStartKey `token` stands for, in a listing filtered by `status`."""
    if len(token) > MAX_TOKEN_CHARS or not _BASE64URL.fullmatch(token):
        raise InvalidToken("the token is not one this API gave")
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as exc:  # UnicodeDecodeError and JSONDecodeError too
        raise InvalidToken("the token is not one this API gave") from exc
    # A listing by status queries the status-timestamp index, whose keys add those attributes.
    names = {"id"} if status is None else {"id", "status", "timestamp"}
    if not isinstance(key, dict) or set(key) != names or not all(map(_is_string, key.values())):
        raise InvalidToken("the token belongs to another listing")
    values: dict[str, str] = {name: value["S"] for name, value in key.items()}
    if not is_task_id(values["id"]) or (
        status is not None
        and (values["status"] != status or not _TIMESTAMP.fullmatch(values["timestamp"]))
    ):
        raise InvalidToken("the token belongs to another listing")
    return {name: {"S": value} for name, value in values.items()}


def _is_string(value: object) -> bool:
    """Whether `value` is a DynamoDB string attribute value, {"S": "..."}."""
    return isinstance(value, dict) and list(value) == ["S"] and isinstance(value["S"], str)
