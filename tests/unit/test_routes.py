"""What every task route shares, through API Gateway HTTP API events, against moto: malformed
ids in the path, DynamoDB failures, unknown routes, stages."""

from typing import Any

import pytest
from botocore.exceptions import ClientError

from task_scheduler.aws import clients
from tests.unit.api_helpers import assert_error, task_path

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


@pytest.mark.parametrize("method", ["GET", "DELETE", "PATCH"])
@pytest.mark.parametrize("task_id", ["dot.ted", "x" * 65, "a%20b", "%C3%A9"])
def test_a_malformed_id_in_the_path_is_a_bad_request(call_api, method, task_id):
    payload = {"message": 1} if method == "PATCH" else None

    answer = call_api(method, task_path(task_id), payload)

    assert_error(answer, 400, "invalid_id", "id")


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


@pytest.mark.parametrize(
    ("method", "path"), [("PUT", "/schedule"), ("GET", "/other"), ("POST", "/schedule/x")]
)
def test_an_unknown_route_is_not_found(call_api, method, path):
    assert_error(call_api(method, path), 404, "no_route")


def test_each_route_runs_behind_a_named_stage(call_api, schedule):
    task_id = schedule()

    assert call_api("GET", task_path(task_id), stage="prod").status == 200
    assert call_api("GET", "/schedule", stage="prod").status == 200
