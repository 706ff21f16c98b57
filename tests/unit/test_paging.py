"""Paging tokens: opaque to clients, strictly checked on the way back. Pure."""

import base64
import json

import pytest

from task_scheduler.api.paging import InvalidToken, decode_token, encode_token
from task_scheduler.core.records import TaskStatus

SCAN_KEY = {"id": {"S": "task-1"}}
QUERY_KEY = {
    "id": {"S": "task-1"},
    "status": {"S": "scheduled"},
    "timestamp": {"S": "2030-01-01T00:00:00.000Z"},
}


def token_of(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


@pytest.mark.parametrize(("key", "status"), [(SCAN_KEY, None), (QUERY_KEY, TaskStatus.SCHEDULED)])
def test_a_token_round_trips(key, status):
    token = encode_token(key)

    assert token.isascii()
    assert "=" not in token
    assert decode_token(token, status) == key


@pytest.mark.parametrize(
    ("token", "status"),
    [
        ("", None),
        ("!!!!", None),
        ("a b", None),
        ("A", None),  # not a whole base64 quantum
        (base64.b64encode(b"\xff\xfe").decode().rstrip("="), None),  # not UTF-8
        (token_of("text"), None),
        (token_of([SCAN_KEY]), None),
        (token_of({}), None),
        (token_of(QUERY_KEY), None),  # an index key in a scan
        (token_of(SCAN_KEY), TaskStatus.SCHEDULED),  # a table key in a query
        (token_of(QUERY_KEY), TaskStatus.EMITTED),  # another status's listing
        (token_of({"id": {"S": "bad id"}}), None),
        (token_of({"id": {"N": "1"}}), None),
        (token_of({"id": {"S": "a", "N": "1"}}), None),
        (token_of({"id": {"S": 1}}), None),
        (token_of({"id": "task-1"}), None),
        (token_of({**QUERY_KEY, "timestamp": {"S": "tomorrow"}}), TaskStatus.SCHEDULED),
        (token_of({**QUERY_KEY, "extra": {"S": "x"}}), TaskStatus.SCHEDULED),
        ("A" * 513, None),
    ],
)
def test_a_malformed_token_is_refused(token, status):
    with pytest.raises(InvalidToken):
        decode_token(token, status)
