"""Lambda handlers from the deployed zip run, and Step Functions Retry/Catch see errors."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

HANDLERS = {
    "app/__init__.py": "",
    "app/handlers.py": """
import os
from pathlib import Path

import boto3


def echo(event, context):
    print("log line from the handler")
    queues = boto3.client("sqs").list_queues()  # reaches the emulator via AWS_ENDPOINT_URL
    return {
        "event": event,
        "greeting": os.environ["GREETING"],
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "sqs_status": queues["ResponseMetadata"]["HTTPStatusCode"],
    }


def boom(event, context):
    raise ValueError("boom: " + event.get("why", ""))


def flaky(event, context):
    counter = Path(os.environ["COUNTER_FILE"])
    calls = int(counter.read_text() or 0) + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    if calls <= int(os.environ["FAILURES"]):
        raise ConnectionError(f"transient failure {calls}")
    return {"calls": calls, "input": event}


def slow(event, context):
    import time
    time.sleep(5)
""",
}


def invoke(client: Callable[[str], Any], arn: str, payload: Any) -> tuple[str | None, Any, str]:
    result = client("lambda").invoke(FunctionName=arn, Payload=json.dumps(payload), LogType="Tail")
    log = base64.b64decode(result.get("LogResult", "")).decode()
    return result.get("FunctionError"), json.loads(result["Payload"].read()), log


def test_handler_runs_with_its_environment(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    arn = make_function(HANDLERS, "app.handlers.echo", env={"GREETING": "hello"})

    error, payload, log = invoke(client, arn, {"a": 1})

    assert error is None
    assert payload["event"] == {"a": 1}
    assert payload["greeting"] == "hello"
    assert payload["function_name"] == arn.split(":")[-1]
    assert 0 < payload["remaining_ms"] <= 10_000
    assert payload["sqs_status"] == 200
    assert "log line from the handler" in log


def test_invocations_work_with_more_than_1024_open_descriptors(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    # Under load the emulator holds over FD_SETSIZE descriptors: select() refused the worker's
    # pipe then, and the invocation failed (executions ended in States.Runtime, tasks lost).
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        arn = make_function(HANDLERS, "app.handlers.echo", env={"GREETING": "crowded"})
        error, payload, _ = invoke(client, arn, {"n": 1})
    finally:
        for descriptor in held:
            os.close(descriptor)

    assert error is None
    assert payload["greeting"] == "crowded"


def test_exception_maps_to_unhandled_function_error(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    arn = make_function(HANDLERS, "app.handlers.boom")

    error, payload, _ = invoke(client, arn, {"why": "testing"})

    assert error == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "boom: testing"
    assert "raise ValueError" in "".join(payload["stackTrace"])


def test_function_timeout_is_enforced(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    arn = make_function(HANDLERS, "app.handlers.slow", timeout=1)

    error, payload, _ = invoke(client, arn, {})

    assert error == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"


def task(arn: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": arn, "Payload.$": "$"},
        "OutputPath": "$.Payload",
        **extra,
    }


def test_retry_recovers_from_transient_handler_errors(
    tmp_path: Path, make_function: Callable[..., str], run_execution: Callable[..., Any]
) -> None:
    counter = tmp_path / "calls"
    arn = make_function(
        HANDLERS, "app.handlers.flaky", env={"COUNTER_FILE": str(counter), "FAILURES": "2"}
    )
    retry = [
        {"ErrorEquals": ["Lambda.ServiceException"], "MaxAttempts": 2},
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3, "BackoffRate": 1},
    ]
    definition = {"StartAt": "Emit", "States": {"Emit": task(arn, Retry=retry, End=True)}}

    done = run_execution(definition, {"id": "t-1"})

    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"calls": 3, "input": {"id": "t-1"}}


def test_catch_sends_the_failure_to_the_dead_letter_queue(
    client: Callable[[str], Any],
    make_function: Callable[..., str],
    run_execution: Callable[..., Any],
) -> None:
    sqs = client("sqs")
    dlq = sqs.create_queue(QueueName="dead-letters")["QueueUrl"]
    arn = make_function(HANDLERS, "app.handlers.boom")
    catch = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "DeadLetter"}]
    retry = [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 1}]
    definition = {
        "StartAt": "Emit",
        "States": {
            "Emit": task(arn, Retry=retry, Catch=catch, End=True),
            "DeadLetter": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": dlq, "MessageBody.$": "$"},
                "Next": "Failed",
            },
            "Failed": {"Type": "Fail", "Error": "EmitFailed"},
        },
    }

    done = run_execution(definition, {"id": "t-2", "why": "always"})

    assert done["status"] == "FAILED", done
    assert done["error"] == "EmitFailed"
    messages = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1)["Messages"]
    dead = json.loads(messages[0]["Body"])
    assert dead["id"] == "t-2"
    assert dead["error"]["Error"] == "ValueError"
    assert json.loads(dead["error"]["Cause"])["errorMessage"] == "boom: always"
