"""Issue 9's delivery promises, proven by injecting AWS's own errors into the local stack.

Faults go through the emulator's `POST /emulator/faults` (task_scheduler_emulator.faults): the
next N calls of one AWS operation, narrowed to the calls that carry one task's id, fail with
the error code and HTTP status AWS answers. The handlers are unchanged and see what they would
see on AWS, SDK retries included.

Also proven elsewhere, not repeated here (tests/local_stack/test_end_to_end.py): an emission
failing while the topic does not exist is retried and delivered
(`test_transient_emit_failure_is_retried_then_delivered`), and one that always fails is
dead-lettered with the whole task and the error, its execution failed and its status `failed`
(`test_emission_that_always_fails_lands_in_the_dead_letter_queue`).
"""

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from task_scheduler import aws
from tests.local_stack.conftest import Inbox, RunningStack
from tests.local_stack.test_end_to_end import wait_until
from tests.local_stack.test_lifecycle import call, in_seconds, new_id

pytestmark = pytest.mark.local_stack

# How long after its first delivery a task is watched for a second one.
QUIET_SECONDS = 4


def sdk_attempts() -> int:
    """How many times the functions' SDK (task_scheduler.aws) tries one call: throttling and
    5xx errors are retried, others are not. botocore's `max_attempts` counts retries only."""
    retries = aws._CONFIG.retries or {}
    total = retries.get("total_max_attempts") or retries.get("max_attempts", 2) + 1
    return int(total)


SDK_ATTEMPTS = sdk_attempts()


def inject(stack: RunningStack, **spec: Any) -> dict[str, Any]:
    status, fault = call(stack, "POST", "/emulator/faults", spec)
    assert status == 201, fault
    return dict(fault)


def fault_state(stack: RunningStack, fault: dict[str, Any]) -> dict[str, Any]:
    status, listed = call(stack, "GET", "/emulator/faults")
    assert status == 200
    (found,) = [f for f in listed["faults"] if f["id"] == fault["id"]]
    return dict(found)


@pytest.fixture(autouse=True)
def no_faults_left(stack: RunningStack) -> Iterator[None]:
    yield
    call(stack, "DELETE", "/emulator/faults")


def schedule(
    stack: RunningStack, task_id: str, timestamp: str, message: Any, timeout: float = 30
) -> tuple[int, Any, dict[str, str]]:
    """POST /schedule with an id: (status, body, headers with lower-case names)."""
    body = json.dumps({"id": task_id, "timestamp": timestamp, "message": message}).encode()
    request = urllib.request.Request(
        f"{stack.url}/schedule", body, {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, json.loads(response.read()), headers
    except urllib.error.HTTPError as error:
        headers = {k.lower(): v for k, v in error.headers.items()}
        return error.code, json.loads(error.read()), headers


def delivered_once(
    task_id: str, events: Inbox, worker_inbox: Inbox, timeout: float = 30
) -> dict[str, Any]:
    """Waits for the task on both subscriptions, then checks that no second copy follows."""
    received = events.wait_for(task_id, timeout=timeout)
    worker_inbox.wait_for(task_id, timeout=timeout)
    time.sleep(QUIET_SECONDS)
    assert (events.count(task_id), worker_inbox.count(task_id)) == (1, 1)
    return dict(received.data)


def task_failures(stack: RunningStack, execution_arn: str) -> list[str]:
    """The errors of the execution's failed Task attempts, in order."""
    history = stack.client("stepfunctions").get_execution_history(executionArn=execution_arn)
    return [
        e["taskFailedEventDetails"]["error"] for e in history["events"] if e["type"] == "TaskFailed"
    ]


def final_status(stack: RunningStack, execution_arn: str, timeout: float = 30) -> str:
    sfn = stack.client("stepfunctions")
    return str(
        wait_until(
            lambda: (
                (status := sfn.describe_execution(executionArn=execution_arn)["status"])
                != "RUNNING"
                and status
            ),
            timeout,
            "the execution to finish",
        )
    )


def only_one_task(stack: RunningStack, task_id: str, status: str) -> dict[str, Any]:
    """Exactly one task has this id, one execution of it runs or ran, and it has `status`."""
    found, task = call(stack, "GET", f"/schedule/{task_id}")
    assert found == 200, task
    assert task["status"] == status
    live = [e for e in executions_of(stack, task_id) if e["status"] != "ABORTED"]
    assert len(live) == 1, executions_of(stack, task_id)
    return dict(task)


def executions_of(stack: RunningStack, task_id: str) -> list[dict[str, Any]]:
    """Every execution of the task, oldest name first (all pages)."""
    pages = (
        stack.client("stepfunctions")
        .get_paginator("list_executions")
        .paginate(stateMachineArn=stack.outputs["sfn_state_machine_arn"])
    )
    return sorted(
        (e for page in pages for e in page["executions"] if e["name"].rsplit("_", 2)[0] == task_id),
        key=lambda e: e["name"],
    )


def nothing_created(stack: RunningStack, task_id: str) -> None:
    """No registry record, and no execution of the task still waiting to emit it."""
    status, answer = call(stack, "GET", f"/schedule/{task_id}")
    assert status == 404, answer
    assert [e for e in executions_of(stack, task_id) if e["status"] == "RUNNING"] == []


# --- emit side: SNS and Lambda faults --------------------------------------------------------


def test_emit_failing_transiently_is_retried_and_delivered_exactly_once(
    stack: RunningStack, events: Inbox, worker_inbox: Inbox
) -> None:
    task_id = new_id("transient")
    # SNS's InternalError (500) on every attempt the emit function's SDK makes: the first
    # invocation fails, the state machine's Retry invokes it again, and that one publishes.
    fault = inject(
        stack,
        service="sns",
        operation="Publish",
        error_code="InternalError",
        count=SDK_ATTEMPTS,
        contains=task_id,
    )

    status, created, _ = schedule(stack, task_id, in_seconds(0), {"retried": True})

    assert status == 201, created
    assert delivered_once(task_id, events, worker_inbox)["message"] == {"retried": True}
    arn = executions_of(stack, task_id)[0]["executionArn"]
    assert final_status(stack, arn) == "SUCCEEDED"
    assert task_failures(stack, arn) == ["InternalErrorException"]
    assert fault_state(stack, fault)["hits"] == SDK_ATTEMPTS
    assert only_one_task(stack, task_id, "emitted")["emitted_at"] is not None


def test_emit_retried_after_a_successful_publish_does_not_publish_again(
    stack: RunningStack, events: Inbox, worker_inbox: Inbox
) -> None:
    task_id = new_id("lost-answer")
    status, created, _ = schedule(stack, task_id, in_seconds(3), "once")
    assert status == 201, created
    # The emit invocation runs and publishes, but Step Functions gets Lambda's ServiceException
    # (500) instead of its result, and retries it (Retry on Lambda.ServiceException).
    fault = inject(
        stack,
        service="lambda",
        operation="Invoke",
        error_code="ServiceException",
        when="after",
        contains=task_id,
    )

    assert delivered_once(task_id, events, worker_inbox)["message"] == "once"
    arn = executions_of(stack, task_id)[0]["executionArn"]
    assert final_status(stack, arn) == "SUCCEEDED"
    assert task_failures(stack, arn) == ["Lambda.ServiceException"]
    assert fault_state(stack, fault)["hits"] == 1
    only_one_task(stack, task_id, "emitted")


@pytest.mark.parametrize(
    ("error_code", "http_status"),
    [("AuthorizationError", 403), ("NotFound", 404)],
    ids=["publish-denied", "topic-deleted"],
)
def test_publish_denied_or_topic_gone_dead_letters_the_task(
    stack: RunningStack, events: Inbox, error_code: str, http_status: int
) -> None:
    # What SNS answers when the emit role may no longer publish (AuthorizationError, 403), and
    # when the topic has been deleted (NotFound, 404: "Topic does not exist").
    task_id = new_id(error_code.lower())
    fault = inject(
        stack,
        service="sns",
        operation="Publish",
        error_code=error_code,
        count=100,
        contains=task_id,
    )
    assert fault["status"] == http_status
    message = {"dead": error_code, "n": [1, 2]}

    status, created, _ = schedule(stack, task_id, in_seconds(0), message)
    assert status == 201, created

    dead_letter = dead_lettered(stack, task_id)
    assert {k: dead_letter[k] for k in ("id", "timestamp", "message")} == {
        "id": task_id,
        "timestamp": created["timestamp"],
        "message": message,
    }
    assert error_code in json.dumps(dead_letter["error"])
    arn = executions_of(stack, task_id)[0]["executionArn"]
    assert final_status(stack, arn) == "FAILED"
    assert len(task_failures(stack, arn)) == 4  # the first attempt and emit_retry's 3
    assert fault_state(stack, fault)["hits"] == 4  # not retried by the SDK: 4xx
    assert events.count(task_id) == 0
    wait_until(
        lambda: call(stack, "GET", f"/schedule/{task_id}")[1]["status"] == "failed",
        10,
        "the task's status to be failed",
    )


def dead_lettered(stack: RunningStack, task_id: str, timeout: float = 60) -> dict[str, Any]:
    """The task's message in the dead-letter queue (removed from it; others are left)."""
    sqs, queue_url = stack.client("sqs"), stack.outputs["sqs_dead_letter_queue_url"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        received = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=0
        )
        for message in received.get("Messages", []):
            body = json.loads(message["Body"])
            if body.get("id") == task_id:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                return dict(body)
    raise AssertionError(f"{task_id} was not dead-lettered within {timeout} s")


def test_lost_answer_to_the_idempotency_record_write_still_delivers_once(
    stack: RunningStack, events: Inbox, worker_inbox: Inbox
) -> None:
    """DynamoDB wrote the emit function's INPROGRESS record but its answer was lost (a 500, or
    a read timeout under load), and the SDK retried the PutItem: the retry finds the record
    in progress. The task must still be published once, not dead-lettered unpublished."""
    task_id = new_id("lost-record")
    status, created, _ = schedule(stack, task_id, in_seconds(3), "recorded")
    assert status == 201, created
    inject(
        stack,
        service="dynamodb",
        operation="PutItem",
        error_code="InternalServerError",
        when="after",
        contains=stack.outputs["dynamodb_idempotency_table_name"],
    )

    # However long the record stays in progress (until the invocation's deadline).
    arn = executions_of(stack, task_id)[0]["executionArn"]
    outcome = final_status(stack, arn, timeout=180)
    assert outcome == "SUCCEEDED", (outcome, task_failures(stack, arn))
    assert delivered_once(task_id, events, worker_inbox)["message"] == "recorded"
    only_one_task(stack, task_id, "emitted")


def test_lost_publish_answer_is_the_remaining_duplicate(
    stack: RunningStack, events: Inbox, worker_inbox: Inbox
) -> None:
    """The duplicate no idempotency record can prevent: SNS accepted the message, its answer
    was lost (here a 500 after the publish), and the emit function's SDK retried the call.
    On AWS too, Publish is not idempotent for standard topics; subscribers dedupe on task_id."""
    task_id = new_id("dup-window")
    inject(
        stack,
        service="sns",
        operation="Publish",
        error_code="InternalError",
        when="after",
        contains=task_id,
    )

    status, created, _ = schedule(stack, task_id, in_seconds(0), "twice")

    assert status == 201, created
    events.wait_for(task_id)
    time.sleep(QUIET_SECONDS)
    assert events.count(task_id) == 2
    arn = executions_of(stack, task_id)[0]["executionArn"]
    assert final_status(stack, arn) == "SUCCEEDED"
    assert task_failures(stack, arn) == []  # one invocation: the SDK's retry published again


# --- api side: StartExecution and PutItem faults ----------------------------------------------


@pytest.mark.parametrize(
    ("error_code", "attempts", "answer", "rule"),
    [
        ("ThrottlingException", SDK_ATTEMPTS, 503, "upstream_throttled"),
        ("ExecutionLimitExceeded", 1, 503, "upstream_throttled"),
        ("AccessDeniedException", 1, 502, "upstream_error"),
        ("InternalFailure", SDK_ATTEMPTS, 502, "upstream_error"),
    ],
)
def test_start_execution_refused_answers_503_or_502_and_creates_nothing(
    stack: RunningStack,
    events: Inbox,
    worker_inbox: Inbox,
    error_code: str,
    attempts: int,
    answer: int,
    rule: str,
) -> None:
    task_id = new_id("start")
    fault = inject(
        stack,
        service="stepfunctions",
        operation="StartExecution",
        error_code=error_code,
        count=10,
        contains=task_id,
    )
    timestamp = in_seconds(6)

    status, body, headers = schedule(stack, task_id, timestamp, "start")

    assert status == answer, body
    assert body["errors"][0]["rule"] == rule
    assert error_code in body["errors"][0]["detail"]
    if answer == 503:
        assert int(headers["retry-after"]) > 0
    else:
        assert "retry-after" not in headers
    assert fault_state(stack, fault)["hits"] == attempts  # the SDK retried only what it should
    nothing_created(stack, task_id)
    assert executions_of(stack, task_id) == []

    # The client retries with the same id once Step Functions recovers: one task, one delivery.
    call(stack, "DELETE", "/emulator/faults")
    status, body, _ = schedule(stack, task_id, timestamp, "start")
    assert status == 201, body
    assert delivered_once(task_id, events, worker_inbox)["message"] == "start"
    only_one_task(stack, task_id, "emitted")


@pytest.mark.parametrize(
    ("error_code", "answer"),
    [("ProvisionedThroughputExceededException", 503), ("AccessDeniedException", 502)],
)
def test_registry_write_failing_after_start_stops_the_execution(
    stack: RunningStack, events: Inbox, worker_inbox: Inbox, error_code: str, answer: int
) -> None:
    task_id = new_id("put")
    inject(
        stack,
        service="dynamodb",
        operation="PutItem",
        error_code=error_code,
        count=10,
        contains=task_id,
    )
    timestamp = in_seconds(8)

    status, body, _ = schedule(stack, task_id, timestamp, "registered")

    assert status == answer, body
    assert error_code in body["errors"][0]["detail"]
    nothing_created(stack, task_id)
    (started,) = executions_of(stack, task_id)
    assert started["status"] == "ABORTED"  # started, then stopped when registering failed

    call(stack, "DELETE", "/emulator/faults")
    status, body, _ = schedule(stack, task_id, timestamp, "registered")
    assert status == 201, body
    assert delivered_once(task_id, events, worker_inbox)["message"] == "registered"
    task = only_one_task(stack, task_id, "emitted")
    assert task["version"] == 2  # the aborted execution keeps version 1's name


# --- the client's retries -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wait_before_retry", "retry_answers"),
    [(0.0, {200, 201}), (4.0, {200})],
    ids=["while-the-first-is-in-flight", "after-the-first-finished"],
)
def test_client_retrying_after_a_timeout_gets_exactly_one_task(
    stack: RunningStack,
    events: Inbox,
    worker_inbox: Inbox,
    wait_before_retry: float,
    retry_answers: set[int],
) -> None:
    task_id = new_id("timeout")
    # A slow registry write holds the first request past the client's timeout; it still
    # completes on the server.
    inject(
        stack,
        service="dynamodb",
        operation="PutItem",
        delay_seconds=2.5,
        contains=task_id,
    )
    timestamp = in_seconds(10)

    with pytest.raises((TimeoutError, urllib.error.URLError)):
        schedule(stack, task_id, timestamp, "retried", timeout=1)
    time.sleep(wait_before_retry)
    status, body, _ = schedule(stack, task_id, timestamp, "retried")

    assert status in retry_answers, body
    assert body["id"] == task_id
    assert body["timestamp"] == timestamp.replace("+00:00", "Z")
    time.sleep(3)  # the first request has answered (to nobody) by now
    only_one_task(stack, task_id, "scheduled")
    assert delivered_once(task_id, events, worker_inbox)["message"] == "retried"
    only_one_task(stack, task_id, "emitted")


def test_faults_route_refuses_what_aws_would_not_answer(stack: RunningStack) -> None:
    status, answer = call(
        stack,
        "POST",
        "/emulator/faults",
        {"service": "sns", "operation": "Publish", "error_code": "MadeUp"},
    )
    assert status == 400
    assert "give status" in answer["message"]
    assert call(stack, "GET", "/emulator/faults") == (200, {"faults": []})
