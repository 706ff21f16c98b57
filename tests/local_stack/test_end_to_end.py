"""The real module, applied into the emulator, driven through its HTTP API.

Tests run in file order, and files in name order: test_teardown.py destroys the stack last.
"""

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.local_stack.conftest import Inbox, RunningStack
from tests.terraform.test_iam_policies import ACTIONS_REQUIRING_STAR

pytestmark = pytest.mark.local_stack

EMIT_LOG_GROUP = "/aws/lambda/local-scheduler-emit"


def post(stack: RunningStack, path: str, body: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{stack.url}{path}", body, {"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def get(stack: RunningStack, path: str) -> Any:
    with urllib.request.urlopen(f"{stack.url}{path}", timeout=30) as response:
        return json.loads(response.read())


def schedule(stack: RunningStack, due: datetime, message: Any) -> dict[str, Any]:
    timestamp = due.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    status, answer = post(
        stack, "/schedule", json.dumps({"timestamp": timestamp, "message": message}).encode()
    )
    assert status == 201, answer
    return dict(answer)


def instant(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def execution_arn(stack: RunningStack, task_id: str) -> str:
    """The execution that claimed the task (its slot's shard, or its own if it came late), as
    the registry names it."""
    machine = stack.outputs["sfn_state_machine_arn"]
    table, key = stack.outputs["dynamodb_table_name"], {"id": {"S": task_id}}
    dynamodb = stack.client("dynamodb")
    claimant = wait_until(
        lambda: dynamodb.get_item(TableName=table, Key=key).get("Item", {}).get("claimed_by"),
        30,
        "the task to be claimed",
    )
    return f"{machine.replace(':stateMachine:', ':execution:')}:{claimant['S']}"


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return result


@contextmanager
def emit_publishes_to(stack: RunningStack, topic_arn: str) -> Iterator[None]:
    """Point the deployed emit function at another topic (a missing one makes it fail)."""
    functions = stack.client("lambda")
    name = stack.outputs["lambda_emit_function_name"]
    original = functions.get_function_configuration(FunctionName=name)["Environment"]
    broken = {**original["Variables"], "TOPIC_ARN": topic_arn}
    functions.update_function_configuration(FunctionName=name, Environment={"Variables": broken})
    try:
        yield
    finally:
        functions.update_function_configuration(FunctionName=name, Environment=original)


def finished(stack: RunningStack, task_id: str) -> str:
    """The final status of the task's execution."""
    sfn, arn = stack.client("stepfunctions"), execution_arn(stack, task_id)
    return str(
        wait_until(
            lambda: (
                (status := sfn.describe_execution(executionArn=arn)["status"]) != "RUNNING"
                and status
            ),
            10,
            "the execution to finish",
        )
    )


def emission_log(stack: RunningStack, task_id: str) -> dict[str, Any] | None:
    logged = stack.client("logs").filter_log_events(logGroupName=EMIT_LOG_GROUP)["events"]
    lines = [json.loads(e["message"]) for e in logged if e["message"].startswith("{")]
    emitted = [e for e in lines if e.get("message") == "Emitted task" and e["id"] == task_id]
    return emitted[0] if emitted else None


def failed_attempts(stack: RunningStack, task_id: str) -> int:
    history = stack.client("stepfunctions").get_execution_history(
        executionArn=execution_arn(stack, task_id)
    )
    return sum(event["type"] == "TaskFailed" for event in history["events"])


def test_tasks_due_late_in_their_second_are_never_emitted_early(
    stack: RunningStack, events: Inbox
) -> None:
    # The Wait truncates .950 to the whole second, 950 ms early: the emit function holds.
    second = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    tasks = [schedule(stack, second + timedelta(seconds=n, milliseconds=950), n) for n in range(3)]

    held = []
    for task in tasks:
        due = instant(task["timestamp"])
        assert task["timestamp"].endswith(".950Z")
        streamed = events.wait_for(task["id"])
        assert streamed.received_at >= due
        assert instant(streamed.data["emitted_at"]) >= due
        logged = wait_until(lambda t=task: emission_log(stack, t["id"]), 10, "the emit log")
        assert logged["lateness_ms"] >= 0
        held.append(logged["held_ms"])
    # Released at least the lead early, then held. An invocation that starts over 950 ms late
    # (a loaded machine) has nothing left to hold, so one hold of the three proves the path.
    assert max(held) > 0, held


def test_task_is_emitted_once_at_its_timestamp(
    stack: RunningStack, events: Inbox, worker_inbox: Inbox, run_log: Callable[[], str]
) -> None:
    task = schedule(stack, datetime.now(UTC) + timedelta(seconds=2), {"name": "Luke"})
    due = instant(task["timestamp"])

    streamed = events.wait_for(task["id"])
    assert streamed.received_at >= due
    assert streamed.data == {
        "id": task["id"],
        "timestamp": task["timestamp"],
        "emitted_at": streamed.data["emitted_at"],
        "message": {"name": "Luke"},
    }
    assert instant(streamed.data["emitted_at"]) >= due

    delivered = worker_inbox.wait_for(task["id"])
    assert delivered.received_at >= due
    assert json.loads(delivered.data["Body"]) == {"name": "Luke"}
    attributes = {k: v["StringValue"] for k, v in delivered.data["MessageAttributes"].items()}
    assert attributes == {
        "task_id": task["id"],
        "scheduled_at": task["timestamp"],
        "message_encoding": "json",
    }
    # Printed to the console too, as one JSON line.
    assert json.dumps(streamed.data) in run_log().splitlines()

    # The emit function logged how late it was (its logs land once the invocation ends).
    emission = wait_until(lambda: emission_log(stack, task["id"]), 10, "the emission log")
    assert 0 <= emission["lateness_ms"] < 30_000

    time.sleep(2)  # a duplicate would have arrived by now
    assert (events.count(task["id"]), worker_inbox.count(task["id"])) == (1, 1)


@pytest.mark.parametrize(
    "message",
    [
        {"nested": {"list": [1, 2.5, None, True]}, "text": "ünïcode ✓"},
        ["a", 1],
        "plain text",
        "",
        0,
        -1.25,
        False,
        None,
    ],
    ids=["object", "array", "string", "empty-string", "zero", "float", "false", "null"],
)
def test_every_json_type_arrives_intact(
    stack: RunningStack, events: Inbox, worker_inbox: Inbox, message: Any
) -> None:
    task = schedule(stack, datetime.now(UTC), message)
    assert task["fires_immediately"] is True

    assert events.wait_for(task["id"]).data["message"] == message
    delivered = worker_inbox.wait_for(task["id"]).data
    encoding = delivered["MessageAttributes"]["message_encoding"]["StringValue"]
    body = delivered["Body"]
    assert (json.loads(body) if encoding == "json" else body) == message


def test_bad_input_gets_a_4xx_through_the_gateway(stack: RunningStack) -> None:
    status, answer = post(stack, "/schedule", b'{"timestamp": "2030-01-01T00:00:00"}')
    assert status == 422
    assert {e["rule"] for e in answer["errors"]} == {"timestamp_offset_required", "missing"}
    status, answer = post(stack, "/schedule", b"not json")
    assert (status, answer["errors"][0]["rule"]) == (400, "invalid_json")
    status, answer = post(stack, "/elsewhere", b"{}")
    assert status == 404


def test_transient_emit_failure_is_retried_then_delivered(
    stack: RunningStack, events: Inbox
) -> None:
    missing_topic = stack.outputs["sns_topic_arn"] + "-missing"
    with emit_publishes_to(stack, missing_topic):
        task = schedule(stack, datetime.now(UTC), {"attempt": "retried"})
        wait_until(lambda: failed_attempts(stack, task["id"]), 20, "a failed emission")

    assert events.wait_for(task["id"]).data["message"] == {"attempt": "retried"}
    assert finished(stack, task["id"]) == "SUCCEEDED"
    assert failed_attempts(stack, task["id"]) >= 1


def test_emission_that_always_fails_lands_in_the_dead_letter_queue(
    stack: RunningStack, events: Inbox
) -> None:
    sqs = stack.client("sqs")
    queue_url = stack.outputs["sqs_dead_letter_queue_url"]
    with emit_publishes_to(stack, stack.outputs["sns_topic_arn"] + "-missing"):
        task = schedule(stack, datetime.now(UTC), {"doomed": True, "n": [1, 2]})
        received = wait_until(
            lambda: sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages"),
            60,
            "the dead-lettered task",
        )

    (dead_letter,) = received
    # Taken: left in the queue, it would be redriven by test_redrive.
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=dead_letter["ReceiptHandle"])
    body = json.loads(dead_letter["Body"])
    assert {k: body[k] for k in ("id", "timestamp", "message")} == {
        "id": task["id"],
        "timestamp": task["timestamp"],
        "message": {"doomed": True, "n": [1, 2]},
    }
    assert body["error"]["Error"]
    assert finished(stack, task["id"]) == "FAILED"
    assert failed_attempts(stack, task["id"]) == 4  # the first attempt and 3 retries
    assert events.count(task["id"]) == 0
    # The emit function marked the task failed in the registry (DeadLetter).
    status = wait_until(
        lambda: (answer := get(stack, f"/schedule/{task['id']}"))["status"] == "failed" and answer,
        10,
        "the task's status to be failed",
    )
    assert status["message"] == {"doomed": True, "n": [1, 2]}


def test_deployed_policies_name_concrete_resources(stack: RunningStack) -> None:
    iam = stack.client("iam")
    for role in ("local-scheduler-api", "local-scheduler-emit", "local-scheduler-state-machine"):
        (policy_name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
        document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
        for statement in document["Statement"]:
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            resources = statement["Resource"]
            resources = [resources] if isinstance(resources, str) else resources
            assert not [a for a in actions if "*" in a]
            if resources == ["*"]:
                assert set(actions) <= ACTIONS_REQUIRING_STAR, statement
            else:
                assert all(r.startswith("arn:aws:") and "local-scheduler" in r for r in resources)


def test_banner_shows_how_to_inspect_the_emulator(
    stack: RunningStack, run_log: Callable[[], str]
) -> None:
    banner = run_log()

    assert f"AWS:      {stack.endpoint_url}" in banner
    assert f"export AWS_ENDPOINT_URL={stack.endpoint_url}" in banner
    machine = stack.outputs["sfn_state_machine_arn"]
    assert (
        f"aws --endpoint-url {stack.endpoint_url} stepfunctions list-executions"
        f" --state-machine-arn {machine}"
    ) in banner
    assert "boto3.client('stepfunctions')" in banner


def test_lambda_environments_are_reused_and_shown(stack: RunningStack) -> None:
    for _ in range(3):
        post(stack, "/schedule", b"{}")  # each a 422 from the api function

    with urllib.request.urlopen(f"{stack.url}/emulator/lambda", timeout=10) as response:
        statistics = json.loads(response.read())

    api = statistics[stack.outputs["lambda_api_function_name"]]
    assert api["warm_starts"] >= 2
    assert api["cold_starts"] >= 1
    assert api["timeouts"] == 0


def test_deployed_state_machine_definition(stack: RunningStack) -> None:
    described = stack.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack.outputs["sfn_state_machine_arn"]
    )
    definition = json.loads(described["definition"])
    states = definition["States"]
    # Two states per shard of a slot on the happy path: Wait, then the emit Task.
    assert definition["StartAt"] == "WaitUntilRelease"
    assert states["WaitUntilRelease"]["TimestampPath"] == "$.release_at"
    assert states["WaitUntilRelease"]["Next"] == "Emit"
    assert states["Emit"]["End"] is True
    assert states["Emit"]["Parameters"]["FunctionName"].endswith(":local-scheduler-emit")
    assert states["Emit"]["Catch"][0]["Next"] == "DeadLetter"
    assert (
        states["SendToDeadLetterQueue"]["Parameters"]["QueueUrl"]
        == (stack.outputs["sqs_dead_letter_queue_url"])
    )
