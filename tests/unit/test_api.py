"""The api function through API Gateway HTTP API events, against Step Functions and DynamoDB in
moto: what it answers, and where it leaves a task (its registry item, its slot entry, the
execution of its slot's shard)."""

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from task_scheduler.api.models import ErrorResponse
from task_scheduler.api.scheduling import MAX_SNS_MESSAGE_BYTES, MAX_TASK_BYTES
from task_scheduler.aws import clients
from task_scheduler.aws.registry import ConditionFailed, Registry
from task_scheduler.core import timing
from task_scheduler.core.decisions import MAX_SEGMENT_SECONDS
from task_scheduler.core.records import TaskStatus
from task_scheduler.core.slots import Placement, slot_release
from task_scheduler.core.timestamps import format_timestamp, parse_timestamp
from tests.unit.api_helpers import FUTURE, SOON, assert_error, in_seconds, own_second, shard_name
from tests.unit.conftest import EMISSION_LEAD, receive, shard_event

NORMALISED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def execution_names(sfn: Any, state_machine_arn: str) -> set[str]:
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn)
    return {execution["name"] for page in pages for execution in page["executions"]}


def test_schedules_a_task(post_schedule, stored, shard, sfn, state_machine_arn):
    answer = post_schedule({"timestamp": FUTURE, "message": {"hello": "world"}})

    assert answer.status == 201
    task_id = answer.body["id"]
    assert uuid.UUID(task_id).version == 4
    assert answer.body == {
        "message": f"Scheduled task at {SOON}T12:00:00.000Z",
        "id": task_id,
        "timestamp": f"{SOON}T12:00:00.000Z",
        "fires_immediately": False,
    }
    record, entry = stored(task_id)
    assert (record.status, record.version) == (TaskStatus.SCHEDULED, 1)
    slot = int(datetime.fromisoformat(f"{SOON}T12:00:00+00:00").timestamp())
    assert record.placement == Placement(slot=slot, shard=0, ordinal=1)
    assert entry.message == {"hello": "world"}
    # The shard's execution, named by slot and shard; its input holds no message.
    assert shard(record.placement) == (
        "RUNNING",
        {
            "slot": slot,
            "shard": 0,
            "hop": 0,
            "release_at": f"{SOON}T11:59:59Z",  # the default lead: one whole second early
        },
    )
    assert f"slot-{slot}-0" in execution_names(sfn, state_machine_arn)
    assert not any(task_id in name for name in execution_names(sfn, state_machine_arn))


@pytest.mark.parametrize(
    "message",
    [
        {"nested": {"list": [1, 2.5, None, True, "x"]}},
        {},
        [1, "two", {"three": 3}],
        [],
        "hello",
        "",
        "héllo wörld ✓ 😀 汉字",
        'quotes " and \\ backslashes\nnewline',
        0,
        -17,
        1.5,
        10**30,
        True,
        False,
        None,
    ],
)
def test_any_json_message_reaches_the_slot_entry_intact(post_schedule, stored, message):
    answer = post_schedule({"timestamp": FUTURE, "message": message})

    assert answer.status == 201, answer.body
    _, entry = stored(answer.body["id"])
    assert json.dumps(entry.message) == json.dumps(message)  # also tells 0 from False


def test_slot_table_and_execution_carry_nothing_from_the_request_but_the_task(
    post_schedule, stored, shard, dynamodb, slots_table
):
    secrets = {
        "authorization": "Bearer secret-token",
        "cookie": "session=secret-cookie",
        "x-api-key": "secret-key",
        "content-type": "application/json",
    }
    answer = post_schedule({"timestamp": FUTURE, "message": "hi"}, headers=secrets)

    assert answer.status == 201
    record, _ = stored(answer.body["id"])
    _, carried = shard(record.placement)
    assert set(carried) == {"slot", "shard", "hop", "release_at"}
    items = dynamodb.scan(TableName=slots_table)["Items"]
    (entry,) = [item for item in items if item["sk"]["N"] != "0"]
    assert set(entry) == {"pk", "sk", "id", "version", "timestamp", "message", "expires_at"}
    kept = json.dumps([carried, items])
    assert "secret" not in kept
    assert "JKJaXmPLvHcESHA" not in kept  # the request id


@pytest.mark.parametrize(
    ("timestamp", "normalised"),
    [
        (f"{SOON}T17:30:00+05:30", f"{SOON}T12:00:00.000Z"),
        (f"{SOON}T04:00:00-08:00", f"{SOON}T12:00:00.000Z"),
        (f"{SOON}t12:00:00z", f"{SOON}T12:00:00.000Z"),
        (f"{SOON}T12:00:00.1Z", f"{SOON}T12:00:00.100Z"),
        (f"{SOON}T12:00:00,25Z", f"{SOON}T12:00:00.250Z"),
        (f"{SOON}T12:00:00.123456Z", f"{SOON}T12:00:00.124Z"),
        (f"{SOON}T12:00:00.999999999Z", f"{SOON}T12:00:01.000Z"),
    ],
)
def test_timestamp_is_normalised_to_utc_milliseconds(post_schedule, stored, timestamp, normalised):
    answer = post_schedule({"timestamp": timestamp, "message": 1})

    assert answer.status == 201
    assert answer.body["timestamp"] == normalised
    assert answer.body["message"] == f"Scheduled task at {normalised}"
    record, entry = stored(answer.body["id"])
    assert format_timestamp(entry.timestamp) == normalised
    assert record.placement.slot == int(parse_timestamp(normalised).timestamp())


@pytest.mark.parametrize(
    ("timestamp", "slot"),
    [("0001-01-01T00:00:00Z", -62135596800), ("1969-12-31T23:59:59.999Z", -1)],
)
def test_timestamps_before_1970_fire_immediately(
    post_schedule, stored, shard, emit, topic, sqs, registry, state_machine_arn, timestamp, slot
):
    answer = post_schedule({"timestamp": timestamp, "message": "long overdue"})

    assert answer.status == 201
    assert answer.body["fires_immediately"] is True
    record, _ = stored(answer.body["id"])
    assert record.placement.slot == slot  # before 1970: negative
    status, carried = shard(record.placement)
    assert (status, carried["slot"], carried["release_at"]) == (
        "RUNNING",
        slot,
        "1970-01-01T00:00:00Z",
    )
    # The emit function reads that input: the task goes out.
    assert emit(shard_event(record.placement, state_machine_arn))["published"] == 1
    assert [m["Body"] for m in receive(sqs, topic.raw_queue)] == ["long overdue"]
    assert registry.get(answer.body["id"]).status is TaskStatus.EMITTED


def test_past_timestamp_fires_immediately(post_schedule):
    answer = post_schedule({"timestamp": "2001-02-03T04:05:06.789+01:00", "message": "late"})

    assert answer.status == 201
    assert answer.body["fires_immediately"] is True
    assert answer.body["timestamp"] == "2001-02-03T03:05:06.789Z"
    assert answer.body["message"] == (
        "Scheduled task at 2001-02-03T03:05:06.789Z "
        "(timestamp is in the past: the task fires immediately)"
    )


@pytest.mark.parametrize(
    ("timestamp", "rule"),
    [
        ("2030-06-01T12:00:00", "timestamp_offset_required"),
        ("2030-06-01T12:00:00.250", "timestamp_offset_required"),
        (1893456000, "timestamp_format"),
        (1893456000.5, "timestamp_format"),
        (True, "timestamp_format"),
        (None, "timestamp_format"),
        ([FUTURE], "timestamp_format"),
        ({"at": FUTURE}, "timestamp_format"),
        ("", "timestamp_format"),
        ("tomorrow", "timestamp_format"),
        ("1893456000", "timestamp_format"),
        ("2030-06-01", "timestamp_format"),
        ("2030-06-01T12:00Z", "timestamp_format"),
        ("2030-06-01 12:00:00Z", "timestamp_format"),
        ("20300601T120000Z", "timestamp_format"),
        ("2030-02-30T12:00:00Z", "timestamp_format"),
        ("2030-06-01T24:00:00Z", "timestamp_format"),
        ("2030-06-01T12:00:60Z", "timestamp_format"),
        ("2030-06-01T12:00:00+24:00", "timestamp_format"),
        ("2030-06-01T12:00:00+05:60", "timestamp_format"),
        ("2030-06-01T12:00:00+0530", "timestamp_format"),
        ("2030-06-01T12:00:00.1234567890Z", "timestamp_format"),
        ("\uff12\uff10\uff13\uff10-06-01T12:00:00Z", "timestamp_format"),  # fullwidth digits
        (" 2030-06-01T12:00:00Z", "timestamp_format"),
        ("9999-12-31T23:59:59-01:00", "timestamp_format"),
        ("0001-01-01T00:00:00+01:00", "timestamp_format"),
        (FUTURE + "x" * 500_000, "timestamp_format"),
    ],
)
def test_invalid_timestamp_is_rejected(post_schedule, timestamp, rule):
    answer = post_schedule({"timestamp": timestamp, "message": "hi"})

    assert_error(answer, 422, rule, "timestamp")
    assert len(json.dumps(answer.body)) < 1000  # the input is not echoed


@pytest.mark.parametrize(
    ("payload", "missing"),
    [
        ({"message": "hi"}, ["timestamp"]),
        ({"timestamp": FUTURE}, ["message"]),
        ({}, ["timestamp", "message"]),
    ],
)
def test_missing_field_is_rejected(post_schedule, execution_count, payload, missing):
    started = execution_count()

    answer = post_schedule(payload)

    error = assert_error(answer, 422, "missing", missing[0])
    assert [e.field for e in error.errors] == missing
    assert execution_count() == started


def test_null_message_is_not_missing(post_schedule):
    assert post_schedule({"timestamp": FUTURE, "message": None}).status == 201


def test_extra_field_is_rejected(post_schedule):
    answer = post_schedule({"timestamp": FUTURE, "message": "hi", "priority": "high"})

    assert_error(answer, 422, "extra_forbidden", "priority")


def test_error_list_stays_small_whatever_the_request(post_schedule):
    payload = {f"{i}-{'k' * 500}": i for i in range(1000)}

    answer = post_schedule(payload)

    error = assert_error(answer, 422, "missing", "timestamp")
    assert len(error.errors) == 20
    assert max(len(e.field or "") for e in error.errors) <= 100


def test_horizon_boundary_is_exact(post_schedule, monkeypatch):
    monkeypatch.setenv("MAX_HORIZON_SECONDS", "3600")

    assert post_schedule({"timestamp": in_seconds(3590), "message": 1}).status == 201
    answer = post_schedule({"timestamp": in_seconds(3610), "message": 1})
    error = assert_error(answer, 422, "max_horizon", "timestamp")
    latest = re.search(NORMALISED, error.errors[0].detail)
    assert latest is not None
    expected = datetime.now(UTC) + timedelta(seconds=3600)
    assert abs(datetime.fromisoformat(latest[0]) - expected) < timedelta(seconds=5)


def test_default_horizon_is_a_year(post_schedule):
    year = 365 * 24 * 3600
    assert post_schedule({"timestamp": in_seconds(year - 60), "message": 1}).status == 201
    answer = post_schedule({"timestamp": in_seconds(year + 60), "message": 1})
    assert_error(answer, 422, "max_horizon", "timestamp")


DAY = 24 * 3600


@pytest.mark.parametrize(
    ("ahead_seconds", "hop"),
    [
        (364 * DAY - 60, 0),  # released within one segment (364 days): the shard itself
        (365 * DAY, 1),
        (3000 * DAY, 8),
        (3650 * DAY - 60, 10),  # the ten-year horizon
    ],
)
def test_a_task_beyond_one_segment_starts_the_hop_that_reaches_its_shard(
    post_schedule, monkeypatch, stored, shard, sfn, state_machine_arn, ahead_seconds, hop
):
    monkeypatch.setenv("MAX_HORIZON_SECONDS", str(3650 * DAY))
    started = datetime.now(UTC)

    answer = post_schedule({"timestamp": in_seconds(ahead_seconds), "message": 1})

    assert answer.status == 201
    record, _ = stored(answer.body["id"])
    placement = record.placement
    # Hop j waits until the slot's release less j segments, then starts hop j - 1.
    release_at = slot_release(placement.slot, EMISSION_LEAD) - timedelta(
        seconds=hop * MAX_SEGMENT_SECONDS
    )
    assert shard(placement, hop) == (
        "RUNNING",
        {
            "slot": placement.slot,
            "shard": placement.shard,
            "hop": hop,
            "release_at": timing.format_release(release_at),
        },
    )
    assert timedelta(0) < release_at - started <= timedelta(seconds=MAX_SEGMENT_SECONDS)
    names = execution_names(sfn, state_machine_arn)
    assert {shard_name(placement, j) for j in range(hop + 1)} & names == {
        shard_name(placement, hop)
    }


def _message_filling(limit_bytes: int, extra: int) -> str:
    # An ASCII string message makes a dead-letter message of 109 + len(message) bytes:
    # {"id":"<36>","version":1,"timestamp":"<24>","message":"..."}.
    empty = '{"id":"","version":1,"timestamp":"","message":""}'
    overhead = len(empty) + 36 + 24
    return "x" * (limit_bytes - overhead + extra)


def test_dead_letter_message_size_boundary(post_schedule):
    fits = post_schedule({"timestamp": FUTURE, "message": _message_filling(MAX_TASK_BYTES, 0)})
    assert fits.status == 201

    answer = post_schedule({"timestamp": FUTURE, "message": _message_filling(MAX_TASK_BYTES, 1)})
    error = assert_error(answer, 413, "too_large", "message")
    assert [e.rule for e in error.errors] == ["too_large"]
    assert "dead-letter message" in error.errors[0].detail
    assert str(MAX_TASK_BYTES) in error.errors[0].detail


def test_sns_message_size_limit(post_schedule):
    # SNS gets ASCII-escaped JSON: 6 bytes per CJK character against 3 in the dead-letter queue.
    message = {"text": "汉" * 50_000}

    answer = post_schedule({"timestamp": FUTURE, "message": message})

    error = assert_error(answer, 413, "too_large", "message")
    assert len(error.errors) == 1
    assert "SNS" in error.errors[0].detail
    assert str(MAX_SNS_MESSAGE_BYTES) in error.errors[0].detail


def test_oversize_body_is_not_even_parsed(post_schedule):
    answer = post_schedule({"timestamp": FUTURE, "message": [{"a": [1, {"b": None}]}] * 200_000})

    error = assert_error(answer, 413, "too_large")
    assert "1048576" in error.errors[0].detail


def test_oversize_message_reports_both_limits(post_schedule):
    answer = post_schedule({"timestamp": FUTURE, "message": "x" * 300_000})

    error = assert_error(answer, 413, "too_large", "message")
    assert len(error.errors) == 2


GARBAGE = [
    pytest.param("not json", 400, "invalid_json", id="text"),
    pytest.param('{"timestamp": ', 400, "invalid_json", id="truncated"),
    pytest.param("\ufeff{}", 400, "invalid_json", id="bom"),
    pytest.param("[" * 100_000, 400, "invalid_json", id="deeply-nested"),
    pytest.param(
        '{"timestamp": "2030-06-01T12:00:00Z", "message": NaN}', 400, "invalid_json", id="nan"
    ),
    pytest.param(
        '{"timestamp": "2030-06-01T12:00:00Z", "message": -Infinity}', 400, "invalid_json", id="inf"
    ),
    pytest.param(
        '{"timestamp": "2030-06-01T12:00:00Z", "message": 1e999}', 400, "invalid_json", id="1e999"
    ),
    pytest.param(
        '{"timestamp": "2030-06-01T12:00:00Z", "message": ' + "9" * 5000 + "}",
        400,
        "invalid_json",
        id="huge-int",
    ),
    pytest.param("", 400, "invalid_json", id="empty"),
    pytest.param("   ", 400, "invalid_json", id="blank"),
    pytest.param("[1, 2]", 400, "not_an_object", id="array"),
    pytest.param(
        '[{"timestamp": "2030-06-01T12:00:00Z", "message": 1}]',
        400,
        "not_an_object",
        id="array-of-task",
    ),
    pytest.param("42", 400, "not_an_object", id="number"),
    pytest.param('"text"', 400, "not_an_object", id="string"),
    pytest.param("true", 400, "not_an_object", id="boolean"),
    pytest.param("null", 400, "not_an_object", id="null"),
    pytest.param(
        '{"timestamp": "2030-06-01T12:00:00Z", "message": "\\ud800"}',
        422,
        "invalid_unicode",
        id="lone-surrogate",
    ),
    pytest.param(
        '{"timestamp": "2030-06-01T12:00:00Z", "message": {"k": "\\ufffe"}}',
        422,
        "invalid_unicode",
        id="noncharacter-escaped",
    ),
    pytest.param(
        '{"timestamp": "2030-06-01T12:00:00Z", "message": "\uffff"}',
        422,
        "invalid_unicode",
        id="noncharacter-raw",
    ),
    pytest.param(
        '{"timestamp": "2030-06-01T12:00:00Z", "message": ' + "[" * 300 + "]" * 300 + "}",
        422,
        "recursion_depth_exceeded",
        id="too-deep-for-pydantic",
    ),
    pytest.param('{"' + "k" * 1_000_000 + '": 1}', 422, "extra_forbidden", id="huge-key"),
]


@pytest.mark.parametrize(("body", "status", "rule"), GARBAGE)
def test_garbage_body_is_a_client_error(post_schedule, body, status, rule):
    answer = post_schedule(raw=body)

    assert answer.status == status, answer.body
    assert rule in [e.rule for e in ErrorResponse.model_validate(answer.body).errors]


def test_missing_body_is_a_client_error(invoke_api, http_event):
    assert_error(invoke_api(http_event(None)), 400, "invalid_json")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_base64_encoded_body_is_decoded(post_schedule):
    body = json.dumps({"timestamp": FUTURE, "message": "encoded"}).encode()

    assert post_schedule(raw=b64(body), is_base64_encoded=True).status == 201


@pytest.mark.parametrize(
    "body",
    [b64(b"\xff\xfe\x00garbage"), "abc", "%%%", b64(b"not json")],
    ids=["not-utf8", "bad-padding", "no-base64-characters", "not-json"],
)
def test_undecodable_base64_body_is_a_client_error(post_schedule, body):
    answer = post_schedule(raw=body, is_base64_encoded=True)

    assert_error(answer, 400, "invalid_json")


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ],
)
def test_non_json_content_type_is_unsupported(post_schedule, content_type):
    answer = post_schedule(
        {"timestamp": FUTURE, "message": 1}, headers={"content-type": content_type}
    )

    assert_error(answer, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"content-type": "application/json; charset=utf-8"},
        {"content-type": "Application/JSON"},
    ],
)
def test_json_without_or_with_parameterised_content_type_is_accepted(post_schedule, headers):
    assert post_schedule({"timestamp": FUTURE, "message": 1}, headers=headers).status == 201


def test_route_behind_a_named_stage(post_schedule):
    assert post_schedule({"timestamp": FUTURE, "message": 1}, stage="prod").status == 201


def chosen() -> dict[str, Any]:
    """A task request with an id of its own, in a slot of its own."""
    return {"timestamp": own_second(), "message": 1, "id": f"task-{uuid.uuid4().hex}"}


def test_missing_state_machine_is_a_bad_gateway(
    post_schedule, monkeypatch, state_machine_arn, task_item
):
    monkeypatch.setenv("STATE_MACHINE_ARN", state_machine_arn.replace("task-scheduler", "gone"))
    request = chosen()

    answer = post_schedule(request)

    error = assert_error(answer, 502, "upstream_error")
    assert "StateMachineDoesNotExist" in error.errors[0].detail
    assert task_item(request["id"]) is None  # withdrawn: nothing acknowledged, nothing left


def _fail_start_execution(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def start_execution(**_: Any) -> None:
        raise error

    monkeypatch.setattr(clients.client("stepfunctions"), "start_execution", start_execution)


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "TooManyRequests",
        "ServiceUnavailable",
        "RequestLimitExceeded",
        "ExecutionLimitExceeded",
    ],
)
def test_throttling_is_service_unavailable(post_schedule, monkeypatch, api_logs, task_item, code):
    throttled = ClientError({"Error": {"Code": code, "Message": "slow down"}}, "StartExecution")
    _fail_start_execution(monkeypatch, throttled)
    request = chosen()

    answer = post_schedule(request)

    error = assert_error(answer, 503, "upstream_throttled")
    assert "retry" in error.message
    assert int(answer.headers["Retry-After"]) > 0
    (logged,) = [line for line in api_logs() if line["level"] == "ERROR"]
    assert code in logged["exception"]
    assert task_item(request["id"]) is None


def test_a_retry_after_a_failed_start_schedules_the_task(post_schedule, monkeypatch, stored, shard):
    request = chosen()
    with monkeypatch.context() as patch:
        _fail_start_execution(
            patch, ClientError({"Error": {"Code": "ThrottlingException"}}, "StartExecution")
        )
        assert post_schedule(request).status == 503

    retried = post_schedule(request)

    # The first attempt's registry item was withdrawn: the retry is a new task, not a replay.
    assert retried.status == 201
    record, entry = stored(request["id"])
    assert (record.version, entry.message) == (1, 1)
    assert shard(record.placement)[0] == "RUNNING"


def test_a_task_claimed_before_its_failed_start_is_withdrawn_is_scheduled(
    post_schedule, monkeypatch, registry
):
    # The shard's emit invocation, started by another task of the slot, claimed it meanwhile:
    # it is on its way, so the answer is 201.
    request = chosen()

    def claimed_then_failed(**_: Any) -> None:
        registry.claim(request["id"], 1, timing.utc_now(), "slot-emit")
        raise ClientError({"Error": {"Code": "InternalServerError"}}, "StartExecution")

    monkeypatch.setattr(clients.client("stepfunctions"), "start_execution", claimed_then_failed)

    answer = post_schedule(request)

    assert answer.status == 201
    assert registry.get(request["id"]).status is TaskStatus.EMITTED


@pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")
def test_a_failed_withdraw_is_healed_by_the_retry(
    post_schedule, monkeypatch, stored, shard, registry
):
    # The start failed, then so did the delete that withdraws the item: the client gets a 5xx
    # and retries, and the retry, a replay, starts the execution the first attempt could not.
    request = chosen()
    with monkeypatch.context() as patch:
        _fail_start_execution(
            patch, ClientError({"Error": {"Code": "InternalServerError"}}, "StartExecution")
        )

        def delete_failed(*_: Any) -> None:
            raise ClientError({"Error": {"Code": "ThrottlingException"}}, "DeleteItem")

        patch.setattr(Registry, "delete_unclaimed", delete_failed)
        failed = post_schedule(request)

    assert failed.status in (502, 503)
    assert registry.get(request["id"]).status is TaskStatus.SCHEDULED  # left, but carried by none
    retried = post_schedule(request)

    assert retried.status == 200
    record, _ = stored(request["id"])
    assert shard(record.placement)[0] == "RUNNING"


def test_a_withdraw_that_finds_the_task_changed_answers_201(post_schedule, monkeypatch):
    # The withdraw's condition fails because the version changed or was claimed since: it is
    # not this request's to remove, and nothing is raised from it.
    _fail_start_execution(
        monkeypatch, ClientError({"Error": {"Code": "InternalServerError"}}, "StartExecution")
    )

    def changed_since(*_: Any) -> None:
        raise ConditionFailed(None)

    monkeypatch.setattr(Registry, "delete_unclaimed", changed_since)

    assert post_schedule(chosen()).status == 201


def test_execution_started_by_a_retried_call_is_a_success(
    post_schedule, monkeypatch, shard, stored, execution_status
):
    # The first attempt started the execution but its answer was lost; the retry is refused.
    sfn = clients.client("stepfunctions")
    start = sfn.start_execution

    def start_then_lose_the_answer(**arguments: Any) -> None:
        start(**arguments)
        raise ClientError(
            {"Error": {"Code": "ExecutionAlreadyExists", "Message": "taken"}}, "StartExecution"
        )

    monkeypatch.setattr(sfn, "start_execution", start_then_lose_the_answer)
    request = chosen()

    answer = post_schedule(request)

    assert answer.status == 201
    assert answer.body["message"].startswith("Scheduled task at ")
    record, _ = stored(request["id"])
    assert shard(record.placement)[0] == "RUNNING"
    # Refused, the shard's name reads as a closed shard: the task also got its own execution
    # (the claim lets only one of the two publish it).
    assert execution_status(request["id"], 1, "s1") == "RUNNING"


def test_unreachable_step_functions_is_a_bad_gateway(post_schedule, monkeypatch, task_item):
    _fail_start_execution(monkeypatch, EndpointConnectionError(endpoint_url="https://states"))
    request = chosen()

    assert_error(post_schedule(request), 502, "upstream_error")
    assert task_item(request["id"]) is None


def test_emits_metric_and_correlated_logs(post_schedule, capsys, api_logs):
    answer = post_schedule({"timestamp": FUTURE, "message": 1})

    (metrics,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert metrics["TasksScheduled"] == [1.0]
    (log,) = [line for line in api_logs() if line["message"] == "Scheduled task"]
    assert log["correlation_id"] == "JKJaXmPLvHcESHA="
    assert log["id"] == answer.body["id"]
