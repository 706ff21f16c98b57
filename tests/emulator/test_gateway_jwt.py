"""The local gateway's JWT routes: tokens from the local OIDC issuer, checked as API Gateway
checks them (signature against the issuer's key set, exp/nbf/iat, iss, aud or client_id, the
route's scopes), with API Gateway's 401 and 403 answers."""

from __future__ import annotations

import base64
import io
import json
import threading
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from task_scheduler_emulator import Emulator, Gateway
from task_scheduler_emulator.gateway.jwt import (
    TRUSTED_CA_ENV,
    JwtAuthorizer,
    JwtDenied,
    claim_value,
    token_scopes,
)
from task_scheduler_emulator.gateway.oidc_issuer import OidcIssuer, local_oidc_issuer, new_rsa_key

ECHO = """
import json

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps(event)}
"""
READ, WRITE = "tasks/read", "tasks/write"
OTHER_CLIENT = "other-client"


@dataclass(frozen=True)
class Stack:
    gateway: Gateway
    issuer: OidcIssuer
    api_id: str

    def send(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        prefix: str = "Bearer ",
        gateway: Gateway | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        headers = {} if token is None else {"Authorization": prefix + token}
        url = (gateway or self.gateway).url + path
        request = urllib.request.Request(url, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read())


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("echo.py", source)
    return buffer.getvalue()


def _authorizer(apis: Any, api_id: str, issuer: str, source: str) -> str:
    created = apis.create_authorizer(
        ApiId=api_id,
        Name=f"jwt-{uuid.uuid4().hex[:6]}",
        AuthorizerType="JWT",
        IdentitySource=[source],
        JwtConfiguration={"Issuer": issuer, "Audience": ["task-scheduler", OTHER_CLIENT]},
    )
    return str(created["AuthorizerId"])


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with local_oidc_issuer(path="us-east-1_local") as running:
        yield running


@pytest.fixture(scope="module")
def stack(
    emulator: Emulator, client: Callable[[str], Any], role_arn: str, issuer: OidcIssuer
) -> Iterator[Stack]:
    suffix = uuid.uuid4().hex[:8]
    function_arn = client("lambda").create_function(
        FunctionName=f"jwt-echo-{suffix}",
        Runtime="python3.13",
        Role=role_arn,
        Handler="echo.handler",
        Code={"ZipFile": _zip(ECHO)},
    )["FunctionArn"]
    apis = client("apigatewayv2")
    api_id = apis.create_api(Name=f"jwt-{suffix}", ProtocolType="HTTP")["ApiId"]
    integration = apis.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=function_arn,
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    header = _authorizer(apis, api_id, issuer.issuer_url, "$request.header.Authorization")
    query = _authorizer(apis, api_id, issuer.issuer_url, "$request.querystring.token")
    plain_http = issuer.issuer_url.replace("https:", "http:")
    plain = _authorizer(apis, api_id, plain_http, "$request.header.Authorization")
    routes: dict[str, tuple[str, str | None, list[str]]] = {
        "POST /schedule": ("JWT", header, [WRITE]),
        "GET /schedule": ("JWT", header, [READ, "tasks/admin"]),
        "GET /schedule/{id}": ("JWT", header, []),
        "GET /by-query": ("JWT", query, []),
        "GET /plain-http": ("JWT", plain, []),
        "GET /no-authorizer": ("JWT", None, []),
        "GET /open": ("NONE", None, []),
        "GET /iam": ("AWS_IAM", None, []),
    }
    for route_key, (authorization, authorizer_id, scopes) in routes.items():
        options: dict[str, Any] = {"AuthorizerId": authorizer_id} if authorizer_id else {}
        if scopes:
            options["AuthorizationScopes"] = scopes
        apis.create_route(
            ApiId=api_id,
            RouteKey=route_key,
            AuthorizationType=authorization,
            Target=f"integrations/{integration}",
            **options,
        )
    apis.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    try:
        with Gateway(
            emulator.endpoint_url, api_id=api_id, trusted_ca_files=[issuer.ca_file]
        ) as gateway:
            yield Stack(gateway, issuer, api_id)
    finally:
        apis.delete_api(ApiId=api_id)


def _unauthorized(answer: tuple[int, dict[str, str], Any], description: str | None = None) -> None:
    status, headers, body = answer
    assert (status, body) == (401, {"message": "Unauthorized"}), answer
    assert headers["www-authenticate"].startswith("Bearer scope="), headers
    assert 'error="invalid_token"' in headers["www-authenticate"]
    if description is not None:
        assert f'error_description="{description}"' in headers["www-authenticate"], headers


# Valid tokens ---------------------------------------------------------------------------------


def test_a_valid_token_reaches_the_function_with_its_claims(stack: Stack) -> None:
    token = stack.issuer.mint(
        sub="alice",
        groups=["admin", "ops"],
        email_verified=True,
        address={"country": "CH"},
        nickname=None,
    )

    status, _, event = stack.send("GET", "/schedule/task-1", token)

    assert status == 200
    jwt_context = event["requestContext"]["authorizer"]["jwt"]
    claims = jwt_context["claims"]
    decoded = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == "alice"
    assert claims["iss"] == stack.issuer.issuer_url
    assert claims["aud"] == "task-scheduler"
    assert claims["exp"] == str(decoded["exp"])  # payload format 2.0 renders claims as strings
    assert claims["groups"] == "[admin ops]"
    assert claims["email_verified"] == "true"
    assert claims["address"] == '{"country":"CH"}'
    assert "nickname" not in claims
    assert jwt_context["scopes"] is None  # the route requires no scopes
    assert event["pathParameters"] == {"id": "task-1"}


def test_the_token_may_come_without_the_bearer_prefix(stack: Stack) -> None:
    token = stack.issuer.mint()

    assert stack.send("GET", "/schedule/x", token, prefix="")[0] == 200
    _unauthorized(stack.send("GET", "/schedule/x", token, prefix="Token "))


def test_a_querystring_identity_source_is_read(stack: Stack) -> None:
    token = stack.issuer.mint(sub="bob")

    status, _, event = stack.send("GET", f"/by-query?token={token}")

    assert status == 200
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "bob"
    _unauthorized(stack.send("GET", "/by-query", token))  # the header is not its source


def test_client_id_counts_only_without_aud(stack: Stack) -> None:
    by_client_id = stack.issuer.mint(aud=None, client_id=OTHER_CLIENT)
    aud_wins = stack.issuer.mint(aud="someone-else", client_id=OTHER_CLIENT)
    one_of_many = stack.issuer.mint(aud=["someone-else", OTHER_CLIENT])

    assert stack.send("GET", "/schedule/x", by_client_id)[0] == 200
    _unauthorized(stack.send("GET", "/schedule/x", aud_wins))
    assert stack.send("GET", "/schedule/x", one_of_many)[0] == 200


# Refused tokens: 401 --------------------------------------------------------------------------


def test_a_missing_token_is_unauthorized(stack: Stack) -> None:
    _unauthorized(stack.send("POST", "/schedule"), "the identity source carries no token")
    _unauthorized(stack.send("POST", "/schedule", ""))  # "Bearer " and nothing


def _b64(document: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9..", "x" * 5000, "a.b.c.d.e",
     f"{_b64({'alg': ['RS256'], 'kid': 'k'})}.{_b64({})}.c2ln",
     f"{_b64([1])}.{_b64({})}.c2ln", f"{_b64({'alg': 'RS256'})}.{_b64('claims')}.c2ln"],
)  # fmt: skip
def test_a_malformed_token_is_unauthorized(stack: Stack, token: str) -> None:
    _unauthorized(stack.send("GET", "/schedule/x", token))


def test_a_token_with_padding_or_crit_is_unauthorized(stack: Stack) -> None:
    header, payload, signature = stack.issuer.mint().split(".")
    crit = jwt.encode(
        {"iss": stack.issuer.issuer_url},
        new_rsa_key(),
        algorithm="RS256",
        headers={"kid": stack.issuer.kid, "crit": ["exp"], "exp": 1},
    )

    padded = f"{header}{'=' * (-len(header) % 4) or '===='}.{payload}.{signature}"
    _unauthorized(stack.send("GET", "/schedule/x", padded), "the token is not a valid JWT")
    _unauthorized(stack.send("GET", "/schedule/x", crit), "the token is not a valid JWT")


def test_a_bad_signature_is_unauthorized(stack: Stack) -> None:
    forged = stack.issuer.mint(key=new_rsa_key())  # the issuer's kid, a stranger's key
    header, _, signature = stack.issuer.mint(sub="alice").split(".")
    payload = stack.issuer.mint(sub="mallory").split(".")[1]
    spliced = f"{header}.{payload}.{signature}"

    _unauthorized(stack.send("GET", "/schedule/x", forged), "the token's signature is invalid")
    _unauthorized(stack.send("GET", "/schedule/x", spliced), "the token's signature is invalid")


def test_an_unknown_kid_or_no_kid_is_unauthorized(stack: Stack) -> None:
    unknown = stack.issuer.mint(kid="no-such-key")
    no_kid = jwt.encode({"iss": stack.issuer.issuer_url}, new_rsa_key(), algorithm="RS256")

    _unauthorized(
        stack.send("GET", "/schedule/x", unknown), "the token's kid is not in the issuer's key set"
    )
    _unauthorized(stack.send("GET", "/schedule/x", no_kid), "the token has no kid")


@pytest.mark.parametrize(
    ("algorithm", "key"),
    [("HS256", b"a-shared-secret-of-32-bytes-long!"), ("ES256", "ec"), ("PS256", "rsa"),
     ("none", None)],
)  # fmt: skip
def test_only_rsa_pkcs1_algorithms_are_accepted(stack: Stack, algorithm: str, key: Any) -> None:
    signing_key = {"ec": ec.generate_private_key(ec.SECP256R1()), "rsa": new_rsa_key()}.get(
        key, key
    )
    token = stack.issuer.mint(algorithm=algorithm, key=signing_key)

    _unauthorized(stack.send("GET", "/schedule/x", token))


def test_an_expired_token_is_unauthorized(stack: Stack) -> None:
    expired = stack.issuer.mint(expires_in=-1)
    no_exp = stack.issuer.mint(expires_in=None)
    text_exp = stack.issuer.mint(expires_in=None, exp="9999999999")

    _unauthorized(stack.send("GET", "/schedule/x", expired), "the token has expired")
    _unauthorized(stack.send("GET", "/schedule/x", no_exp), "the token has expired")
    _unauthorized(stack.send("GET", "/schedule/x", text_exp))


def test_a_token_not_yet_valid_is_unauthorized(stack: Stack) -> None:
    not_before = stack.issuer.mint(not_before_in=120)
    issued_later = stack.issuer.mint(issued_in=120)
    valid_now = stack.issuer.mint(not_before_in=0, issued_in=0)

    _unauthorized(stack.send("GET", "/schedule/x", not_before), "the token is not valid yet")
    _unauthorized(stack.send("GET", "/schedule/x", issued_later))
    assert stack.send("GET", "/schedule/x", valid_now)[0] == 200


def test_a_wrong_issuer_is_unauthorized(stack: Stack) -> None:
    other = stack.issuer.mint(iss="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other")
    trailing_slash = stack.issuer.mint(iss=stack.issuer.issuer_url + "/")

    _unauthorized(stack.send("GET", "/schedule/x", other), "the token does not have a valid issuer")
    _unauthorized(stack.send("GET", "/schedule/x", trailing_slash))


def test_a_wrong_audience_is_unauthorized(stack: Stack) -> None:
    wrong = stack.issuer.mint(aud="someone-else")
    none = stack.issuer.mint(aud=None)

    # the one description AWS documents
    _unauthorized(
        stack.send("GET", "/schedule/x", wrong), "the token does not have a valid audience"
    )
    _unauthorized(stack.send("GET", "/schedule/x", none))


def test_a_route_without_a_usable_authorizer_stays_closed(stack: Stack) -> None:
    token = stack.issuer.mint()

    _unauthorized(stack.send("GET", "/no-authorizer", token))
    _unauthorized(stack.send("GET", "/plain-http", token))  # the issuer's keys only over https


# Scopes: 403 ------------------------------------------------------------------------------------


def test_a_valid_token_without_a_required_scope_is_forbidden(stack: Stack) -> None:
    reader = stack.issuer.mint(scope=READ)
    unscoped = stack.issuer.mint()

    for token in (reader, unscoped):
        status, headers, body = stack.send("POST", "/schedule", token)
        assert (status, body) == (403, {"message": "Forbidden"})
        assert headers["www-authenticate"].startswith(f'Bearer scope="{WRITE}"')
        assert 'error="insufficient_scope"' in headers["www-authenticate"]


def test_one_of_the_route_scopes_is_enough_and_all_token_scopes_reach_the_function(
    stack: Stack,
) -> None:
    token = stack.issuer.mint(scope=f"openid {READ} profile")

    status, _, event = stack.send("GET", "/schedule", token)

    assert status == 200
    assert event["requestContext"]["authorizer"]["jwt"]["scopes"] == ["openid", READ, "profile"]
    assert (
        event["requestContext"]["authorizer"]["jwt"]["claims"]["scope"] == f"openid {READ} profile"
    )


def test_scp_as_a_list_or_a_string_is_read(stack: Stack) -> None:
    as_list = stack.issuer.mint(scp=["tasks/admin"])
    as_string = stack.issuer.mint(scp=f"x {WRITE}")

    status, _, event = stack.send("GET", "/schedule", as_list)
    assert status == 200
    assert event["requestContext"]["authorizer"]["jwt"]["scopes"] == ["tasks/admin"]
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["scp"] == "[tasks/admin]"
    assert stack.send("POST", "/schedule", as_string)[0] == 200


def test_scope_is_read_before_scp(stack: Stack) -> None:
    token = stack.issuer.mint(scope="openid", scp=[WRITE])

    assert stack.send("POST", "/schedule", token)[0] == 403


def test_an_invalid_token_is_401_even_on_a_scoped_route(stack: Stack) -> None:
    _unauthorized(stack.send("POST", "/schedule", stack.issuer.mint(scope=WRITE, expires_in=-5)))


# Other routes unchanged -------------------------------------------------------------------------


def test_none_and_iam_routes_are_unchanged(stack: Stack) -> None:
    token = stack.issuer.mint()

    status, _, event = stack.send("GET", "/open", token)
    assert status == 200
    assert "authorizer" not in event["requestContext"]
    assert stack.send("GET", "/iam", token)[::2] == (403, {"message": "Forbidden"})


# Key set: fetched once, cached, trusted only by the gateway -------------------------------------


def test_the_key_set_is_fetched_once_and_reused(stack: Stack, emulator: Emulator) -> None:
    issuer = stack.issuer
    with Gateway(
        emulator.endpoint_url, api_id=stack.api_id, trusted_ca_files=[issuer.ca_file]
    ) as fresh:
        before = issuer.jwks_requests
        clients = 16
        start = threading.Barrier(clients)

        def call(index: int) -> int:
            start.wait()
            return stack.send("GET", f"/schedule/{index}", issuer.mint(), gateway=fresh)[0]

        with ThreadPoolExecutor(clients) as pool:
            statuses = list(pool.map(call, range(clients)))
        statuses += [stack.send("GET", "/schedule/again", issuer.mint(), gateway=fresh)[0]]

        assert statuses == [200] * (clients + 1)
        assert issuer.jwks_requests - before == 1
        assert fresh._jwt.fetches == 1


def test_a_key_published_after_the_fetch_waits_for_the_cache() -> None:
    with local_oidc_issuer() as issuer:
        first = issuer.mint()
        authorizer = {
            "AuthorizerType": "JWT",
            "IdentitySource": ["$request.header.Authorization"],
            "JwtConfiguration": {"Issuer": issuer.issuer_url, "Audience": [issuer.audience]},
        }
        now = [0.0]
        checker = JwtAuthorizer(trusted_ca_files=[issuer.ca_file], monotonic=lambda: now[0])

        class Headers(dict[str, str]):
            def get_all(self, name: str) -> list[str] | None:
                value = self.get(name.lower())
                return None if value is None else [value]

        def check(token: str) -> Any:
            return checker.authorize(authorizer, [], Headers(authorization=f"Bearer {token}"), "")

        assert isinstance(check(first), dict)
        issuer.rotate()
        rotated = issuer.mint()
        assert getattr(check(rotated), "status", None) == 401  # unknown kid: no re-fetch
        now[0] += 2 * 60 * 60  # the two hours API Gateway may keep the keys
        assert isinstance(check(rotated), dict)
        assert isinstance(check(first), dict)  # the old key is still published
        assert checker.fetches == 2


def test_the_issuer_ca_is_trusted_by_the_gateway_only(
    stack: Stack, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = stack.issuer
    monkeypatch.delenv(TRUSTED_CA_ENV, raising=False)
    with Gateway(emulator.endpoint_url, api_id=stack.api_id) as untrusting:
        status, headers, _ = stack.send("GET", "/schedule/x", issuer.mint(), gateway=untrusting)
    assert status == 401
    assert "CERTIFICATE_VERIFY_FAILED" in headers["www-authenticate"]

    monkeypatch.setenv(TRUSTED_CA_ENV, str(issuer.ca_file))
    with Gateway(emulator.endpoint_url, api_id=stack.api_id) as trusting:
        assert stack.send("GET", "/schedule/x", issuer.mint(), gateway=trusting)[0] == 200

    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(issuer.issuer_url + "/.well-known/openid-configuration")


# Pure helpers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rendered"),
    [("text", "text"), (42, "42"), (1.5, "1.5"), (True, "true"), (False, "false"),
     (["a", "b", 3], "[a b 3]"), ({"k": [1, 2]}, '{"k":[1,2]}'), ([], "[]")],
)  # fmt: skip
def test_claim_values_render_as_payload_format_2_0_does(value: Any, rendered: str) -> None:
    assert claim_value(value) == rendered


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [({"scope": "a  b"}, ["a", "b"]), ({"scp": ["a", 1, "b"]}, ["a", "b"]),
     ({"scp": "a b"}, ["a", "b"]), ({"scope": "", "scp": ["a"]}, []), ({}, []),
     ({"scope": 7}, [])],
)  # fmt: skip
def test_token_scopes(claims: dict[str, Any], scopes: list[str]) -> None:
    assert token_scopes(claims) == scopes


def test_the_challenge_header_cannot_be_split_or_unquoted() -> None:
    _, headers, body = JwtDenied(401, 'bad "issuer"\r\nx-injected: 1', ('a"b',)).response()

    assert headers["www-authenticate"] == (
        'Bearer scope="a\'b" error="invalid_token" '
        "error_description=\"bad 'issuer'  x-injected: 1\""
    )
    assert json.loads(body) == {"message": "Unauthorized"}
