"""The task lifecycle routes through API Gateway HTTP API events, against moto: idempotent
scheduling, status, cancel, reschedule and list, with every error answer."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from task_scheduler import aws, timing
from task_scheduler.paging import encode_token
from task_scheduler.records import TaskStatus
from task_scheduler.registry import Registry
from tests.unit.conftest import create_tasks_table, receive
from tests.unit.test_api import FUTURE, assert_error, in_seconds

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

_ids = iter(range(10**9))


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


def task_path(task_id: str) -> str:
    return f"/schedule/{task_id}"


def close_to_now(timestamp: str) -> bool:
    return abs(datetime.fromisoformat(timestamp) - datetime.now(UTC)) < timedelta(seconds=5)


# Idempotency


def test_a_chosen_id_names_the_task_and_its_execution(call_api, execution_input, registry):
    task_id = new_id()

    answer = call_api("POST", "/schedule", {"timestamp": FUTURE, "message": 1, "id": task_id})

    assert (answer.status, answer.body["id"]) == (201, task_id)
    assert execution_input(task_id, 1, 1)["id"] == task_id
    record = registry.get(task_id)
    assert (record.status, record.version) == (TaskStatus.SCHEDULED, 1)
    assert record.execution_arn.endswith(f":{task_id}_1_1")


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
    call_api, execution_count, registry, execution_status
):
    task_id = new_id()
    request = {"timestamp": FUTURE, "message": {"a": 1, "b": [1, 2]}, "id": task_id}
    first = call_api("POST", "/schedule", request)
    before, started = registry.get(task_id), execution_count()

    # The same content, written differently: other key order, an equivalent timestamp.
    replay = {"message": {"b": [1, 2], "a": 1}, "id": task_id, "timestamp": FUTURE[:-1] + "+00:00"}
    again = call_api("POST", "/schedule", replay)

    assert (first.status, again.status) == (201, 200)
    assert again.body == first.body
    assert execution_count() == started
    assert registry.get(task_id) == before
    assert execution_status(task_id) == "RUNNING"


def test_a_replay_after_emission_still_answers_200(call_api, schedule, registry):
    task_id = schedule("done", timestamp="2001-01-01T00:00:00Z")
    registry.claim(task_id, 1, timing.utc_now())

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
    call_api, schedule, monkeypatch, execution_status, execution_count
):
    task_id = schedule("same")
    started = execution_count()
    _registered_meanwhile(monkeypatch)

    answer = call_api("POST", "/schedule", {"timestamp": FUTURE, "message": "same", "id": task_id})

    assert answer.status == 200
    assert execution_count() == started  # Step Functions answered with the running execution
    assert execution_status(task_id) == "RUNNING"


def test_a_concurrent_different_request_conflicts_and_stops_its_execution(
    call_api, schedule, monkeypatch, execution_status, registry
):
    task_id = schedule("first")
    _registered_meanwhile(monkeypatch)

    answer = call_api(
        "POST", "/schedule", {"timestamp": FUTURE, "message": "second", "id": task_id}
    )

    assert_error(answer, 409, "id_conflict", "id")
    # Its name `_1_1` held another task's execution, so it had started `_2_1`, now stopped.
    assert execution_status(task_id, 2, 1) == "ABORTED"
    assert execution_status(task_id, 1, 1) == "RUNNING"
    assert registry.get(task_id).version == 1


def test_a_failed_registration_stops_the_execution_and_a_retry_succeeds(
    call_api, monkeypatch, execution_status, registry
):
    task_id = new_id()
    request = {"timestamp": FUTURE, "message": 1, "id": task_id}
    create = Registry.create

    def throttled(self: Registry, record: Any) -> None:
        monkeypatch.setattr(Registry, "create", create)
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
            "PutItem",
        )

    monkeypatch.setattr(Registry, "create", throttled)

    failed = call_api("POST", "/schedule", request)

    error = assert_error(failed, 503, "upstream_throttled")
    assert error.errors[0].detail == "PutItem: ProvisionedThroughputExceededException"
    assert execution_status(task_id) == "ABORTED"
    assert registry.get(task_id) is None

    retried = call_api("POST", "/schedule", request)

    # Step Functions keeps the stopped execution's name: the task starts at the next version.
    assert retried.status == 201
    assert registry.get(task_id).version == 2
    assert execution_status(task_id, 2, 1) == "RUNNING"


def test_an_id_whose_names_are_all_taken_is_refused(call_api, sfn, state_machine_arn):
    task_id = new_id()
    for version in range(1, 6):
        name = f"{task_id}_{version}_1"
        arn = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input="{}")
        sfn.stop_execution(executionArn=arn["executionArn"])

    answer = call_api("POST", "/schedule", {"timestamp": FUTURE, "message": 1, "id": task_id})

    error = assert_error(answer, 409, "id_conflict", "id")
    assert "90 days" in error.errors[0].detail


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
    registry.claim(task_id, 1, timing.utc_now())

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
        Registry(tasks_table, dynamodb).claim(task_id, 1, timing.utc_now())
        mark_failed(dynamodb, tasks_table, task_id)
        return {"timestamp": timestamp, "message": message, "id": task_id}

    return fail


def test_a_failed_task_posted_again_is_scheduled_as_its_next_version(
    call_api, failed, registry, task_item, execution_input, execution_status
):
    request = failed({"order": 7})
    task_id = request["id"]

    answer = call_api("POST", "/schedule", request)

    assert answer.status == 201
    assert (answer.body["id"], answer.body["fires_immediately"]) == (task_id, False)
    record = registry.get(task_id)
    assert (record.status, record.version, record.emitted_at) == (TaskStatus.SCHEDULED, 2, None)
    assert record.execution_arn.endswith(f":{task_id}_2_1")
    assert "expires_at" not in task_item(task_id)
    assert execution_input(task_id, 2, 1)["message"] == {"order": 7}
    assert execution_status(task_id, 2, 1) == "RUNNING"
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
    registry.claim(request["id"], 2, timing.utc_now())
    mark_failed(dynamodb, tasks_table, request["id"], version=2)

    answer = call_api("POST", "/schedule", request)

    assert (answer.status, answer.body["fires_immediately"]) == (201, True)
    assert registry.get(request["id"]).version == 3


def test_concurrent_identical_redrives_schedule_once(
    call_api, failed, monkeypatch, registry, execution_status, execution_count
):
    request = failed()
    started = execution_count()
    redrive = Registry.redrive

    def overtaken(self: Registry, *args: Any, **kwargs: Any) -> Any:
        redrive(self, *args, **kwargs)  # the other request's write, which found the same execution
        return redrive(self, *args, **kwargs)

    monkeypatch.setattr(Registry, "redrive", overtaken)

    answer = call_api("POST", "/schedule", request)

    assert answer.status == 200
    assert execution_count() == started + 1
    assert execution_status(request["id"], 2, 1) == "RUNNING"
    assert registry.get(request["id"]).version == 2


def test_a_failed_redrive_stops_its_execution_and_leaves_the_task_failed(
    call_api, failed, monkeypatch, registry, execution_status
):
    request = failed()

    def throttled(*_: Any, **__: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
            "UpdateItem",
        )

    monkeypatch.setattr(Registry, "redrive", throttled)

    answer = call_api("POST", "/schedule", request)

    assert_error(answer, 503, "upstream_throttled")
    assert execution_status(request["id"], 2, 1) == "ABORTED"
    record = registry.get(request["id"])
    assert (record.status, record.version) == (TaskStatus.FAILED, 1)


def test_a_redriven_task_is_emitted(
    call_api, failed, emit, sqs, topic, execution_input, state_machine_arn, registry
):
    request = failed("again", timestamp="2001-01-01T00:00:00Z")
    call_api("POST", "/schedule", request)
    task_id = request["id"]
    execution = state_machine_arn.replace(":stateMachine:", ":execution:")

    emitted = emit(
        {"task": execution_input(task_id, 2, 1), "execution_arn": f"{execution}:{task_id}_2_1"}
    )

    assert emitted["version"] == 2
    assert [m["Body"] for m in receive(sqs, topic.raw_queue)] == ["again"]
    assert registry.get(task_id).status is TaskStatus.EMITTED


# Cancel


def test_cancel_a_scheduled_task(call_api, schedule, execution_status, task_item):
    task_id = schedule("never")

    answer = call_api("DELETE", task_path(task_id))

    assert answer.status == 200
    assert (answer.body["status"], answer.body["message"]) == ("cancelled", "never")
    assert answer.body["updated_at"] > answer.body["created_at"]
    assert execution_status(task_id) == "ABORTED"
    expires_at = int(task_item(task_id)["expires_at"]["N"])
    assert abs(expires_at - (datetime.now(UTC) + timedelta(days=90)).timestamp()) < 10
    assert call_api("GET", task_path(task_id)).body["status"] == "cancelled"


def test_cancelling_twice_is_harmless(call_api, schedule):
    task_id = schedule()
    first = call_api("DELETE", task_path(task_id))

    second = call_api("DELETE", task_path(task_id))

    assert (first.status, second.status) == (200, 200)
    assert second.body == first.body


def test_cancelling_an_emitted_task_is_a_conflict(call_api, schedule, registry, execution_status):
    task_id = schedule()
    registry.claim(task_id, 1, timing.utc_now())

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
    call_api, schedule, monkeypatch, execution_status
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
    assert execution_status(task_id, 2, 1) == "ABORTED"


# Reschedule


def test_reschedule_the_timestamp(call_api, schedule, execution_input, execution_status, registry):
    task_id = schedule({"keep": "me"})
    later = in_seconds(7200)

    answer = call_api("PATCH", task_path(task_id), {"timestamp": later})

    assert answer.status == 200
    assert (answer.body["version"], answer.body["status"]) == (2, "scheduled")
    assert answer.body["timestamp"] == later
    assert answer.body["message"] == {"keep": "me"}
    carried = execution_input(task_id, 2, 1)
    assert (carried["version"], carried["timestamp"]) == (2, later)
    assert carried["message"] == {"keep": "me"}
    assert execution_status(task_id, 1, 1) == "ABORTED"
    assert registry.get(task_id).execution_arn.endswith(f":{task_id}_2_1")
    assert call_api("GET", task_path(task_id)).body == answer.body


@pytest.mark.parametrize("message", ["new", None, {"n": [1]}, ""])
def test_reschedule_the_message(call_api, schedule, execution_input, message):
    task_id = schedule("old")

    answer = call_api("PATCH", task_path(task_id), {"message": message})

    assert answer.status == 200
    assert answer.body["timestamp"] == FUTURE.replace("Z", ".000Z")
    assert json.dumps(answer.body["message"]) == json.dumps(message)
    assert json.dumps(execution_input(task_id, 2, 1)["message"]) == json.dumps(message)


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
    getattr(registry, close)(task_id, 1, timing.utc_now())

    answer = call_api("PATCH", task_path(task_id), {"message": "late"})

    assert_error(answer, 409, "not_scheduled")


def test_rescheduling_an_unknown_task(call_api):
    assert_error(call_api("PATCH", task_path("nobody"), {"message": 1}), 404, "not_found")


def test_a_reschedule_racing_a_cancel_stops_its_new_execution(
    call_api, schedule, monkeypatch, execution_status, registry
):
    task_id = schedule()
    reschedule = Registry.reschedule

    def cancelled_first(self: Registry, *args: Any, **kwargs: Any) -> Any:
        registry.cancel(task_id, 1, timing.utc_now())
        return reschedule(self, *args, **kwargs)

    monkeypatch.setattr(Registry, "reschedule", cancelled_first)

    answer = call_api("PATCH", task_path(task_id), {"message": "too late"})

    assert_error(answer, 409, "not_scheduled")
    assert execution_status(task_id, 2, 1) == "ABORTED"
    assert registry.get(task_id).status is TaskStatus.CANCELLED


def test_a_reschedule_racing_another_is_a_conflict(
    call_api, schedule, monkeypatch, execution_status
):
    task_id = schedule("v1")
    reschedule = Registry.reschedule

    def overtaken(self: Registry, *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(Registry, "reschedule", reschedule)
        assert call_api("PATCH", task_path(task_id), {"message": "other"}).status == 200
        return reschedule(self, *args, **kwargs)

    monkeypatch.setattr(Registry, "reschedule", overtaken)

    answer = call_api("PATCH", task_path(task_id), {"message": "mine"})

    error = assert_error(answer, 409, "concurrent_update")
    assert "version 3" in error.errors[0].detail
    # The overtaking request found `_2_1` taken by this one's execution and used version 3.
    assert execution_status(task_id, 2, 1) == "ABORTED"
    assert execution_status(task_id, 3, 1) == "RUNNING"


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
        fresh_table.claim(task_id, 1, timing.utc_now())
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

    monkeypatch.setattr(aws.client("dynamodb"), operation, fail)
    method, path = request_

    answer = call_api(method, path, {"message": 1} if method == "PATCH" else None)

    rule = "upstream_throttled" if status == 503 else "upstream_error"
    assert_error(answer, status, rule)
    assert ("Retry-After" in answer.headers) is (status == 503)


def test_step_functions_failure_reading_a_task(call_api, schedule, monkeypatch):
    task_id = schedule()

    def fail(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "InternalServerError", "Message": "no"}}, "DescribeExecution"
        )

    monkeypatch.setattr(aws.client("stepfunctions"), "describe_execution", fail)

    error = assert_error(call_api("GET", task_path(task_id)), 502, "upstream_error")
    assert error.errors[0].detail == "DescribeExecution: InternalServerError"


def test_a_failed_stop_does_not_fail_the_cancel(call_api, schedule, monkeypatch, api_logs):
    # What guarantees no emission is the registry, which the emit function claims from.
    task_id = schedule()

    def fail(**_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "no"}}, "StopExecution"
        )

    monkeypatch.setattr(aws.client("stepfunctions"), "stop_execution", fail)

    answer = call_api("DELETE", task_path(task_id))

    assert (answer.status, answer.body["status"]) == (200, "cancelled")
    assert any(log["message"] == "Could not stop an execution" for log in api_logs())


@pytest.mark.parametrize(
    ("method", "path"), [("PUT", "/schedule"), ("GET", "/other"), ("POST", "/schedule/x")]
)
def test_an_unknown_route_is_not_found(call_api, method, path):
    assert_error(call_api(method, path), 404, "no_route")


def test_each_route_runs_behind_a_named_stage(call_api, schedule):
    task_id = schedule()

    assert call_api("GET", task_path(task_id), stage="prod").status == 200
    assert call_api("GET", "/schedule", stage="prod").status == 200
