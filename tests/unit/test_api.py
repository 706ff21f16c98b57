"""The api function through API Gateway HTTP API events, against Step Functions in moto."""

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from task_scheduler import aws
from task_scheduler.models import ErrorResponse
from task_scheduler.scheduling import MAX_EXECUTION_INPUT_BYTES, MAX_SNS_MESSAGE_BYTES
from task_scheduler.timestamps import format_timestamp

# A day within every horizon, whenever the tests run.
SOON = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
FUTURE = f"{SOON}T12:00:00Z"
NORMALISED = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def in_seconds(seconds: float) -> str:
    return format_timestamp(datetime.now(UTC) + timedelta(seconds=seconds))


def assert_error(answer: Any, status: int, rule: str, field: str | None = None) -> ErrorResponse:
    assert answer.status == status, answer.body
    assert answer.headers["Content-Type"] == "application/json"
    error = ErrorResponse.model_validate(answer.body)
    assert error.message
    assert (field, rule) in [(e.field, e.rule) for e in error.errors], error
    return error


def test_schedules_a_task(post_schedule, execution_input):
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
    assert execution_input(task_id) == {
        "id": task_id,
        "version": 1,
        "segment": 1,
        "timestamp": f"{SOON}T12:00:00.000Z",
        "release_at": f"{SOON}T11:59:59Z",  # the default lead: one whole second early
        "message": {"hello": "world"},
    }


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
def test_any_json_message_reaches_the_execution_input_intact(
    post_schedule, execution_input, message
):
    answer = post_schedule({"timestamp": FUTURE, "message": message})

    assert answer.status == 201, answer.body
    stored = execution_input(answer.body["id"])["message"]
    assert json.dumps(stored) == json.dumps(message)  # also tells 0 from False


def test_execution_input_carries_nothing_from_the_request_but_the_task(
    post_schedule, execution_input
):
    secrets = {
        "authorization": "Bearer secret-token",
        "cookie": "session=secret-cookie",
        "x-api-key": "secret-key",
        "content-type": "application/json",
    }
    answer = post_schedule({"timestamp": FUTURE, "message": "hi"}, headers=secrets)

    assert answer.status == 201
    stored = execution_input(answer.body["id"])
    assert set(stored) == {"id", "version", "segment", "timestamp", "release_at", "message"}
    assert "secret" not in json.dumps(stored)
    assert "JKJaXmPLvHcESHA" not in json.dumps(stored)  # the request id


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
def test_timestamp_is_normalised_to_utc_milliseconds(
    post_schedule, execution_input, timestamp, normalised
):
    answer = post_schedule({"timestamp": timestamp, "message": 1})

    assert answer.status == 201
    assert answer.body["timestamp"] == normalised
    assert answer.body["message"] == f"Scheduled task at {normalised}"
    assert execution_input(answer.body["id"])["timestamp"] == normalised


@pytest.mark.parametrize("timestamp", ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59.999Z"])
def test_timestamps_before_1970_fire_immediately(post_schedule, execution_input, timestamp):
    answer = post_schedule({"timestamp": timestamp, "message": "long overdue"})

    assert answer.status == 201
    assert answer.body["fires_immediately"] is True
    assert execution_input(answer.body["id"])["release_at"] == "1970-01-01T00:00:00Z"


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


def test_a_task_years_ahead_starts_with_a_first_segment(
    post_schedule, monkeypatch, execution_input
):
    monkeypatch.setenv("MAX_HORIZON_SECONDS", str(3650 * 24 * 3600))
    started = datetime.now(UTC)

    answer = post_schedule({"timestamp": in_seconds(3000 * 24 * 3600), "message": 1})

    assert answer.status == 201
    stored = execution_input(answer.body["id"])
    assert (stored["version"], stored["segment"]) == (1, 1)
    # Released at the end of the segment (364 days, a whole second), to continue from there.
    release = datetime.fromisoformat(stored["release_at"])
    segment_end = started + timedelta(days=364)
    assert timedelta(0) <= segment_end - release < timedelta(seconds=5)


def _message_filling(limit_bytes: int, extra: int) -> str:
    # An ASCII string message makes an execution input of 120 + len(message) bytes:
    # {"id":"<36>","version":1,"segment":1,"timestamp":"<24>","release_at":"<20>","message":"..."}.
    empty = '{"id":"","version":1,"segment":1,"timestamp":"","release_at":"","message":""}'
    overhead = len(empty) + 36 + 24 + 20
    return "x" * (limit_bytes - overhead + extra)


def test_execution_input_size_boundary(post_schedule):
    fits = post_schedule(
        {"timestamp": FUTURE, "message": _message_filling(MAX_EXECUTION_INPUT_BYTES, 0)}
    )
    assert fits.status == 201

    answer = post_schedule(
        {"timestamp": FUTURE, "message": _message_filling(MAX_EXECUTION_INPUT_BYTES, 1)}
    )
    error = assert_error(answer, 413, "too_large", "message")
    assert [e.rule for e in error.errors] == ["too_large"]
    assert str(MAX_EXECUTION_INPUT_BYTES) in error.errors[0].detail


def test_sns_message_size_limit(post_schedule):
    # SNS gets ASCII-escaped JSON: 6 bytes per CJK character against 3 in the execution input.
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


def test_missing_state_machine_is_a_bad_gateway(post_schedule, monkeypatch, state_machine_arn):
    monkeypatch.setenv("STATE_MACHINE_ARN", state_machine_arn.replace("task-scheduler", "gone"))

    answer = post_schedule({"timestamp": FUTURE, "message": 1})

    error = assert_error(answer, 502, "upstream_error")
    assert "StateMachineDoesNotExist" in error.errors[0].detail


def _fail_start_execution(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def start_execution(**_: Any) -> None:
        raise error

    monkeypatch.setattr(aws.client("stepfunctions"), "start_execution", start_execution)


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
def test_throttling_is_service_unavailable(post_schedule, monkeypatch, api_logs, code):
    throttled = ClientError({"Error": {"Code": code, "Message": "slow down"}}, "StartExecution")
    _fail_start_execution(monkeypatch, throttled)

    answer = post_schedule({"timestamp": FUTURE, "message": 1})

    error = assert_error(answer, 503, "upstream_throttled")
    assert "retry" in error.message
    assert int(answer.headers["Retry-After"]) > 0
    (logged,) = [line for line in api_logs() if line["level"] == "ERROR"]
    assert code in logged["exception"]


def test_execution_started_by_a_retried_call_is_a_success(
    post_schedule, monkeypatch, execution_status
):
    # The first attempt started the execution but its answer was lost; the retry is refused.
    sfn = aws.client("stepfunctions")
    start = sfn.start_execution

    def start_then_lose_the_answer(**arguments: Any) -> None:
        start(**arguments)
        raise ClientError(
            {"Error": {"Code": "ExecutionAlreadyExists", "Message": "taken"}}, "StartExecution"
        )

    monkeypatch.setattr(sfn, "start_execution", start_then_lose_the_answer)

    answer = post_schedule({"timestamp": FUTURE, "message": 1})

    assert answer.status == 201
    assert answer.body["message"].startswith("Scheduled task at ")
    assert execution_status(answer.body["id"]) == "RUNNING"


def test_unreachable_step_functions_is_a_bad_gateway(post_schedule, monkeypatch):
    _fail_start_execution(monkeypatch, EndpointConnectionError(endpoint_url="https://states"))

    assert_error(post_schedule({"timestamp": FUTURE, "message": 1}), 502, "upstream_error")


def test_emits_metric_and_correlated_logs(post_schedule, capsys, api_logs):
    answer = post_schedule({"timestamp": FUTURE, "message": 1})

    (metrics,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert metrics["TasksScheduled"] == [1.0]
    (log,) = [line for line in api_logs() if line["message"] == "Scheduled task"]
    assert log["correlation_id"] == "JKJaXmPLvHcESHA="
    assert log["id"] == answer.body["id"]
