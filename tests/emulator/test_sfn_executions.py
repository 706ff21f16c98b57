"""Step Functions' execution lifecycle and what the module's state machine relies on: context
object, intrinsics, the DynamoDB integration, StopExecution and StartExecution's name rules, as
on AWS."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

AWS_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _machine(client: Callable[[str], Any], role_arn: str, definition: dict[str, Any]) -> str:
    created = client("stepfunctions").create_state_machine(
        name=f"sm-{uuid.uuid4().hex[:12]}", definition=json.dumps(definition), roleArn=role_arn
    )
    return str(created["stateMachineArn"])


def _history(client: Callable[[str], Any], execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = client("stepfunctions").get_execution_history(
        executionArn=execution_arn
    )["events"]
    return events


def test_context_object_and_states_format(run_execution: Callable[..., Any]) -> None:
    definition = {
        "StartAt": "Context",
        "States": {
            "Context": {
                "Type": "Pass",
                "Parameters": {
                    "execution_arn.$": "$$.Execution.Id",
                    "started.$": "$$.Execution.StartTime",
                    "entered.$": "$$.State.EnteredTime",
                    "version.$": "States.Format('{}', $.version)",
                },
                "End": True,
            }
        },
    }

    done = run_execution(definition, {"version": 3})

    output = json.loads(done["output"])
    assert output["execution_arn"] == done["executionArn"]
    assert output["version"] == "3"  # a string: what an "N" attribute value needs
    # ISO 8601 with milliseconds and Z, as AWS documents (moto: microseconds, +00:00).
    assert AWS_TIMESTAMP.match(output["started"]), output
    assert AWS_TIMESTAMP.match(output["entered"]), output
    assert output["started"] <= output["entered"]


MARK_FAILED = {
    "StartAt": "MarkFailed",
    "States": {
        "MarkFailed": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:updateItem",
            "Parameters": {
                "TableName.$": "$.table",
                "Key": {"id": {"S.$": "$.id"}},
                "UpdateExpression": "SET #status = :failed, updated_at = :now",
                "ConditionExpression": "version = :version",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": {
                    ":failed": {"S": "failed"},
                    ":version": {"N.$": "States.Format('{}', $.version)"},
                    ":now": {"S.$": "$$.State.EnteredTime"},
                },
            },
            "ResultPath": None,
            "Retry": [
                {
                    "ErrorEquals": ["DynamoDB.ProvisionedThroughputExceededException"],
                    "MaxAttempts": 2,
                }
            ],
            "Catch": [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.mark_failed_error", "Next": "Done"}
            ],
            "Next": "Done",
        },
        "Done": {"Type": "Pass", "End": True},
    },
}


def test_dynamodb_update_item_with_a_condition(
    client: Callable[[str], Any], run_execution: Callable[..., Any]
) -> None:
    dynamodb = client("dynamodb")
    table = f"tasks-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(
        TableName=table,
        Item={"id": {"S": "t"}, "version": {"N": "2"}, "status": {"S": "scheduled"}},
    )

    stale = run_execution(MARK_FAILED, {"table": table, "id": "t", "version": 1})
    unchanged = dynamodb.get_item(TableName=table, Key={"id": {"S": "t"}})["Item"]
    current = run_execution(MARK_FAILED, {"table": table, "id": "t", "version": 2})
    marked = dynamodb.get_item(TableName=table, Key={"id": {"S": "t"}})["Item"]

    assert stale["status"] == "SUCCEEDED"  # caught
    caught = json.loads(stale["output"])["mark_failed_error"]
    assert caught["Error"] == "DynamoDB.ConditionalCheckFailedException"
    assert unchanged["status"] == {"S": "scheduled"}
    assert current["status"] == "SUCCEEDED"
    assert "mark_failed_error" not in json.loads(current["output"])
    assert marked["status"] == {"S": "failed"}
    assert AWS_TIMESTAMP.match(marked["updated_at"]["S"])


WAIT_THEN_MARK = {
    "StartAt": "Wait",
    "States": {
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Later"},
        "Later": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl.$": "$.queue", "MessageBody": "later state ran"},
            "End": True,
        },
    },
}


def test_stop_during_a_wait_aborts_at_once_and_runs_nothing_later(
    client: Callable[[str], Any], role_arn: str
) -> None:
    sfn, sqs = client("stepfunctions"), client("sqs")
    queue = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    machine = _machine(client, role_arn, WAIT_THEN_MARK)
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"queue": queue}))
    arn = execution["executionArn"]
    time.sleep(0.2)

    stopped = sfn.stop_execution(executionArn=arn)
    right_after = sfn.describe_execution(executionArn=arn)
    time.sleep(1.5)  # past the Wait's end
    later = sfn.describe_execution(executionArn=arn)

    assert "stopDate" in stopped  # AWS always answers it
    assert right_after["status"] == "ABORTED"
    assert right_after["stopDate"] == stopped["stopDate"] == later["stopDate"]
    assert later["status"] == "ABORTED"
    types = [event["type"] for event in _history(client, arn)]
    assert types[-1] == "ExecutionAborted"
    assert "WaitStateExited" not in types
    assert sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages") is None


SLOW_LAMBDA = {
    "slow.py": """
import os, time, boto3

def handler(event, context):
    time.sleep(1.5)
    boto3.client("sqs").send_message(QueueUrl=event["queue"], MessageBody="lambda finished")
    return event
"""
}


def test_stop_does_not_stop_a_lambda_in_flight_but_nothing_after_it_runs(
    client: Callable[[str], Any], role_arn: str, make_function: Callable[..., str]
) -> None:
    sfn, sqs = client("stepfunctions"), client("sqs")
    queue = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    function = make_function(SLOW_LAMBDA, "slow.handler")
    definition = {
        "StartAt": "Emit",
        "States": {
            "Emit": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function, "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "Next": "Later",
            },
            "Later": WAIT_THEN_MARK["States"]["Later"],
        },
    }
    machine = _machine(client, role_arn, definition)
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"queue": queue}))[
        "executionArn"
    ]
    deadline = time.monotonic() + 10
    while "TaskStarted" not in [e["type"] for e in _history(client, arn)]:
        assert time.monotonic() < deadline, "the Lambda task never started"
        time.sleep(0.05)

    sfn.stop_execution(executionArn=arn)
    status_at_stop = sfn.describe_execution(executionArn=arn)["status"]
    bodies: list[str] = []
    deadline = time.monotonic() + 10
    while "lambda finished" not in bodies and time.monotonic() < deadline:
        received = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1, MaxNumberOfMessages=10)
        bodies += [m["Body"] for m in received.get("Messages", [])]
    time.sleep(0.5)  # time for a later state, if one wrongly ran
    bodies += [m["Body"] for m in sqs.receive_message(QueueUrl=queue).get("Messages", [])]

    assert status_at_stop == "ABORTED"
    assert bodies == ["lambda finished"]  # the invocation ran to its end; "Later" never ran
    types = [event["type"] for event in _history(client, arn)]
    assert types[-1] == "ExecutionAborted"
    assert "TaskSucceeded" not in types  # its result is not recorded after the abort
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"


def test_start_execution_name_rules(client: Callable[[str], Any], role_arn: str) -> None:
    sfn = client("stepfunctions")
    machine = _machine(client, role_arn, WAIT_THEN_MARK)
    original = sfn.start_execution(stateMachineArn=machine, name="task_1_1", input='{"a": 1}')

    again = sfn.start_execution(stateMachineArn=machine, name="task_1_1", input='{"a": 1}')
    with pytest.raises(ClientError) as different:
        sfn.start_execution(stateMachineArn=machine, name="task_1_1", input='{"a": 2}')
    sfn.stop_execution(executionArn=original["executionArn"])
    with pytest.raises(ClientError) as closed:
        sfn.start_execution(stateMachineArn=machine, name="task_1_1", input='{"a": 1}')
    unnamed = [sfn.start_execution(stateMachineArn=machine)["executionArn"] for _ in range(2)]

    assert (again["executionArn"], again["startDate"]) == (
        original["executionArn"],
        original["startDate"],
    )
    assert different.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
    assert closed.value.response["Error"]["Code"] == "ExecutionAlreadyExists"
    names = [arn.rsplit(":", 1)[1] for arn in unnamed]
    assert len(set(names)) == 2
    assert all(UUID.match(name) for name in names), names
    for arn in unnamed:
        sfn.stop_execution(executionArn=arn)


def test_stop_right_after_start_aborts(client: Callable[[str], Any], role_arn: str) -> None:
    """What the api does when a conflicting request started an execution: moto failed with 500
    or missed the stop while the execution's thread was still parsing the definition."""
    sfn = client("stepfunctions")
    states: dict[str, Any] = {f"S{n}": {"Type": "Pass", "Next": f"S{n + 1}"} for n in range(400)}
    states["S400"] = {"Type": "Wait", "Seconds": 30, "End": True}
    machine = _machine(client, role_arn, {"StartAt": "S0", "States": states})

    arns = []
    for _ in range(20):
        arn = sfn.start_execution(stateMachineArn=machine)["executionArn"]
        sfn.stop_execution(executionArn=arn)
        arns.append(arn)

    assert {sfn.describe_execution(executionArn=arn)["status"] for arn in arns} == {"ABORTED"}


@pytest.mark.parametrize("name", ["has space", "a/b", "x" * 81, "brace{"])
def test_invalid_execution_names_are_refused(
    client: Callable[[str], Any], role_arn: str, name: str
) -> None:
    machine = _machine(client, role_arn, WAIT_THEN_MARK)

    with pytest.raises(ClientError) as refused:
        client("stepfunctions").start_execution(stateMachineArn=machine, name=name)

    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # InvalidName, or for more than 80 characters the length constraint's ValidationException
    assert refused.value.response["Error"]["Code"] in ("InvalidName", "ValidationException")
