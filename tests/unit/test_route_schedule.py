"""POST /schedule through API Gateway HTTP API events, against moto: the task's id (chosen,
from the Idempotency-Key header or generated), replays, conflicts, concurrent requests, and
the redrive of a failed task."""

from typing import Any

import pytest
from botocore.exceptions import ClientError

from task_scheduler.aws import clients
from task_scheduler.aws.registry import Registry
from task_scheduler.core.records import TaskStatus
from tests.unit.api_helpers import (
    FUTURE,
    PAST,
    assert_error,
    claim,
    in_seconds,
    mark_failed,
    new_id,
    own_second,
    task_path,
)
from tests.unit.conftest import receive, shard_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


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
