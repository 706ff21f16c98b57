"""Serve the HTTP APIs (apigatewayv2) that moto only stores.

Every request is matched against the stored routes of the HTTP APIs (``METHOD /path`` with
``{param}``/``{proxy+}``, ``ANY``, ``$default``; a leading named-stage segment is stripped),
turned into an API Gateway payload-format-2.0 event, passed to the route's AWS_PROXY Lambda
integration through the emulator's ``lambda:Invoke`` and the Lambda proxy response converted
back to HTTP. No route -> 404 ``{"message":"Not Found"}``; a failed function -> 500
``{"message":"Internal Server Error"}``, as on API Gateway. Binds 127.0.0.1 only.
Each request is served on its own thread with a deep accept backlog, and the stored APIs,
stages, routes and integrations are re-read at most once a second, not per request.
Throttling is enforced per route and stage as API Gateway does, with a token bucket per route
(its route settings, else the stage's default route settings, else the account quota):
past it, 429 ``{"message":"Too Many Requests"}``. AWS applies throttles "on a best-effort
basis"; the emulator applies them exactly, never more leniently.
Routes with ``AuthorizationType`` ``AWS_IAM`` require a SigV4 signature of an IAM user of the
emulator allowed ``execute-api:Invoke`` on the route, as API Gateway does (see
:mod:`.iam`); the caller reaches the function as ``requestContext.authorizer.iam``.
``JWT`` routes run their authorizer (issuer, audience, identity source, read with
``GetAuthorizer``) and the route's authorization scopes as API Gateway does (see
:mod:`.jwt`): 401 ``{"message":"Unauthorized"}`` for a missing or invalid token, 403
``{"message":"Forbidden"}`` for a valid one without a required scope; the verified token reaches
the function as ``requestContext.authorizer.jwt``. Issuers' keys are fetched over HTTPS,
trusting the system's CAs plus ``trusted_ca_files`` (default: the files named by
``$TASK_SCHEDULER_EMULATOR_TRUSTED_CA``), and kept two hours.
A route is "an HTTP method and a resource path", or ``ANY`` "to match all methods that you
haven't defined" (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-routes.html);
the methods are GET, POST, PUT, PATCH, DELETE, HEAD and OPTIONS (``HttpMethod``,
https://docs.aws.amazon.com/cdk/api/v2/docs/aws-cdk-lib.aws_apigatewayv2.HttpMethod.html).
Any other method (TRACE, CONNECT, any token) matches no route: 404 ``{"message":"Not Found"}``,
not http.server's 501 HTML page. ``ANY`` and ``$default`` are not taken to cover such methods:
AWS documents no integration receiving one, so the stricter reading.
``NONE`` routes are open. Lambda (``CUSTOM``) authorizers are not emulated: their routes answer
401 ``{"message":"Unauthorized"}`` to every request (closed, never kinder).
Not emulated either: CORS, payload format 1.0, non-Lambda integrations.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
from botocore.config import Config

from .iam import IamAuthorizer
from .jwt import TRUSTED_CA_ENV, JwtAuthorizer

_FUNCTION_ARN = re.compile(r"arn:aws[\w-]*:lambda:[\w-]+:(\d{12}):function:[^/:]+(:[^/]+)?")
_TEXT_TYPE = re.compile(
    r"^(text/|application/(.*[+/])?(json|xml|javascript|x-www-form-urlencoded))"
)
_Response = tuple[int, dict[str, str], bytes]
ROUTES_REFRESH_SECONDS = 1.0
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's, when a route has no Lambda integration to name one
# API Gateway's default account-level throttling quota per Region.
ACCOUNT_RATE_LIMIT, ACCOUNT_BURST_LIMIT = 10_000.0, 5_000
_Rank = tuple[int, int, bool]
# The methods a route key can name (besides ANY); API Gateway routes no other method.
ROUTE_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def _json_response(status: int, message: str) -> _Response:
    return status, {"content-type": "application/json"}, json.dumps({"message": message}).encode()


def _combine(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Repeated names joined with commas, as API Gateway does for headers and query strings."""
    combined: dict[str, str] = {}
    for name, value in pairs:
        combined[name] = f"{combined[name]},{value}" if name in combined else value
    return combined


def _body(body: bytes, content_type: str) -> tuple[str, bool]:
    """The event's (body, isBase64Encoded): text types as text, anything else base64."""
    if _TEXT_TYPE.match(content_type):
        with contextlib.suppress(UnicodeDecodeError):
            return body.decode(), False
    return base64.b64encode(body).decode(), True


def to_http(payload: bytes) -> _Response:
    """A Lambda proxy (format 2.0) response as (status, headers, body)."""
    try:
        result = json.loads(payload)
    except ValueError:
        return _json_response(500, "Internal Server Error")
    if not isinstance(result, dict) or "statusCode" not in result:  # format 2.0 inference
        return 200, {"content-type": "application/json"}, payload
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    if result.get("cookies"):
        headers["set-cookie"] = "\n".join(result["cookies"])
    body = result.get("body") or ""
    body = body if isinstance(body, str) else json.dumps(body)
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    return int(result["statusCode"]), headers, raw


def match_route(route_key: str, method: str, path: str) -> tuple[_Rank, dict[str, str]] | None:
    """(rank, path parameters) if the route matches; the lowest rank is the most specific:
    literal path < path with {params} < greedy {proxy+} < $default, then method < ANY."""
    if route_key == "$default":
        return (2, 0, False), {}
    route_method, _, template = route_key.partition(" ")
    if route_method not in (method, "ANY"):
        return None
    wanted, actual = template.strip("/").split("/"), path.strip("/").split("/")
    params: dict[str, str] = {}
    for index, segment in enumerate(wanted):
        if segment.startswith("{") and segment.endswith("+}"):
            if index >= len(actual) or not actual[index]:
                return None
            params[segment[1:-2]] = "/".join(actual[index:])
            return (1, len(params), route_method == "ANY"), params
        if index >= len(actual):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            params[segment[1:-1]] = actual[index]
        elif segment != actual[index]:
            return None
    if len(wanted) != len(actual):
        return None
    return (0, len(params), route_method == "ANY"), params


@dataclass(frozen=True)
class _ApiRoutes:
    api_id: str
    stages: dict[str, dict[str, Any]]  # by name
    routes: list[dict[str, Any]]
    integrations: dict[str, dict[str, Any]]
    authorizers: dict[str, dict[str, Any]] = field(default_factory=dict)  # those routes name


class TokenBucket:
    """API Gateway's throttle: `burst` tokens at most, refilled at `rate` per second, one per
    request (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html).
    Starts full."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens, self._at = float(burst), clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


def throttle_limits(stage: dict[str, Any], route_key: str) -> tuple[float, int]:
    """(rate, burst) for a route: its route settings, else the stage's default route settings,
    else the account's default quota (10,000 requests per second, burst 5,000)."""
    limits = [ACCOUNT_RATE_LIMIT, ACCOUNT_BURST_LIMIT]
    for settings in (
        stage.get("DefaultRouteSettings") or {},
        (stage.get("RouteSettings") or {}).get(route_key) or {},
    ):
        for index, name in enumerate(("ThrottlingRateLimit", "ThrottlingBurstLimit")):
            if settings.get(name) is not None:
                limits[index] = settings[name]
    return float(min(limits[0], ACCOUNT_RATE_LIMIT)), int(min(limits[1], ACCOUNT_BURST_LIMIT))


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 resets connections as soon as a few dozen clients
    # connect at once; API Gateway accepts them all.
    request_queue_size = 1024
    daemon_threads = True


class Gateway:
    """A local HTTP endpoint (127.0.0.1) for the HTTP APIs stored in the emulator."""

    def __init__(
        self,
        endpoint_url: str | None,
        *,
        region: str = "us-east-1",
        port: int = 0,
        api_id: str | None = None,
        local_routes: Mapping[str, Callable[[BaseHTTPRequestHandler], None]] | None = None,
        trusted_ca_files: Sequence[str | Path] | None = None,
    ) -> None:
        """``local_routes`` ("GET /events": handler) are answered by local code, not an API.
        ``trusted_ca_files``: CA certificates trusted (besides the system's) to fetch JWT
        issuers' keys; ``None`` reads them from ``$TASK_SCHEDULER_EMULATOR_TRUSTED_CA``."""
        options: dict[str, Any] = {"region_name": region, "endpoint_url": endpoint_url}
        if endpoint_url:
            options.update(aws_access_key_id="testing", aws_secret_access_key="testing")
        self._apis = boto3.client("apigatewayv2", **options)
        config = Config(retries={"total_max_attempts": 1}, read_timeout=30)  # API GW: 30 s
        self._lambda = boto3.client("lambda", config=config, **options)
        self._api_id = api_id
        self._region = region
        self._iam = IamAuthorizer(region)
        if trusted_ca_files is None:
            trusted_ca_files = [
                f for f in os.environ.get(TRUSTED_CA_ENV, "").split(os.pathsep) if f
            ]
        self._jwt = JwtAuthorizer(trusted_ca_files=trusted_ca_files)
        self._local_routes = dict(local_routes or {})
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                local = gateway._local_routes.get(f"{self.command} {urlsplit(self.path).path}")
                if local is not None:
                    return local(self)
                status, headers, body = gateway.handle(self)
                self.send_response(status)
                for name, value in headers.items():
                    for line in value.split("\n"):  # one Set-Cookie line per cookie
                        self.send_header(name, line)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def __getattr__(self, name: str) -> Any:
                """``do_TRACE``, ``do_CONNECT``, ...: served too (404 JSON, see ``handle``);
                http.server answers a method without ``do_<METHOD>`` with a 501 HTML page."""
                if name.startswith("do_"):
                    return self._serve
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._routes_lock = threading.Lock()
        self._routes_read_at = -ROUTES_REFRESH_SECONDS
        self._routes_cache: list[_ApiRoutes] = []
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self._server = _Server(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _routes(self) -> list[_ApiRoutes]:
        """The served APIs' stages, routes and integrations, re-read at most every
        :data:`ROUTES_REFRESH_SECONDS` (API Gateway too deploys changes after a moment)."""
        with self._routes_lock:
            if time.monotonic() - self._routes_read_at >= ROUTES_REFRESH_SECONDS:
                self._routes_cache = [
                    self._read_api(api["ApiId"])
                    for api in self._apis.get_apis().get("Items", [])
                    if api.get("ProtocolType") == "HTTP" and self._api_id in (None, api["ApiId"])
                ]
                self._routes_read_at = time.monotonic()
            return self._routes_cache

    def _read_api(self, api_id: str) -> _ApiRoutes:
        routes = self._all("get_routes", api_id)
        authorizers = {}
        for authorizer_id in {r["AuthorizerId"] for r in routes if r.get("AuthorizerId")}:
            with contextlib.suppress(self._apis.exceptions.NotFoundException):
                authorizers[authorizer_id] = self._apis.get_authorizer(
                    ApiId=api_id, AuthorizerId=authorizer_id
                )
        return _ApiRoutes(
            api_id=api_id,
            stages={s["StageName"]: s for s in self._all("get_stages", api_id)},
            routes=routes,
            integrations={i["IntegrationId"]: i for i in self._all("get_integrations", api_id)},
            authorizers=authorizers,
        )

    def _bucket(self, api: _ApiRoutes, stage: str, route_key: str) -> TokenBucket:
        """The route's bucket on that stage; a new one (full) when its limits change."""
        rate, burst = throttle_limits(api.stages.get(stage, {}), route_key)
        with self._routes_lock:
            bucket = self._buckets.get((api.api_id, stage, route_key))
            if bucket is None or (bucket.rate, bucket.burst) != (rate, burst):
                bucket = self._buckets[(api.api_id, stage, route_key)] = TokenBucket(rate, burst)
            return bucket

    def _all(self, operation: str, api_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = getattr(self._apis, operation)(ApiId=api_id).get("Items", [])
        return items

    def _route(self, method: str, path: str) -> tuple[_ApiRoutes, dict[str, Any], str, str] | None:
        """The most specific (api, route + path "params", stage, path within the stage)."""
        candidates = []
        for api in self._routes():
            stage, local_path = "$default", path
            first, _, rest = path.lstrip("/").partition("/")
            if first in api.stages.keys() - {"$default"}:
                stage, local_path = first, "/" + rest
            for route in api.routes:
                if found := match_route(route["RouteKey"], method, local_path):
                    route = {**route, "params": found[1]}
                    candidates.append((found[0], api, route, stage, local_path))
        if not candidates:
            return None
        _, api, route, stage, local_path = min(candidates, key=lambda c: c[0])
        return api, route, stage, local_path

    def handle(self, request: BaseHTTPRequestHandler) -> _Response:
        """Serve one request: route, invoke the integration Lambda, convert its response."""
        url = urlsplit(request.path)
        length = int(request.headers.get("content-length") or 0)
        body = request.rfile.read(length) if length else b""
        if request.command not in ROUTE_METHODS:  # no route can name it
            return _json_response(404, "Not Found")
        found = self._route(request.command, url.path or "/")
        if found is None:
            return _json_response(404, "Not Found")
        api, route, stage, local_path = found
        if not self._bucket(api, stage, route["RouteKey"]).take():
            return _json_response(429, "Too Many Requests")
        target = route.get("Target", "").removeprefix("integrations/")
        integration = api.integrations.get(target, {})
        function = _FUNCTION_ARN.search(integration.get("IntegrationUri", ""))
        account_id = function.group(1) if function else DEFAULT_ACCOUNT_ID
        authorization = route.get("AuthorizationType") or "NONE"
        caller: dict[str, Any] | None = None
        if authorization == "AWS_IAM":
            route_arn = (
                f"arn:aws:execute-api:{self._region}:{account_id}:{api.api_id}/{stage}/"
                f"{request.command}/{local_path.lstrip('/')}"
            )
            signed = self._iam.authorize(
                method=request.command,
                raw_path=url.path or "/",
                query=url.query,
                headers=request.headers,
                body=body,
                account_id=account_id,
                route_arn=route_arn,
            )
            if not isinstance(signed, dict):
                return signed.response()
            caller = {"iam": signed}
        elif authorization == "JWT":
            verified = self._jwt.authorize(
                api.authorizers.get(route.get("AuthorizerId") or ""),
                route.get("AuthorizationScopes") or [],
                request.headers,
                url.query,
            )
            if not isinstance(verified, dict):
                return verified.response()
            caller = {"jwt": verified}
        elif authorization != "NONE":
            return _json_response(401, "Unauthorized")
        if integration.get("IntegrationType") != "AWS_PROXY" or function is None:
            return _json_response(500, "Internal Server Error")
        event = self._event(request, url.path or "/", url.query, body, api.api_id, route, stage)
        event["requestContext"]["accountId"] = account_id
        if caller is not None:
            event["requestContext"]["authorizer"] = caller
        try:
            result = self._lambda.invoke(FunctionName=function.group(0), Payload=json.dumps(event))
        except Exception:
            return _json_response(503, "Service Unavailable")
        if result.get("FunctionError"):
            return _json_response(500, "Internal Server Error")
        status, headers, raw = to_http(result["Payload"].read())
        return status, {**headers, "apigw-requestid": event["requestContext"]["requestId"]}, raw

    def _event(
        self,
        request: BaseHTTPRequestHandler,
        path: str,
        query: str,
        body: bytes,
        api_id: str,
        route: dict[str, Any],
        stage: str,
    ) -> dict[str, Any]:
        """The payload-format-2.0 event for the request."""
        headers = _combine((name.lower(), value) for name, value in request.headers.items())
        cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
        now = time.time()
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route["RouteKey"],
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": {
                "accountId": "",
                "apiId": api_id,
                "domainName": headers.get("host", self.url.removeprefix("http://")),
                "domainPrefix": api_id,
                "http": {
                    "method": request.command,
                    "path": path,
                    "protocol": request.request_version,
                    "sourceIp": request.client_address[0],
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": str(uuid.uuid4()),
                "routeKey": route["RouteKey"],
                "stage": stage,
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "isBase64Encoded": False,
        }
        optional = {
            "cookies": cookies,
            "queryStringParameters": _combine(parse_qsl(query, keep_blank_values=True)),
            "pathParameters": route["params"],
        }
        event.update({key: value for key, value in optional.items() if value})
        if body:
            content_type = headers.get("content-type", "text/plain")
            event["body"], event["isBase64Encoded"] = _body(body, content_type)
        return event

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
