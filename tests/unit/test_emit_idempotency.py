"""The emit function under the Powertools Idempotency utility (moto's DynamoDB): one publication
per task id and version, whatever the state machine retries."""

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from botocore.exceptions import ClientError

from task_scheduler import aws, idempotency, timing
from task_scheduler.records import TaskStatus
from tests.unit.conftest import Topic, receive

# A failed invocation publishes no metric; Powertools warns about it.
NO_METRICS = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.fixture
def idempotent(idempotency_table: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", idempotency_table)


@pytest.fixture
def record(dynamodb: Any, idempotency_table: str) -> Callable[..., dict[str, Any] | None]:
    """The idempotency record of a task's version, as DynamoDB holds it (None: no record)."""

    def read(task_id: str, version: int = 1) -> dict[str, Any] | None:
        item: dict[str, Any] | None = dynamodb.get_item(
            TableName=idempotency_table,
            Key={"id": {"S": key_of(task_id, version)}},
            ConsistentRead=True,
        ).get("Item")
        return item

    return read


def key_of(task_id: str, version: int = 1) -> str:
    """Powertools' key: the prefix, then the MD5 of the key document's sorted JSON."""
    document = json.dumps({"id": task_id, "version": version}, sort_keys=True)
    return f"{idempotency.KEY_PREFIX}#{hashlib.md5(document.encode()).hexdigest()}"


def ms_from_now(seconds: float) -> int:
    return int((datetime.now(UTC) + timedelta(seconds=seconds)).timestamp() * 1000)


def put_in_progress(dynamodb: Any, table: str, task_id: str, *, deadline_ms: int) -> None:
    """The INPROGRESS record an attempt whose invocation ends at `deadline_ms` leaves."""
    dynamodb.put_item(
        TableName=table,
        Item={
            "id": {"S": key_of(task_id)},
            "status": {"S": "INPROGRESS"},
            "expiration": {"N": str(int(time.time()) + 3600)},
            "in_progress_expiration": {"N": str(deadline_ms)},
        },
    )


def bodies(sqs: Any, topic: Topic) -> list[str]:
    return [message["Body"] for message in receive(sqs, topic.raw_queue)]


def test_a_retry_after_a_successful_publish_answers_the_first_result_unpublished(
    emit, idempotent, sqs, topic, task_event, record, emit_logs, capsys
):
    event = task_event("once")
    first = emit(event)
    capsys.readouterr()

    # The state machine retries, e.g. after Lambda reported a service error for that invocation.
    again = emit(event)

    assert again == first
    assert bodies(sqs, topic) == ["once"]
    stored = record(event["task"]["id"])
    assert stored["status"]["S"] == "COMPLETED"
    assert json.loads(stored["data"]["S"]) == first
    (log,) = [line for line in emit_logs() if line["message"].startswith("Already emitted")]
    assert (log["correlation_id"], log["message_id"]) == (event["task"]["id"], first["message_id"])
    assert json.loads(capsys.readouterr().out)["EmissionsReplayed"] == [1.0]


@NO_METRICS
def test_a_failed_publish_leaves_no_record_and_the_retry_publishes(
    emit, idempotent, sqs, topic, task_event, record, registry, monkeypatch
):
    event = task_event("retried")
    monkeypatch.setenv("TOPIC_ARN", topic.arn + "-deleted")

    with pytest.raises(ClientError, match="NotFound"):
        emit(event)

    assert record(event["task"]["id"]) is None
    assert registry.get(event["task"]["id"]).status is TaskStatus.EMITTED  # claimed
    monkeypatch.setenv("TOPIC_ARN", topic.arn)
    result = emit(event)
    assert "message_id" in result
    assert bodies(sqs, topic) == ["retried"]
    assert record(event["task"]["id"])["status"]["S"] == "COMPLETED"


def test_a_publish_whose_record_cannot_be_completed_still_succeeds(
    emit, idempotent, idempotency_table, sqs, topic, task_event, record, monkeypatch
):
    # Seen in `make load`: the UpdateItem marking the record COMPLETED timed out after the
    # publish; the invocation failed and the state machine's retry published the task again.
    client = aws.client("dynamodb")
    update_item = client.update_item

    def completing_fails(**kwargs: Any) -> Any:
        if kwargs["TableName"] == idempotency_table:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "UpdateItem")
        return update_item(**kwargs)

    monkeypatch.setattr(client, "update_item", completing_fails)
    event = task_event("once")

    result = emit(event)

    assert "message_id" in result
    assert bodies(sqs, topic) == ["once"]
    assert record(event["task"]["id"])["status"]["S"] == "INPROGRESS"


@pytest.mark.parametrize("table", [None, ""], ids=["unset", "empty"])
def test_turned_off_each_attempt_publishes_as_before(
    emit, sqs, topic, task_event, monkeypatch, table
):
    if table is not None:
        monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", table)

    def forbidden(*_: Any) -> None:
        raise AssertionError("no idempotency record without a table")

    monkeypatch.setattr(idempotency, "once", forbidden)
    event = task_event("twice")

    assert "message_id" in emit(event)
    assert "message_id" in emit(event)  # the claim lets the same version's retry publish
    assert bodies(sqs, topic) == ["twice", "twice"]


def test_the_record_in_progress_expires_at_the_invocations_deadline(
    emit_handler, lambda_context, idempotent, topic, task_event, record, monkeypatch
):
    lambda_context.remaining_millis = 20_000
    event = task_event("watched")
    sns = aws.client("sns")
    publish = sns.publish
    during = []

    def watched(**arguments: Any) -> Any:
        during.append(record(event["task"]["id"]))
        return publish(**arguments)

    monkeypatch.setattr(sns, "publish", watched)
    started_ms = int(time.time() * 1000)

    emit_handler.lambda_handler(event, lambda_context)

    (in_progress,) = during
    assert in_progress["status"]["S"] == "INPROGRESS"
    deadline_ms = int(in_progress["in_progress_expiration"]["N"])
    assert 0 <= deadline_ms - (started_ms + 20_000) < 2_000
    # Completed, it stays a day: the Emit state's retries end within 40 minutes.
    expiration = int(record(event["task"]["id"])["expiration"]["N"])
    assert abs(expiration - (time.time() + 24 * 3600)) < 10


@NO_METRICS
def test_an_attempt_still_in_progress_makes_the_retry_fail_unpublished(
    emit, idempotent, dynamodb, idempotency_table, sqs, topic, task_event, record, registry
):
    # Lambda reported a service error for an invocation that is still running: the retry must
    # not publish beside it. It fails, and the state machine retries it later.
    event = task_event("in flight")
    task_id = event["task"]["id"]
    put_in_progress(dynamodb, idempotency_table, task_id, deadline_ms=ms_from_now(60))

    with pytest.raises(IdempotencyAlreadyInProgressError):
        emit(event)

    assert bodies(sqs, topic) == []
    assert registry.get(task_id).status is TaskStatus.SCHEDULED  # not even claimed
    assert record(task_id)["status"]["S"] == "INPROGRESS"


def test_an_attempt_that_timed_out_is_taken_over(
    emit, idempotent, dynamodb, idempotency_table, sqs, topic, task_event, record
):
    # Lambda ended the invocation at its deadline: whether its Publish reached SNS is unknown,
    # so the retry publishes (the first duplicate window of idempotency.py).
    event = task_event("taken over")
    task_id = event["task"]["id"]
    put_in_progress(dynamodb, idempotency_table, task_id, deadline_ms=ms_from_now(-1))

    assert "message_id" in emit(event)
    assert bodies(sqs, topic) == ["taken over"]
    assert record(task_id)["status"]["S"] == "COMPLETED"


def test_each_version_has_its_own_record(emit, idempotent, sqs, topic, task_event, registry):
    old = task_event("old")
    task_id = old["task"]["id"]
    current = registry.get(task_id)
    registry.reschedule(
        task_id,
        1,
        new_version=2,
        timestamp=current.timestamp,
        message_sha256=current.message_sha256,
        execution_arn=current.execution_arn.replace("_1_1", "_2_1"),
        now=timing.utc_now(),
    )
    new = task_event("new", task_id=task_id, version=2, register=False)

    skipped = emit(old)
    published = emit(new)

    assert skipped["skipped"] == "the task is scheduled at version 2"
    assert published["version"] == 2
    assert emit(old) == skipped  # recorded: a superseded version stays superseded
    assert emit(new) == published
    assert bodies(sqs, topic) == ["new"]


@NO_METRICS
def test_a_task_not_due_leaves_no_record(
    emit_handler, lambda_context, idempotent, sqs, topic, task_event, record
):
    lambda_context.remaining_millis = 10_200
    event = task_event("not yet", seconds_ago=-3600)

    with pytest.raises(emit_handler.TaskNotDue):
        emit_handler.lambda_handler(event, lambda_context)

    assert record(event["task"]["id"]) is None
    assert bodies(sqs, topic) == []


def test_a_replay_leaves_the_registry_untouched(emit, idempotent, topic, task_event, task_item):
    event = task_event("x")
    emit(event)
    before = task_item(event["task"]["id"])

    emit(event)

    assert task_item(event["task"]["id"]) == before


@NO_METRICS
def test_an_unreachable_table_fails_the_attempt_before_the_claim(
    emit, sqs, topic, task_event, registry, monkeypatch
):
    # Fails closed: nothing is published that could not be recorded; the state machine retries,
    # then dead-letters the task.
    monkeypatch.setenv("IDEMPOTENCY_TABLE_NAME", "task-scheduler-no-such-table")
    event = task_event("unrecorded")

    with pytest.raises(IdempotencyPersistenceLayerError):
        emit(event)

    assert bodies(sqs, topic) == []
    assert registry.get(event["task"]["id"]).status is TaskStatus.SCHEDULED
