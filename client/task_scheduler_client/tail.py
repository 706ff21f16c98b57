"""Follow emissions live: the local stack's `/events` feed, or an SNS topic on AWS.

On AWS, `TopicTail` creates an SQS queue that only the topic may send to, subscribes it, and
removes both again on close (the `with` block's end: normally, on an error, on Ctrl-C).
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import math
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from types import FrameType
from typing import Any, cast
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from .aws import (
    aws_error,
    configuration_errors,
    create_client,
    default_session,
    region_from_arn,
    session_region,
)
from .errors import ConfigurationError, TransportError, error_class
from .types import Event

LONG_POLL_SECONDS = 20  # SQS's maximum
QUEUE_PREFIX = "task-scheduler-tail-"
QUEUE_RETENTION_SECONDS = 3600  # a queue left behind by a killed tail holds little


def event_from_envelope(envelope: dict[str, Any]) -> Event:
    """The emitted task in one SNS notification (raw delivery off): the emit function's
    message attributes `task_id`, `scheduled_at` and `message_encoding` (`json`: decode the
    body) plus the publish time. The same decoding as the local stack's `/events` feed."""
    attributes = {name: a["Value"] for name, a in envelope["MessageAttributes"].items()}
    body = envelope["Message"]
    message = json.loads(body) if attributes["message_encoding"] == "json" else body
    return {
        "id": attributes["task_id"],
        "timestamp": attributes["scheduled_at"],
        "emitted_at": envelope["Timestamp"],
        "message": message,
    }


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


# Server-Sent Events (the local stack's GET /events).


def parse_sse(lines: Iterable[bytes]) -> Iterator[tuple[str, str]]:
    """(event type, data) of each event in a text/event-stream, per the HTML standard's
    parsing rules: comments skipped, multi-line data joined with newlines."""
    event_type = ""
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield event_type or "message", "\n".join(data)
            event_type, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event_type = value


def _lines_until(
    response: http.client.HTTPResponse, sock: Any, deadline: float | None
) -> Iterator[bytes]:
    """The response's lines, until it ends (TransportError) or `deadline` (return)."""
    while True:
        remaining = _remaining(deadline)
        if remaining is not None and remaining <= 0:
            return
        sock.settimeout(remaining)
        try:
            line = response.readline()
        except TimeoutError:
            return
        except OSError as error:
            raise TransportError(f"the event stream failed: {error!r}") from error
        if not line:
            raise TransportError("the event stream was closed by the server")
        yield line


class EventStream:
    """A Server-Sent Events feed of emitted tasks (the local stack's `GET /events`); use as a
    context manager. `open()` connects and checks the answer, `events()` reads."""

    def __init__(self, events_url: str, *, connect_timeout: float = 10.0) -> None:
        parts = urlsplit(events_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"invalid events URL {events_url!r}")
        self.url = events_url
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        self._connection = connection_class(parts.hostname, parts.port, timeout=connect_timeout)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._response: http.client.HTTPResponse | None = None
        self._sock: Any = None

    def __enter__(self) -> EventStream:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        try:
            self._connection.request("GET", self._path, headers={"Accept": "text/event-stream"})
            self._sock = self._connection.sock  # kept: the connection lets go of it once answered
            response = self._connection.getresponse()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise TransportError(f"GET {self.url}: {error!r}") from error
        self._response = response
        content_type = response.headers.get("Content-Type", "")
        if response.status != 200:
            raw = response.read()
            self.close()
            raise error_class(response.status)(
                response.status, None, raw_body=raw, reason=response.reason
            )
        if not content_type.startswith("text/event-stream"):
            self.close()
            raise TransportError(f"GET {self.url}: not an event stream ({content_type!r})")

    def events(self, *, deadline: float | None = None) -> Iterator[Event]:
        """Emitted tasks as they arrive, until `deadline` (time.monotonic()). TransportError
        when the server ends the stream."""
        if self._response is None:
            raise RuntimeError("open() first")
        for event_type, data in parse_sse(_lines_until(self._response, self._sock, deadline)):
            if event_type == "message":
                yield cast(Event, json.loads(data))

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        self._connection.close()


# An SNS topic on AWS, through an ephemeral SQS queue.


def queue_policy(queue_arn: str, topic_arn: str) -> dict[str, Any]:
    """Allows sqs:SendMessage to the queue for SNS on behalf of `topic_arn` only."""
    return {
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


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while cleaning up (main thread only), then deliver them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = {s: signal.signal(s, hold) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for held, handler in previous.items():
            signal.signal(held, signal.SIG_DFL if handler is None else handler)
        for signum in dict.fromkeys(pending):
            signal.raise_signal(signum)


class TopicTail:
    """An ephemeral SQS queue subscribed to the task topic; use as a context manager.

    Needs sqs:CreateQueue, GetQueueAttributes, TagQueue, ReceiveMessage, DeleteMessage,
    DeleteQueue (on `task-scheduler-tail-*`), sns:Subscribe and sns:Unsubscribe (the topic),
    and sts:GetCallerIdentity (always allowed). The queue policy exists from the queue's
    creation, so no emission is refused while a later policy change propagates.
    """

    def __init__(
        self,
        topic_arn: str,
        *,
        session: Any = None,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        log: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.topic_arn = topic_arn
        resolved_session = default_session(session, profile)
        with configuration_errors("tail: reading the AWS configuration"):
            self.region = region or region_from_arn(topic_arn) or session_region(resolved_session)
            if self.region is None:
                raise ConfigurationError(f"no region in {topic_arn!r}: pass --region")
            self._session = resolved_session
            self._endpoint_url = endpoint_url
            self.sqs = self._client("sqs")
            self.sns = self._client("sns")
        self.log = log
        self.queue_url: str | None = None
        self.queue_arn: str | None = None
        self.subscription_arn: str | None = None

    def _client(self, service: str) -> Any:
        return create_client(
            self._session, service, region=self.region, endpoint_url=self._endpoint_url
        )

    def __enter__(self) -> TopicTail:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> None:
        """Create the queue with its policy, and subscribe it to the topic."""
        try:
            self._open()
        except (BotoCoreError, ClientError) as error:
            self.close()
            raise aws_error(error, f"subscribing a queue to {self.topic_arn}") from error
        except BaseException:
            self.close()
            raise

    def _open(self) -> None:
        caller = self._client("sts").get_caller_identity()
        partition = caller["Arn"].split(":")[1]
        name = f"{QUEUE_PREFIX}{uuid.uuid4().hex[:16]}"
        queue_arn = f"arn:{partition}:sqs:{self.region}:{caller['Account']}:{name}"
        self.queue_url = self.sqs.create_queue(
            QueueName=name,
            Attributes={
                "Policy": json.dumps(queue_policy(queue_arn, self.topic_arn)),
                "MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS),
                "SqsManagedSseEnabled": "true",
            },
            tags={"task-scheduler-tail": self.topic_arn.rsplit(":", 1)[-1]},
        )["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.subscription_arn = self.sns.subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=self.queue_arn,
            Attributes={"RawMessageDelivery": "false"},
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        self.log(f"Subscribed queue {self.queue_arn} to {self.topic_arn}")

    def close(self) -> None:
        """Unsubscribe and delete the queue (best effort: failures are logged, not raised)."""
        with signals_deferred():
            removed = []
            if self.subscription_arn is not None:
                self._best_effort(
                    f"unsubscribe {self.subscription_arn}",
                    functools.partial(self.sns.unsubscribe, SubscriptionArn=self.subscription_arn),
                )
                self.subscription_arn = None
                removed.append("the subscription")
            if self.queue_url is not None:
                self._best_effort(
                    f"delete queue {self.queue_url}",
                    functools.partial(self.sqs.delete_queue, QueueUrl=self.queue_url),
                )
                removed.append(f"the queue {self.queue_arn or self.queue_url}")
                self.queue_url = None
            if removed:
                self.log(f"Removed {' and '.join(removed)}")

    def _best_effort(self, what: str, action: Callable[[], object]) -> None:
        try:
            action()
        except (BotoCoreError, ClientError) as error:
            self.log(f"Could not {what}: {error} (remove it by hand)")

    def events(self, *, deadline: float | None = None) -> Iterator[Event]:
        """Emitted tasks as they arrive (long polling), until `deadline` (time.monotonic())."""
        if self.queue_url is None:
            raise RuntimeError("open() first")
        while True:
            remaining = _remaining(deadline)
            if remaining is not None and remaining <= 0:
                return
            wait = LONG_POLL_SECONDS if remaining is None else min(LONG_POLL_SECONDS, remaining)
            try:
                received = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=math.ceil(wait),
                )
            except (BotoCoreError, ClientError) as error:
                raise aws_error(error, f"receiving from {self.queue_url}") from error
            for sqs_message in received.get("Messages", []):
                envelope = json.loads(sqs_message["Body"])
                try:
                    self.sqs.delete_message(
                        QueueUrl=self.queue_url, ReceiptHandle=sqs_message["ReceiptHandle"]
                    )
                    if envelope.get("Type") == "SubscriptionConfirmation":  # a topic elsewhere
                        self.subscription_arn = self.sns.confirm_subscription(
                            TopicArn=self.topic_arn, Token=envelope["Token"]
                        )["SubscriptionArn"]
                except (BotoCoreError, ClientError) as error:
                    raise aws_error(error, f"handling a message of {self.queue_url}") from error
                if envelope.get("Type") != "Notification":
                    continue
                try:
                    event = event_from_envelope(envelope)
                except (KeyError, TypeError, ValueError):  # published by something else
                    self.log(f"Skipped a message without the task attributes: {envelope!r:.200}")
                    continue
                yield event


__all__ = [
    "EventStream",
    "TopicTail",
    "event_from_envelope",
    "parse_sse",
    "queue_policy",
    "signals_deferred",
]
