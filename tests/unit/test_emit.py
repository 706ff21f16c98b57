"""The emit function, publishing to an SNS topic in moto with SQS subscribers, claiming tasks in
a DynamoDB registry and continuing long tasks in follow-on Step Functions executions."""

import json
import subprocess
import sys
import traceback
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from task_scheduler import aws, scheduling, timing
from task_scheduler.records import TaskStatus
from task_scheduler.tasks import TaskExecution
from task_scheduler.timestamps import parse_timestamp
from tests.unit.conftest import EMISSION_LEAD, Topic, receive, record_of


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
def test_message_arrives_intact_in_both_delivery_modes(emit, sqs, topic, task_event, message):
    event = task_event(message)

    emit(event)

    for mode, (body, attributes) in delivered(sqs, topic).items():
        assert json.dumps(decode(body, attributes)) == json.dumps(message), mode
        assert attributes["task_id"] == event["task"]["id"]
        assert attributes["scheduled_at"] == event["task"]["timestamp"]


@pytest.mark.parametrize(
    ("message", "encoding"),
    [("text", "string"), ("", "json"), ("\x00", "json"), ({"a": 1}, "json"), (None, "json")],
)
def test_message_encoding_attribute(emit, sqs, topic, task_event, message, encoding):
    emit(task_event(message))

    _, attributes = delivered(sqs, topic)["raw"]
    assert attributes["message_encoding"] == encoding


def test_returns_the_emission(emit, sqs, topic, task_event):
    event = task_event("late", seconds_ago=30)

    result = emit(event)

    body = json.loads(receive(sqs, topic.envelope_queue)[0]["Body"])
    assert (result["id"], result["version"]) == (event["task"]["id"], 1)
    assert result["message_id"] == body["MessageId"]
    emitted_at = datetime.fromisoformat(result["emitted_at"])
    assert abs(emitted_at - datetime.now(UTC)) < timedelta(seconds=5)
    assert 30_000 <= result["lateness_ms"] < 35_000
    assert result["held_ms"] == 0  # already due: no hold


def test_the_claim_marks_the_task_emitted(emit, topic, task_event, registry):
    event = task_event("x")

    emit(event)

    record = registry.get(event["task"]["id"])
    assert record.status is TaskStatus.EMITTED
    assert abs(record.emitted_at - datetime.now(UTC)) < timedelta(seconds=5)
    assert record.updated_at == record.emitted_at


def test_an_emitted_task_expires_after_the_deduplication_window(emit, topic, task_event, task_item):
    event = task_event("x")

    emit(event)

    expires_at = int(task_item(event["task"]["id"])["expires_at"]["N"])
    expected = (datetime.now(UTC) + timedelta(days=90)).timestamp()
    assert abs(expires_at - expected) < 10


def test_logs_and_measures_lateness(emit, topic, task_event, capsys, emit_logs):
    event = task_event("late", seconds_ago=30)

    emit(event)

    (metrics,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (definition,) = metrics["_aws"]["CloudWatchMetrics"]
    assert {"Name": "EmissionLateness", "Unit": "Milliseconds"} in definition["Metrics"]
    assert 30_000 <= metrics["EmissionLateness"][0] < 35_000
    assert metrics["TasksEmitted"] == [1.0]
    (log,) = [line for line in emit_logs() if line["message"] == "Emitted task"]
    assert log["correlation_id"] == event["task"]["id"]
    assert 30_000 <= log["lateness_ms"] < 35_000
    assert log["held_ms"] == 0


def test_holds_until_the_exact_millisecond_when_released_early(
    emit, sqs, topic, task_event, emit_logs
):
    event = task_event("on time", seconds_ago=-0.4)

    result = emit(event)

    published = datetime.now(UTC)
    scheduled = datetime.fromisoformat(event["task"]["timestamp"])
    assert scheduled <= published  # never before the timestamp
    assert result["lateness_ms"] >= 0
    assert result["held_ms"] > 0
    (log,) = [line for line in emit_logs() if line["message"] == "Emitted task"]
    assert (log["held_ms"], log["lateness_ms"]) == (result["held_ms"], result["lateness_ms"])
    assert receive(sqs, topic.raw_queue)[0]["Body"] == "on time"


# A failed invocation publishes no metric; Powertools warns about it.
NO_METRICS = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
TASK_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
ARN = f"arn:aws:states:eu-west-1:123456789012:execution:task-scheduler:{TASK_ID}_1_1"
INPUT = {
    "id": TASK_ID,
    "version": 1,
    "segment": 1,
    "timestamp": "2030-01-01T00:00:00Z",
    "release_at": "2029-12-31T23:59:59Z",
    "message": 1,
}


def without(key: str) -> dict[str, Any]:
    return {name: value for name, value in INPUT.items() if name != key}


@NO_METRICS
@pytest.mark.parametrize(
    "event",
    [
        {},
        {"task": INPUT},
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
        INPUT,  # the state input itself, as the state machine passed it before
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
        "import task_scheduler.handlers.emit; from task_scheduler import aws; "
        "print(aws.client.cache_info().currsize)"
    )
    built = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert built.strip() == "2"  # SNS and DynamoDB


def failing_publish(message: str) -> Any:
    def publish(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InvalidParameter", "Message": message}}, "Publish")

    return publish


def test_an_error_leaves_bounded_with_its_type(emit, topic, task_event, monkeypatch, emit_handler):
    monkeypatch.setattr(aws.client("sns"), "publish", failing_publish('\u00e9"\n' * 400_000))

    with pytest.raises(ClientError) as raised:
        emit(task_event("x"))

    # The state machine's Retry matches the type; the Catch adds type, message and trace.
    assert raised.value.response["Error"]["Code"] == "InvalidParameter"
    assert len(str(raised.value)) == emit_handler.MAX_ERROR_MESSAGE_CHARS
    assert str(raised.value).isascii()
    assert str(raised.value).isprintable()
    # No frames below the handler: only the handler and the Powertools decorators around it.
    frames = traceback.extract_tb(raised.value.__traceback__)
    assert {frame.name for frame in frames} & {"_handle", "_emit", "publish"} == set()


def size(document: Any) -> int:
    """Bytes of `document` as compact UTF-8 JSON, as Step Functions measures a state."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode())


def test_the_dead_letter_state_of_the_largest_task_fits_step_functions(
    emit, topic, task_event, monkeypatch
):
    """The Catch's state (the execution input plus the error, as Step Functions writes it: the
    Lambda error payload as Cause) of the largest task the API accepts, with the largest error
    the function can raise, stays within Step Functions' 256 KiB."""
    monkeypatch.setattr(aws.client("sns"), "publish", failing_publish('"\\' * 100_000))
    event = task_event("x")
    padding = scheduling.MAX_EXECUTION_INPUT_BYTES - size(event["task"])
    event["task"]["message"] = "x" * (padding + 1)  # it was "x"
    assert size(event["task"]) == scheduling.MAX_EXECUTION_INPUT_BYTES

    with pytest.raises(ClientError) as raised:
        emit(event)

    # The Lambda runtime's error payload, as Step Functions puts it into the error's Cause.
    payload = {
        "errorMessage": str(raised.value),
        "errorType": type(raised.value).__name__,
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e812345678",
        "stackTrace": traceback.format_list(traceback.extract_tb(raised.value.__traceback__)),
    }
    state = {**event["task"], "error": {"Error": "ClientError", "Cause": json.dumps(payload)}}
    assert size(state) <= 256 * 1024


def test_the_clients_exist_before_the_hold(emit, topic, task_event, monkeypatch):
    # On a cold start, building a client after the hold would delay the claim and the publish.
    aws.client.cache_clear()
    clients_at_hold = []
    real_hold = timing.hold_until

    def hold(*args, **kwargs):
        clients_at_hold.append(aws.client.cache_info().currsize)
        return real_hold(*args, **kwargs)

    monkeypatch.setattr(timing, "hold_until", hold)

    emit(task_event("x"))

    assert clients_at_hold == [2]  # SNS and DynamoDB


@NO_METRICS
def test_a_task_not_due_within_the_timeout_fails_unpublished(
    emit_handler, lambda_context, sqs, topic, task_event
):
    # Released far too early (a Wait that misfired): hold what the timeout allows, then fail so
    # that the state machine retries, rather than publish early.
    lambda_context.remaining_millis = 10_200
    event = task_event("not yet", seconds_ago=-3600)

    with pytest.raises(emit_handler.TaskNotDue):
        emit_handler.lambda_handler(event, lambda_context)

    assert receive(sqs, topic.raw_queue) == []


@NO_METRICS
def test_publish_failure_propagates_and_the_retry_publishes(
    emit, sqs, topic, task_event, registry, monkeypatch
):
    event = task_event("lost?")
    monkeypatch.setenv("TOPIC_ARN", topic.arn + "-deleted")

    with pytest.raises(ClientError) as raised:
        emit(event)

    assert raised.value.response["Error"]["Code"] == "NotFound"
    # Claimed, so nothing can cancel it any more: the state machine's retry publishes it.
    assert registry.get(event["task"]["id"]).status is TaskStatus.EMITTED
    monkeypatch.setenv("TOPIC_ARN", topic.arn)
    assert "message_id" in emit(event)
    assert receive(sqs, topic.raw_queue)[0]["Body"] == "lost?"


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
                execution_arn=record.execution_arn + "-v2",
                now=timing.utc_now(),
            ),
            "scheduled at version 2",
        ),
    ],
    ids=["cancelled", "rescheduled"],
)
def test_a_superseded_task_is_skipped_unpublished(
    emit, sqs, topic, task_event, registry, change, reason, capsys
):
    event = task_event("stale")
    change(registry, registry.get(event["task"]["id"]))

    result = emit(event)

    assert result == {"id": event["task"]["id"], "version": 1, "skipped": f"the task is {reason}"}
    assert receive(sqs, topic.raw_queue) == []
    assert json.loads(capsys.readouterr().out)["TasksSkipped"] == [1.0]


@NO_METRICS
def test_a_task_never_registered_fails_unpublished(
    emit_handler, lambda_context, sqs, topic, task_event, monkeypatch
):
    monkeypatch.setattr(emit_handler, "REGISTRATION_WAIT_SECONDS", 0.3)
    monkeypatch.setattr(emit_handler, "REGISTRATION_POLL_SECONDS", 0.1)

    with pytest.raises(emit_handler.TaskNotRegistered):
        emit_handler.lambda_handler(task_event("early", register=False), lambda_context)

    assert receive(sqs, topic.raw_queue) == []


def test_a_task_registered_while_it_waits_is_published(
    emit, sqs, topic, task_event, emit_handler, registry, monkeypatch
):
    # A timestamp in the past: the execution reached the emit function before the api function
    # registered the task, which it does right after starting the execution.
    event = task_event("just in time", seconds_ago=1, register=False)
    execution = TaskExecution.from_execution_input(event["task"])
    sleeps = []

    def register_while_asleep(seconds: float) -> None:
        sleeps.append(seconds)
        registry.create(record_of(execution, event["execution_arn"]))

    monkeypatch.setattr(emit_handler.time, "sleep", register_while_asleep)

    assert "message_id" in emit(event)
    assert sleeps == [emit_handler.REGISTRATION_POLL_SECONDS]
    assert receive(sqs, topic.raw_queue)[0]["Body"] == "just in time"


def test_emit_imports_neither_pydantic_nor_the_api():
    # Its cold start eats into the emission lead: stdlib, boto3 and Powertools' Logger and
    # Metrics. The idempotency utility comes at its first use, only when it is turned on.
    code = (
        "import sys, task_scheduler.handlers.emit; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'pydantic_core', 'aws_xray_sdk') or m.startswith('task_scheduler.') "
        "or m.startswith('aws_lambda_powertools.utilities.idempotency')))"
    )
    imported = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert eval(imported) == [
        "task_scheduler.aws",
        "task_scheduler.decisions",
        "task_scheduler.emission",
        "task_scheduler.emit_settings",
        "task_scheduler.executions",
        "task_scheduler.handlers",
        "task_scheduler.handlers.emit",
        "task_scheduler.idempotency",
        "task_scheduler.records",
        "task_scheduler.registry",
        "task_scheduler.tasks",
        "task_scheduler.timestamps",
        "task_scheduler.timing",
    ]


SEGMENT_SECONDS = 60


@pytest.fixture
def short_segments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECUTION_SEGMENT_SECONDS", str(SEGMENT_SECONDS))


def segment_ended_now() -> datetime:
    """The release of an execution whose segment ended now (a whole second, as the Wait's)."""
    return datetime.now(UTC).replace(microsecond=0)


def test_a_segment_end_starts_the_follow_on_execution(
    emit, sqs, topic, task_event, registry, short_segments, execution_input, capsys
):
    event = task_event("far ahead", seconds_ago=-3600, release_at=segment_ended_now())
    task_id = event["task"]["id"]
    started = datetime.now(UTC)

    result = emit(event)

    following = event["execution_arn"].replace("_1_1", "_1_2")
    assert result == {"id": task_id, "version": 1, "continued": following}
    record = registry.get(task_id)
    assert (record.status, record.version, record.execution_arn) == (
        TaskStatus.SCHEDULED,
        1,
        following,
    )
    carried = execution_input(task_id, 1, 2)
    assert carried == {**event["task"], "segment": 2, "release_at": carried["release_at"]}
    release = parse_timestamp(carried["release_at"])
    assert (
        timedelta(seconds=-1) < release - (started + timedelta(seconds=60)) < timedelta(seconds=5)
    )
    assert receive(sqs, topic.raw_queue) == []
    assert json.loads(capsys.readouterr().out)["TasksContinued"] == [1.0]


def test_the_last_segment_is_released_at_the_final_release(
    emit, topic, task_event, short_segments, execution_input
):
    event = task_event("soon", seconds_ago=-40, release_at=segment_ended_now())

    emit(event)

    carried = execution_input(event["task"]["id"], 1, 2)
    final_release = timing.release_at(parse_timestamp(event["task"]["timestamp"]), EMISSION_LEAD)
    assert carried["release_at"] == timing.format_release(final_release)


def test_a_segment_end_close_to_the_timestamp_emits_in_this_execution(
    emit, sqs, topic, task_event, short_segments
):
    # The hold can reach the timestamp within the function's timeout: no follow-on execution.
    event = task_event(
        "close", seconds_ago=-0.3, release_at=segment_ended_now() - timedelta(seconds=5)
    )

    assert "message_id" in emit(event)
    assert receive(sqs, topic.raw_queue)[0]["Body"] == "close"


def test_a_retried_hand_on_adopts_the_follow_on_it_started(
    emit, topic, task_event, short_segments, registry, monkeypatch
):
    event = task_event("twice", seconds_ago=-3600, release_at=segment_ended_now())
    first = emit(event)["continued"]

    # The retry computes another segment end (a later clock): Step Functions refuses the name,
    # and the emit function, which may not describe executions, adopts it.
    monkeypatch.setenv("EXECUTION_SEGMENT_SECONDS", str(SEGMENT_SECONDS + 1))

    def forbidden(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "DescribeExecution")

    monkeypatch.setattr(aws.client("stepfunctions"), "describe_execution", forbidden)

    assert emit(event)["continued"] == first
    assert registry.get(event["task"]["id"]).execution_arn == first


def test_a_superseded_segment_end_starts_nothing(
    emit, topic, task_event, registry, short_segments, describe_execution
):
    event = task_event("cancelled", seconds_ago=-3600, release_at=segment_ended_now())
    task_id = event["task"]["id"]
    registry.cancel(task_id, 1, timing.utc_now())

    result = emit(event)

    assert result["skipped"] == "the task is cancelled at version 1"
    with pytest.raises(ClientError, match="ExecutionDoesNotExist"):
        describe_execution(task_id, 1, 2)


def test_a_cancel_racing_the_hand_on_stops_the_follow_on_execution(
    emit, emit_handler, topic, task_event, registry, short_segments, execution_status, monkeypatch
):
    # The cancel commits between the emit function's read and its conditional hand-on.
    event = task_event("raced", seconds_ago=-3600, release_at=segment_ended_now())
    task_id = event["task"]["id"]
    start = emit_handler.Executions.start_unless_taken

    def start_then_cancel(self, execution):
        started = start(self, execution)
        registry.cancel(task_id, 1, timing.utc_now())
        return started

    monkeypatch.setattr(emit_handler.Executions, "start_unless_taken", start_then_cancel)

    result = emit(event)

    assert result["skipped"] == "the task is cancelled at version 1"
    assert execution_status(task_id, 1, 2) == "ABORTED"
    assert registry.get(task_id).execution_arn == event["execution_arn"]
