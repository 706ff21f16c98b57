"""The module's JWT authorization, end to end: the stack re-applied with authorization_type JWT
and the local OIDC test issuer (task_scheduler_emulator.gateway.oidc_issuer), whose tokens the
local gateway verifies as API Gateway's JWT authorizer does (signature against the issuer's JWKS,
expiry, audience, route scopes); then no token value reaches the execution input, the
registry, the slot table, the SNS message or any log.

The gateway reads the CAs it trusts for issuers when the stack starts: the issuer is the
package's `oidc_issuer` fixture, whose CA the stack's process is given (conftest.py).
"""

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from task_scheduler_emulator.gateway.oidc_issuer import OidcIssuer
from tests.local_stack.conftest import Inbox, RunningStack, at, fresh_second, registry_item
from tests.local_stack.test_end_to_end import execution_arn
from tests.local_stack.test_lifecycle import in_seconds, new_id

pytestmark = pytest.mark.local_stack

READ_SCOPE, WRITE_SCOPE = "tasks/read", "tasks/write"


@pytest.fixture(scope="module")
def jwt_authorized(stack: RunningStack, oidc_issuer: OidcIssuer) -> Iterator[OidcIssuer]:
    """The stack re-applied with JWT authorization and per-route scopes; restored afterwards."""
    scopes = json.dumps({"read": [READ_SCOPE], "write": [WRITE_SCOPE]})
    stack.terraform(
        "apply",
        "-auto-approve",
        "-var=authorization_type=JWT",
        f"-var=jwt_issuer={oidc_issuer.issuer_url}",
        f"-var=jwt_audience={json.dumps([oidc_issuer.audience])}",
        f"-var=jwt_scopes={scopes}",
    )
    try:
        time.sleep(1.5)  # the gateway re-reads routes and authorizers every second
        yield oidc_issuer
    finally:
        stack.terraform("apply", "-auto-approve")


def call(
    stack: RunningStack, method: str, path: str, body: Any = None, token: str | None = None
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{stack.url}{path}", data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def writer(issuer: OidcIssuer, **claims: Any) -> str:
    return issuer.mint(scope=f"{READ_SCOPE} {WRITE_SCOPE}", **claims)


def test_valid_token_schedules_and_reads(stack: RunningStack, jwt_authorized: OidcIssuer) -> None:
    token = writer(jwt_authorized)
    task = {"id": new_id("jwt"), "timestamp": in_seconds(300), "message": {"jwt": True}}

    created = call(stack, "POST", "/schedule", task, token)
    status = call(stack, "GET", f"/schedule/{task['id']}", token=token)
    cancelled = call(stack, "DELETE", f"/schedule/{task['id']}", token=token)

    assert created[0] == 201, created
    assert status[0] == 200
    assert status[1]["message"] == {"jwt": True}
    assert cancelled[0] == 200


def test_missing_expired_or_misdirected_tokens_get_401(
    stack: RunningStack, jwt_authorized: OidcIssuer
) -> None:
    task = {"timestamp": in_seconds(300), "message": "no"}
    refused = {
        "no token": None,
        "expired": writer(jwt_authorized, expires_in=-60),
        "wrong audience": writer(jwt_authorized, aud="someone-else"),
        "another issuer": writer(jwt_authorized, iss="https://127.0.0.1:1/elsewhere"),
        "unknown key": writer(jwt_authorized, kid="not-in-the-jwks"),
        "not a jwt": "not.a.jwt",
    }
    for case, token in refused.items():
        status, answer = call(stack, "POST", "/schedule", task, token)
        assert (case, status) == (case, 401), answer
        assert answer == {"message": "Unauthorized"}
    status, _ = call(stack, "GET", "/schedule", token=None)
    assert status == 401


def test_token_without_the_route_scope_gets_403(
    stack: RunningStack, jwt_authorized: OidcIssuer
) -> None:
    reader = jwt_authorized.mint(scope=READ_SCOPE)
    task = {"id": new_id("jwt-read"), "timestamp": in_seconds(300), "message": 1}

    assert call(stack, "POST", "/schedule", task, reader) == (403, {"message": "Forbidden"})
    assert call(stack, "GET", "/schedule?limit=1", token=reader)[0] == 200
    created = call(stack, "POST", "/schedule", task, writer(jwt_authorized))
    assert created[0] == 201
    assert call(stack, "PATCH", f"/schedule/{task['id']}", {"message": 2}, reader)[0] == 403
    assert call(stack, "DELETE", f"/schedule/{task['id']}", token=reader)[0] == 403
    assert call(stack, "GET", f"/schedule/{task['id']}", token=reader)[0] == 200
    writes_only = jwt_authorized.mint(scope=WRITE_SCOPE)
    assert call(stack, "GET", f"/schedule/{task['id']}", token=writes_only)[0] == 403
    assert call(stack, "DELETE", f"/schedule/{task['id']}", token=writes_only)[0] == 200


def log_messages(stack: RunningStack) -> list[str]:
    """Every event of every log group in the emulator."""
    logs = stack.client("logs")
    messages = []
    for group in logs.describe_log_groups()["logGroups"]:
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName=group["logGroupName"])
        messages += [event["message"] for page in pages for event in page["events"]]
    return messages


def test_no_token_reaches_the_execution_the_message_or_the_logs(
    stack: RunningStack,
    jwt_authorized: OidcIssuer,
    events: Inbox,
    worker_inbox: Inbox,
    run_log: Callable[[], str],
) -> None:
    secret = f"secret-{uuid.uuid4().hex}"  # a claim, so that it is part of the token's text
    token = writer(jwt_authorized, sub=secret, jti=secret)
    task_id, slot = new_id("jwt-secret"), fresh_second(2)
    task = {"id": task_id, "timestamp": at(slot, 100), "message": {"hello": "world"}}

    assert call(stack, "POST", "/schedule", task, token)[0] == 201
    assert call(stack, "GET", f"/schedule/{task_id}", token=token)[0] == 200
    events.wait_for(task_id)
    delivered = worker_inbox.wait_for(task_id).data
    time.sleep(2)  # the functions' logs land once their invocations end

    sfn = stack.client("stepfunctions")
    arn = execution_arn(stack, task_id)  # its slot's shard, which claimed it
    assert arn.endswith(f":slot-{slot}-0")
    described = sfn.describe_execution(executionArn=arn)
    history = sfn.get_execution_history(executionArn=arn)
    item = registry_item(stack, task_id)
    entries = stack.client("dynamodb").query(
        TableName=stack.outputs["dynamodb_slots_table_name"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"{slot}#0"}},
        ConsistentRead=True,
    )["Items"]
    places = {
        "execution input": described["input"],
        "execution history": json.dumps(history["events"], default=str),
        "registry item": json.dumps(item),
        "slot entries": json.dumps(entries),
        "SNS message (raw delivery)": json.dumps(delivered),
        "events feed": json.dumps(events.wait_for(task_id).data),
        "logs": "\n".join(log_messages(stack)),
        "make run's output": run_log(),
    }
    for place, text in places.items():
        for value in (token, secret, "Bearer"):
            assert value not in text, f"{value[:20]}... found in the {place}"
    # A shard's input names its slot, never a task, a message or a caller.
    execution_input = json.loads(described["input"])
    assert set(execution_input) == {"slot", "shard", "hop", "release_at"}
    assert (execution_input["slot"], execution_input["shard"]) == (slot, 0)
    assert json.loads(delivered["Body"]) == {"hello": "world"}
    assert set(delivered["MessageAttributes"]) == {"task_id", "scheduled_at", "message_encoding"}
