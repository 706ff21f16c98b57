"""The local gateway's AWS_IAM routes: SigV4 against the emulator's IAM users, then
execute-api:Invoke against their policies, with API Gateway's 403 answers."""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from task_scheduler_emulator import Emulator, Gateway
from task_scheduler_emulator.gateway.iam import SIGNATURE_MISMATCH, canonical_query

REGION = "us-east-1"
ACCOUNT = "123456789012"
ECHO = """
import json

def handler(event, context):
    return {"statusCode": 202, "body": json.dumps(event)}
"""
ROUTES = {
    "POST /schedule": "AWS_IAM",
    "GET /schedule": "AWS_IAM",
    "GET /schedule/{id}": "AWS_IAM",
    "PATCH /schedule/{id}": "AWS_IAM",
    "DELETE /schedule/{id}": "AWS_IAM",
    "GET /open": "NONE",
    "GET /jwt": "JWT",
}


@dataclass(frozen=True)
class Key:
    user_arn: str
    access_key: str
    secret: str


@dataclass(frozen=True)
class Stack:
    gateway: Gateway
    api_id: str
    keys: dict[str, Key]

    @property
    def arn(self) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{self.api_id}"


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("echo.py", source)
    return buffer.getvalue()


def _user(iam: Any, name: str) -> Key:
    user = iam.create_user(UserName=name)["User"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Key(user["Arn"], key["AccessKeyId"], key["SecretAccessKey"])


def _allow(*resources: str, effect: str = "Allow", **extra: Any) -> str:
    statement = {"Effect": effect, "Action": "execute-api:Invoke", "Resource": list(resources)}
    return json.dumps({"Version": "2012-10-17", "Statement": [{**statement, **extra}]})


@pytest.fixture(scope="module")
def stack(emulator: Emulator, client: Callable[[str], Any], role_arn: str) -> Iterator[Stack]:
    suffix = uuid.uuid4().hex[:8]
    function_arn = client("lambda").create_function(
        FunctionName=f"iam-echo-{suffix}",
        Runtime="python3.13",
        Role=role_arn,
        Handler="echo.handler",
        Code={"ZipFile": _zip(ECHO)},
    )["FunctionArn"]
    apis = client("apigatewayv2")
    api_id = apis.create_api(Name=f"iam-{suffix}", ProtocolType="HTTP")["ApiId"]
    integration = apis.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=function_arn,
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    for route_key, authorization in ROUTES.items():
        apis.create_route(
            ApiId=api_id,
            RouteKey=route_key,
            AuthorizationType=authorization,
            Target=f"integrations/{integration}",
        )
    apis.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)

    iam = client("iam")
    base = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}"
    keys = {name: _user(iam, f"{name}-{suffix}") for name in ("caller", "none", "reader")}
    keys |= {name: _user(iam, f"{name}-{suffix}") for name in ("grouped", "exact", "inactive")}
    # caller: a managed policy on the five routes (like the module's invoke_policy_json)
    policy = iam.create_policy(
        PolicyName=f"invoke-{suffix}",
        PolicyDocument=_allow(
            f"{base}/*/POST/schedule", f"{base}/*/GET/schedule", f"{base}/*/*/schedule/*"
        ),
    )["Policy"]["Arn"]
    iam.attach_user_policy(UserName=f"caller-{suffix}", PolicyArn=policy)
    # reader: an inline policy on the two GET routes only
    iam.put_user_policy(
        UserName=f"reader-{suffix}",
        PolicyName="read",
        PolicyDocument=_allow(f"{base}/*/GET/schedule", f"{base}/*/GET/schedule/*"),
    )
    # grouped: everything through its group, but an explicit Deny of DELETE on itself
    iam.create_group(GroupName=f"group-{suffix}")
    iam.put_group_policy(
        GroupName=f"group-{suffix}", PolicyName="all", PolicyDocument=_allow(f"{base}/*")
    )
    iam.add_user_to_group(GroupName=f"group-{suffix}", UserName=f"grouped-{suffix}")
    iam.put_user_policy(
        UserName=f"grouped-{suffix}",
        PolicyName="no-delete",
        PolicyDocument=_allow(f"{base}/*/DELETE/*", effect="Deny"),
    )
    # exact: names the $default stage literally (moto's own matcher never matches "$")
    iam.put_user_policy(
        UserName=f"exact-{suffix}",
        PolicyName="exact",
        PolicyDocument=_allow(f"{base}/$default/GET/schedule"),
    )
    iam.attach_user_policy(UserName=f"inactive-{suffix}", PolicyArn=policy)
    iam.update_access_key(
        UserName=f"inactive-{suffix}", AccessKeyId=keys["inactive"].access_key, Status="Inactive"
    )
    try:
        with Gateway(emulator.endpoint_url, region=REGION, api_id=api_id) as gateway:
            yield Stack(gateway, api_id, keys)
    finally:
        apis.delete_api(ApiId=api_id)


def send(
    stack: Stack,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    key: Key | None = None,
    secret: str | None = None,
    params: dict[str, str] | None = None,
    tamper: Callable[[AWSRequest], None] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """Send a request, SigV4-signed with botocore (as a client would) when ``key`` is given."""
    headers = {"content-type": "application/json"} if body else {}
    request = AWSRequest(
        method=method, url=stack.gateway.url + path, data=body, headers=headers, params=params
    )
    if key is not None:
        credentials = Credentials(key.access_key, secret or key.secret)
        SigV4Auth(credentials, "execute-api", REGION).add_auth(request)
    if tamper is not None:
        tamper(request)
    prepared = request.prepare()
    outgoing = urllib.request.Request(
        prepared.url, prepared.body or None, dict(prepared.headers), method=method
    )
    try:
        with urllib.request.urlopen(outgoing) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_signed_request_from_an_allowed_user_reaches_the_function(stack: Stack) -> None:
    caller = stack.keys["caller"]

    status, _, event = send(stack, "POST", "/schedule", b'{"a": 1}', key=caller)

    assert status == 202
    assert json.loads(event["body"]) == {"a": 1}
    assert event["requestContext"]["authorizer"]["iam"] == {
        "accessKey": caller.access_key,
        "accountId": ACCOUNT,
        "callerId": event["requestContext"]["authorizer"]["iam"]["userId"],
        "cognitoIdentity": None,
        "principalOrgId": None,
        "userArn": caller.user_arn,
        "userId": event["requestContext"]["authorizer"]["iam"]["userId"],
    }


def test_unsigned_request_is_forbidden(stack: Stack) -> None:
    status, headers, body = send(stack, "POST", "/schedule", b"{}")

    assert (status, body) == (403, {"message": "Forbidden"})
    assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"


def test_wrong_secret_is_a_signature_mismatch(stack: Stack) -> None:
    status, headers, body = send(
        stack, "POST", "/schedule", b"{}", key=stack.keys["caller"], secret="wrong" * 8
    )

    assert (status, body) == (403, {"message": SIGNATURE_MISMATCH})
    assert headers["x-amzn-errortype"] == "InvalidSignatureException"


@pytest.mark.parametrize("which", ["unknown", "inactive"])
def test_unknown_or_inactive_key_is_an_invalid_token(stack: Stack, which: str) -> None:
    key = stack.keys["inactive"]
    if which == "unknown":
        key = Key(key.user_arn, "AKIA" + "X" * 16, key.secret)

    status, _, body = send(stack, "POST", "/schedule", b"{}", key=key)

    assert (status, body) == (
        403,
        {"message": "The security token included in the request is invalid."},
    )


def test_user_without_a_policy_is_not_authorized(stack: Stack) -> None:
    key = stack.keys["none"]

    status, headers, body = send(stack, "POST", "/schedule", b"{}", key=key)

    route = f"arn:aws:execute-api:{REGION}:********9012:{stack.api_id}/$default/POST/schedule"
    assert status == 403
    assert body == {
        "message": f"User: {key.user_arn} is not authorized to perform: execute-api:Invoke on "
        f"resource: {route} because no identity-based policy allows the execute-api:Invoke action"
    }
    assert headers["x-amzn-errortype"] == "AccessDeniedException"


def test_policy_for_other_routes_does_not_authorize_this_one(stack: Stack) -> None:
    reader = stack.keys["reader"]

    posted = send(stack, "POST", "/schedule", b"{}", key=reader)
    listed = send(stack, "GET", "/schedule?status=scheduled&limit=2", key=reader)
    read = send(stack, "GET", "/schedule/task-1", key=reader)

    assert posted[0] == 403
    assert "is not authorized to perform: execute-api:Invoke" in posted[2]["message"]
    assert (listed[0], read[0]) == (202, 202)


def test_query_strings_and_bodies_are_verified(stack: Stack) -> None:
    caller = stack.keys["caller"]
    token = "eyJpZCI6ICJ4In0="  # base64 with padding: "=" must be percent-encoded to sign

    patched = send(stack, "PATCH", "/schedule/task-1", b'{"message": "new"}', key=caller)
    deleted = send(stack, "DELETE", "/schedule/task-1", key=caller)
    listed = send(
        stack,
        "GET",
        "/schedule",
        key=caller,
        params={"status": "scheduled", "limit": "2", "next": token},
    )
    in_url = send(stack, "GET", "/schedule?limit=2&status=scheduled", key=caller)

    assert [r[0] for r in (patched, deleted, listed, in_url)] == [202, 202, 202, 202]
    assert json.loads(patched[2]["body"]) == {"message": "new"}
    assert patched[2]["pathParameters"] == {"id": "task-1"}
    assert listed[2]["queryStringParameters"] == {
        "status": "scheduled",
        "limit": "2",
        "next": token,
    }


def test_a_request_altered_after_signing_is_refused(stack: Stack) -> None:
    caller = stack.keys["caller"]

    def other_body(request: AWSRequest) -> None:
        request.data = b'{"a": 2}'

    def other_query(request: AWSRequest) -> None:
        request.url = request.url.replace("limit=2", "limit=3")

    body = send(stack, "POST", "/schedule", b'{"a": 1}', key=caller, tamper=other_body)
    query = send(stack, "GET", "/schedule?limit=2", key=caller, tamper=other_query)

    assert body[:1] + query[:1] == (403, 403)
    assert body[2] == query[2] == {"message": SIGNATURE_MISMATCH}


@pytest.mark.parametrize("offset", [-301, 301])
def test_clock_skew_beyond_five_minutes_is_refused(stack: Stack, offset: int) -> None:
    authorizer = stack.gateway._iam
    authorizer._clock = lambda: time.time() - offset  # the request looks that far off
    try:
        status, headers, body = send(stack, "POST", "/schedule", b"{}", key=stack.keys["caller"])
        again = send(stack, "POST", "/schedule", b"{}", key=stack.keys["caller"])
    finally:
        authorizer._clock = time.time

    assert status == 403
    assert headers["x-amzn-errortype"] == "InvalidSignatureException"
    expected = "Signature not yet current:" if offset > 0 else "Signature expired:"
    assert body["message"].startswith(expected), body
    assert body["message"].endswith("+ 5 min.)" if offset > 0 else "- 5 min.)")
    assert again[0] == 403  # still skewed: no cached pass
    assert send(stack, "POST", "/schedule", b"{}", key=stack.keys["caller"])[0] == 202


def test_group_policies_apply_and_an_explicit_deny_wins(stack: Stack) -> None:
    grouped = stack.keys["grouped"]

    read = send(stack, "GET", "/schedule/task-1", key=grouped)
    deleted = send(stack, "DELETE", "/schedule/task-1", key=grouped)

    assert read[0] == 202
    assert deleted[0] == 403
    assert deleted[2]["message"].endswith("with an explicit deny in an identity-based policy")


def test_a_policy_naming_the_default_stage_matches_it_literally(stack: Stack) -> None:
    exact = stack.keys["exact"]

    assert send(stack, "GET", "/schedule", key=exact)[0] == 202
    assert send(stack, "GET", "/schedule/task-1", key=exact)[0] == 403


def test_none_routes_stay_open(stack: Stack) -> None:
    status, _, event = send(stack, "GET", "/open")

    assert status == 202
    assert "authorizer" not in event["requestContext"]


def test_routes_with_authorizers_the_gateway_cannot_run_stay_closed(stack: Stack) -> None:
    assert send(stack, "GET", "/jwt")[::2] == (401, {"message": "Unauthorized"})
    assert send(stack, "GET", "/jwt", key=stack.keys["caller"])[0] == 401


def test_canonical_query_encodes_names_and_values_and_sorts() -> None:
    assert canonical_query("b=2&a=x%20y&c=d==&e") == "a=x%20y&b=2&c=d%3D%3D&e="
