"""The local gateway serves the stored HTTP API routes through their Lambda integration."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from task_scheduler_emulator import Emulator, Gateway
from task_scheduler_emulator.gateway.http_api import (
    ROUTES_REFRESH_SECONDS,
    TokenBucket,
    throttle_limits,
)

HANDLER = {
    "api.py": """
import http.client
import json

def handler(event, context):
    if event.get("rawQueryString") == "explode":
        raise RuntimeError("explode")
    return {
        "statusCode": 202,
        "headers": {"content-type": "application/json", "x-route": event["routeKey"]},
        "cookies": ["a=1", "b=2"],
        "body": json.dumps({"event": event}),
    }
"""
}


@contextmanager
def served_api(emulator: Emulator, apis: Any, function_arn: str, **stage: Any) -> Iterator[Gateway]:
    """An HTTP API with `POST /schedule` on the function and a `$default` stage, served."""
    api = apis.create_api(Name="scheduler", ProtocolType="HTTP")
    integration = apis.create_integration(
        ApiId=api["ApiId"],
        IntegrationType="AWS_PROXY",
        IntegrationUri=f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{function_arn}/invocations",
        PayloadFormatVersion="2.0",
    )
    apis.create_route(
        ApiId=api["ApiId"],
        RouteKey="POST /schedule",
        Target=f"integrations/{integration['IntegrationId']}",
    )
    apis.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True, **stage)
    try:
        with Gateway(emulator.endpoint_url, api_id=api["ApiId"]) as running:
            yield running
    finally:
        apis.delete_api(ApiId=api["ApiId"])


@pytest.fixture
def gateway(
    emulator: Emulator, client: Callable[[str], Any], make_function: Callable[..., str]
) -> Iterator[Gateway]:
    function_arn = make_function(HANDLER, "api.handler")
    with served_api(emulator, client("apigatewayv2"), function_arn) as running:
        yield running


def request(
    url: str, method: str, body: bytes | None = None, **headers: str
) -> tuple[int, Any, Any]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers, method=method)) as r:
            return r.status, r.headers, json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def test_post_reaches_the_lambda_with_a_v2_event(gateway: Gateway) -> None:
    status, headers, body = request(
        f"{gateway.url}/schedule?a=1&a=2&b=x",
        "POST",
        b'{"message": "hi"}',
        **{"Content-Type": "application/json", "X-Custom": "yes", "Cookie": "c=3; d=4"},
    )

    assert status == 202
    assert headers["x-route"] == "POST /schedule"
    assert headers.get_all("set-cookie") == ["a=1", "b=2"]
    event = body["event"]
    assert (event["version"], event["routeKey"], event["rawPath"]) == (
        "2.0",
        "POST /schedule",
        "/schedule",
    )
    assert event["rawQueryString"] == "a=1&a=2&b=x"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x"}
    assert event["headers"]["x-custom"] == "yes"
    assert event["cookies"] == ["c=3", "d=4"]
    assert (event["body"], event["isBase64Encoded"]) == ('{"message": "hi"}', False)
    context = event["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["http"]["path"] == "/schedule"
    assert context["http"]["sourceIp"] == "127.0.0.1"
    assert context["stage"] == "$default"
    assert context["accountId"] == "123456789012"
    assert {"apiId", "domainName", "requestId", "time", "timeEpoch"} <= context.keys()


def test_binary_body_is_base64_encoded(gateway: Gateway) -> None:
    _, _, body = request(
        f"{gateway.url}/schedule",
        "POST",
        b"\xff\x00",
        **{"Content-Type": "application/octet-stream"},
    )

    assert body["event"]["isBase64Encoded"] is True
    assert body["event"]["body"] == "/wA="


def test_unknown_route_is_404_and_failing_lambda_is_500(gateway: Gateway) -> None:
    assert request(f"{gateway.url}/schedule", "GET")[::2] == (404, {"message": "Not Found"})
    assert request(f"{gateway.url}/other", "POST", b"{}")[::2] == (404, {"message": "Not Found"})
    assert request(f"{gateway.url}/schedule?explode", "POST", b"{}")[::2] == (
        500,
        {"message": "Internal Server Error"},
    )


def test_64_concurrent_clients_are_all_served_from_one_read_of_the_routes(
    gateway: Gateway,
) -> None:
    control_plane_calls: list[str] = []
    gateway._apis.meta.events.register(
        "before-call", lambda model, **_: control_plane_calls.append(model.name)
    )
    clients = 64
    start = threading.Barrier(clients)

    def post(index: int) -> int:
        start.wait()
        return request(f"{gateway.url}/schedule", "POST", json.dumps({"n": index}).encode())[0]

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        statuses = list(pool.map(post, range(clients)))  # a reset connection raises here
    reads_allowed = (time.monotonic() - started) // ROUTES_REFRESH_SECONDS + 1

    assert statuses == [202] * clients
    # APIs, stages, routes and integrations are read once per refresh, not once per request.
    assert control_plane_calls.count("GetApis") <= reads_allowed < clients
    assert len(control_plane_calls) <= 4 * reads_allowed


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])

    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back at 2 per second
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 60  # refills to the burst, no further
    assert sum(bucket.take() for _ in range(10)) == 3


def test_route_settings_override_the_stage_default_within_the_account_quota() -> None:
    stage = {
        "DefaultRouteSettings": {"ThrottlingRateLimit": 50.0, "ThrottlingBurstLimit": 100},
        "RouteSettings": {"POST /schedule": {"ThrottlingBurstLimit": 7}},
    }

    assert throttle_limits(stage, "POST /schedule") == (50.0, 7)
    assert throttle_limits(stage, "GET /other") == (50.0, 100)
    assert throttle_limits({}, "GET /other") == (10_000.0, 5_000)
    too_high = {"DefaultRouteSettings": {"ThrottlingRateLimit": 1e6, "ThrottlingBurstLimit": 10**6}}
    assert throttle_limits(too_high, "GET /other") == (10_000.0, 5_000)


def test_a_throttled_stage_answers_429(
    emulator: Emulator, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    function_arn = make_function(HANDLER, "api.handler")
    limits = {"ThrottlingBurstLimit": 2, "ThrottlingRateLimit": 0.01}
    with served_api(
        emulator, client("apigatewayv2"), function_arn, DefaultRouteSettings=limits
    ) as throttled:
        answers = [request(f"{throttled.url}/schedule", "POST", b"{}") for _ in range(3)]

    assert [status for status, _, _ in answers] == [202, 202, 429]
    assert answers[2][2] == {"message": "Too Many Requests"}


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "BREW"])
def test_a_method_no_route_can_name_is_a_json_404(gateway: Gateway, method: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        # On the routed path too: no route key names these methods (http.server: 501 HTML).
        for path in ("/schedule", "/nowhere"):
            connection.request(method, path, body=b"{}")
            response = connection.getresponse()
            assert response.status == 404
            assert response.getheader("content-type") == "application/json"
            assert json.loads(response.read()) == {"message": "Not Found"}
        # The connection stays usable, as after any other answer.
        connection.request("POST", "/schedule", body=b"{}")
        assert connection.getresponse().status == 202
    finally:
        connection.close()


def test_head_and_options_without_a_route_are_404_like_get(gateway: Gateway) -> None:
    for method in ("GET", "HEAD", "OPTIONS"):
        connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
        try:
            connection.request(method, "/schedule")
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == 404, method
        assert response.getheader("content-type") == "application/json"
        assert body == (b"" if method == "HEAD" else b'{"message": "Not Found"}'), method
