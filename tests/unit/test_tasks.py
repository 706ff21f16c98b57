"""Task ids, execution names and inputs, message hashes. Pure."""

import json
from datetime import UTC, datetime

import pytest

from task_scheduler.core.tasks import (
    Task,
    TaskExecution,
    execution_arn,
    execution_name,
    is_task_id,
    message_sha256,
    state_machine_arn,
)

STATE_MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:task-scheduler"
EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:task-scheduler:a_b_2_3"
AT = datetime(2030, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("a", True),
        ("A-z_0-9", True),
        ("x" * 64, True),
        ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("", False),
        ("x" * 65, False),
        ("a b", False),
        ("a.b", False),
        ("a:b", False),
        ("é", False),
        ("a\n", False),
        (7, False),
        (None, False),
    ],
)
def test_task_ids_follow_the_execution_name_rules(value, valid):
    assert is_task_id(value) is valid


def test_execution_names_and_arns():
    name = execution_name("a_b", 2, 3)

    assert name == "a_b_2_3"
    assert execution_arn(STATE_MACHINE, name) == EXECUTION
    assert state_machine_arn(EXECUTION) == STATE_MACHINE
    # The longest id leaves room for the suffix within Step Functions' 80 characters.
    assert len(execution_name("x" * 64, 9999, 9999)) <= 80


@pytest.mark.parametrize("arn", [STATE_MACHINE, "task-scheduler", ""])
def test_a_state_machine_only_comes_from_an_execution_arn(arn):
    with pytest.raises(ValueError, match="execution ARN"):
        state_machine_arn(arn)


def test_equal_messages_hash_equal_whatever_their_key_order():
    assert message_sha256({"a": 1, "b": [1, {"c": "é"}]}) == message_sha256(
        {"b": [1, {"c": "é"}], "a": 1}
    )
    assert message_sha256("1") != message_sha256(1)
    assert message_sha256(None) != message_sha256("null")
    assert len(message_sha256(None)) == 64


def test_an_execution_input_round_trips():
    execution = TaskExecution(Task("t", AT, {"k": [None]}), 2, 3, AT.replace(microsecond=0))

    document = json.loads(execution.execution_input())

    assert document == {
        "id": "t",
        "version": 2,
        "segment": 3,
        "timestamp": "2030-01-01T12:00:00.250Z",
        "release_at": "2030-01-01T12:00:00Z",
        "message": {"k": [None]},
    }
    assert TaskExecution.from_execution_input(document) == execution
    assert execution.name == "t_2_3"
