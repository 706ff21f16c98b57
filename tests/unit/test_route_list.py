"""GET /schedule through API Gateway HTTP API events, against moto: listing tasks by status,
page by page, and malformed listings."""

from typing import Any

import pytest

from task_scheduler.api.paging import encode_token
from task_scheduler.aws.registry import Registry
from task_scheduler.core.records import TaskStatus
from tests.unit.api_helpers import assert_error, claim, in_seconds, mark_failed, task_path
from tests.unit.conftest import create_tasks_table

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


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
