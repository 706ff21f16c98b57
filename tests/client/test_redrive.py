"""`redrive`: the dead-letter queue (a moto server) re-scheduled through the fake API.

A message is deleted only after the API answered 201 or 200, and after that answer (the SQS
client's calls are journaled next to the API's answers); every other outcome leaves it in the
queue, visible again when the run ends.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from task_scheduler_client import AwsError, ConfigurationError, TaskSchedulerClient
from task_scheduler_client.aws import region_from_queue_url
from task_scheduler_client.cli import main
from task_scheduler_client.output import redrive_line, redrive_summary
from task_scheduler_client.redrive import (
    DeadLetter,
    Outcome,
    Redrive,
    RedriveResult,
    RedriveSummary,
    redrive,
)

from .fake_api import FakeApi

REGION = "us-east-1"  # moto's account 123456789012
PAST = "2026-01-01T00:00:00.000Z"


def dead_letter(
    task_id: str, message: Any = ..., *, timestamp: str = PAST, version: int = 1
) -> dict[str, Any]:
    """A message body as the state machine's SendToDeadLetterQueue sends it: the execution's
    input plus the caught error."""
    return {
        "id": task_id,
        "version": version,
        "segment": 1,
        "timestamp": timestamp,
        "release_at": timestamp.replace(".000Z", "Z"),
        "message": {"n": task_id} if message is ... else message,
        "error": {"Error": "States.TaskFailed", "Cause": '{"errorMessage": "AuthorizationError"}'},
    }


@dataclass
class Journal:
    """What the SQS client did, in order, with the time of each call."""

    received: dict[str, str] = field(default_factory=dict)  # receipt handle -> body
    deletes: list[tuple[float, str]] = field(default_factory=list)  # (when, body)
    receive_sizes: list[int] = field(default_factory=list)
    visibility_changes: int = 0

    def deleted_ids(self) -> list[str]:
        return sorted(json.loads(body)["id"] for _, body in self.deletes)


@pytest.fixture
def journal() -> Journal:
    return Journal()


@pytest.fixture
def sqs(moto_endpoint: str, credentials: None, journal: Journal) -> Any:
    """The SQS client a Redrive is given, its calls journaled."""
    client = boto3.client("sqs", region_name=REGION, endpoint_url=moto_endpoint)

    def on_receive_params(params: dict[str, Any], **_: Any) -> None:
        journal.receive_sizes.append(params["MaxNumberOfMessages"])

    def on_received(parsed: dict[str, Any], **_: Any) -> None:
        for message in parsed.get("Messages", []):
            journal.received[message["ReceiptHandle"]] = message["Body"]

    def on_delete(params: dict[str, Any], **_: Any) -> None:
        journal.deletes.append((time.monotonic(), journal.received[params["ReceiptHandle"]]))

    def on_visibility(params: dict[str, Any], **_: Any) -> None:
        journal.visibility_changes += 1

    events = client.meta.events
    events.register("before-parameter-build.sqs.ReceiveMessage", on_receive_params)
    events.register("after-call.sqs.ReceiveMessage", on_received)
    events.register("before-parameter-build.sqs.DeleteMessage", on_delete)
    events.register("before-parameter-build.sqs.ChangeMessageVisibilityBatch", on_visibility)
    return client


@pytest.fixture
def queue_url(sqs: Any) -> Iterator[str]:
    url: str = sqs.create_queue(QueueName=f"tasks-dead-letter-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


def send(sqs: Any, queue_url: str, *bodies: dict[str, Any] | str) -> None:
    for body in bodies:
        text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
        sqs.send_message(QueueUrl=queue_url, MessageBody=text)


def depth(sqs: Any, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) messages."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def queued_ids(sqs: Any, queue_url: str) -> list[str]:
    """The task ids of the visible messages (peeked: made visible again at once)."""
    ids, handles = [], []
    while True:
        answer = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30, WaitTimeSeconds=0
        )
        messages = answer.get("Messages", [])
        if not messages:
            break
        for message in messages:
            ids.append(json.loads(message["Body"]).get("id", "?"))
            handles.append(message["ReceiptHandle"])
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return sorted(ids)


def redriver(api_url: str, queue_url: str, sqs: Any, **options: Any) -> Redrive:
    return Redrive(queue_url, TaskSchedulerClient(api_url), sqs=sqs, wait_seconds=0, **options)


def by_id(summary: RedriveSummary) -> dict[str | None, RedriveResult]:
    return {result.id: result for result in summary.results}


def assert_deleted_only_after_a_success(api: FakeApi, journal: Journal) -> None:
    """Each DeleteMessage came after the API answered 201 or 200 for that task's POST."""
    for deleted_at, body in journal.deletes:
        task_id = json.loads(body)["id"]
        answers = [
            (request.answered_at, request.status)
            for request in api.requests
            if request.method == "POST" and request.json.get("id") == task_id
        ]
        assert any(
            status in (200, 201) and answered_at is not None and answered_at < deleted_at
            for answered_at, status in answers
        ), (task_id, answers, deleted_at)


# The library.


def test_failed_tasks_are_rescheduled_and_their_messages_deleted(
    api: FakeApi, sqs: Any, queue_url: str, journal: Journal
) -> None:
    api.add("a", status="failed", timestamp=PAST, message={"name": "Luke"})
    api.add("b", status="failed", timestamp=PAST, message="plain text")
    api.add("c", status="scheduled", timestamp=PAST, message=None)  # redriven before
    send(
        sqs,
        queue_url,
        dead_letter("a", {"name": "Luke"}),
        dead_letter("b", "plain text", version=3),
        dead_letter("c", None),
    )
    seen: list[RedriveResult] = []

    summary = redriver(api.url, queue_url, sqs).run(on_result=seen.append)

    assert seen == summary.results
    results = by_id(summary)
    assert {task_id: r.outcome for task_id, r in results.items()} == {
        "a": Outcome.REDRIVEN,
        "b": Outcome.REDRIVEN,
        "c": Outcome.EXISTS,
    }
    assert results["b"].version == 3
    assert results["a"].http_status == 201
    assert results["c"].http_status == 200
    assert results["a"].dead_letter_error == "States.TaskFailed"
    assert all(r.deleted and not r.left for r in summary.results)
    assert (summary.received, summary.deleted, summary.left, summary.released) == (3, 3, 0, 0)
    assert summary.ok
    assert summary.counts() == {"redriven": 2, "exists": 1}
    # The API received exactly the contract's body; the failed tasks are scheduled again.
    assert sorted((r.json for r in api.requests), key=lambda body: body["id"]) == [
        {"id": "a", "timestamp": PAST, "message": {"name": "Luke"}},
        {"id": "b", "timestamp": PAST, "message": "plain text"},
        {"id": "c", "timestamp": PAST, "message": None},
    ]
    assert [api.tasks[t]["status"] for t in "abc"] == ["scheduled"] * 3
    assert [api.tasks[t]["version"] for t in "abc"] == [2, 2, 1]
    assert depth(sqs, queue_url) == (0, 0)
    assert journal.deleted_ids() == ["a", "b", "c"]
    assert_deleted_only_after_a_success(api, journal)


def test_a_message_is_deleted_only_after_the_apis_answer(
    api: FakeApi, sqs: Any, queue_url: str, journal: Journal
) -> None:
    for n in range(12):  # two receives
        api.add(f"t{n}", status="failed", timestamp=PAST)
        send(sqs, queue_url, dead_letter(f"t{n}"))
    api.respond_next(500, {"message": "Internal error", "errors": []})

    summary = redriver(api.url, queue_url, sqs).run()

    assert summary.received == 12
    assert len(journal.deletes) == 11 == summary.deleted
    assert_deleted_only_after_a_success(api, journal)
    refused = api.requests[0].json["id"]
    assert refused not in journal.deleted_ids()
    assert queued_ids(sqs, queue_url) == [refused]


def test_a_conflict_leaves_the_message_visible_again(
    api: FakeApi, sqs: Any, queue_url: str, journal: Journal
) -> None:
    api.add("moved", status="scheduled", timestamp=PAST, message={"rescheduled": True})
    send(sqs, queue_url, dead_letter("moved", {"n": 1}))

    summary = redriver(api.url, queue_url, sqs).run()

    (result,) = summary.results
    assert (result.outcome, result.http_status, result.deleted) == (Outcome.CONFLICT, 409, False)
    assert "id_conflict" in (result.detail or "")
    assert (summary.left, summary.released, summary.ok) == (1, 1, False)
    assert journal.deletes == []
    assert depth(sqs, queue_url) == (1, 0)  # visible again at once, not after its timeout
    assert api.tasks["moved"]["message"] == {"rescheduled": True}


@pytest.mark.parametrize(
    ("status", "outcome", "stops"),
    [
        (500, Outcome.SERVER_ERROR, False),
        (502, Outcome.SERVER_ERROR, False),
        (422, Outcome.REFUSED, False),
        (403, Outcome.REFUSED, True),
        (429, Outcome.REFUSED, True),
        (503, Outcome.SERVER_ERROR, True),
    ],
)
def test_errors_keep_the_message_and_systemic_ones_stop_the_run(
    api: FakeApi,
    sqs: Any,
    queue_url: str,
    journal: Journal,
    status: int,
    outcome: Outcome,
    stops: bool,
) -> None:
    for n in range(3):
        api.add(f"t{n}", status="failed", timestamp=PAST)
        send(sqs, queue_url, dead_letter(f"t{n}"))
    api.respond_next(status, {"message": f"HTTP {status}", "errors": []})

    summary = redriver(api.url, queue_url, sqs).run()

    first = summary.results[0]
    assert (first.outcome, first.http_status, first.deleted) == (outcome, status, False)
    rest = [result.outcome for result in summary.results[1:]]
    if stops:
        assert summary.stopped == f"the API answered HTTP {status}"
        assert rest == [Outcome.SKIPPED, Outcome.SKIPPED]
        assert len(api.requests) == 1
        assert journal.deletes == []
        assert depth(sqs, queue_url) == (3, 0)
    else:
        assert summary.stopped is None
        assert rest == [Outcome.REDRIVEN, Outcome.REDRIVEN]
        assert queued_ids(sqs, queue_url) == [first.id]
    assert_deleted_only_after_a_success(api, journal)


def test_a_network_error_keeps_every_message(
    sqs: Any, queue_url: str, journal: Journal, unused_port: int
) -> None:
    send(sqs, queue_url, dead_letter("a"), dead_letter("b"))

    summary = redriver(f"http://127.0.0.1:{unused_port}", queue_url, sqs).run()

    assert [r.outcome for r in summary.results] == [Outcome.UNREACHABLE, Outcome.SKIPPED]
    assert summary.stopped == "the API could not be reached"
    assert summary.results[1].detail == "not attempted: the API could not be reached"
    assert (summary.left, summary.released) == (2, 2)
    assert journal.deletes == []
    assert depth(sqs, queue_url) == (2, 0)


def test_an_unexpected_success_status_keeps_the_message(
    api: FakeApi, sqs: Any, queue_url: str, journal: Journal
) -> None:
    send(sqs, queue_url, dead_letter("a"))
    api.respond_next(202, {"message": "Accepted"})
    (result,) = redriver(api.url, queue_url, sqs).run().results
    assert (result.outcome, result.http_status, result.deleted) == (
        Outcome.SERVER_ERROR,
        202,
        False,
    )
    assert journal.deletes == []


def test_malformed_bodies_are_reported_and_left(
    api: FakeApi, sqs: Any, queue_url: str, journal: Journal
) -> None:
    malformed = [
        "not json",
        "[1, 2]",
        json.dumps({"timestamp": PAST, "message": 1}),
        json.dumps({"id": "x", "message": 1}),
        json.dumps({"id": "x", "timestamp": PAST}),
    ]
    send(sqs, queue_url, *malformed, dead_letter("fine"))

    summary = redriver(api.url, queue_url, sqs).run()

    outcomes = sorted(r.outcome.value for r in summary.results)
    assert outcomes == ["malformed"] * 5 + ["redriven"]
    details = sorted(r.detail or "" for r in summary.results if r.outcome is Outcome.MALFORMED)
    assert details == [
        "the body has no message",
        "the body has no task id",
        "the body has no timestamp",
        "the body is not JSON",
        "the body is not a JSON object",
    ]
    assert [r.json["id"] for r in api.requests] == ["fine"]
    assert journal.deleted_ids() == ["fine"]
    assert depth(sqs, queue_url) == (5, 0)


def test_a_dry_run_touches_nothing(
    api: FakeApi, sqs: Any, queue_url: str, journal: Journal
) -> None:
    send(sqs, queue_url, dead_letter("a"), dead_letter("b"), "malformed")

    summary = redriver(api.url, queue_url, sqs).run(dry_run=True)

    assert sorted(r.outcome.value for r in summary.results) == [
        "malformed",
        "would_redrive",
        "would_redrive",
    ]
    assert api.requests == []
    assert journal.deletes == []
    assert depth(sqs, queue_url) == (3, 0)  # every message visible again
    assert not summary.ok  # a real run would leave the malformed one
    # No API needed.
    assert Redrive(queue_url, None, sqs=sqs, wait_seconds=0).run(dry_run=True).received == 3
    with pytest.raises(ValueError, match="API client"):
        Redrive(queue_url, None, sqs=sqs).run()


def test_max_bounds_the_work(api: FakeApi, sqs: Any, queue_url: str, journal: Journal) -> None:
    for n in range(5):
        api.add(f"t{n}", status="failed", timestamp=PAST)
        send(sqs, queue_url, dead_letter(f"t{n}"))

    summary = redrive(
        queue_url, TaskSchedulerClient(api.url), sqs=sqs, wait_seconds=0, max_messages=2
    )

    assert summary.received == summary.deleted == 2
    assert len(api.requests) == 2
    assert all(size <= 2 for size in journal.receive_sizes)
    assert depth(sqs, queue_url) == (3, 0)
    with pytest.raises(ValueError, match="at least 1"):
        redriver(api.url, queue_url, sqs).run(max_messages=0)


def test_a_failed_delete_is_reported_and_the_next_run_deletes_it(
    api: FakeApi, sqs: Any, queue_url: str
) -> None:
    api.add("a", status="failed", timestamp=PAST)
    send(sqs, queue_url, dead_letter("a"))

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DeleteMessage")

    sqs.meta.events.register_first("before-parameter-build.sqs.DeleteMessage", refuse)
    (first,) = redriver(api.url, queue_url, sqs).run().results
    sqs.meta.events.unregister("before-parameter-build.sqs.DeleteMessage", refuse)

    assert (first.outcome, first.http_status, first.deleted) == (Outcome.NOT_DELETED, 201, False)
    assert "AccessDenied" in (first.detail or "")
    assert depth(sqs, queue_url) == (1, 0)
    (second,) = redriver(api.url, queue_url, sqs).run().results
    assert (second.outcome, second.http_status, second.deleted) == (Outcome.EXISTS, 200, True)
    assert depth(sqs, queue_url) == (0, 0)
    assert api.tasks["a"]["version"] == 2  # re-scheduled once


def test_an_interrupted_run_makes_the_rest_visible_again(
    api: FakeApi, sqs: Any, queue_url: str
) -> None:
    for n in range(4):
        api.add(f"t{n}", status="failed", timestamp=PAST)
        send(sqs, queue_url, dead_letter(f"t{n}"))

    def interrupt(result: RedriveResult) -> None:
        raise KeyboardInterrupt

    runner = redriver(api.url, queue_url, sqs)
    with pytest.raises(KeyboardInterrupt):
        runner.run(on_result=interrupt)

    assert runner.summary.deleted == 1
    assert runner.summary.released == 3
    assert depth(sqs, queue_url) == (3, 0)


def test_a_missing_queue_is_an_aws_error(api: FakeApi, sqs: Any, queue_url: str) -> None:
    with pytest.raises(AwsError, match=r"NonExistentQueue|does not exist"):
        redriver(api.url, queue_url + "-missing", sqs).run()


def test_messages_seen_again_are_not_handled_twice(
    api: FakeApi, sqs: Any, queue_url: str, journal: Journal
) -> None:
    """A visibility timeout shorter than the run: the message comes back, and is neither
    posted again nor counted; it is released with its newest receipt handle."""
    api.add("slow", status="scheduled", timestamp=PAST, message={"other": 1})  # 409: left
    send(sqs, queue_url, dead_letter("slow"))
    runner = redriver(api.url, queue_url, sqs, visibility_timeout=1)
    original = runner._receive
    calls = 0

    def receive_after_expiry(wanted: int) -> list[dict[str, Any]]:
        nonlocal calls
        calls += 1
        if calls == 2:
            time.sleep(1.2)
        return original(wanted) if calls <= 3 else []

    runner._receive = receive_after_expiry  # type: ignore[method-assign]
    summary = runner.run()

    assert summary.received == 1
    assert len(api.requests) == 1
    assert summary.released == 1
    assert depth(sqs, queue_url) == (1, 0)


# Building blocks.


def test_dead_letter_bodies_parse_into_the_post_body() -> None:
    letter = DeadLetter.parse(json.dumps(dead_letter("a", [1, "two"], version=4)))
    assert letter.request_body() == {"id": "a", "timestamp": PAST, "message": [1, "two"]}
    assert (letter.version, letter.error) == (4, "States.TaskFailed")
    bare = DeadLetter.parse(json.dumps({"id": "b", "timestamp": PAST, "message": None}))
    assert (bare.version, bare.error, bare.message) == (None, None, None)


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://sqs.eu-west-1.amazonaws.com/123456789012/x-dead-letter", "eu-west-1"),
        ("https://sqs-fips.us-gov-west-1.amazonaws.com/1/q", "us-gov-west-1"),
        ("https://sqs.cn-north-1.amazonaws.com.cn/1/q", "cn-north-1"),
        ("https://ap-southeast-2.queue.amazonaws.com/1/q", "ap-southeast-2"),
        ("https://queue.amazonaws.com/1/q", "us-east-1"),
        ("http://127.0.0.1:4566/000000000000/q", None),
    ],
)
def test_the_region_comes_from_the_queue_url(url: str, region: str | None) -> None:
    assert region_from_queue_url(url) == region


def test_without_a_region_the_queue_needs_one() -> None:
    with pytest.raises(ConfigurationError, match="--region"):
        Redrive("http://127.0.0.1:1/000000000000/q", None)


def test_lines_and_summaries() -> None:
    result = RedriveResult(
        "m1", Outcome.CONFLICT, id="a", version=2, timestamp=PAST, http_status=409, detail="x"
    )
    assert redrive_line(result) == f"conflict       409  a  v2  {PAST}  x"
    malformed = RedriveResult("m2", Outcome.MALFORMED, detail="the body is not JSON")
    assert redrive_line(malformed) == "malformed      -    -  -  -  the body is not JSON"
    summary = RedriveSummary(results=[result, malformed], released=2)
    assert redrive_summary(summary) == (
        "Redrive: 2 messages: 1 conflict, 1 malformed. 0 deleted, 2 left in the queue "
        "(2 made visible again)."
    )
    assert redrive_summary(RedriveSummary(dry_run=True)) == "Dry run: no messages in the queue."
    assert result.as_dict() == {
        "message_id": "m1",
        "outcome": "conflict",
        "deleted": False,
        "id": "a",
        "version": 2,
        "timestamp": PAST,
        "http_status": 409,
        "detail": "x",
        "dead_letter_error": None,
    }


# The command line.


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def cli(
    capsys: pytest.CaptureFixture[str], moto_endpoint: str, queue_url: str, *argv: str
) -> tuple[int, str, str]:
    code = main(
        [
            "redrive",
            "--queue-url",
            queue_url,
            "--endpoint-url",
            moto_endpoint,
            "--region",
            REGION,
            "--wait-seconds",
            "0",
            *argv,
        ]
    )
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_prints_json_lines_and_a_summary(
    api: FakeApi,
    sqs: Any,
    queue_url: str,
    moto_endpoint: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api.add("a", status="failed", timestamp=PAST)
    api.add("b", status="scheduled", timestamp=PAST)
    send(sqs, queue_url, dead_letter("a"), dead_letter("b"))

    code, out, err = cli(capsys, moto_endpoint, queue_url, "--url", api.url)

    assert code == 0
    lines = sorted((json.loads(line) for line in out.splitlines()), key=lambda r: r["id"])
    assert [(r["id"], r["outcome"], r["http_status"], r["deleted"]) for r in lines] == [
        ("a", "redriven", 201, True),
        ("b", "exists", 200, True),
    ]
    assert err == "Redrive: 2 messages: 1 redriven, 1 exists. 2 deleted, 0 left in the queue.\n"
    assert depth(sqs, queue_url) == (0, 0)


def test_cli_exits_6_when_anything_is_left(
    api: FakeApi,
    sqs: Any,
    queue_url: str,
    moto_endpoint: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api.add("taken", status="scheduled", timestamp=PAST, message="other")
    send(sqs, queue_url, dead_letter("taken"))

    code, out, err = cli(capsys, moto_endpoint, queue_url, "--url", api.url, "-o", "table")

    assert code == 6
    assert out.startswith("conflict       409  taken  v1  ")
    assert "id_conflict" in out
    assert err.endswith("0 deleted, 1 left in the queue (1 made visible again).\n")
    assert depth(sqs, queue_url) == (1, 0)


def test_cli_network_error(
    sqs: Any,
    queue_url: str,
    moto_endpoint: str,
    unused_port: int,
    capsys: pytest.CaptureFixture[str],
) -> None:
    send(sqs, queue_url, dead_letter("a"))
    code, out, err = cli(
        capsys, moto_endpoint, queue_url, "--url", f"http://127.0.0.1:{unused_port}"
    )
    assert code == 6
    assert json.loads(out)["outcome"] == "unreachable"
    assert "Stopped early: the API could not be reached." in err
    assert depth(sqs, queue_url) == (1, 0)


def test_cli_dry_run_needs_no_api_and_touches_nothing(
    sqs: Any,
    queue_url: str,
    moto_endpoint: str,
    journal: Journal,
    capsys: pytest.CaptureFixture[str],
) -> None:
    send(sqs, queue_url, dead_letter("a"), dead_letter("b"))
    code, out, err = cli(capsys, moto_endpoint, queue_url, "--dry-run")
    assert code == 0
    assert sorted(json.loads(line)["outcome"] for line in out.splitlines()) == [
        "would_redrive",
        "would_redrive",
    ]
    assert err == (
        "Dry run: 2 messages: 2 would_redrive. Nothing posted or deleted (2 made visible again).\n"
    )
    assert depth(sqs, queue_url) == (2, 0)


def test_cli_max(
    api: FakeApi,
    sqs: Any,
    queue_url: str,
    moto_endpoint: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for n in range(3):
        send(sqs, queue_url, dead_letter(f"t{n}"))
    code, out, _ = cli(capsys, moto_endpoint, queue_url, "--url", api.url, "--max", "1")
    assert (code, len(out.splitlines()), len(api.requests)) == (0, 1, 1)
    assert depth(sqs, queue_url) == (2, 0)


def test_cli_on_an_empty_queue(
    api: FakeApi, queue_url: str, moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, moto_endpoint, queue_url, "--url", api.url) == (
        0,
        "",
        "Redrive: no messages in the queue.\n",
    )


@pytest.mark.usefixtures("credentials")
def test_cli_a_missing_queue_is_refused_by_aws(
    api: FakeApi, moto_endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = f"{moto_endpoint}/123456789012/no-such-queue"
    code, out, err = cli(capsys, moto_endpoint, missing, "--url", api.url)
    assert (code, out) == (1, "")
    assert err.startswith("task-scheduler: error: receiving from ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--max", "0"], "--max must be at least 1"),
        (["--wait-seconds", "21"], "--wait-seconds must be from 0 to 20"),
        ([], "no API URL"),
    ],
)
def test_cli_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["redrive", "--queue-url", "https://sqs.eu-west-1.amazonaws.com/1/q", *argv])
    assert code == 2
    assert message in capsys.readouterr().err
