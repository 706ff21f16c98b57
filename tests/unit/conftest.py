"""Fixtures for the Lambda package's unit tests: fake AWS (moto), API Gateway events, contexts."""

import importlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from task_scheduler import aws

REGION = "eu-west-1"
ACCOUNT = "123456789012"


@dataclass
class FakeLambdaContext:
    function_name: str = "task-scheduler-test"
    memory_limit_in_mb: int = 128
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:task-scheduler-test"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678"
    remaining_millis: int = 30_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    headers: dict[str, str]
    body: Any


# Module-scoped, not session-scoped: test suites collected after this one must find neither the
# fake environment nor the AWS mock.
@pytest.fixture(scope="module", autouse=True)
def environment() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            # Fake credentials, so that nothing can reach a real account.
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SECURITY_TOKEN": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "task-scheduler",
            "POWERTOOLS_METRICS_NAMESPACE": "TaskSchedulerTests",
        }.items():
            patch.setenv(name, value)
        patch.delenv("MAX_HORIZON_SECONDS", raising=False)
        yield


@pytest.fixture(scope="module")
def mocked_aws(environment: None) -> Iterator[None]:
    # One mock per module, not per test: each new mock brings a new boto3 session, slow to set up.
    with mock_aws():
        aws.client.cache_clear()  # clients must be created inside the mock
        yield
    aws.client.cache_clear()


@pytest.fixture(scope="module")
def sfn(mocked_aws: None) -> Any:
    return boto3.client("stepfunctions")


@pytest.fixture(scope="module")
def sns(mocked_aws: None) -> Any:
    return boto3.client("sns")


@pytest.fixture(scope="module")
def sqs(mocked_aws: None) -> Any:
    return boto3.client("sqs")


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


def _http_event(
    body: str | None,
    *,
    method: str = "POST",
    path: str = "/schedule",
    headers: dict[str, str] | None = None,
    is_base64_encoded: bool = False,
    stage: str = "$default",
) -> dict[str, Any]:
    """An API Gateway HTTP API event, payload format 2.0."""
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"} if headers is None else headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "api1234567",
            "domainName": "api1234567.execute-api.eu-west-1.amazonaws.com",
            "domainPrefix": "api1234567",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "pytest",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": f"{method} {path}",
            "stage": stage,
            "time": "01/Jan/2030:00:00:00 +0000",
            "timeEpoch": 1893456000000,
        },
        "isBase64Encoded": is_base64_encoded,
    }
    if body is not None:
        event["body"] = body
    return event


@pytest.fixture
def http_event() -> Callable[..., dict[str, Any]]:
    return _http_event


@pytest.fixture
def api_handler() -> ModuleType:
    # Imported once the environment is set: Powertools reads it when the module creates its tools.
    return importlib.import_module("task_scheduler.handlers.api")


def _log_reader(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> Callable[[], list[dict[str, Any]]]:
    # The Logger keeps the stdout it found at import, which pytest's capsys does not see.
    buffer = io.StringIO()
    monkeypatch.setattr(handler.logger.registered_handler, "stream", buffer)
    return lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]


@pytest.fixture
def api_logs(
    api_handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> Callable[[], list[dict[str, Any]]]:
    """The api function's log records so far."""
    return _log_reader(api_handler, monkeypatch)


@pytest.fixture
def emit_logs(
    emit_handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> Callable[[], list[dict[str, Any]]]:
    """The emit function's log records so far."""
    return _log_reader(emit_handler, monkeypatch)


@pytest.fixture
def emit_handler() -> ModuleType:
    return importlib.import_module("task_scheduler.handlers.emit")


@pytest.fixture(scope="module")
def state_machine_arn(sfn: Any) -> str:
    arn: str = sfn.create_state_machine(
        name="task-scheduler",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/task-scheduler",
    )["stateMachineArn"]
    return arn


@pytest.fixture
def invoke_api(
    api_handler: ModuleType,
    lambda_context: FakeLambdaContext,
    state_machine_arn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[dict[str, Any]], ApiAnswer]:
    monkeypatch.setenv("STATE_MACHINE_ARN", state_machine_arn)

    def invoke(event: dict[str, Any]) -> ApiAnswer:
        response = api_handler.lambda_handler(event, lambda_context)
        return ApiAnswer(response["statusCode"], response["headers"], json.loads(response["body"]))

    return invoke


@pytest.fixture
def post_schedule(
    invoke_api: Callable[[dict[str, Any]], ApiAnswer],
) -> Callable[..., ApiAnswer]:
    """POST /schedule with `payload` JSON-encoded, or with `raw` as the body."""

    def post(payload: Any = None, *, raw: str | None = None, **event_options: Any) -> ApiAnswer:
        body = raw if raw is not None else json.dumps(payload)
        return invoke_api(_http_event(body, **event_options))

    return post


@pytest.fixture
def execution_input(sfn: Any, state_machine_arn: str) -> Callable[[str], Any]:
    """The input of the execution named `name`."""
    executions = state_machine_arn.replace(":stateMachine:", ":execution:")

    def read(name: str) -> Any:
        return json.loads(sfn.describe_execution(executionArn=f"{executions}:{name}")["input"])

    return read


@pytest.fixture
def execution_count(sfn: Any, state_machine_arn: str) -> Callable[[], int]:
    """How many executions were started so far."""

    def count() -> int:
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn)
        return sum(len(page["executions"]) for page in pages)

    return count
