"""`tail`: the local stack's Server-Sent Events, and an SNS topic through an ephemeral queue.

The AWS mode runs against a moto server: the queue and the subscription must be gone after
every way out (count reached, error, Ctrl-C, SIGTERM), and the queue policy must admit only
the task topic.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from task_scheduler_client import TransportError
from task_scheduler_client.cli import main
from task_scheduler_client.tail import TopicTail, event_from_envelope, parse_sse

from .conftest import ACCESS_KEY, SECRET_KEY

AWS_REGION = "us-east-1"  # moto's account 123456789012


# Server-Sent Events.


def test_parse_sse_follows_the_event_stream_format() -> None:
    stream = [
        b": connected\n",
        b"\n",
        b"id: a\n",
        b'data: {"id": "a"}\n',
        b"\n",
        b": keep-alive\n",
        b"\n",
        b"data: line one\r\n",
        b"data:line two\n",
        b"\n",
        b"event: other\n",
        b"data: x\n",
        b"\n",
        b"retry: 5\n",
        b"data: unterminated",  # no blank line: never dispatched
    ]
    assert list(parse_sse(stream)) == [
        ("message", '{"id": "a"}'),
        ("message", "line one\nline two"),
        ("other", "x"),
    ]


def _event(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"task-{n}",
        "timestamp": "2030-08-21T04:29:00.951Z",
        "emitted_at": "2030-08-21T04:29:00.953Z",
        "message": {"n": n},
        **fields,
    }


class SseServer:
    """Serves `GET /events` from a queue of chunks; None ends the response."""

    def __init__(self, status: int = 200, content_type: str = "text/event-stream") -> None:
        self.chunks: queue.Queue[bytes | None] = queue.Queue()
        self.connected = threading.Event()
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.end_headers()
                self.wfile.write(b": connected\n\n")
                self.wfile.flush()
                feed.connected.set()
                while (chunk := feed.chunks.get()) is not None:
                    try:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                    except OSError:
                        return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def send(self, event: dict[str, Any]) -> None:
        self.chunks.put(f"id: {event['id']}\ndata: {json.dumps(event)}\n\n".encode())

    def stop(self) -> None:
        self.chunks.put(None)
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sse() -> Iterator[SseServer]:
    server = SseServer()
    yield server
    server.stop()


def test_tail_prints_each_event_as_a_json_line_until_count(
    sse: SseServer, capsys: pytest.CaptureFixture[str]
) -> None:
    events = [_event(1), _event(2, message="text"), _event(3)]
    for event in events:
        sse.send(event)
    sse.chunks.put(b": keep-alive\n\n")
    code = main(["--url", sse.url, "tail", "--count", "2", "--timeout", "10"])
    out, err = capsys.readouterr()
    assert code == 0
    assert [json.loads(line) for line in out.splitlines()] == events[:2]
    assert f"Following {sse.url}/events" in err


def test_tail_table_and_id_filter(sse: SseServer, capsys: pytest.CaptureFixture[str]) -> None:
    for n in (1, 2, 3):
        sse.send(_event(n))
    code = main(
        [
            "tail",
            "--events-url",
            f"{sse.url}/events",
            "--id",
            "task-2",
            "--count",
            "1",
            "-o",
            "table",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out == (
        '2030-08-21T04:29:00.953Z  task-2  scheduled 2030-08-21T04:29:00.951Z  {"n":2}\n'
    )


def test_tail_timeout_without_count_is_a_normal_end(
    sse: SseServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sse.send(_event(1))
    started = time.monotonic()
    code = main(["--url", sse.url, "tail", "--timeout", "0.5"])
    assert 0.5 <= time.monotonic() - started < 3
    assert code == 0
    assert json.loads(capsys.readouterr().out) == _event(1)


def test_tail_timeout_before_count_exits_5(
    sse: SseServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sse.send(_event(1))
    code = main(["--url", sse.url, "tail", "--count", "2", "--timeout", "0.5"])
    out, err = capsys.readouterr()
    assert code == 5
    assert len(out.splitlines()) == 1
    assert "Timed out after 1 of 2 events." in err


def test_a_closed_stream_is_a_network_error(
    sse: SseServer, capsys: pytest.CaptureFixture[str]
) -> None:
    sse.send(_event(1))
    sse.chunks.put(None)
    code = main(["--url", sse.url, "tail", "--timeout", "10"])
    out, err = capsys.readouterr()
    assert code == 4
    assert len(out.splitlines()) == 1
    assert "closed by the server" in err


def test_tail_on_a_url_without_events_hints_at_the_topic(
    api: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--url", api.url, "tail", "--timeout", "1"])
    err = capsys.readouterr().err
    assert code == 1
    assert "HTTP 404" in err
    assert "on AWS use --topic-arn" in err


def test_tail_needs_a_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tail"]) == 2
    assert "tail needs --url" in capsys.readouterr().err


def test_an_answer_that_is_not_an_event_stream_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = SseServer(content_type="application/json")
    try:
        assert main(["--url", server.url, "tail", "--timeout", "1"]) == 4
    finally:
        server.stop()
    assert "not an event stream" in capsys.readouterr().err


# The local stack's own feed (emulator/task_scheduler_emulator/events.py) over moto.


def _aws_client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=AWS_REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def _publish(sns: Any, topic_arn: str, task_id: str, message: Any) -> None:
    """As the emit function publishes (lambda_src/task_scheduler/core/sns_message.py)."""
    body, encoding = (
        (message, "string") if isinstance(message, str) else (json.dumps(message), "json")
    )
    attributes = {"task_id": task_id, "scheduled_at": "2030-08-21T04:29:00.951Z"}
    attributes["message_encoding"] = encoding
    sns.publish(
        TopicArn=topic_arn,
        Message=body,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
    )


@pytest.fixture
def topic_arn(moto_endpoint: str) -> str:
    sns = _aws_client(moto_endpoint, "sns")
    return str(sns.create_topic(Name=f"tasks-{uuid.uuid4().hex[:8]}")["TopicArn"])


def test_tail_reads_the_local_stacks_event_feed(
    moto_endpoint: str, topic_arn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    events = pytest.importorskip("task_scheduler_emulator.events")
    sns, sqs = _aws_client(moto_endpoint, "sns"), _aws_client(moto_endpoint, "sqs")
    queue_url = sqs.create_queue(QueueName=f"events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    feed = events.EventFeed(sqs, queue_url, echo=lambda line: None)
    client_connected = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            client_connected.set()
            feed.serve_sse(self)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    def publish_when_listening() -> None:
        # The feed fans out to the clients connected when it receives from its queue (it
        # polls every second): publish once this client is in.
        if client_connected.wait(20):
            time.sleep(0.1)
        _publish(sns, topic_arn, "local-1", {"name": "Luke"})
        _publish(sns, topic_arn, "local-2", "plain text")

    publisher = threading.Thread(target=publish_when_listening)
    publisher.start()
    try:
        code = main(["--url", url, "tail", "--count", "2", "--timeout", "20"])
    finally:
        publisher.join()
        feed.stop()
        server.shutdown()
        server.server_close()
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0
    assert [(e["id"], e["message"]) for e in printed] == [
        ("local-1", {"name": "Luke"}),
        ("local-2", "plain text"),
    ]


# AWS: an ephemeral queue on the topic.


def test_event_from_envelope_decodes_like_the_local_feed() -> None:
    envelope: dict[str, Any] = {
        "Type": "Notification",
        "Message": '{"name":"Luke"}',
        "Timestamp": "2030-08-21T04:29:00.960Z",
        "MessageAttributes": {
            "task_id": {"Type": "String", "Value": "t1"},
            "scheduled_at": {"Type": "String", "Value": "2030-08-21T04:29:00.951Z"},
            "message_encoding": {"Type": "String", "Value": "json"},
        },
    }
    expected = {
        "id": "t1",
        "timestamp": "2030-08-21T04:29:00.951Z",
        "emitted_at": "2030-08-21T04:29:00.960Z",
        "message": {"name": "Luke"},
    }
    assert event_from_envelope(envelope) == expected
    events = pytest.importorskip("task_scheduler_emulator.events")
    assert events.event_from_envelope(envelope) == expected
    envelope["MessageAttributes"]["message_encoding"]["Value"] = "string"
    assert event_from_envelope(envelope)["message"] == '{"name":"Luke"}'


def _tail_resources(endpoint: str, topic_arn: str) -> tuple[list[str], list[str]]:
    """Tail queues that exist, and the topic's subscriptions."""
    sqs, sns = _aws_client(endpoint, "sqs"), _aws_client(endpoint, "sns")
    queues = sqs.list_queues(QueueNamePrefix="task-scheduler-tail-").get("QueueUrls", [])
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    return queues, [s["SubscriptionArn"] for s in subscriptions]


def _when_subscribed(
    endpoint: str, topic_arn: str, then: Callable[[dict[str, Any]], None]
) -> threading.Thread:
    """In a thread: wait for the tail's subscription, record what it set up, then `then`."""
    seen: dict[str, Any] = {}

    def watch() -> None:
        sqs, sns = _aws_client(endpoint, "sqs"), _aws_client(endpoint, "sns")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
            if subscriptions:
                break
            time.sleep(0.05)
        else:
            return
        queue_arn = subscriptions[0]["Endpoint"]
        queue_url = sqs.get_queue_url(QueueName=queue_arn.rsplit(":", 1)[1])["QueueUrl"]
        seen["subscription"] = subscriptions[0]
        seen["attributes"] = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])[
            "Attributes"
        ]
        seen["tags"] = sqs.list_queue_tags(QueueUrl=queue_url).get("Tags", {})
        then(seen)

    thread = threading.Thread(target=watch, daemon=True)
    thread.seen = seen  # type: ignore[attr-defined]
    thread.start()
    return thread


@pytest.mark.usefixtures("credentials")
def test_tail_on_aws_prints_emissions_and_removes_its_queue(
    moto_endpoint: str, topic_arn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sns = _aws_client(moto_endpoint, "sns")

    def publish_two(_: dict[str, Any]) -> None:
        sns.publish(TopicArn=topic_arn, Message="not a task")  # skipped, with a note
        _publish(sns, topic_arn, "aws-1", {"name": "Luke"})
        _publish(sns, topic_arn, "aws-2", "hi")

    watcher = _when_subscribed(moto_endpoint, topic_arn, publish_two)
    argv = ["tail", "--topic-arn", topic_arn, "--endpoint-url", moto_endpoint]
    code = main([*argv, "--count", "2", "--timeout", "20"])
    watcher.join()
    out, err = capsys.readouterr()
    assert code == 0, err
    printed = [json.loads(line) for line in out.splitlines()]
    assert [(e["id"], e["timestamp"], e["message"]) for e in printed] == [
        ("aws-1", "2030-08-21T04:29:00.951Z", {"name": "Luke"}),
        ("aws-2", "2030-08-21T04:29:00.951Z", "hi"),
    ]
    assert all(e["emitted_at"].endswith("Z") for e in printed)
    assert _tail_resources(moto_endpoint, topic_arn) == ([], [])
    assert "Removed the subscription and the queue" in err
    assert "Skipped a message without the task attributes" in err

    seen = watcher.seen  # type: ignore[attr-defined]
    queue_arn = seen["attributes"]["QueueArn"]
    assert queue_arn.startswith(f"arn:aws:sqs:{AWS_REGION}:123456789012:task-scheduler-tail-")
    assert seen["subscription"]["Protocol"] == "sqs"
    policy = json.loads(seen["attributes"]["Policy"])
    assert policy == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OnlyTheTaskTopic",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    assert seen["attributes"]["SqsManagedSseEnabled"] == "true"
    assert seen["tags"] == {"task-scheduler-tail": topic_arn.rsplit(":", 1)[1]}


@pytest.mark.usefixtures("credentials")
def test_the_endpoint_can_come_from_aws_endpoint_url(
    moto_endpoint: str,
    topic_arn: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("TASK_SCHEDULER_TOPIC_ARN", topic_arn)
    sns = _aws_client(moto_endpoint, "sns")
    watcher = _when_subscribed(
        moto_endpoint, topic_arn, lambda _: _publish(sns, topic_arn, "env-1", 0)
    )
    assert main(["tail", "--count", "1", "--timeout", "20", "-o", "table"]) == 0
    watcher.join()
    assert " env-1 " in capsys.readouterr().out
    assert _tail_resources(moto_endpoint, topic_arn) == ([], [])


@pytest.mark.parametrize(
    ("failure", "exit_code"),
    [(KeyboardInterrupt(), 130), (TransportError("queue gone"), 4), (RuntimeError("bug"), None)],
)
@pytest.mark.usefixtures("credentials")
def test_ctrl_c_and_errors_still_remove_the_queue_and_subscription(
    moto_endpoint: str,
    topic_arn: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    failure: BaseException,
    exit_code: int | None,
) -> None:
    original = TopicTail.events

    def failing_after_one(self: TopicTail, *, deadline: float | None = None) -> Iterator[Any]:
        for event in original(self, deadline=deadline):
            yield event
            raise failure

    monkeypatch.setattr(TopicTail, "events", failing_after_one)
    sns = _aws_client(moto_endpoint, "sns")
    watcher = _when_subscribed(
        moto_endpoint, topic_arn, lambda _: _publish(sns, topic_arn, "once", 1)
    )
    argv = ["tail", "--topic-arn", topic_arn, "--endpoint-url", moto_endpoint, "--timeout", "20"]
    if exit_code is None:
        with pytest.raises(RuntimeError, match="bug"):
            main(argv)
    else:
        assert main(argv) == exit_code
    watcher.join()
    out = capsys.readouterr().out
    assert json.loads(out)["id"] == "once"
    assert _tail_resources(moto_endpoint, topic_arn) == ([], [])


@pytest.mark.usefixtures("credentials")
def test_a_failed_subscribe_deletes_the_queue_it_created(
    moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"arn:aws:sns:{AWS_REGION}:123456789012:no-such-topic"
    code = main(["tail", "--topic-arn", missing, "--endpoint-url", moto_endpoint])
    err = capsys.readouterr().err
    assert code == 1
    assert f"task-scheduler: error: subscribing a queue to {missing}: " in err
    assert "Topic does not exist" in err
    assert "Removed the queue arn:aws:sqs:" in err
    sqs = _aws_client(moto_endpoint, "sqs")
    assert sqs.list_queues(QueueNamePrefix="task-scheduler-tail-").get("QueueUrls", []) == []


@pytest.mark.parametrize(("signum", "exit_code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_real_signal_to_the_command_removes_the_queue(
    moto_endpoint: str, topic_arn: str, signum: int, exit_code: int
) -> None:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_ENDPOINT_URL": moto_endpoint,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "task_scheduler_client", "tail", "--topic-arn", topic_arn],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # SIGINT at its default, as from a terminal: a test run that a non-interactive shell
        # started in the background ignores SIGINT, and a child would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    watchdog = threading.Timer(30, process.kill)  # a hung read fails the test, not the run
    watchdog.start()
    try:
        assert process.stderr is not None
        assert process.stdout is not None
        banner: list[str] = []
        while not banner or "Waiting for emissions" not in banner[-1]:
            banner.append(process.stderr.readline())
            assert banner[-1], banner  # not the end of the stream
        _publish(_aws_client(moto_endpoint, "sns"), topic_arn, "signalled", {"n": 1})
        assert json.loads(process.stdout.readline())["id"] == "signalled"
        process.send_signal(signum)
        assert process.wait(timeout=20) == exit_code
        assert "Removed the subscription and the queue" in process.stderr.read()
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert _tail_resources(moto_endpoint, topic_arn) == ([], [])


def test_tail_on_aws_without_credentials_is_a_configuration_error(
    moto_endpoint: str, topic_arn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["tail", "--topic-arn", topic_arn, "--endpoint-url", moto_endpoint])
    assert code == 2
    assert "Unable to locate credentials" in capsys.readouterr().err
    assert _tail_resources(moto_endpoint, topic_arn) == ([], [])
