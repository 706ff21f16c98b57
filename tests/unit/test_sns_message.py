"""How messages are encoded for SNS: lossless for every JSON value, deliverable everywhere."""

import json
from datetime import UTC, datetime

import pytest

from task_scheduler.core.sns_message import build_sns_message, encode_message
from task_scheduler.core.tasks import Task


@pytest.mark.parametrize(
    ("message", "body", "encoding"),
    [
        ("hello", "hello", "string"),
        ("汉字 😀\ttab\nline", "汉字 😀\ttab\nline", "string"),
        ("", '""', "json"),
        ("nul\x00", '"nul\\u0000"', "json"),
        ("\ufffe", '"\\ufffe"', "json"),
        ({"k": "汉", "n": [1, None]}, '{"k":"\\u6c49","n":[1,null]}', "json"),
        ([], "[]", "json"),
        (0, "0", "json"),
        (2.5, "2.5", "json"),
        (False, "false", "json"),
        (None, "null", "json"),
    ],
)
def test_encoding_is_lossless(message, body, encoding):
    assert encode_message(message) == (body, encoding)
    decoded = json.loads(body) if encoding == "json" else body
    assert json.dumps(decoded) == json.dumps(message)


def test_json_bodies_are_ascii():
    body, _ = encode_message({"text": "héllo 汉字 😀 \ufffe"})

    assert body.isascii()


def test_sns_message_carries_attributes_and_counts_them_in_its_size():
    task = Task(
        id="0f8fad5b-d9cb-469f-a165-70867728950e",
        timestamp=datetime(2030, 1, 1, tzinfo=UTC),
        message="héllo",
    )

    sns_message = build_sns_message(task)

    assert sns_message.body == "héllo"
    assert sns_message.attributes == {
        "task_id": {"DataType": "String", "StringValue": task.id},
        "scheduled_at": {"DataType": "String", "StringValue": "2030-01-01T00:00:00.000Z"},
        "message_encoding": {"DataType": "String", "StringValue": "string"},
    }
    attributes_size = (7 + 6 + 36) + (12 + 6 + 24) + (16 + 6 + 6)
    assert sns_message.size_bytes == len("héllo".encode()) + attributes_size
