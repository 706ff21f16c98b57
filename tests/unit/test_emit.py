"""The emit function, publishing to an SNS topic in moto with SQS subscribers: a time slot's shard
(each task claimed in a DynamoDB registry, read from the slot table), and the tasks whose own
execution was started before time slots (their input carries the message)."""

import json
import subprocess
import sys
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from botocore.exceptions import ClientError

from task_scheduler.api import scheduling
from task_scheduler.api.errors import TooLarge
from task_scheduler.aws import clients
from task_scheduler.core import timing
from task_scheduler.core.records import TaskStatus
from task_scheduler.core.slots import Entry, Placement, ShardExecution, describe_entry, slot_of
from task_scheduler.core.tasks import Task, TaskExecution
from task_scheduler.core.timestamps import format_timestamp, parse_timestamp
from tests.unit.conftest import EMISSION_LEAD, Topic, receive, record_of, shard_event

# A failed invocation publishes no metric; Powertools warns about it.
NO_METRICS = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def delivered(sqs: Any, topic: Topic) -> dict[str, tuple[str, dict[str, str]]]:
    """The body and attributes each subscriber got, by delivery mode."""
    (enveloped,) = receive(sqs, topic.envelope_queue)
    envelope = json.loads(enveloped["Body"])
    (raw,) = receive(sqs, topic.raw_queue)
    return {
        "envelope": (
            envelope["Message"],
            {name: a["Value"] for name, a in envelope["MessageAttributes"].items()},
        ),
        "raw": (
            raw["Body"],
            {name: a["StringValue"] for name, a in raw["MessageAttributes"].items()},
        ),
    }


def decode(body: str, attributes: dict[str, str]) -> Any:
    return json.loads(body) if attributes["message_encoding"] == "json" else body


@pytest.fixture
def one_task(place_task, state_machine_arn):
    """Place one task in its slot; returns it and the emit function's event for its shard."""

    def make(message: Any, seconds_ago: float = 0, **options: Any) -> tuple[Any, dict[str, Any]]:
        placed = place_task(message, seconds_ago, **options)
        return placed, shard_event(placed.placement, state_machine_arn)

    return make


def shard_name(placement: Placement) -> str:
    return f"slot-{placement.slot}-{placement.shard}"


@pytest.mark.parametrize(
    "message",
    [
        {"nested": {"list": [1, 2.5, None, True, "x"]}, "text": "héllo 汉字"},
        [1, "two", {"three": 3}],
        "hello",
        "",
        "héllo wörld ✓ 😀 汉字",
        "tab\tnewline\nreturn\r",
        '{"looks": "like json"}',
        "nul\x00 and other controls \x1b",
        0,
        -1.5,
        10**30,
        True,
        False,
        None,
    ],
)
def test_message_arrives_intact_in_both_delivery_modes(emit, sqs, topic, one_task, message):
    placed, event = one_task(message)

    emit(event)

    for mode, (body, attributes) in delivered(sqs, topic).items():
        assert json.dumps(decode(body, attributes)) == json.dumps(message), mode
        assert attributes["task_id"] == placed.task.id
        assert attributes["scheduled_at"] == format_timestamp(placed.task.timestamp)


@pytest.mark.parametrize(
    ("message", "encoding"),
    [("text", "string"), ("", "json"), ("\x00", "json"), ({"a": 1}, "json"), (None, "json")],
)
def test_message_encoding_attribute(emit, sqs, topic, one_task, message, encoding):
    emit(one_task(message)[1])

    _, attributes = delivered(sqs, topic)["raw"]
    assert attributes["message_encoding"] == encoding


def test_returns_what_the_shard_did(emit, sqs, topic, one_task, emit_logs):
    placed, event = one_task("late", seconds_ago=30)

    result = emit(event)

    assert [m["Body"] for m in receive(sqs, topic.raw_queue)] == ["late"]
    assert set(result) == {"published", "skipped", "dead_lettered", "max_lateness_ms"}
    assert (result["published"], result["skipped"], result["dead_lettered"]) == (1, 0, 0)
    assert 30_000 <= result["max_lateness_ms"] < 35_000
    (log,) = [line for line in emit_logs() if line["message"] == "Emitted shard"]
    assert log["execution"] == shard_name(placed.placement)
    assert log["published"] == 1


def test_the_claim_marks_the_task_emitted_by_the_shard(emit, topic, one_task, registry):
    placed, event = one_task("x")

    emit(event)

    record = registry.get(placed.task.id)
    assert record.status is TaskStatus.EMITTED
    assert abs(record.emitted_at - datetime.now(UTC)) < timedelta(seconds=5)
    assert record.updated_at == record.emitted_at
    assert record.claimed_by == shard_name(placed.placement)
    assert record.placement == placed.placement


def test_an_emitted_task_expires_after_the_deduplication_window(emit, topic, one_task, task_item):
    placed, event = one_task("x")

    emit(event)

    expires_at = int(task_item(placed.task.id)["expires_at"]["N"])
    expected = (datetime.now(UTC) + timedelta(days=90)).timestamp()
    assert abs(expires_at - expected) < 10


def test_logs_and_measures_lateness(emit, topic, one_task, capsys, emit_logs):
    placed, event = one_task("late", seconds_ago=30)

    emit(event)

    (metrics,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (definition,) = metrics["_aws"]["CloudWatchMetrics"]
    assert {"Name": "EmissionLateness", "Unit": "Milliseconds"} in definition["Metrics"]
    assert 30_000 <= metrics["EmissionLateness"][0] < 35_000
    assert metrics["TasksEmitted"] == [1.0]
    (log,) = [line for line in emit_logs() if line["message"] == "Emitted task"]
    assert (log["id"], log["version"]) == (placed.task.id, 1)
    assert 30_000 <= log["lateness_ms"] < 35_000
    assert log["held_ms"] == 0  # already due: no hold


def test_holds_until_the_exact_millisecond_when_released_early(
    emit, sqs, topic, one_task, emit_logs
):
    placed, event = one_task("on time", seconds_ago=-0.4)

    result = emit(event)

    published = datetime.now(UTC)
    assert placed.task.timestamp <= published  # never before the timestamp
    assert result["max_lateness_ms"] >= 0
    (log,) = [line for line in emit_logs() if line["message"] == "Emitted task"]
    assert log["held_ms"] > 0
    assert log["lateness_ms"] == result["max_lateness_ms"] >= 0
    assert parse_timestamp(log["emitted_at"]) >= placed.task.timestamp
    assert receive(sqs, topic.raw_queue)[0]["Body"] == "on time"


TASK_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
ARN = f"arn:aws:states:eu-west-1:123456789012:execution:task-scheduler:{TASK_ID}_1_1"
INPUT = {  # an execution started before time slots: its input carries the message
    "id": TASK_ID,
    "version": 1,
    "segment": 1,
    "timestamp": "2030-01-01T00:00:00Z",
    "release_at": "2029-12-31T23:59:59Z",
    "message": 1,
}
SHARD = {"slot": 1893456000, "shard": 0, "hop": 0, "release_at": "2029-12-31T23:59:59Z"}
SOLO = {
    "id": TASK_ID,
    "version": 1,
    "slot": 1893456000,
    "shard": 0,
    "ordinal": 3,
    "release_at": "2029-12-31T23:59:59Z",
}


def without(key: str, document: dict[str, Any] = INPUT) -> dict[str, Any]:
    return {name: value for name, value in document.items() if name != key}


@NO_METRICS
@pytest.mark.parametrize(
    "event",
    [
        {},
        {"task": INPUT},
        {"task": SHARD},
        {"execution_arn": ARN},
        {"task": INPUT, "execution_arn": 7},
        {"task": without("message"), "execution_arn": ARN},
        {"task": without("id"), "execution_arn": ARN},
        {"task": {**INPUT, "id": ""}, "execution_arn": ARN},
        {"task": {**INPUT, "id": 7}, "execution_arn": ARN},
        {"task": without("version"), "execution_arn": ARN},
        {"task": {**INPUT, "version": 0}, "execution_arn": ARN},
        {"task": {**INPUT, "segment": True}, "execution_arn": ARN},
        {"task": {**INPUT, "timestamp": "2030-01-01T00:00:00"}, "execution_arn": ARN},
        {"task": {**INPUT, "timestamp": 1893456000}, "execution_arn": ARN},
        {"task": without("release_at"), "execution_arn": ARN},
        {"task": [TASK_ID], "execution_arn": ARN},
        {"task": without("slot", SHARD), "execution_arn": ARN},
        {"task": without("shard", SHARD), "execution_arn": ARN},
        {"task": without("hop", SHARD), "execution_arn": ARN},
        {"task": without("release_at", SHARD), "execution_arn": ARN},
        {"task": {**SHARD, "slot": "1893456000"}, "execution_arn": ARN},
        {"task": {**SHARD, "shard": -1}, "execution_arn": ARN},
        {"task": {**SHARD, "shard": 1.0}, "execution_arn": ARN},
        {"task": {**SHARD, "hop": True}, "execution_arn": ARN},
        {"task": {**SHARD, "hop": -1}, "execution_arn": ARN},
        {"task": {**SOLO, "id": "not an id"}, "execution_arn": ARN},
        {"task": {**SOLO, "version": 0}, "execution_arn": ARN},
        {"task": without("ordinal", SOLO), "execution_arn": ARN},
        {"task": {**SOLO, "ordinal": 0}, "execution_arn": ARN},
        {"dead_letter": [SHARD], "execution_arn": ARN},
        {"dead_letter": {**SHARD, "hop": "0"}, "execution_arn": ARN},
        INPUT,  # the state input itself, as the state machine passed it long ago
        SHARD,
        [TASK_ID],
        "not json",
    ],
)
def test_invalid_event_raises_and_publishes_nothing(emit, sqs, topic, event):
    with pytest.raises(ValueError, match=r"expected|timestamp"):
        emit(event)

    assert receive(sqs, topic.raw_queue) == []


def test_the_clients_are_built_at_init():
    # A fresh interpreter is a cold start: importing the handler is its init phase.
    code = (
        "import task_scheduler.emit.handler; from task_scheduler.aws import clients; "
        "print(clients.client.cache_info().currsize)"
    )
    built = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    # Those of every emission: SNS and DynamoDB (SQS and Step Functions serve rarer paths).
    assert built.strip() == "2"


def failing_publish_batch(message: str, code: str = "InvalidParameter") -> Any:
    def publish_batch(**_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": message}}, "PublishBatch")

    return publish_batch


def test_an_error_leaves_bounded_with_its_type(emit, topic, one_task, monkeypatch, emit_handler):
    sns = clients.client("sns")
    monkeypatch.setattr(sns, "publish_batch", failing_publish_batch('\u00e9"\n' * 400_000))

    with pytest.raises(ClientError) as raised:
        emit(one_task("x")[1])

    # The state machine's Retry matches the type; the Catch adds type, message and trace.
    assert raised.value.response["Error"]["Code"] == "InvalidParameter"
    assert len(str(raised.value)) == emit_handler.MAX_ERROR_MESSAGE_CHARS
    assert str(raised.value).isascii()
    assert str(raised.value).isprintable()
    # No frames below the handler: only the handler and the Powertools decorators around it.
    frames = {frame.name for frame in traceback.extract_tb(raised.value.__traceback__)}
    assert frames & {"_handle", "run", "_claim_and_publish", "_publish", "publish_batch"} == set()


def size(document: Any) -> int:
    """Bytes of `document` as compact UTF-8 JSON, as Step Functions measures a state."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())


def lambda_error_state(state: dict[str, Any], raised: BaseException) -> dict[str, Any]:
    """The Catch's state: `state` plus the error as Step Functions writes it (the Lambda runtime's
    error payload as Cause)."""
    payload = {
        "errorMessage": str(raised),
        "errorType": type(raised).__name__,
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e812345678",
        "stackTrace": traceback.format_list(traceback.extract_tb(raised.__traceback__)),
    }
    return {**state, "error": {"Error": type(raised).__name__, "Cause": json.dumps(payload)}}


def largest_message(task_id: str, timestamp: datetime) -> str:
    """The largest text message the api function accepts for this task: its dead-letter form
    takes exactly scheduling.MAX_TASK_BYTES."""
    empty = Entry(task_id, 1, timestamp, "", placement=None)
    message = "x" * (scheduling.MAX_TASK_BYTES - size(describe_entry(empty)))
    scheduling.check_size(Task(task_id, timestamp, message))
    with pytest.raises(TooLarge):
        scheduling.check_size(Task(task_id, timestamp, message + "x"))
    return message


def parked(sqs: Any, queue_url: str, task_id: str) -> list[dict[str, Any]]:
    """The dead-letter queue's messages of `task_id`, each checked to fit SQS's 256 KiB."""
    bodies = [m["Body"] for m in receive(sqs, queue_url)]
    assert all(len(body.encode()) <= 256 * 1024 for body in bodies)
    return [json.loads(body) for body in bodies if json.loads(body)["id"] == task_id]


@NO_METRICS
def test_the_dead_letter_of_the_largest_task_fits_step_functions_and_sqs(
    emit, topic, place_task, state_machine_arn, sqs, dead_letter_queue, monkeypatch
):
    """The Catch's state of a shard (its input plus the largest error the function raises) stays
    within Step Functions' 256 KiB, and the largest task the API accepts, parked with that error,
    within SQS's."""
    task_id = f"task-{uuid4().hex}"
    timestamp = parse_timestamp(format_timestamp(timing.utc_now()))
    placed = place_task(largest_message(task_id, timestamp), timestamp=timestamp, task_id=task_id)
    event = shard_event(placed.placement, state_machine_arn)
    sns = clients.client("sns")
    monkeypatch.setattr(sns, "publish_batch", failing_publish_batch('"\\' * 100_000))

    with pytest.raises(ClientError) as raised:
        emit(event)

    state = lambda_error_state(event["task"], raised.value)
    assert size(state) <= 256 * 1024
    result = emit({"dead_letter": state, "execution_arn": event["execution_arn"]})
    assert result["dead_lettered"] == 1
    (message,) = parked(sqs, dead_letter_queue, task_id)
    assert message["error"] == state["error"]
    assert message["message"] == placed.task.message


@NO_METRICS
def test_the_dead_letter_state_of_the_largest_task_before_slots_fits_step_functions(
    emit, topic, task_event, sqs, dead_letter_queue, monkeypatch
):
    # An execution started before time slots carries its message in its input, which the Catch
    # adds the error to; the api function of that time kept such inputs within MAX_TASK_BYTES.
    sns = clients.client("sns")
    monkeypatch.setattr(sns, "publish_batch", failing_publish_batch('"\\' * 100_000))
    event = task_event("x")
    event["task"]["message"] = "x" * (scheduling.MAX_TASK_BYTES - size(event["task"]) + 1)
    assert size(event["task"]) == scheduling.MAX_TASK_BYTES

    with pytest.raises(ClientError) as raised:
        emit(event)

    state = lambda_error_state(event["task"], raised.value)
    assert size(state) <= 256 * 1024
    assert emit({"dead_letter": state, "execution_arn": event["execution_arn"]}) == {
        "published": 0,
        "skipped": 0,
        "dead_lettered": 1,
        "max_lateness_ms": 0.0,
    }
    (message,) = parked(sqs, dead_letter_queue, event["task"]["id"])
    assert message["message"] == event["task"]["message"]


def test_the_clients_exist_before_the_hold(emit, topic, one_task, monkeypatch):
    # On a cold start, building a client after the hold would delay the claim and the publish.
    event = one_task("x")[1]
    clients.client.cache_clear()
    clients_at_hold = []
    real_hold = timing.hold_until

    def hold(*args, **kwargs):
        clients_at_hold.append(clients.client.cache_info().currsize)
        return real_hold(*args, **kwargs)

    monkeypatch.setattr(timing, "hold_until", hold)

    emit(event)

    assert clients_at_hold == [2]  # SNS and DynamoDB


@NO_METRICS
def test_a_shard_not_due_within_the_timeout_fails_unpublished(
    emit_handler, lambda_context, sqs, topic, one_task, registry
):
    # Released far too early (a Wait that misfired): hold what the timeout allows, then fail so
    # that the state machine retries, rather than publish early.
    lambda_context.remaining_millis = 10_200
    placed, event = one_task("not yet", seconds_ago=-3600)

    with pytest.raises(emit_handler.TaskNotDue):
        emit_handler.lambda_handler(event, lambda_context)

    assert receive(sqs, topic.raw_queue) == []
    # It holds before it claims: the task can still be cancelled.
    assert registry.get(placed.task.id).status is TaskStatus.SCHEDULED


@NO_METRICS
def test_publish_failure_propagates_and_the_retry_publishes(
    emit, sqs, topic, one_task, registry, monkeypatch
):
    placed, event = one_task("lost?")
    monkeypatch.setenv("TOPIC_ARN", topic.arn + "-deleted")

    with pytest.raises(ClientError) as raised:
        emit(event)

    assert raised.value.response["Error"]["Code"] == "NotFound"
    # Claimed, so nothing can cancel it any more: the state machine's retry publishes it.
    assert registry.get(placed.task.id).status is TaskStatus.EMITTED
    monkeypatch.setenv("TOPIC_ARN", topic.arn)
    assert emit(event)["published"] == 1
    assert receive(sqs, topic.raw_queue)[0]["Body"] == "lost?"


def test_emit_imports_neither_pydantic_nor_the_api():
    # Its cold start eats into the emission lead: stdlib, boto3 and Powertools' Logger and
    # Metrics, and the stdlib-only modules of the package the emit path needs.
    code = (
        "import sys, task_scheduler.emit.handler; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'pydantic_core', 'aws_xray_sdk') or m.startswith('task_scheduler.') "
        "or m.startswith('aws_lambda_powertools.utilities.idempotency')))"
    )
    imported = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert eval(imported) == [
        "task_scheduler.aws",
        "task_scheduler.aws.clients",
        "task_scheduler.aws.executions",
        "task_scheduler.aws.placement",
        "task_scheduler.aws.registry",
        "task_scheduler.aws.slot_store",
        "task_scheduler.core",
        "task_scheduler.core.decisions",
        "task_scheduler.core.records",
        "task_scheduler.core.slots",
        "task_scheduler.core.sns_message",
        "task_scheduler.core.tasks",
        "task_scheduler.core.timestamps",
        "task_scheduler.core.timing",
        "task_scheduler.emit",
        "task_scheduler.emit.handler",
        "task_scheduler.emit.publisher",
        "task_scheduler.emit.settings",
    ]


# Executions started before time slots: their input carries the task and its message.


def test_a_task_scheduled_before_slots_is_claimed_and_published(
    emit, sqs, topic, task_event, registry
):
    event = task_event({"legacy": True})

    result = emit(event)

    assert (result["published"], result["skipped"], result["dead_lettered"]) == (1, 0, 0)
    for mode, (body, attributes) in delivered(sqs, topic).items():
        assert decode(body, attributes) == {"legacy": True}, mode
        assert attributes["task_id"] == event["task"]["id"]
        assert attributes["scheduled_at"] == event["task"]["timestamp"]
    record = registry.get(event["task"]["id"])
    assert record.status is TaskStatus.EMITTED
    assert record.claimed_by == event["execution_arn"].rpartition(":")[2]
    assert record.placement is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda registry, record: registry.cancel(record.id, 1, timing.utc_now()),
            "cancelled at version 1",
        ),
        (
            lambda registry, record: registry.reschedule(
                record.id,
                1,
                new_version=2,
                timestamp=record.timestamp,
                message_sha256=record.message_sha256,
                placement=Placement(slot_of(record.timestamp), 0, 1),
                now=timing.utc_now(),
            ),
            "scheduled at version 2",
        ),
    ],
    ids=["cancelled", "rescheduled"],
)
def test_a_superseded_task_before_slots_is_skipped_unpublished(
    emit, sqs, topic, task_event, registry, change, reason, capsys, emit_logs
):
    event = task_event("stale")
    change(registry, registry.get(event["task"]["id"]))

    result = emit(event)

    assert result == {"published": 0, "skipped": 1, "dead_lettered": 0, "max_lateness_ms": 0.0}
    assert receive(sqs, topic.raw_queue) == []
    assert json.loads(capsys.readouterr().out)["TasksSkipped"] == [1.0]
    (log,) = [line for line in emit_logs() if line["message"] == "Skipped superseded task"]
    assert (log["id"], log["skipped"]) == (event["task"]["id"], f"the task is {reason}")


@NO_METRICS
def test_a_task_before_slots_never_registered_fails_unpublished(
    emit_handler, lambda_context, sqs, topic, task_event, monkeypatch
):
    monkeypatch.setattr(emit_handler, "REGISTRATION_WAIT_SECONDS", 0.3)
    monkeypatch.setattr(emit_handler, "REGISTRATION_POLL_SECONDS", 0.1)

    with pytest.raises(emit_handler.TaskNotRegistered):
        emit_handler.lambda_handler(task_event("early", register=False), lambda_context)

    assert receive(sqs, topic.raw_queue) == []


def test_a_task_before_slots_registered_while_it_waits_is_published(
    emit, sqs, topic, task_event, emit_handler, registry, monkeypatch
):
    # A timestamp in the past: the execution reached the emit function before the api function
    # of that time registered the task, which it did right after starting the execution.
    event = task_event("just in time", seconds_ago=1, register=False)
    execution = TaskExecution.from_execution_input(event["task"])
    sleeps = []

    def register_while_asleep(seconds: float) -> None:
        sleeps.append(seconds)
        registry.create(record_of(execution, event["execution_arn"]))

    monkeypatch.setattr(emit_handler.time, "sleep", register_while_asleep)

    assert emit(event)["published"] == 1
    assert sleeps == [emit_handler.REGISTRATION_POLL_SECONDS]
    assert receive(sqs, topic.raw_queue)[0]["Body"] == "just in time"


def test_a_task_before_slots_is_dead_lettered_with_its_error(
    emit, topic, task_event, registry, sqs, dead_letter_queue, capsys
):
    event = task_event("parked")
    state = {**event["task"], "error": {"Error": "X", "Cause": "Y"}}

    result = emit({"dead_letter": state, "execution_arn": event["execution_arn"]})

    assert result["dead_lettered"] == 1
    (message,) = parked(sqs, dead_letter_queue, event["task"]["id"])
    assert message == {
        "id": event["task"]["id"],
        "version": 1,
        "timestamp": event["task"]["timestamp"],
        "message": "parked",
        "error": {"Error": "X", "Cause": "Y"},
    }
    record = registry.get(event["task"]["id"])
    assert record.status is TaskStatus.FAILED
    assert record.claimed_by == event["execution_arn"].rpartition(":")[2]
    assert json.loads(capsys.readouterr().out)["TasksDeadLettered"] == [1.0]


SEGMENT_SECONDS = 60


@pytest.fixture
def short_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECUTION_SEGMENT_SECONDS", str(SEGMENT_SECONDS))


def segment_ended_now() -> datetime:
    """The release of an execution whose segment ended now (a whole second, as the Wait's)."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def started(emit_handler, monkeypatch) -> list[Any]:
    """The executions the emit function starts, as it starts them."""
    starts: list[Any] = []
    start = emit_handler.Executions.start

    def spy(self: Any, execution: Any) -> Any:
        starts.append(execution)
        return start(self, execution)

    monkeypatch.setattr(emit_handler.Executions, "start", spy)
    return starts


def test_a_segment_end_places_the_task_in_its_slot(
    emit, sqs, topic, task_event, registry, slot_store, short_segments, sfn, capsys, started
):
    # Its slot is released within a segment: it joins the slot's shard execution (hop 0).
    event = task_event("soon", seconds_ago=-40, release_at=segment_ended_now())
    task_id = event["task"]["id"]
    timestamp = parse_timestamp(event["task"]["timestamp"])

    result = emit(event)

    record = registry.get(task_id)
    placement = record.placement
    assert (record.status, record.version, record.execution_arn) == (
        TaskStatus.SCHEDULED,
        1,
        None,
    )
    assert (placement.slot, placement.shard, placement.ordinal) == (slot_of(timestamp), 0, 1)
    entry = slot_store.get(placement)
    assert (entry.id, entry.version, entry.timestamp, entry.message) == (
        task_id,
        1,
        timestamp,
        "soon",
    )
    shard = ShardExecution(
        placement.slot,
        0,
        0,
        timing.release_at(datetime.fromtimestamp(placement.slot, UTC), EMISSION_LEAD),
    )
    (execution,) = started
    assert execution == shard
    assert result == {"id": task_id, "version": 1, "continued": result["continued"]}
    assert result["continued"].endswith(f":slot-{placement.slot}-0")
    described = sfn.describe_execution(executionArn=result["continued"])
    assert described["input"] == shard.execution_input()
    assert receive(sqs, topic.raw_queue) == []
    assert json.loads(capsys.readouterr().out)["TasksContinued"] == [1.0]


def test_a_segment_end_far_ahead_starts_the_hop_that_reaches_the_slot(
    emit, topic, task_event, registry, short_segments, started
):
    event = task_event("far ahead", seconds_ago=-3600, release_at=segment_ended_now())
    now = datetime.now(UTC)

    result = emit(event)

    placement = registry.get(event["task"]["id"]).placement
    (hop,) = started
    release = timing.release_at(datetime.fromtimestamp(placement.slot, UTC), EMISSION_LEAD)
    assert hop.hop >= 1
    assert hop.release_at == release - timedelta(seconds=hop.hop * SEGMENT_SECONDS)
    assert timedelta(0) <= hop.release_at - now <= timedelta(seconds=SEGMENT_SECONDS)
    assert result["continued"].endswith(f":slot-{placement.slot}-0-{hop.hop}")


def test_a_segment_end_close_to_the_timestamp_emits_in_this_execution(
    emit, sqs, topic, task_event, short_segments, registry
):
    # The hold can reach the timestamp within the function's timeout: not placed in a slot.
    event = task_event(
        "close", seconds_ago=-0.3, release_at=segment_ended_now() - timedelta(seconds=5)
    )

    assert emit(event)["published"] == 1
    assert receive(sqs, topic.raw_queue)[0]["Body"] == "close"
    assert registry.get(event["task"]["id"]).placement is None


def test_a_retried_segment_end_is_published_once(
    emit, sqs, topic, task_event, short_segments, registry, slot_store, state_machine_arn
):
    # Its final release is a second or two away, past the end of the segment it was released at.
    event = task_event(
        "twice", seconds_ago=-2.5, release_at=segment_ended_now() - timedelta(seconds=5)
    )
    first = emit(event)

    # The state machine retries, e.g. after Lambda reported a service error for that invocation:
    # the task is placed again, in the same shard.
    again = emit(event)

    assert again["continued"] == first["continued"]
    placement = registry.get(event["task"]["id"]).placement
    entries, _ = slot_store.shard(placement.slot, placement.shard)
    assert sorted(e.placement.ordinal for e in entries) == [1, 2]
    # Only the entry the registry names is the version's: the shard publishes it once.
    result = emit(shard_event(placement, state_machine_arn))
    assert (result["published"], result["skipped"]) == (1, 1)
    assert [m["Body"] for m in receive(sqs, topic.raw_queue)] == ["twice"]
    assert registry.get(event["task"]["id"]).status is TaskStatus.EMITTED


def test_a_superseded_segment_end_starts_nothing(
    emit, topic, task_event, registry, short_segments, slot_store, started
):
    event = task_event("cancelled", seconds_ago=-3600, release_at=segment_ended_now())
    task_id = event["task"]["id"]
    registry.cancel(task_id, 1, timing.utc_now())

    result = emit(event)

    assert result == {"id": task_id, "version": 1, "skipped": "the task is cancelled at version 1"}
    assert started == []
    slot = slot_of(parse_timestamp(event["task"]["timestamp"]))
    assert slot_store.shard(slot, 0) == ([], frozenset())
    assert registry.get(task_id).placement is None


def test_a_cancel_racing_the_placement_starts_nothing(
    emit, emit_handler, topic, task_event, registry, short_segments, started, monkeypatch
):
    # The cancel commits between the emit function's read and its conditional placement.
    event = task_event("raced", seconds_ago=-3600, release_at=segment_ended_now())
    task_id = event["task"]["id"]
    stage = emit_handler.Placer.stage

    def stage_then_cancel(self: Any, *args: Any) -> Any:
        placement = stage(self, *args)
        registry.cancel(task_id, 1, timing.utc_now())
        return placement

    monkeypatch.setattr(emit_handler.Placer, "stage", stage_then_cancel)

    result = emit(event)

    assert result["skipped"] == "the task is cancelled at version 1"
    assert started == []
    record = registry.get(task_id)
    assert (record.status, record.placement) == (TaskStatus.CANCELLED, None)
    assert record.execution_arn == event["execution_arn"]
