"""The task lifecycle routes through API Gateway HTTP API events, against moto: idempotent
scheduling, status, cancel, reschedule and list, with every error answer."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from task_scheduler.api.paging import encode_token
from task_scheduler.aws import clients
from task_scheduler.aws.registry import Registry
from task_scheduler.core import timing
from task_scheduler.core.records import TaskRecord, TaskStatus
from task_scheduler.core.tasks import Task, TaskExecution, execution_arn, message_sha256
from task_scheduler.core.timestamps import parse_timestamp
from tests.unit.conftest import create_tasks_table, receive, shard_event
from tests.unit.test_api import (
    FUTURE,
    assert_error,
    described,
    in_seconds,
    own_second,
    shard_name,
    slot_entry,
)

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

_ids = iter(range(10**9))
# Long overdue: the emit function publishes it at once.
PAST = "2001-01-01T00:00:00Z"
# Who claims a task in these tests: the execution of some shard.
CLAIMANT = "slot-978307200-0"


def new_id() -> str:
    """A fresh task id that uses every kind of character the rules allow."""
    return f"Task_{next(_ids)}-{datetime.now(UTC):%H%M%S%f}"


@pytest.fixture
def schedule(call_api):
    """POST /schedule a task with a fresh id (unless given), asserting it was created."""

    def post(message: Any = "hi", *, timestamp: str = FUTURE, task_id: str | None = None) -> str:
        task_id = task_id or new_id()
        answer = call_api(
            "POST", "/schedule", {"timestamp": timestamp, "message": message, "id": task_id}
        )
        assert answer.status == 201, answer.body
        return task_id

    return post


@pytest.fixture
def stored(registry, slot_store):
    """The registry record and slot entry of a task, by id."""
    return lambda task_id: slot_entry(registry, slot_store, task_id)


@pytest.fixture
def shard(sfn, state_machine_arn):
    """The status and input of the execution that carries a placement's shard (or its hop)."""
    return lambda placement, hop=0: described(sfn, state_machine_arn, shard_name(placement, hop))


@pytest.fixture
def aborted(sfn, state_machine_arn):
    """The names of the executions stopped since the test began: the api function stops none."""

    def names() -> list[str]:
        pages = sfn.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine_arn, statusFilter="ABORTED"
        )
        return [execution["name"] for page in pages for execution in page["executions"]]

    before = set(names())
    return lambda: [name for name in names() if name not in before]


@pytest.fixture
def emit_shard(emit, state_machine_arn, registry):
    """Invoke the emit function on the shard that holds a task's current version."""

    def run(task_id: str) -> dict[str, Any]:
        placement = registry.get(task_id).placement
        result: dict[str, Any] = emit(shard_event(placement, state_machine_arn))
        return result

    return run


def claim(registry: Registry, task_id: str, version: int = 1) -> TaskRecord:
    """Claim a task as the emit function does before publishing it."""
    return registry.claim(task_id, version, timing.utc_now(), CLAIMANT)


def task_path(task_id: str) -> str:
    return f"/schedule/{task_id}"


def close_to_now(timestamp: str) -> bool:
    return abs(datetime.fromisoformat(timestamp) - datetime.now(UTC)) < timedelta(seconds=5)


# Idempotency


def test_a_chosen_id_names_the_task_and_its_slot_entry(call_api, stored, shard):
    task_id = new_id()

    answer = call_api("POST", "/schedule", {"timestamp": FUTURE, "message": 1, "id": task_id})

    assert (answer.status, answer.body["id"]) == (201, task_id)
    record, entry = stored(task_id)
    assert (record.status, record.version) == (TaskStatus.SCHEDULED, 1)
    assert (entry.id, entry.message) == (task_id, 1)
    assert shard(record.placement)[0] == "RUNNING"


@pytest.mark.parametrize(
    "headers",
    [{"Idempotency-Key": "{id}"}, {"idempotency-key": "{id}"}, {"IDEMPOTENCY-KEY": "{id}"}],
)
def test_the_idempotency_key_header_sets_the_id(call_api, headers):
    task_id = new_id()
    headers = {name: value.format(id=task_id) for name, value in headers.items()}

    answer = call_api(
        "POST",
        "/schedule",
        {"timestamp": FUTURE, "message": 1},
        headers={"content-type": "application/json", **headers},
    )

    assert (answer.status, answer.body["id"]) == (201, task_id)


def test_the_same_id_in_body_and_header_is_fine(call_api):
    task_id = new_id()

    answer = call_api(
        "POST",
        "/schedule",
        {"timestamp": FUTURE, "message": 1, "id": task_id},
        headers={"content-type": "application/json", "idempotency-key": task_id},
    )

    assert answer.status == 201


def test_different_ids_in_body_and_header_are_refused(call_api, execution_count):
    started = execution_count()

    answer = call_api(
        "POST",
        "/schedule",
        {"timestamp": FUTURE, "message": 1, "id": "one"},
        headers={"content-type": "application/json", "idempotency-key": "two"},
    )

    assert_error(answer, 422, "id_mismatch", "id")
    assert execution_count() == started


@pytest.mark.parametrize(
    "task_id", ["", "has space", "dot.ted", "slash/ed", "x" * 65, "é", 7, True, ["a"]]
)
def test_an_invalid_id_is_refused(call_api, execution_count, task_id):
    started = execution_count()

    answer = call_api("POST", "/schedule", {"timestamp": FUTURE, "message": 1, "id": task_id})

    assert_error(answer, 422, "invalid_id", "id")
    assert execution_count() == started


@pytest.mark.parametrize("key", ["has space", "x" * 65, "a:b", ""])
def test_an_invalid_idempotency_key_is_refused(call_api, key):
    answer = call_api(
        "POST",
        "/schedule",
        {"timestamp": FUTURE, "message": 1},
        headers={"content-type": "application/json", "idempotency-key": key},
    )

    error = assert_error(answer, 422, "invalid_id", "id")
    assert "Idempotency-Key" in error.errors[0].detail


def test_a_null_id_is_no_id(call_api):
    answer = call_api("POST", "/schedule", {"timestamp": FUTURE, "message": 1, "id": None})

    assert answer.status == 201
    assert len(answer.body["id"]) == 36


def test_a_replay_answers_the_original_and_creates_nothing(
    call_api, execution_count, registry, stored, shard, dynamodb, slots_table
):
    task_id = new_id()
    request = {"timestamp": FUTURE, "message": {"a": 1, "b": [1, 2]}, "id": task_id}
    first = call_api("POST", "/schedule", request)
    before, started = registry.get(task_id), execution_count()
    entries = dynamodb.scan(TableName=slots_table)["Items"]

    # The same content, written differently: other key order, an equivalent timestamp.
    replay = {"message": {"b": [1, 2], "a": 1}, "id": task_id, "timestamp": FUTURE[:-1] + "+00:00"}
    again = call_api("POST", "/schedule", replay)

    assert (first.status, again.status) == (201, 200)
    assert again.body == first.body
    assert execution_count() == started
    assert registry.get(task_id) == before
    assert dynamodb.scan(TableName=slots_table)["Items"] == entries  # no second entry
    assert shard(stored(task_id)[0].placement)[0] == "RUNNING"


def test_a_replay_after_emission_still_answers_200(call_api, schedule, registry):
    task_id = schedule("done", timestamp="2001-01-01T00:00:00Z")
    claim(registry, task_id)

    answer = call_api(
        "POST", "/schedule", {"timestamp": "2001-01-01T00:00:00Z", "message": "done", "id": task_id}
    )

    assert answer.status == 200
    assert answer.body["fires_immediately"] is True


@pytest.mark.parametrize(
    "change", [{"message": "other"}, {"timestamp": in_seconds(7200)}], ids=["message", "timestamp"]
)
def test_the_same_id_with_other_content_is_a_conflict(call_api, schedule, execution_count, change):
    task_id = schedule("hi")
    started = execution_count()

    answer = call_api(
        "POST", "/schedule", {"timestamp": FUTURE, "message": "hi", "id": task_id, **change}
    )

    error = assert_error(answer, 409, "id_conflict", "id")
    assert task_id in error.message
    assert execution_count() == started


def _registered_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the registry miss the task on the first read, as if a concurrent request registered
    it between this request's read and write."""
    get = Registry.get
    reads = []

    def get_missing_once(self: Registry, task_id: str) -> Any:
        reads.append(task_id)
        return None if len(reads) == 1 else get(self, task_id)

    monkeypatch.setattr(Registry, "get", get_missing_once)


def test_a_concurrent_identical_request_is_a_replay(
    call_api, schedule, monkeypatch, execution_count, emit_shard, sqs, topic
):
    task_id = schedule("same", timestamp=PAST)
    started = execution_count()
    _registered_meanwhile(monkeypatch)

    answer = call_api("POST", "/schedule", {"timestamp": PAST, "message": "same", "id": task_id})

    assert answer.status == 200
    assert execution_count() == started  # Step Functions answered with the running execution
    # It had written an entry of the same version before finding the task registered: the
    # shard holds two, and publishes the registered one alone.
    assert emit_shard(task_id)["published"] == 1
    assert [m["Body"] for m in receive(sqs, topic.raw_queue)] == ["same"]


def test_a_concurrent_different_request_conflicts_and_leaves_the_task_as_it_was(
    call_api, schedule, monkeypatch, registry, stored, aborted, emit_shard, sqs, topic
):
    task_id = schedule("first", timestamp=PAST)
    _registered_meanwhile(monkeypatch)

    answer = call_api("POST", "/schedule", {"timestamp": PAST, "message": "second", "id": task_id})

    assert_error(answer, 409, "id_conflict", "id")
    record, entry = stored(task_id)
    assert (record.version, entry.message) == (1, "first")
    assert aborted() == []
    # Its entry, of the same id and version, stays in the shard: it is not the registered one,
    # so the shard publishes the first message only.
    assert emit_shard(task_id)["published"] == 1
    assert [m["Body"] for m in receive(sqs, topic.raw_queue)] == ["first"]


def test_a_failed_registration_starts_nothing_and_a_retry_succeeds(
    call_api, monkeypatch, registry, stored, shard, sfn, state_machine_arn, emit, sqs, topic
):
    task_id = new_id()
    request = {"timestamp": PAST, "message": 1, "id": task_id}
    create = Registry.create

    def throttled(self: Registry, record: Any) -> None:
        monkeypatch.setattr(Registry, "create", create)
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
            "PutItem",
        )

    monkeypatch.setattr(Registry, "create", throttled)

    failed = call_api("POST", "/schedule", {**request, "message": "never acknowledged"})

    error = assert_error(failed, 503, "upstream_throttled")
    assert error.errors[0].detail == "PutItem: ProvisionedThroughputExceededException"
    assert registry.get(task_id) is None

    retried = call_api("POST", "/schedule", request)

    # A new task again, at version 1: no execution name was taken.
    assert retried.status == 201
    record, entry = stored(task_id)
    assert (record.version, record.placement.ordinal, entry.message) == (1, 2, 1)
    assert shard(record.placement)[0] == "RUNNING"
    # The first attempt's entry (same id and version, another message) is never published.
    assert emit(shard_event(record.placement, state_machine_arn))["published"] == 1
    assert [m["Body"] for m in receive(sqs, topic.raw_queue)] == ["1"]


def test_an_id_whose_per_task_execution_names_are_taken_is_scheduled(
    call_api, sfn, state_machine_arn
):
    # Executions named after a task's id and version (before time slots) take nothing from it.
    task_id = new_id()
    for version in range(1, 6):
        name = f"{task_id}_{version}_1"
        arn = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input="{}")
        sfn.stop_execution(executionArn=arn["executionArn"])

    answer = call_api("POST", "/schedule", {"timestamp": FUTURE, "message": 1, "id": task_id})

    assert answer.status == 201


# Status


def test_status_of_a_scheduled_task(call_api, schedule):
    task_id = schedule({"hello": "world"})

    answer = call_api("GET", task_path(task_id))

    assert answer.status == 200
    body = answer.body
    assert body == {
        "id": task_id,
        "status": "scheduled",
        "version": 1,
        "timestamp": FUTURE.replace("Z", ".000Z"),
        "created_at": body["created_at"],
        "updated_at": body["created_at"],
        "emitted_at": None,
        "message": {"hello": "world"},
    }
    assert close_to_now(body["created_at"])


def test_status_of_an_emitted_task(call_api, schedule, registry):
    task_id = schedule(None)
    claim(registry, task_id)

    body = call_api("GET", task_path(task_id)).body

    assert (body["status"], body["message"]) == ("emitted", None)
    assert close_to_now(body["emitted_at"])


def mark_failed(dynamodb: Any, table: str, task_id: str, version: int = 1) -> None:
    """What the state machine's MarkFailed state writes, with its own clock's format."""
    dynamodb.update_item(
        TableName=table,
        Key={"id": {"S": task_id}},
        UpdateExpression="SET #status = :failed, updated_at = :now",
        ConditionExpression="version = :version",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={
            ":failed": {"S": "failed"},
            ":now": {"S": "2030-01-01T00:00:00.123456Z"},
            ":version": {"N": str(version)},
        },
    )


def test_status_of_a_failed_task(call_api, schedule, dynamodb, tasks_table):
    task_id = schedule()
    mark_failed(dynamodb, tasks_table, task_id)

    body = call_api("GET", task_path(task_id)).body

    assert (body["status"], body["updated_at"]) == ("failed", "2030-01-01T00:00:00.124Z")


def test_status_of_an_unknown_task(call_api):
    answer = call_api("GET", task_path("nobody"))

    error = assert_error(answer, 404, "not_found")
    assert "nobody" in error.message


@pytest.mark.parametrize("method", ["GET", "DELETE", "PATCH"])
@pytest.mark.parametrize("task_id", ["dot.ted", "x" * 65, "a%20b", "%C3%A9"])
def test_a_malformed_id_in_the_path_is_a_bad_request(call_api, method, task_id):
    payload = {"message": 1} if method == "PATCH" else None

    answer = call_api(method, task_path(task_id), payload)

    assert_error(answer, 400, "invalid_id", "id")


# Redrive: the id of a failed (dead-lettered) task, with the same timestamp and message


@pytest.fixture
def failed(schedule, dynamodb, tasks_table):
    """Schedule a task, claim it as the emit function does, then mark it failed as the state
    machine does once the publish failed for good; returns its request."""

    def fail(message: Any = "dead-lettered", timestamp: str = FUTURE) -> dict[str, Any]:
        task_id = schedule(message, timestamp=timestamp)
        claim(Registry(tasks_table, dynamodb), task_id)
        mark_failed(dynamodb, tasks_table, task_id)
        return {"timestamp": timestamp, "message": message, "id": task_id}

    return fail


def test_a_failed_task_posted_again_is_scheduled_as_its_next_version(
    call_api, failed, registry, task_item, stored, shard
):
    request = failed({"order": 7})
    task_id = request["id"]
    first = registry.get(task_id).placement

    answer = call_api("POST", "/schedule", request)

    assert answer.status == 201
    assert (answer.body["id"], answer.body["fires_immediately"]) == (task_id, False)
    record, entry = stored(task_id)
    assert (record.status, record.version, record.emitted_at) == (TaskStatus.SCHEDULED, 2, None)
    assert record.claimed_by is None
    assert "expires_at" not in task_item(task_id)
    # A new entry in the same slot, for version 2.
    assert (record.placement.slot, record.placement.ordinal) == (first.slot, first.ordinal + 1)
    assert (entry.version, entry.message) == (2, {"order": 7})
    assert shard(record.placement)[0] == "RUNNING"
    status = call_api("GET", task_path(task_id)).body
    assert (status["status"], status["version"], status["message"]) == (
        "scheduled",
        2,
        {"order": 7},
    )


def test_a_redrive_sent_twice_schedules_once(call_api, failed, execution_count, registry):
    # The client lost the first answer and sends it again: a replay of the redrive.
    request = failed()
    first = call_api("POST", "/schedule", request)
    started = execution_count()

    again = call_api("POST", "/schedule", request)

    assert (first.status, again.status) == (201, 200)
    assert execution_count() == started
    assert registry.get(request["id"]).version == 2


@pytest.mark.parametrize(
    "change", [{"message": "other"}, {"timestamp": in_seconds(7200)}], ids=["message", "timestamp"]
)
def test_a_failed_task_with_other_content_is_a_conflict(
    call_api, failed, execution_count, registry, change
):
    request = failed()
    started = execution_count()

    answer = call_api("POST", "/schedule", {**request, **change})

    assert_error(answer, 409, "id_conflict", "id")
    assert execution_count() == started
    assert registry.get(request["id"]).status is TaskStatus.FAILED


def test_a_task_that_fails_again_is_redriven_again(
    call_api, failed, dynamodb, tasks_table, registry
):
    request = failed(timestamp="2001-01-01T00:00:00Z")
    assert call_api("POST", "/schedule", request).status == 201
    claim(registry, request["id"], 2)
    mark_failed(dynamodb, tasks_table, request["id"], version=2)

    answer = call_api("POST", "/schedule", request)

    assert (answer.status, answer.body["fires_immediately"]) == (201, True)
    assert registry.get(request["id"]).version == 3


def test_concurrent_identical_redrives_schedule_once(
    call_api, failed, monkeypatch, registry, stored, shard, execution_count
):
    request = failed()
    started = execution_count()
    redrive = Registry.redrive

    def overtaken(self: Registry, *args: Any, **kwargs: Any) -> Any:
        redrive(self, *args, **kwargs)  # the other request's write
        return redrive(self, *args, **kwargs)

    monkeypatch.setattr(Registry, "redrive", overtaken)

    answer = call_api("POST", "/schedule", request)

    assert answer.status == 200
    assert execution_count() == started  # the slot's shard already had its execution
    record, _ = stored(request["id"])
    assert record.version == 2
    assert shard(record.placement)[0] == "RUNNING"


def test_a_failed_redrive_starts_nothing_and_leaves_the_task_failed(
    call_api, failed, monkeypatch, registry, execution_count
):
    request = failed()
    started = execution_count()

    def throttled(*_: Any, **__: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
            "UpdateItem",
        )

    monkeypatch.setattr(Registry, "redrive", throttled)

    answer = call_api("POST", "/schedule", request)

    assert_error(answer, 503, "upstream_throttled")
    assert execution_count() == started
    record = registry.get(request["id"])
    assert (record.status, record.version) == (TaskStatus.FAILED, 1)


def test_a_redrive_whose_start_fails_is_marked_failed_again_and_can_be_redriven(
    call_api, failed, monkeypatch, registry, stored, shard
):
    request = failed(timestamp=own_second())
    with monkeypatch.context() as patch:

        def start_failed(**_: Any) -> None:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "StartExecution")

        patch.setattr(clients.client("stepfunctions"), "start_execution", start_failed)
        assert_error(call_api("POST", "/schedule", request), 502, "upstream_error")

    # Withdrawn: version 2 is failed, as dead-lettered tasks are, and a redrive picks it up.
    record = registry.get(request["id"])
    assert (record.status, record.version, record.claimed_by) == (TaskStatus.FAILED, 2, "api")
    assert call_api("POST", "/schedule", request).status == 201
    record, _ = stored(request["id"])
    assert (record.status, record.version) == (TaskStatus.SCHEDULED, 3)
    assert shard(record.placement)[0] == "RUNNING"


def test_a_redriven_task_is_emitted(call_api, failed, emit_shard, sqs, topic, registry):
    request = failed("again", timestamp=PAST)
    call_api("POST", "/schedule", request)
    task_id = request["id"]

    emitted = emit_shard(task_id)

    # The shard holds both versions' entries: the failed one is skipped.
    assert (emitted["published"], emitted["skipped"]) == (1, 1)
    assert [m["Body"] for m in receive(sqs, topic.raw_queue)] == ["again"]
    record = registry.get(task_id)
    assert (record.status, record.version) == (TaskStatus.EMITTED, 2)


# Cancel


def test_cancel_a_scheduled_task(call_api, schedule, stored, shard, aborted, task_item):
    task_id = schedule("never")

    answer = call_api("DELETE", task_path(task_id))

    assert answer.status == 200
    assert (answer.body["status"], answer.body["message"]) == ("cancelled", "never")
    assert answer.body["updated_at"] > answer.body["created_at"]
    # Nothing is stopped: the shard's execution carries other tasks, and skips this one.
    assert aborted() == []
    assert shard(stored(task_id)[0].placement)[0] == "RUNNING"
    expires_at = int(task_item(task_id)["expires_at"]["N"])
    assert abs(expires_at - (datetime.now(UTC) + timedelta(days=90)).timestamp()) < 10
    assert call_api("GET", task_path(task_id)).body["status"] == "cancelled"


def test_a_cancelled_task_is_not_emitted(call_api, schedule, emit_shard, sqs, topic, registry):
    kept, cancelled = schedule("kept", timestamp=PAST), schedule("cancelled", timestamp=PAST)
    assert call_api("DELETE", task_path(cancelled)).status == 200

    emitted = emit_shard(kept)

    assert (emitted["published"], emitted["skipped"]) == (1, 1)
    assert [m["Body"] for m in receive(sqs, topic.raw_queue)] == ["kept"]
    assert registry.get(cancelled).status is TaskStatus.CANCELLED


def test_cancelling_twice_is_harmless(call_api, schedule):
    task_id = schedule()
    first = call_api("DELETE", task_path(task_id))

    second = call_api("DELETE", task_path(task_id))

    assert (first.status, second.status) == (200, 200)
    assert second.body == first.body


def test_cancelling_an_emitted_task_is_a_conflict(call_api, schedule, registry, execution_status):
    task_id = schedule()
    claim(registry, task_id)

    answer = call_api("DELETE", task_path(task_id))

    error = assert_error(answer, 409, "not_scheduled")
    assert "emitted" in error.message
    assert registry.get(task_id).status is TaskStatus.EMITTED


def test_cancelling_a_failed_task_is_a_conflict(call_api, schedule, dynamodb, tasks_table):
    task_id = schedule()
    mark_failed(dynamodb, tasks_table, task_id)

    assert_error(call_api("DELETE", task_path(task_id)), 409, "not_scheduled")


def test_cancelling_an_unknown_task(call_api):
    assert_error(call_api("DELETE", task_path("nobody")), 404, "not_found")


def test_a_cancel_that_finds_the_task_rescheduled_cancels_the_new_version(
    call_api, schedule, monkeypatch, registry, aborted
):
    task_id = schedule("old")
    get = Registry.get

    def get_then_reschedule(self: Registry, wanted: str) -> Any:
        record = get(self, wanted)
        monkeypatch.setattr(Registry, "get", get)
        assert call_api("PATCH", task_path(task_id), {"message": "new"}).status == 200
        return record

    monkeypatch.setattr(Registry, "get", get_then_reschedule)

    answer = call_api("DELETE", task_path(task_id))

    assert answer.status == 200
    assert (answer.body["status"], answer.body["version"]) == ("cancelled", 2)
    assert answer.body["message"] == "new"
    assert registry.get(task_id).status is TaskStatus.CANCELLED
    assert aborted() == []


# Reschedule


def test_reschedule_the_timestamp(call_api, schedule, stored, shard, aborted, slot_store):
    task_id = schedule({"keep": "me"})
    old, _ = stored(task_id)
    later = in_seconds(7200)

    answer = call_api("PATCH", task_path(task_id), {"timestamp": later})

    assert answer.status == 200
    assert (answer.body["version"], answer.body["status"]) == (2, "scheduled")
    assert answer.body["timestamp"] == later
    assert answer.body["message"] == {"keep": "me"}
    record, entry = stored(task_id)
    # Version 2 waits in the slot of its new timestamp, with the message carried over.
    assert record.placement.slot == int(parse_timestamp(later).timestamp())
    assert (entry.version, entry.timestamp, entry.message) == (
        2,
        parse_timestamp(later),
        {"keep": "me"},
    )
    assert shard(record.placement)[0] == "RUNNING"
    # Version 1's entry and execution stay; its claim now fails on the version.
    assert slot_store.get(old.placement).version == 1
    assert shard(old.placement)[0] == "RUNNING"
    assert aborted() == []
    assert call_api("GET", task_path(task_id)).body == answer.body


@pytest.mark.parametrize("message", ["new", None, {"n": [1]}, ""])
def test_reschedule_the_message(call_api, schedule, stored, message):
    task_id = schedule("old")

    answer = call_api("PATCH", task_path(task_id), {"message": message})

    assert answer.status == 200
    assert answer.body["timestamp"] == FUTURE.replace("Z", ".000Z")
    assert json.dumps(answer.body["message"]) == json.dumps(message)
    record, entry = stored(task_id)
    assert record.version == entry.version == 2
    assert json.dumps(entry.message) == json.dumps(message)


def test_reschedule_both_twice(call_api, schedule):
    task_id = schedule("v1")
    call_api("PATCH", task_path(task_id), {"timestamp": in_seconds(600), "message": "v2"})

    answer = call_api("PATCH", task_path(task_id), {"timestamp": in_seconds(900), "message": "v3"})

    assert (answer.body["version"], answer.body["message"]) == (3, "v3")


@pytest.mark.parametrize(
    ("payload", "rule", "field"),
    [
        ({}, "no_change", None),
        ({"timestamp": None}, "no_change", None),
        ({"message": 1, "priority": "high"}, "extra_forbidden", "priority"),
        ({"id": "other"}, "extra_forbidden", "id"),
        ({"timestamp": "tomorrow"}, "timestamp_format", "timestamp"),
        ({"timestamp": "2030-06-01T12:00:00"}, "timestamp_offset_required", "timestamp"),
        ({"message": "\ud800"}, "invalid_unicode", "message"),
    ],
)
def test_an_invalid_reschedule_is_refused(call_api, schedule, registry, payload, rule, field):
    task_id = schedule()

    answer = call_api("PATCH", task_path(task_id), payload)

    assert_error(answer, 422, rule, field)
    assert registry.get(task_id).version == 1


def test_a_reschedule_beyond_the_horizon_is_refused(call_api, schedule):
    task_id = schedule()

    answer = call_api("PATCH", task_path(task_id), {"timestamp": in_seconds(400 * 24 * 3600)})

    assert_error(answer, 422, "max_horizon", "timestamp")


def test_a_too_large_reschedule_is_refused(call_api, schedule):
    task_id = schedule()

    answer = call_api("PATCH", task_path(task_id), {"message": "x" * 300_000})

    assert_error(answer, 413, "too_large", "message")


@pytest.mark.parametrize(
    ("body", "headers", "status", "rule"),
    [
        ("not json", {"content-type": "application/json"}, 400, "invalid_json"),
        ("[1]", {"content-type": "application/json"}, 400, "not_an_object"),
        (None, {"content-type": "application/json"}, 400, "invalid_json"),
        ('{"message": 1}', {"content-type": "text/plain"}, 415, "unsupported_media_type"),
    ],
)
def test_a_malformed_reschedule_body(invoke_api, http_event, schedule, body, headers, status, rule):
    task_id = schedule()
    event = http_event(body, method="PATCH", path=task_path(task_id), headers=headers)

    assert_error(invoke_api(event), status, rule)


@pytest.mark.parametrize("close", ["claim", "cancel"])
def test_rescheduling_a_closed_task_is_a_conflict(call_api, schedule, registry, close):
    task_id = schedule()
    if close == "claim":
        claim(registry, task_id)
    else:
        registry.cancel(task_id, 1, timing.utc_now())

    answer = call_api("PATCH", task_path(task_id), {"message": "late"})

    assert_error(answer, 409, "not_scheduled")


def test_rescheduling_an_unknown_task(call_api):
    assert_error(call_api("PATCH", task_path("nobody"), {"message": 1}), 404, "not_found")


def test_a_reschedule_racing_a_cancel_starts_nothing(
    call_api, schedule, monkeypatch, execution_count, registry
):
    task_id = schedule(timestamp=own_second())
    started = execution_count()
    reschedule = Registry.reschedule

    def cancelled_first(self: Registry, *args: Any, **kwargs: Any) -> Any:
        registry.cancel(task_id, 1, timing.utc_now())
        return reschedule(self, *args, **kwargs)

    monkeypatch.setattr(Registry, "reschedule", cancelled_first)

    answer = call_api("PATCH", task_path(task_id), {"timestamp": own_second()})

    assert_error(answer, 409, "not_scheduled")
    assert execution_count() == started
    assert registry.get(task_id).status is TaskStatus.CANCELLED


def test_a_reschedule_racing_another_is_a_conflict(
    call_api, schedule, monkeypatch, stored, emit_shard, sqs, topic
):
    task_id = schedule("v1", timestamp=PAST)
    reschedule = Registry.reschedule

    def overtaken(self: Registry, *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(Registry, "reschedule", reschedule)
        assert call_api("PATCH", task_path(task_id), {"message": "other"}).status == 200
        return reschedule(self, *args, **kwargs)

    monkeypatch.setattr(Registry, "reschedule", overtaken)

    answer = call_api("PATCH", task_path(task_id), {"message": "mine"})

    error = assert_error(answer, 409, "concurrent_update")
    assert "version 2" in error.errors[0].detail
    record, entry = stored(task_id)
    assert (record.version, entry.message) == (2, "other")
    # Both requests wrote an entry of version 2 in the shard: only the registered one goes out.
    emitted = emit_shard(task_id)
    assert emitted["published"] == 1
    assert [m["Body"] for m in receive(sqs, topic.raw_queue)] == ["other"]


# List


@pytest.fixture
def fresh_table(invoke_api, dynamodb, monkeypatch) -> Registry:
    """An empty registry for the API, so that listings hold only the test's tasks."""
    table = create_tasks_table(dynamodb)
    monkeypatch.setenv("TASKS_TABLE_NAME", table)
    return Registry(table, dynamodb)


@pytest.fixture
def seeded(fresh_table, schedule, dynamodb, call_api) -> dict[str, list[str]]:
    """Tasks in every status, scheduled ones with distinct timestamps, by status."""
    by_status: dict[str, list[str]] = {status.value: [] for status in TaskStatus}
    for minutes in (50, 10, 40, 20, 30, 60, 70):  # listed oldest first, whatever the order made
        by_status["scheduled"].append(schedule(minutes, timestamp=in_seconds(minutes * 60)))
    for _ in range(3):
        task_id = schedule()
        claim(fresh_table, task_id)
        by_status["emitted"].append(task_id)
    for _ in range(2):
        task_id = schedule()
        call_api("DELETE", task_path(task_id))
        by_status["cancelled"].append(task_id)
    task_id = schedule()
    mark_failed(dynamodb, fresh_table.table_name, task_id)
    by_status["failed"].append(task_id)
    return by_status


def list_all(call_api, **query: str) -> list[dict[str, Any]]:
    """Every page of GET /schedule, asserting each page's size."""
    tasks, token = [], None
    limit = int(query.get("limit", 25))
    for _ in range(100):
        answer = call_api("GET", "/schedule", query={**query, **({"next": token} if token else {})})
        assert answer.status == 200, answer.body
        assert len(answer.body["tasks"]) <= limit
        tasks += answer.body["tasks"]
        token = answer.body["next"]
        if token is None:
            return tasks
    raise AssertionError("the listing does not end")


def test_list_scheduled_tasks_oldest_first_across_pages(call_api, seeded):
    tasks = list_all(call_api, status="scheduled", limit="2")

    assert [task["id"] for task in tasks] == [seeded["scheduled"][i] for i in (1, 3, 4, 2, 0, 5, 6)]
    assert [task["timestamp"] for task in tasks] == sorted(task["timestamp"] for task in tasks)
    assert all(task["status"] == "scheduled" and "message" not in task for task in tasks)


@pytest.mark.parametrize("status", ["emitted", "cancelled", "failed"])
def test_list_each_status(call_api, seeded, status):
    tasks = list_all(call_api, status=status, limit="1")

    assert sorted(task["id"] for task in tasks) == sorted(seeded[status])
    assert {task["status"] for task in tasks} == {status}


def test_list_everything(call_api, seeded):
    tasks = list_all(call_api, limit="3")

    assert sorted(task["id"] for task in tasks) == sorted(
        task_id for ids in seeded.values() for task_id in ids
    )


def test_list_pages_25_by_default(call_api, fresh_table, schedule):
    for _ in range(27):
        schedule()

    first = call_api("GET", "/schedule", query={"status": "scheduled"})

    assert len(first.body["tasks"]) == 25
    rest = call_api("GET", "/schedule", query={"status": "scheduled", "next": first.body["next"]})
    assert len(rest.body["tasks"]) == 2


def test_list_nothing(call_api, fresh_table):
    assert call_api("GET", "/schedule").body == {"tasks": [], "next": None}


@pytest.mark.parametrize(
    ("query", "field", "rule"),
    [
        ({"status": "bogus"}, "status", "invalid_filter"),
        ({"status": "SCHEDULED"}, "status", "invalid_filter"),
        ({"status": ""}, "status", "invalid_filter"),
        ({"limit": "0"}, "limit", "invalid_filter"),
        ({"limit": "101"}, "limit", "invalid_filter"),
        ({"limit": "-1"}, "limit", "invalid_filter"),
        ({"limit": "ten"}, "limit", "invalid_filter"),
        ({"limit": ""}, "limit", "invalid_filter"),
        ({"limit": "2.5"}, "limit", "invalid_filter"),
        ({"next": "x" * 513}, "next", "invalid_token"),
        ({"next": "not a token"}, "next", "invalid_token"),
        ({"next": "e30"}, "next", "invalid_token"),  # {}
        ({"next": "YQ"}, "next", "invalid_token"),  # "a"
    ],
)
def test_a_malformed_listing_is_a_bad_request(call_api, query, field, rule):
    answer = call_api("GET", "/schedule", query=query)

    assert_error(answer, 400, rule, field)


def test_a_token_from_another_listing_is_a_bad_request(call_api, seeded):
    page = call_api("GET", "/schedule", query={"status": "scheduled", "limit": "1"})
    token = page.body["next"]

    for query in ({"status": "emitted"}, {}):
        answer = call_api("GET", "/schedule", query={**query, "next": token})
        assert_error(answer, 400, "invalid_token", "next")


def test_a_forged_token_for_a_bad_key_is_a_bad_request(call_api):
    forged = encode_token({"id": {"S": "bad id"}})

    assert_error(call_api("GET", "/schedule", query={"next": forged}), 400, "invalid_token", "next")


# Upstream failures and unknown routes


@pytest.mark.parametrize(
    ("request_", "operation"),
    [
        (("GET", "/schedule/some-task"), "get_item"),
        (("DELETE", "/schedule/some-task"), "get_item"),
        (("PATCH", "/schedule/some-task"), "get_item"),
        (("GET", "/schedule"), "scan"),
    ],
)
@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ProvisionedThroughputExceededException", 503),
        ("ThrottlingException", 503),
        ("InternalServerError", 502),
        ("ResourceNotFoundException", 502),
    ],
)
def test_dynamodb_failures(call_api, monkeypatch, request_, operation, code, status):
    def fail(**_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "DynamoDB")

    monkeypatch.setattr(clients.client("dynamodb"), operation, fail)
    method, path = request_

    answer = call_api(method, path, {"message": 1} if method == "PATCH" else None)

    rule = "upstream_throttled" if status == 503 else "upstream_error"
    assert_error(answer, status, rule)
    assert ("Retry-After" in answer.headers) is (status == 503)


def legacy_task(registry: Registry, sfn: Any, state_machine_arn: str, message: Any) -> str:
    """A task scheduled before time slots: its own execution's input carries its message."""
    task_id, now = new_id(), timing.utc_now()
    task = Task(task_id, parse_timestamp(FUTURE), message)
    execution = TaskExecution(task, 1, 1, timing.release_at(task.timestamp, 1))
    sfn.start_execution(
        stateMachineArn=state_machine_arn,
        name=execution.name,
        input=execution.execution_input(),
    )
    registry.create(
        TaskRecord(
            id=task_id,
            version=1,
            status=TaskStatus.SCHEDULED,
            timestamp=task.timestamp,
            created_at=now,
            updated_at=now,
            message_sha256=message_sha256(message),
            execution_arn=execution_arn(state_machine_arn, execution.name),
        )
    )
    return task_id


def test_a_task_scheduled_before_time_slots_reads_its_message_from_its_execution(
    call_api, registry, sfn, state_machine_arn
):
    task_id = legacy_task(registry, sfn, state_machine_arn, {"legacy": True})

    body = call_api("GET", task_path(task_id)).body

    assert (body["status"], body["message"]) == ("scheduled", {"legacy": True})


def test_step_functions_failure_reading_a_task(
    call_api, registry, sfn, state_machine_arn, monkeypatch
):
    task_id = legacy_task(registry, sfn, state_machine_arn, 1)

    def fail(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "InternalServerError", "Message": "no"}}, "DescribeExecution"
        )

    monkeypatch.setattr(clients.client("stepfunctions"), "describe_execution", fail)

    error = assert_error(call_api("GET", task_path(task_id)), 502, "upstream_error")
    assert error.errors[0].detail == "DescribeExecution: InternalServerError"


def test_a_task_whose_slot_entry_expired_is_not_found(
    call_api, schedule, registry, dynamodb, slots_table
):
    task_id = schedule()
    placement = registry.get(task_id).placement
    dynamodb.delete_item(
        TableName=slots_table,
        Key={
            "pk": {"S": f"{placement.slot}#{placement.shard}"},
            "sk": {"N": str(placement.ordinal)},
        },
    )

    assert_error(call_api("GET", task_path(task_id)), 404, "not_found")


def test_a_cancel_needs_no_step_functions(call_api, schedule, monkeypatch):
    # What guarantees no emission is the registry, which the emit function claims from: a
    # cancel neither stops nor starts an execution.
    task_id = schedule()

    def fail(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "no"}}, "States")

    for operation in ("stop_execution", "start_execution", "describe_execution"):
        monkeypatch.setattr(clients.client("stepfunctions"), operation, fail)

    answer = call_api("DELETE", task_path(task_id))

    assert (answer.status, answer.body["status"]) == (200, "cancelled")


@pytest.mark.parametrize(
    ("method", "path"), [("PUT", "/schedule"), ("GET", "/other"), ("POST", "/schedule/x")]
)
def test_an_unknown_route_is_not_found(call_api, method, path):
    assert_error(call_api(method, path), 404, "no_route")


def test_each_route_runs_behind_a_named_stage(call_api, schedule):
    task_id = schedule()

    assert call_api("GET", task_path(task_id), stage="prod").status == 200
    assert call_api("GET", "/schedule", stage="prod").status == 200
