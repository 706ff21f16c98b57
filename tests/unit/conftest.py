"""Fixtures for the Lambda package's unit tests: fake AWS (moto), API Gateway events, contexts."""

import importlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import uuid4

import boto3
import pytest
from jsonschema import Draft202012Validator
from moto import mock_aws

from task_scheduler.aws import clients
from task_scheduler.aws.executions import Executions
from task_scheduler.aws.placement import Placer
from task_scheduler.aws.registry import STATUS_INDEX, Registry
from task_scheduler.aws.slot_store import SlotStore
from task_scheduler.core import timing
from task_scheduler.core.decisions import MAX_SEGMENT_SECONDS
from task_scheduler.core.records import TaskRecord, TaskStatus
from task_scheduler.core.slots import DEFAULT_SHARD_UNITS, Placement, ShardExecution, slot_release
from task_scheduler.core.tasks import Task, TaskExecution, execution_arn, message_sha256
from task_scheduler.core.timestamps import format_timestamp, parse_timestamp
from tests.unit.api_helpers import FUTURE, described, new_id, shard_name, slot_entry

REGION = "eu-west-1"
ACCOUNT = "123456789012"
OPENAPI_DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


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
        for name in (
            "MAX_HORIZON_SECONDS",
            "EMISSION_LEAD_SECONDS",
            "EXECUTION_SEGMENT_SECONDS",
            "SLOT_SHARD_UNITS",
            "PUBLICATION_LOG",
        ):
            patch.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module")
def mocked_aws(environment: None) -> Iterator[None]:
    # One mock per module, not per test: each new mock brings a new boto3 session, slow to set up.
    with mock_aws():
        clients.client.cache_clear()  # clients must be created inside the mock
        yield
    clients.client.cache_clear()


@pytest.fixture(scope="module")
def sfn(mocked_aws: None) -> Any:
    return boto3.client("stepfunctions")


@pytest.fixture(scope="module")
def sns(mocked_aws: None) -> Any:
    return boto3.client("sns")


@pytest.fixture(scope="module")
def sqs(mocked_aws: None) -> Any:
    return boto3.client("sqs")


@pytest.fixture(scope="module")
def dynamodb(mocked_aws: None) -> Any:
    return boto3.client("dynamodb")


def create_tasks_table(dynamodb: Any) -> str:
    """A task registry table as the module creates it (keys, index), with a fresh name."""
    name = f"task-scheduler-tasks-{uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": "S"}
            for attribute in ("id", "status", "timestamp")
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": STATUS_INDEX,
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "timestamp", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    return name


@pytest.fixture(scope="module")
def tasks_table(dynamodb: Any) -> str:
    """The registry table the module's tests share."""
    return create_tasks_table(dynamodb)


def create_slots_table(dynamodb: Any) -> str:
    """A slot table as the module creates it (string pk, number sk), with a fresh name."""
    name = f"task-scheduler-slots-{uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
    )
    return name


@pytest.fixture
def slots_table(dynamodb: Any) -> str:
    """A slot table of the test's own: tasks of two tests due in one second share no shard."""
    return create_slots_table(dynamodb)


@pytest.fixture
def slot_store(slots_table: str, dynamodb: Any) -> SlotStore:
    return SlotStore(slots_table, dynamodb)


@pytest.fixture(scope="module")
def dead_letter_queue(sqs: Any) -> str:
    """The dead-letter queue's URL."""
    url: str = sqs.create_queue(QueueName=f"task-scheduler-dead-letter-{uuid4().hex[:8]}")[
        "QueueUrl"
    ]
    return url


@pytest.fixture
def registry(tasks_table: str, dynamodb: Any) -> Registry:
    return Registry(tasks_table, dynamodb)


@pytest.fixture
def task_item(dynamodb: Any, tasks_table: str) -> Callable[[str], dict[str, Any] | None]:
    """The registry item of a task, as DynamoDB holds it (None: no item)."""

    def read(task_id: str) -> dict[str, Any] | None:
        response = dynamodb.get_item(TableName=tasks_table, Key={"id": {"S": task_id}})
        item: dict[str, Any] | None = response.get("Item")
        return item

    return read


@dataclass(frozen=True)
class Topic:
    arn: str
    envelope_queue: str  # SNS wraps the message in a JSON envelope
    raw_queue: str  # RawMessageDelivery: the message is the SQS body


@pytest.fixture
def topic(
    sns: Any,
    sqs: Any,
    tasks_table: str,
    slots_table: str,
    dead_letter_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Topic:
    """A task topic with two SQS subscribers, and the emit function's environment for it."""
    name = f"tasks-{uuid4().hex}"
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queues = []
    for raw in ("false", "true"):
        url = sqs.create_queue(QueueName=f"{name}-{raw}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn["Attributes"]["QueueArn"],
            Attributes={"RawMessageDelivery": raw},
        )
        queues.append(url)
    monkeypatch.setenv("TOPIC_ARN", topic_arn)
    monkeypatch.setenv("TASKS_TABLE_NAME", tasks_table)
    monkeypatch.setenv("SLOTS_TABLE_NAME", slots_table)
    monkeypatch.setenv("DEAD_LETTER_QUEUE_URL", dead_letter_queue)
    return Topic(topic_arn, *queues)


def receive(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    response = sqs.receive_message(
        QueueUrl=queue_url, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )
    return response.get("Messages", [])


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
    return importlib.import_module("task_scheduler.api.handler")


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
    return importlib.import_module("task_scheduler.emit.handler")


@pytest.fixture(scope="module")
def state_machine_arn(sfn: Any) -> str:
    arn: str = sfn.create_state_machine(
        name="task-scheduler",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/task-scheduler",
    )["stateMachineArn"]
    return arn


EMISSION_LEAD = 1  # the module's default emission lead, in seconds


@pytest.fixture
def emit(emit_handler: ModuleType, lambda_context: FakeLambdaContext) -> Callable[..., Any]:
    """Invoke the emit function with `event`."""
    return lambda event: emit_handler.lambda_handler(event, lambda_context)


def record_of(execution: TaskExecution, arn: str) -> TaskRecord:
    """The registry record of a task just scheduled in `execution`."""
    now = timing.utc_now()
    return TaskRecord(
        id=execution.task.id,
        version=execution.version,
        status=TaskStatus.SCHEDULED,
        timestamp=execution.task.timestamp,
        created_at=now,
        updated_at=now,
        execution_arn=arn,
        message_sha256=message_sha256(execution.task.message),
    )


@pytest.fixture
def task_event(registry: Registry, state_machine_arn: str) -> Callable[..., dict[str, Any]]:
    """The emit function's event for a task due `seconds_ago` (negative: in the future),
    registered unless `register` is False; released at its final release unless `release_at`."""

    def make(
        message: Any,
        seconds_ago: float = 0,
        *,
        task_id: str | None = None,
        version: int = 1,
        segment: int = 1,
        release_at: datetime | None = None,
        register: bool = True,
    ) -> dict[str, Any]:
        due = format_timestamp(datetime.now(UTC) - timedelta(seconds=seconds_ago))
        task = Task(
            id=task_id or f"task-{uuid4().hex}", timestamp=parse_timestamp(due), message=message
        )
        release = release_at or timing.release_at(task.timestamp, EMISSION_LEAD)
        execution = TaskExecution(task, version=version, segment=segment, release_at=release)
        arn = execution_arn(state_machine_arn, execution.name)
        if register:
            registry.create(record_of(execution, arn))
        return {"task": json.loads(execution.execution_input()), "execution_arn": arn}

    return make


@pytest.fixture
def invoke_api(
    api_handler: ModuleType,
    lambda_context: FakeLambdaContext,
    state_machine_arn: str,
    tasks_table: str,
    slots_table: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[dict[str, Any]], ApiAnswer]:
    monkeypatch.setenv("STATE_MACHINE_ARN", state_machine_arn)
    monkeypatch.setenv("TASKS_TABLE_NAME", tasks_table)
    monkeypatch.setenv("SLOTS_TABLE_NAME", slots_table)

    def invoke(event: dict[str, Any]) -> ApiAnswer:
        response = api_handler.lambda_handler(event, lambda_context)
        answer = ApiAnswer(
            response["statusCode"], response["headers"], json.loads(response["body"])
        )
        assert_documented(event, answer)
        return answer

    return invoke


@cache
def _openapi() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(OPENAPI_DOCUMENT.read_text(encoding="utf-8"))
    return document


def assert_documented(event: dict[str, Any], answer: ApiAnswer) -> None:
    """Every answer of a documented operation is one docs/openapi.json describes."""
    method, path = event["requestContext"]["http"]["method"], event["rawPath"]
    stage = event["requestContext"]["stage"]
    if stage != "$default":
        path = path.removeprefix(f"/{stage}")
    template = "/schedule/{id}" if path.startswith("/schedule/") else path
    operation = _openapi()["paths"].get(template, {}).get(method.lower())
    if operation is None:
        return
    documented = operation["responses"].get(str(answer.status))
    assert documented is not None, f"{method} {template} does not document {answer.status}"
    schema = documented["content"]["application/json"]["schema"]
    validator = Draft202012Validator({**schema, "components": _openapi()["components"]})
    validator.validate(answer.body)
    for header in documented.get("headers", {}):
        assert header in answer.headers, f"{answer.status} answers lack {header}"


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
def call_api(invoke_api: Callable[[dict[str, Any]], ApiAnswer]) -> Callable[..., ApiAnswer]:
    """`method` `path` with `query` parameters and `payload` JSON-encoded as the body."""

    def call(
        method: str,
        path: str,
        payload: Any = None,
        *,
        query: dict[str, str] | None = None,
        **event_options: Any,
    ) -> ApiAnswer:
        body = None if payload is None else json.dumps(payload)
        event = _http_event(body, method=method, path=path, **event_options)
        if query is not None:
            event["queryStringParameters"] = query
            event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
        return invoke_api(event)

    return call


@pytest.fixture
def describe_execution(sfn: Any, state_machine_arn: str) -> Callable[..., dict[str, Any]]:
    """DescribeExecution of a task's execution, by task id, version and segment."""
    executions = state_machine_arn.replace(":stateMachine:", ":execution:")

    def describe(task_id: str, version: int = 1, segment: int = 1) -> dict[str, Any]:
        arn = f"{executions}:{task_id}_{version}_{segment}"
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        return described

    return describe


@pytest.fixture
def execution_input(describe_execution: Callable[..., dict[str, Any]]) -> Callable[..., Any]:
    """The input of a task's execution, by task id, version and segment."""
    return lambda *name: json.loads(describe_execution(*name)["input"])


@pytest.fixture
def execution_status(describe_execution: Callable[..., dict[str, Any]]) -> Callable[..., str]:
    """The status (RUNNING, ABORTED, ...) of a task's execution, by id, version and segment."""
    return lambda *name: describe_execution(*name)["status"]


@pytest.fixture
def execution_count(sfn: Any, state_machine_arn: str) -> Callable[[], int]:
    """How many executions were started so far."""

    def count() -> int:
        pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn)
        return sum(len(page["executions"]) for page in pages)

    return count


@dataclass(frozen=True)
class Placed:
    """A task scheduled as the api function schedules it: staged, registered, started."""

    task: Task
    placement: Placement
    execution_arn: str | None


@pytest.fixture
def placer(slot_store: SlotStore, sfn: Any, state_machine_arn: str) -> Placer:
    return Placer(
        slot_store,
        Executions(state_machine_arn, sfn),
        lead_seconds=EMISSION_LEAD,
        segment_seconds=MAX_SEGMENT_SECONDS,
        shard_units=DEFAULT_SHARD_UNITS,
    )


@pytest.fixture
def place_task(placer: Placer, registry: Registry) -> Callable[..., Placed]:
    """Schedule a task due `seconds_ago` (negative: in the future), or at `timestamp`, in its
    time slot; not started when `start` is False."""

    def place(
        message: Any,
        seconds_ago: float = 0,
        *,
        timestamp: datetime | None = None,
        task_id: str | None = None,
        start: bool = True,
    ) -> Placed:
        now = timing.utc_now()
        due = timestamp or parse_timestamp(format_timestamp(now - timedelta(seconds=seconds_ago)))
        task = Task(id=task_id or f"task-{uuid4().hex}", timestamp=due, message=message)
        placement = placer.stage(task, 1, now)
        registry.create(
            TaskRecord(
                id=task.id,
                version=1,
                status=TaskStatus.SCHEDULED,
                timestamp=due,
                created_at=now,
                updated_at=now,
                message_sha256=message_sha256(message),
                placement=placement,
            )
        )
        arn = placer.start(task.id, 1, placement, now) if start else None
        return Placed(task, placement, arn)

    return place


def shard_event(placement: Placement, state_machine_arn: str, hop: int = 0) -> dict[str, Any]:
    """The emit function's event for the shard that holds `placement` (its hop 0)."""
    execution = ShardExecution(
        placement.slot, placement.shard, hop, slot_release(placement.slot, EMISSION_LEAD)
    )
    return {
        "task": json.loads(execution.execution_input()),
        "execution_arn": execution_arn(state_machine_arn, execution.name),
    }


# Fixtures of the api function's route tests: a scheduled task, where it went, its emission.


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
