"""The emit function, publishing to an SNS topic in moto with SQS subscribers."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from botocore.exceptions import ClientError

from task_scheduler import aws, timing
from task_scheduler.timestamps import format_timestamp

TASK_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


@dataclass(frozen=True)
class Topic:
    arn: str
    envelope_queue: str  # SNS wraps the message in a JSON envelope
    raw_queue: str  # RawMessageDelivery: the message is the SQS body


@pytest.fixture
def topic(sns: Any, sqs: Any, monkeypatch: pytest.MonkeyPatch) -> Topic:
    name = f"tasks-{uuid4().hex}"
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queues = []
    for raw in ("false", "true"):
        url = sqs.create_queue(QueueName=f"{name}-{raw}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn["Attributes"]["QueueArn"],
            Attributes={"RawMessageDelivery": raw},
        )
        queues.append(url)
    monkeypatch.setenv("TOPIC_ARN", topic_arn)
    return Topic(topic_arn, *queues)


@pytest.fixture
def emit(emit_handler, lambda_context):
    return lambda event: emit_handler.lambda_handler(event, lambda_context)


def task_event(message: Any, seconds_ago: float = 0) -> dict[str, Any]:
    scheduled_at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return {"id": TASK_ID, "timestamp": format_timestamp(scheduled_at), "message": message}


def receive(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    response = sqs.receive_message(
        QueueUrl=queue_url, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )
    return response.get("Messages", [])


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
def test_message_arrives_intact_in_both_delivery_modes(emit, sqs, topic, message):
    event = task_event(message)

    emit(event)

    for mode, (body, attributes) in delivered(sqs, topic).items():
        assert json.dumps(decode(body, attributes)) == json.dumps(message), mode
        assert attributes["task_id"] == TASK_ID
        assert attributes["scheduled_at"] == event["timestamp"]


@pytest.mark.parametrize(
    ("message", "encoding"),
    [("text", "string"), ("", "json"), ("\x00", "json"), ({"a": 1}, "json"), (None, "json")],
)
def test_message_encoding_attribute(emit, sqs, topic, message, encoding):
    emit(task_event(message))

    _, attributes = delivered(sqs, topic)["raw"]
    assert attributes["message_encoding"] == encoding


def test_returns_the_emission(emit, sqs, topic):
    result = emit(task_event("late", seconds_ago=30))

    body = json.loads(receive(sqs, topic.envelope_queue)[0]["Body"])
    assert result["id"] == TASK_ID
    assert result["message_id"] == body["MessageId"]
    emitted_at = datetime.fromisoformat(result["emitted_at"])
    assert abs(emitted_at - datetime.now(UTC)) < timedelta(seconds=5)
    assert 30_000 <= result["lateness_ms"] < 35_000
    assert result["held_ms"] == 0  # already due: no hold


def test_logs_and_measures_lateness(emit, topic, capsys, emit_logs):
    emit(task_event("late", seconds_ago=30))

    (metrics,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (definition,) = metrics["_aws"]["CloudWatchMetrics"]
    assert {"Name": "EmissionLateness", "Unit": "Milliseconds"} in definition["Metrics"]
    assert 30_000 <= metrics["EmissionLateness"][0] < 35_000
    assert metrics["TasksEmitted"] == [1.0]
    (log,) = [line for line in emit_logs() if line["message"] == "Emitted task"]
    assert log["correlation_id"] == TASK_ID
    assert 30_000 <= log["lateness_ms"] < 35_000
    assert log["held_ms"] == 0


def test_holds_until_the_exact_millisecond_when_released_early(emit, sqs, topic, emit_logs):
    due = datetime.now(UTC) + timedelta(milliseconds=400)
    event = {"id": TASK_ID, "timestamp": format_timestamp(due), "message": "on time"}

    result = emit(event)

    published = datetime.now(UTC)
    scheduled = datetime.fromisoformat(event["timestamp"])
    assert scheduled <= published  # never before the timestamp
    assert result["lateness_ms"] >= 0
    assert result["held_ms"] > 0
    (log,) = [line for line in emit_logs() if line["message"] == "Emitted task"]
    assert (log["held_ms"], log["lateness_ms"]) == (result["held_ms"], result["lateness_ms"])
    assert receive(sqs, topic.raw_queue)[0]["Body"] == "on time"


# A failed invocation publishes no metric; Powertools warns about it.
NO_METRICS = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@NO_METRICS
@pytest.mark.parametrize(
    "event",
    [
        {},
        {"id": TASK_ID, "timestamp": "2030-01-01T00:00:00Z"},
        {"timestamp": "2030-01-01T00:00:00Z", "message": 1},
        {"id": "", "timestamp": "2030-01-01T00:00:00Z", "message": 1},
        {"id": 7, "timestamp": "2030-01-01T00:00:00Z", "message": 1},
        {"id": TASK_ID, "timestamp": "2030-01-01T00:00:00", "message": 1},
        {"id": TASK_ID, "timestamp": 1893456000, "message": 1},
        [TASK_ID],
        "not json",
    ],
)
def test_invalid_event_raises_and_publishes_nothing(emit, sqs, topic, event):
    with pytest.raises(ValueError, match=r"expected|timestamp"):
        emit(event)

    assert receive(sqs, topic.raw_queue) == []


def test_the_sns_client_exists_before_the_hold(emit, topic, monkeypatch):
    # On a cold start, building the client after the hold would delay the publish.
    aws.client.cache_clear()
    clients_at_hold = []
    real_hold = timing.hold_until

    def hold(*args, **kwargs):
        clients_at_hold.append(aws.client.cache_info().currsize)
        return real_hold(*args, **kwargs)

    monkeypatch.setattr(timing, "hold_until", hold)

    emit(task_event("x"))

    assert clients_at_hold == [1]


@NO_METRICS
def test_a_task_not_due_within_the_timeout_fails_unpublished(
    emit_handler, lambda_context, sqs, topic
):
    # Released far too early (a Wait that misfired): hold what the timeout allows, then fail so
    # that the state machine retries, rather than publish early.
    lambda_context.remaining_millis = 10_200
    event = task_event("not yet", seconds_ago=-3600)

    with pytest.raises(emit_handler.TaskNotDue):
        emit_handler.lambda_handler(event, lambda_context)

    assert receive(sqs, topic.raw_queue) == []


@NO_METRICS
def test_publish_failure_propagates(emit, topic, monkeypatch):
    monkeypatch.setenv("TOPIC_ARN", topic.arn + "-deleted")

    with pytest.raises(ClientError) as raised:
        emit(task_event("lost?"))

    assert raised.value.response["Error"]["Code"] == "NotFound"
