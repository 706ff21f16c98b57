"""No credential or header reaches an execution input, the slot table, the SNS message or the
logs.

Requests carry secrets in every place API Gateway puts them: Authorization (a Bearer JWT, or a
SigV4 signature), X-Amz-Security-Token, cookies (the Cookie header and payload 2.0's `cookies`),
custom headers, and the authorizer's context (JWT claims, IAM identity). Each secret is a unique
string; none may appear in what Step Functions, SNS or DynamoDB received, nor in anything the
functions logged with every logger at DEBUG, nor when event logging is asked for
(POWERTOOLS_LOGGER_LOG_EVENT: the handlers turn it off). The emit function gets the same
treatment with secrets slipped into its event.
"""

import base64
import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any
from uuid import uuid4

import pytest
from botocore.exceptions import ClientError

from task_scheduler.aws import clients
from tests.unit.api_helpers import described, in_seconds, shard_name, slot_entry
from tests.unit.conftest import ApiAnswer, Topic, receive, shard_event

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")


def secret(name: str) -> str:
    return f"{name}-{uuid4().hex}"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Secrets:
    """The secret strings a request carries, and the request's headers and authorizer."""

    def __init__(self, form: str) -> None:
        self.values: list[str] = []
        cookie, csrf = self.new("session"), self.new("csrf")
        headers = {
            "content-type": "application/json",
            "cookie": f"session={cookie}; csrf={csrf}",
            "x-api-key": self.new("api-key"),
            "x-custom-auth": self.new("custom"),
            "x-forwarded-for": "192.0.2.1",
        }
        self.cookies = [f"session={cookie}", f"csrf={csrf}"]
        if form == "jwt":
            subject, email = self.new("sub"), f"{self.new('user')}@example.com"
            claims = {"sub": subject, "email": email, "scope": "tasks/write", "exp": 1893456000}
            signature = b64url(self.new("signature").encode())
            header = b64url(json.dumps({"alg": "RS256", "kid": "k"}).encode())
            token = f"{header}.{b64url(json.dumps(claims).encode())}.{signature}"
            self.values += [token, token.split(".")[1], signature]
            headers["authorization"] = f"Bearer {token}"
            self.authorizer: dict[str, Any] = {
                "jwt": {"claims": {**claims, "exp": "1893456000"}, "scopes": ["tasks/write"]}
            }
        else:
            access_key = "ASIA" + uuid4().hex[:16].upper()
            signature = uuid4().hex + uuid4().hex
            session_token = self.new("session-token")
            self.values += [access_key, signature]
            headers["authorization"] = (
                f"AWS4-HMAC-SHA256 Credential={access_key}/20300101/eu-west-1/execute-api/"
                "aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, "
                f"Signature={signature}"
            )
            headers["x-amz-security-token"] = session_token
            headers["x-amz-date"] = "20300101T000000Z"
            caller = self.new("AROACALLER")
            self.authorizer = {
                "iam": {
                    "accessKey": access_key,
                    "accountId": "123456789012",
                    "callerId": caller,
                    "cognitoIdentity": None,
                    "principalOrgId": None,
                    "userArn": f"arn:aws:sts::123456789012:assumed-role/{caller}",
                    "userId": caller,
                }
            }
        self.headers = headers

    def new(self, name: str) -> str:
        value = secret(name)
        self.values.append(value)
        return value

    def found_in(self, text: str) -> list[str]:
        return [value for value in self.values if value in text]


@pytest.fixture
def logged(
    api_handler: ModuleType, emit_handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], str]]:
    """Everything logged meanwhile, raw: the functions' Logger (one handler: both share the
    service name), at DEBUG, and every standard logger, Powertools' own included, at DEBUG."""
    assert api_handler.logger.registered_handler is emit_handler.logger.registered_handler
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    collect = Collect(logging.DEBUG)
    collect.setFormatter(logging.Formatter("%(name)s %(message)s %(args)s"))
    stream = io.StringIO()
    monkeypatch.setattr(api_handler.logger.registered_handler, "stream", stream)
    level = api_handler.logger.log_level
    api_handler.logger.setLevel(logging.DEBUG)
    watched = [logging.getLogger(), logging.getLogger("aws_lambda_powertools")]
    levels = [each.level for each in watched]
    for each in watched:
        each.addHandler(collect)
        each.setLevel(logging.DEBUG)
    try:
        yield lambda: stream.getvalue() + "\n".join(lines)
    finally:
        api_handler.logger.setLevel(level)
        for each, previous in zip(watched, levels, strict=True):
            each.removeHandler(collect)
            each.setLevel(previous)


@pytest.fixture
def sent_to_aws(mocked_aws: None) -> Iterator[list[str]]:
    """The parameters of every AWS call the functions make meanwhile, as JSON."""
    calls: list[str] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        calls.append(f"{model.name} {json.dumps(params, default=str)}")

    sdk_clients = [clients.client(name) for name in ("stepfunctions", "dynamodb", "sns")]
    for client in sdk_clients:
        client.meta.events.register("before-parameter-build", record)
    yield calls
    for client in sdk_clients:
        client.meta.events.unregister("before-parameter-build", record)


def table_items(dynamodb: Any, *tables: str) -> str:
    return json.dumps([dynamodb.scan(TableName=table)["Items"] for table in tables])


@pytest.mark.parametrize("form", ["jwt", "iam"])
def test_no_request_credential_or_header_goes_further(
    form,
    invoke_api: Callable[[dict[str, Any]], ApiAnswer],
    http_event,
    emit,
    topic: Topic,
    sqs,
    sfn,
    dynamodb,
    tasks_table,
    slots_table,
    registry,
    slot_store,
    state_machine_arn,
    logged,
    sent_to_aws,
    capsys,
    monkeypatch,
):
    secrets = Secrets(form)
    task_id = f"task-{uuid4().hex}"

    def call(method: str, path: str, payload: Any = None, **query: str) -> ApiAnswer:
        body = None if payload is None else json.dumps(payload)
        event = http_event(body, method=method, path=path, headers=dict(secrets.headers))
        event["cookies"] = list(secrets.cookies)
        event["requestContext"]["authorizer"] = secrets.authorizer
        if query:
            event["queryStringParameters"] = query
            event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
        return invoke_api(event)

    request = {"timestamp": in_seconds(3600), "message": {"order": 1}, "id": task_id}
    answers = [
        call("POST", "/schedule", request),
        call("POST", "/schedule", request),  # a replay
        call("POST", "/schedule", {**request, "message": "other"}),  # a conflict
        call("POST", "/schedule", {"timestamp": "soon", "message": 1}),  # invalid
        call("GET", f"/schedule/{task_id}"),
        call("GET", "/schedule", status="scheduled", limit="5"),
        call("PATCH", f"/schedule/{task_id}", {"timestamp": in_seconds(-1)}),
        call("GET", "/nowhere"),
    ]

    def denied(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetItem")

    with monkeypatch.context() as patch:
        patch.setattr(clients.client("dynamodb"), "get_item", denied)
        answers.append(call("GET", f"/schedule/{task_id}"))  # an upstream failure, logged

    record, entry = slot_entry(registry, slot_store, task_id)
    emitted = emit(shard_event(record.placement, state_machine_arn))

    assert [a.status for a in answers] == [201, 200, 409, 422, 200, 200, 200, 404, 502]
    assert emitted["published"] == 1
    assert (record.version, entry.message) == (2, {"order": 1})
    # Every execution started: version 1's shard an hour ahead, version 2's a second ago.
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn)
    names = {execution["name"] for page in pages for execution in page["executions"]}
    assert shard_name(record.placement) in names
    carried = [described(sfn, state_machine_arn, name)[1] for name in sorted(names)]
    assert secrets.found_in(json.dumps(carried)) == []
    for document in carried:  # the shard and its release: no message, nothing else
        assert sorted(document) == ["hop", "release_at", "shard", "slot"]
    sns_deliveries = json.dumps([receive(sqs, topic.envelope_queue), receive(sqs, topic.raw_queue)])
    assert task_id in sns_deliveries
    assert secrets.found_in(sns_deliveries) == []
    assert secrets.found_in(table_items(dynamodb, tasks_table, slots_table)) == []
    assert secrets.found_in("\n".join(sent_to_aws)) == []
    logs = logged() + capsys.readouterr().out
    assert "Emitted task" in logs
    assert "An AWS call failed" in logs
    assert secrets.found_in(logs) == []


@pytest.mark.parametrize("carrier", ["shard", "own execution"])
def test_nothing_extra_in_the_emit_event_goes_further(
    carrier,
    emit,
    task_event,
    place_task,
    state_machine_arn,
    topic: Topic,
    sqs,
    dynamodb,
    tasks_table,
    slots_table,
    logged,
    sent_to_aws,
    capsys,
):
    # Whatever else a state machine (or someone invoking the function) puts in the event.
    secrets = Secrets("iam")
    if carrier == "shard":
        event = shard_event(place_task("hello").placement, state_machine_arn)
    else:  # a task scheduled before time slots
        event = task_event("hello")
    event["headers"] = dict(secrets.headers)
    event["task"]["authorization"] = secrets.headers["authorization"]
    event["requestContext"] = {"authorizer": secrets.authorizer}

    emitted = emit(event)
    with pytest.raises(ValueError, match="expected") as invalid:
        emit({"task": {**event["task"], "id": None}, "execution_arn": event["execution_arn"]})

    assert emitted["published"] == 1
    # The error's message becomes the Cause the state machine sends to the dead-letter queue.
    assert secrets.found_in(str(invalid.value)) == []
    sns_deliveries = json.dumps([receive(sqs, topic.envelope_queue), receive(sqs, topic.raw_queue)])
    assert "hello" in sns_deliveries
    assert secrets.found_in(sns_deliveries) == []
    assert secrets.found_in(table_items(dynamodb, tasks_table, slots_table)) == []
    assert secrets.found_in("\n".join(sent_to_aws)) == []
    logs = logged() + capsys.readouterr().out
    assert "Emitted task" in logs
    assert secrets.found_in(logs) == []


_INVOKE_BOTH = """
import json, sys
from task_scheduler.emit import handler as emit
from task_scheduler.api import handler as api

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "f", 128, "r"
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:f"

    def get_remaining_time_in_millis(self):
        return 30000

api_event, emit_event = json.load(sys.stdin)
print("answered", api.lambda_handler(api_event, Context())["statusCode"])
try:
    emit.lambda_handler(emit_event, Context())
except ValueError:
    print("refused")
"""


@pytest.mark.parametrize("form", ["jwt", "iam"])
def test_asking_for_event_logging_logs_no_event(form, http_event):
    # Powertools reads POWERTOOLS_LOGGER_LOG_EVENT when the handler module is imported: a fresh
    # interpreter with it (and every debug switch) on. Neither call needs AWS: an unknown route,
    # an emit event without a task.
    secrets = Secrets(form)
    api_event = http_event('{"a": 1}', method="POST", path="/nowhere", headers=secrets.headers)
    api_event["cookies"] = secrets.cookies
    api_event["requestContext"]["authorizer"] = secrets.authorizer
    emit_event = {"headers": secrets.headers, "requestContext": {"authorizer": secrets.authorizer}}
    environment = {
        **os.environ,
        "POWERTOOLS_LOGGER_LOG_EVENT": "true",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "POWERTOOLS_DEBUG": "true",
        "POWERTOOLS_SERVICE_NAME": "task-scheduler",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }

    ran = subprocess.run(
        [sys.executable, "-c", _INVOKE_BOTH],
        input=json.dumps([api_event, emit_event]),
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )

    assert "answered 404" in ran.stdout
    assert "refused" in ran.stdout
    assert '"level":"DEBUG"' in ran.stdout or "DEBUG" in ran.stdout + ran.stderr
    assert secrets.found_in(ran.stdout + ran.stderr) == []
