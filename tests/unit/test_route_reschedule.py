"""PATCH /schedule/{id} through API Gateway HTTP API events, against moto: a new timestamp or
message as the task's next version, every refusal, and races."""

import json
from typing import Any

import pytest

from task_scheduler.aws.registry import Registry
from task_scheduler.core import timing
from task_scheduler.core.records import TaskStatus
from task_scheduler.core.timestamps import parse_timestamp
from tests.unit.api_helpers import (
    FUTURE,
    PAST,
    assert_error,
    claim,
    in_seconds,
    own_second,
    task_path,
)
from tests.unit.conftest import receive

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


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
