"""Issue 9's delivery promises, proven by injecting AWS's own errors into the local stack.

Faults go through the emulator's `POST /emulator/faults` (task_scheduler_emulator.faults): the
next N calls of one AWS operation, narrowed to the calls whose request holds a text, fail with
the error code and HTTP status AWS answers. The handlers are unchanged and see what they would
see on AWS, SDK retries included.

Tasks share executions by time slot (docs/time-slots.md): the calls that name a task (its slot
entry, its registry item, its claim, its SNS message) carry its id, but those of its shard's
execution (StartExecution, the emit Invoke) name the slot only. So each test gives its tasks a
second no other test uses (conftest.fresh_second) and narrows those faults to the slot.

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

from task_scheduler.aws import clients
from tests.local_stack.conftest import (
    Inbox,
    RunningStack,
    at,
    carriers,
    execution_output,
    fresh_second,
    registry_item,
    slot_of,
)
from tests.local_stack.test_end_to_end import execution_arn, wait_until
from tests.local_stack.test_lifecycle import call, new_id

pytestmark = pytest.mark.local_stack

# How long after its first delivery a task is watched for a second one.
QUIET_SECONDS = 4


def sdk_attempts() -> int:
    """How many times the functions' SDK (task_scheduler.aws.clients) tries one call: throttling and
    5xx errors are retried, others are not. botocore's `max_attempts` counts retries only."""
    retries = clients._CONFIG.retries or {}
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
    """Exactly one task has this id, with `status`, and one execution of its slot (or of its
    own) runs or ran: none started by a refused request, none stopped (nothing stops any)."""
    found, task = call(stack, "GET", f"/schedule/{task_id}")
    assert found == 200, task
    assert task["status"] == status
    executions = carriers(stack, slot_of(task["timestamp"]), task_id)
    assert len(executions) == 1, executions
    assert executions[0]["status"] != "ABORTED"
    return dict(task)


def nothing_created(stack: RunningStack, task_id: str, slot: int) -> None:
    """No registry record, and no execution of the task's slot (or of its own) at all."""
    status, answer = call(stack, "GET", f"/schedule/{task_id}")
    assert status == 404, answer
    assert registry_item(stack, task_id) is None
    assert carriers(stack, slot, task_id) == []


def shard_arn(stack: RunningStack, slot: int, shard: int = 0) -> str:
    machine = stack.outputs["sfn_state_machine_arn"]
    return f"{machine.replace(':stateMachine:', ':execution:')}:slot-{slot}-{shard}"


# --- emit side: SNS, Lambda and DynamoDB faults -------------------------------------------


def test_emit_failing_transiently_is_retried_and_delivered_exactly_once(
    stack: RunningStack, events: Inbox, worker_inbox: Inbox
) -> None:
    task_id, slot = new_id("transient"), fresh_second(2)
    # SNS's InternalError (500) on every attempt the emit function's SDK makes: the first
    # invocation fails, the state machine's Retry invokes it again, and that one publishes.
    # The batch carries the task's id (its task_id attribute).
    fault = inject(
        stack,
        service="sns",
        operation="PublishBatch",
        error_code="InternalError",
        count=SDK_ATTEMPTS,
        contains=task_id,
    )

    status, created, _ = schedule(stack, task_id, at(slot, 500), {"retried": True})

    assert status == 201, created
    assert delivered_once(task_id, events, worker_inbox)["message"] == {"retried": True}
    arn = execution_arn(stack, task_id)
    assert arn == shard_arn(stack, slot)  # the slot's shard claimed it, on its retry too
    assert final_status(stack, arn) == "SUCCEEDED"
    assert task_failures(stack, arn) == ["InternalErrorException"]
    assert fault_state(stack, fault)["hits"] == SDK_ATTEMPTS
    assert only_one_task(stack, task_id, "emitted")["emitted_at"] is not None


def test_emit_retried_after_a_successful_publish_does_not_publish_again(
    stack: RunningStack, events: Inbox, worker_inbox: Inbox
) -> None:
    task_id, slot = new_id("lost-answer"), fresh_second(3)
    # The emit invocation runs and publishes, but Step Functions gets Lambda's ServiceException
    # (500) instead of its result, and retries it (Retry on Lambda.ServiceException). The
    # invocation of a shard names the shard's execution, not its tasks.
    fault = inject(
        stack,
        service="lambda",
        operation="Invoke",
        error_code="ServiceException",
        when="after",
        contains=f"slot-{slot}-0",
    )
    status, created, _ = schedule(stack, task_id, at(slot, 200), "once")
    assert status == 201, created

    assert delivered_once(task_id, events, worker_inbox)["message"] == "once"
    arn = shard_arn(stack, slot)
    assert execution_arn(stack, task_id) == arn
    assert final_status(stack, arn) == "SUCCEEDED"
    assert task_failures(stack, arn) == ["Lambda.ServiceException"]
    assert fault_state(stack, fault)["hits"] == 1
    # The retry found the task in the shard's publication log and left it out: it claimed and
    # published nothing (without the log, its claim, by the same execution, would succeed).
    assert execution_output(stack, f"slot-{slot}-0")["published"] == 0
    ordinal = registry_item(stack, task_id)["ordinal"]["N"]  # type: ignore[index]
    logged = stack.client("dynamodb").get_item(
        TableName=stack.outputs["dynamodb_slots_table_name"],
        Key={"pk": {"S": f"{slot}#0"}, "sk": {"N": "0"}},
        ConsistentRead=True,
    )
    assert logged["Item"]["ordinals"]["NS"] == [ordinal]
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
    # when the topic has been deleted (NotFound, 404: "Topic does not exist"): the whole
    # PublishBatch call fails, not one message in it.
    task_id, slot = new_id(error_code.lower()), fresh_second(2)
    fault = inject(
        stack,
        service="sns",
        operation="PublishBatch",
        error_code=error_code,
        count=100,
        contains=task_id,
    )
    assert fault["status"] == http_status
    message = {"dead": error_code, "n": [1, 2]}

    status, created, _ = schedule(stack, task_id, at(slot, 300), message)
    assert status == 201, created

    dead_letter = dead_lettered(stack, task_id)
    assert dead_letter == {
        "id": task_id,
        "version": 1,
        "timestamp": created["timestamp"],
        "message": message,
        "error": dead_letter["error"],
    }
    assert error_code in json.dumps(dead_letter["error"])
    arn = shard_arn(stack, slot)
    assert final_status(stack, arn) == "FAILED"
    assert len(task_failures(stack, arn)) == 4  # the first attempt and emit_retry's 3
    assert fault_state(stack, fault)["hits"] == 4  # not retried by the SDK: 4xx
    assert events.count(task_id) == 0
    wait_until(
        lambda: call(stack, "GET", f"/schedule/{task_id}")[1]["status"] == "failed",
        10,
        "the task's status to be failed",
    )
    # Marked failed by the execution that dead-lettered it.
    assert registry_item(stack, task_id)["claimed_by"] == {"S": f"slot-{slot}-0"}  # type: ignore[index]


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


def test_lost_answer_to_the_claim_still_delivers_once(
    stack: RunningStack, events: Inbox, worker_inbox: Inbox
) -> None:
    """DynamoDB wrote the emit function's claim (scheduled -> emitted, by this execution) but
    its answer was lost (a 500, or a read timeout under load), and the SDK retried the
    UpdateItem: the retry finds the task claimed already, by the same execution, which its
    condition lets through. The task must still be published once, not skipped as someone
    else's nor dead-lettered."""
    task_id, slot = new_id("lost-claim"), fresh_second(3)
    status, created, _ = schedule(stack, task_id, at(slot, 400), "claimed")
    assert status == 201, created
    # After the POST: the only UpdateItem that names the task from now on is its claim.
    fault = inject(
        stack,
        service="dynamodb",
        operation="UpdateItem",
        error_code="InternalServerError",
        when="after",
        contains=task_id,
    )

    assert delivered_once(task_id, events, worker_inbox)["message"] == "claimed"
    arn = shard_arn(stack, slot)
    assert final_status(stack, arn) == "SUCCEEDED"
    assert task_failures(stack, arn) == []  # one invocation: the SDK's retry claimed it
    assert fault_state(stack, fault)["hits"] == 1
    assert execution_output(stack, f"slot-{slot}-0")["published"] == 1
    only_one_task(stack, task_id, "emitted")


def test_lost_publish_answer_is_the_remaining_duplicate(
    stack: RunningStack, events: Inbox, worker_inbox: Inbox
) -> None:
    """The duplicate no log can prevent: SNS accepted the batch, its answer was lost (here a
    500 after the publish), and the emit function's SDK retried the call. On AWS too,
    PublishBatch is not idempotent for standard topics; subscribers dedupe on task_id."""
    task_id, slot = new_id("dup-window"), fresh_second(2)
    inject(
        stack,
        service="sns",
        operation="PublishBatch",
        error_code="InternalError",
        when="after",
        contains=task_id,
    )

    status, created, _ = schedule(stack, task_id, at(slot, 100), "twice")

    assert status == 201, created
    events.wait_for(task_id)
    time.sleep(QUIET_SECONDS)
    assert events.count(task_id) == 2
    arn = shard_arn(stack, slot)
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
    task_id, slot = new_id("start"), fresh_second(6)
    # A shard's start names its slot, not its tasks: the slot is this test's alone.
    fault = inject(
        stack,
        service="stepfunctions",
        operation="StartExecution",
        error_code=error_code,
        count=10,
        contains=f"slot-{slot}-",
    )
    timestamp = at(slot, 600)

    status, body, headers = schedule(stack, task_id, timestamp, "start")

    assert status == answer, body
    assert body["errors"][0]["rule"] == rule
    assert error_code in body["errors"][0]["detail"]
    if answer == 503:
        assert int(headers["retry-after"]) > 0
    else:
        assert "retry-after" not in headers
    assert fault_state(stack, fault)["hits"] == attempts  # the SDK retried only what it should
    # The registry item written before the start was withdrawn; the entry left in the slot
    # is no task's (a claim names the placement the registry holds).
    nothing_created(stack, task_id, slot)

    # The client retries with the same id once Step Functions recovers: one task, one delivery.
    call(stack, "DELETE", "/emulator/faults")
    status, body, _ = schedule(stack, task_id, timestamp, "start")
    assert status == 201, body
    assert delivered_once(task_id, events, worker_inbox)["message"] == "start"
    assert only_one_task(stack, task_id, "emitted")["version"] == 1
    # The shard held both entries of version 1: it published the registered one only.
    assert execution_output(stack, f"slot-{slot}-0")["published"] == 1


@pytest.mark.parametrize(
    ("table", "error_code", "answer"),
    [
        ("dynamodb_table_name", "ProvisionedThroughputExceededException", 503),
        ("dynamodb_table_name", "AccessDeniedException", 502),
        ("dynamodb_slots_table_name", "AccessDeniedException", 502),
    ],
    ids=["registry-throttled", "registry-denied", "entry-denied"],
)
def test_write_failing_before_the_start_answers_503_or_502_and_starts_nothing(
    stack: RunningStack,
    events: Inbox,
    worker_inbox: Inbox,
    table: str,
    error_code: str,
    answer: int,
) -> None:
    # The slot entry (PutItem on the slot table) and the registry item (PutItem on the task
    # table) are written before anything starts: either failing starts nothing. Only this test
    # puts items while it runs (emit invocations update, never put).
    task_id, slot = new_id("put"), fresh_second(8)
    inject(
        stack,
        service="dynamodb",
        operation="PutItem",
        error_code=error_code,
        count=10,
        contains=stack.outputs[table],
    )
    timestamp = at(slot, 800)

    status, body, _ = schedule(stack, task_id, timestamp, "registered")

    assert status == answer, body
    assert error_code in body["errors"][0]["detail"]
    nothing_created(stack, task_id, slot)

    call(stack, "DELETE", "/emulator/faults")
    status, body, _ = schedule(stack, task_id, timestamp, "registered")
    assert status == 201, body
    assert delivered_once(task_id, events, worker_inbox)["message"] == "registered"
    task = only_one_task(stack, task_id, "emitted")
    assert task["version"] == 1  # nothing took version 1's name: no execution carries it


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
    task_id, slot = new_id("timeout"), fresh_second(10)
    # A slow write (the first that names the task: its slot entry) holds the first request
    # past the client's timeout; it still completes on the server.
    inject(
        stack,
        service="dynamodb",
        operation="PutItem",
        delay_seconds=2.5,
        contains=task_id,
    )
    timestamp = at(slot, 0)

    with pytest.raises((TimeoutError, urllib.error.URLError)):
        schedule(stack, task_id, timestamp, "retried", timeout=1)
    time.sleep(wait_before_retry)
    status, body, _ = schedule(stack, task_id, timestamp, "retried")

    assert status in retry_answers, body
    assert body["id"] == task_id
    assert body["timestamp"] == timestamp
    time.sleep(3)  # the first request has answered (to nobody) by now
    only_one_task(stack, task_id, "scheduled")
    assert delivered_once(task_id, events, worker_inbox)["message"] == "retried"
    assert only_one_task(stack, task_id, "emitted")["version"] == 1


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
