"""The library against the contract: each route's request, answers, and error mapping."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from task_scheduler_client import (
    UNSET,
    ApiError,
    AuthorizationError,
    BadRequestError,
    ConflictError,
    ErrorResponse,
    InvalidResponseError,
    NotFoundError,
    ServerError,
    TaskSchedulerClient,
    ThrottledError,
    TransportError,
)
from task_scheduler_client.client import normalize_base_url

from .fake_api import FakeApi


@pytest.fixture
def client(api: FakeApi) -> TaskSchedulerClient:
    return TaskSchedulerClient(api.url, timeout=5)


def test_schedule_posts_the_body_of_the_contract(api: FakeApi, client: TaskSchedulerClient) -> None:
    response = client.schedule("2030-08-21T04:29:00.951Z", {"name": "Luke"})
    request = api.last
    assert (request.method, request.path) == ("POST", "/schedule")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("task-scheduler-client/")
    assert request.json == {"timestamp": "2030-08-21T04:29:00.951Z", "message": {"name": "Luke"}}
    assert response == {
        "message": "Scheduled task at 2030-08-21T04:29:00.951Z",
        "id": "generated-1",
        "timestamp": "2030-08-21T04:29:00.951Z",
        "fires_immediately": False,
    }


def test_schedule_sends_an_aware_datetime_in_utc(api: FakeApi, client: TaskSchedulerClient) -> None:
    at = datetime(2030, 8, 21, 6, 29, 0, 951_000, tzinfo=timezone(timedelta(hours=2)))
    client.schedule(at, "text")
    assert api.last.json["timestamp"] == "2030-08-21T04:29:00.951000Z"
    with pytest.raises(ValueError, match="without tzinfo"):
        client.schedule(datetime(2030, 8, 21), "text")


@pytest.mark.parametrize("message", [None, 0, "", False, [], {"deep": [1, {"x": None}]}, "ünï"])
def test_every_json_message_is_sent_as_is(
    api: FakeApi, client: TaskSchedulerClient, message: object
) -> None:
    client.schedule("2030-08-21T04:29:00Z", message)
    assert api.last.json["message"] == message
    assert "message" in api.last.json


def test_schedule_with_an_id_is_idempotent_and_conflicts_name_the_id(
    api: FakeApi, client: TaskSchedulerClient
) -> None:
    first = client.schedule("2030-08-21T04:29:00Z", {"n": 1}, id="order-42")
    assert api.last.json["id"] == "order-42"
    assert client.schedule("2030-08-21T04:29:00Z", {"n": 1}, id="order-42") == first
    assert len(api.tasks) == 1
    with pytest.raises(ConflictError) as raised:
        client.schedule("2030-08-21T04:29:00Z", {"n": 2}, id="order-42")
    assert raised.value.status == 409
    assert raised.value.rules == ["id_conflict"]
    assert "order-42" in raised.value.errors[0]["detail"]
    assert "order-42" in str(raised.value)


def test_schedule_with_status_tells_a_creation_from_a_replay(
    api: FakeApi, client: TaskSchedulerClient
) -> None:
    status, created = client.schedule_with_status("2030-08-21T04:29:00Z", 1, id="s1")
    assert (status, created["id"]) == (201, "s1")
    assert client.schedule_with_status("2030-08-21T04:29:00Z", 1, id="s1") == (200, created)
    api.tasks["s1"]["status"] = "failed"  # a redrive re-schedules it as a new version
    assert client.schedule_with_status("2030-08-21T04:29:00Z", 1, id="s1")[0] == 201
    assert (api.tasks["s1"]["status"], api.tasks["s1"]["version"]) == ("scheduled", 2)


def test_status_cancel_reschedule(api: FakeApi, client: TaskSchedulerClient) -> None:
    client.schedule("2030-08-21T04:29:00Z", {"n": 1}, id="t1")
    task = client.status("t1")
    assert (api.last.method, api.last.path) == ("GET", "/schedule/t1")
    assert api.last.body == b""
    assert "content-type" not in api.last.headers
    assert task["status"] == "scheduled"
    assert task["message"] == {"n": 1}

    moved = client.reschedule("t1", timestamp="2031-01-01T00:00:00Z")
    assert (api.last.method, api.last.path) == ("PATCH", "/schedule/t1")
    assert api.last.json == {"timestamp": "2031-01-01T00:00:00Z"}
    assert (moved["version"], moved["timestamp"]) == (2, "2031-01-01T00:00:00.000Z")

    client.reschedule("t1", message=None)  # JSON null is a message
    assert api.last.json == {"message": None}
    at = datetime(2032, 1, 1, tzinfo=UTC)
    client.reschedule("t1", at, {"n": 3})
    assert api.last.json == {"timestamp": "2032-01-01T00:00:00.000000Z", "message": {"n": 3}}
    with pytest.raises(ValueError, match="timestamp, a message or both"):
        client.reschedule("t1")
    with pytest.raises(ValueError, match="timestamp, a message or both"):
        client.reschedule("t1", None, UNSET)

    cancelled = client.cancel("t1")
    assert (api.last.method, api.last.path) == ("DELETE", "/schedule/t1")
    assert cancelled["status"] == "cancelled"
    assert client.cancel("t1")["status"] == "cancelled"  # twice is harmless


def test_ids_are_escaped_into_the_path(api: FakeApi, client: TaskSchedulerClient) -> None:
    with pytest.raises(BadRequestError) as raised:
        client.status("a/b c?")
    assert api.last.path == "/schedule/a%2Fb%20c%3F"
    assert raised.value.rules == ["invalid_id"]


def test_unknown_and_not_scheduled_tasks(api: FakeApi, client: TaskSchedulerClient) -> None:
    with pytest.raises(NotFoundError) as raised:
        client.status("nope")
    assert raised.value.status == 404
    assert raised.value.rules == ["not_found"]
    api.add("done", status="emitted")
    with pytest.raises(ConflictError) as conflict:
        client.cancel("done")
    assert conflict.value.rules == ["not_scheduled"]


def test_list_sends_only_the_given_parameters(api: FakeApi, client: TaskSchedulerClient) -> None:
    assert client.list() == {"tasks": [], "next": None}
    assert api.last.path == "/schedule"
    client.list(status="scheduled", limit=10, next="eyJpIjogMH0=")
    assert api.last.query == {"status": ["scheduled"], "limit": ["10"], "next": ["eyJpIjogMH0="]}
    assert api.last.path.endswith("next=eyJpIjogMH0%3D")  # RFC 3986, as SigV4 signs it


def test_pages_and_iter_tasks_follow_next(api: FakeApi, client: TaskSchedulerClient) -> None:
    for i in range(7):
        api.add(f"t{i}", timestamp=f"2030-01-0{i + 1}T00:00:00.000Z")
    api.add("x", status="cancelled", timestamp="2029-01-01T00:00:00.000Z")
    pages = list(client.pages(status="scheduled", limit=3))
    assert [len(page["tasks"]) for page in pages] == [3, 3, 1]
    assert pages[-1]["next"] is None
    assert [task["id"] for task in client.iter_tasks(status="scheduled", limit=3)] == [
        f"t{i}" for i in range(7)
    ]
    assert len(client.list_all()) == 8
    assert all("message" not in task for task in client.list_all())


def test_malformed_filters_are_bad_requests(api: FakeApi, client: TaskSchedulerClient) -> None:
    with pytest.raises(BadRequestError) as raised:
        client.list(next="garbage")
    assert raised.value.rules == ["invalid_token"]
    with pytest.raises(BadRequestError) as filtered:
        client.list(status="later")  # type: ignore[arg-type]
    assert filtered.value.rules == ["invalid_filter"]


ERROR_BODY: ErrorResponse = {
    "message": "Invalid request fields: timestamp.",
    "errors": [{"field": "timestamp", "rule": "timestamp_offset_required", "detail": "add Z"}],
}


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, BadRequestError),
        (401, AuthorizationError),
        (403, AuthorizationError),
        (404, NotFoundError),
        (409, ConflictError),
        (413, BadRequestError),
        (415, BadRequestError),
        (422, BadRequestError),
        (429, ThrottledError),
        (500, ServerError),
        (502, ServerError),
        (503, ThrottledError),
        (504, ServerError),
    ],
)
def test_error_statuses_map_to_typed_exceptions_carrying_the_body(
    api: FakeApi, client: TaskSchedulerClient, status: int, exception: type[ApiError]
) -> None:
    api.respond_next(status, ERROR_BODY)
    with pytest.raises(exception) as raised:
        client.schedule("2030-08-21T04:29:00", 1)
    error = raised.value
    assert isinstance(error, ApiError)
    assert error.status == status
    assert error.body == ERROR_BODY
    assert error.message == "Invalid request fields: timestamp."
    assert error.errors == ERROR_BODY["errors"]
    assert error.rules == ["timestamp_offset_required"]
    assert str(error) == (
        f"HTTP {status}: Invalid request fields: timestamp.\n"
        "  timestamp: timestamp_offset_required: add Z"
    )


def test_throttling_carries_retry_after(api: FakeApi, client: TaskSchedulerClient) -> None:
    body = {
        "message": "Throttled",
        "errors": [{"field": None, "rule": "upstream_throttled", "detail": "later"}],
    }
    api.respond_next(503, body, {"Retry-After": "2"})
    with pytest.raises(ThrottledError) as raised:
        client.status("t")
    assert raised.value.retry_after == 2.0
    assert str(raised.value).splitlines()[1:] == [
        "  upstream_throttled: later",
        "  retry after 2 s",
    ]


def test_api_gateway_answers_carry_only_a_message(
    api: FakeApi, client: TaskSchedulerClient
) -> None:
    api.respond_next(403, {"message": "Forbidden"})
    with pytest.raises(AuthorizationError) as raised:
        client.status("t")
    forbidden: ErrorResponse = {"message": "Forbidden", "errors": []}
    assert raised.value.body == forbidden
    assert str(raised.value) == "HTTP 403: Forbidden"


def test_a_non_json_error_body_is_kept_raw(api: FakeApi, client: TaskSchedulerClient) -> None:
    api.respond_next(502, b"<html>Bad Gateway</html>", {"Content-Type": "text/html"})
    with pytest.raises(ServerError) as raised:
        client.status("t")
    assert raised.value.body is None
    assert raised.value.raw_body == b"<html>Bad Gateway</html>"
    assert str(raised.value) == "HTTP 502: <html>Bad Gateway</html>"
    api.respond_next(500, b"")
    with pytest.raises(ServerError, match=r"^HTTP 500: Internal Server Error$"):
        client.status("t")


def test_a_success_without_json_is_an_invalid_response(
    api: FakeApi, client: TaskSchedulerClient
) -> None:
    api.respond_next(200, b"OK", {"Content-Type": "text/plain"})
    with pytest.raises(InvalidResponseError, match="not JSON") as raised:
        client.status("t")
    assert (raised.value.status, raised.value.body) == (200, b"OK")


def test_redirects_are_not_followed(api: FakeApi, client: TaskSchedulerClient) -> None:
    api.respond_next(302, b"", {"Location": "http://169.254.169.254/"})
    with pytest.raises(ApiError) as raised:
        client.status("t")
    assert type(raised.value) is ApiError
    assert raised.value.status == 302
    assert len(api.requests) == 1


def test_connection_refused_is_a_transport_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransportError, match=f"GET http://127.0.0.1:{port}/schedule/t"):
        TaskSchedulerClient(f"http://127.0.0.1:{port}", timeout=2).status("t")


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts and reads requests, never answers."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            stop.wait(5)

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    stop.set()
    thread.join()
    server.server_close()


def test_a_timeout_is_a_transport_error(silent_server: str) -> None:
    with pytest.raises(TransportError, match="timed out"):
        TaskSchedulerClient(silent_server, timeout=0.3).status("t")


@pytest.mark.parametrize(
    ("given", "base"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        (
            "https://abc123.execute-api.eu-west-1.amazonaws.com/schedule",
            "https://abc123.execute-api.eu-west-1.amazonaws.com",
        ),
        ("https://api.example.com/prod/", "https://api.example.com/prod"),
        ("https://api.example.com/prod/schedule/", "https://api.example.com/prod"),
    ],
)
def test_base_urls_accept_the_module_outputs(given: str, base: str) -> None:
    assert normalize_base_url(given) == base
    assert TaskSchedulerClient(given).events_url == f"{base}/events"


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "ftp://host", "http://", "http://h/?a=1"])
def test_invalid_base_urls(url: str) -> None:
    with pytest.raises(ValueError, match="invalid API URL"):
        TaskSchedulerClient(url)


def test_invalid_auth() -> None:
    with pytest.raises(ValueError, match="auth must be"):
        TaskSchedulerClient("http://h", auth="sigv4")  # type: ignore[arg-type]


def test_the_answer_is_decoded_as_utf8_json(api: FakeApi, client: TaskSchedulerClient) -> None:
    client.schedule("2030-08-21T04:29:00Z", "Grüße ✓", id="u")
    assert (
        api.last.body
        == json.dumps(
            {"timestamp": "2030-08-21T04:29:00Z", "message": "Grüße ✓", "id": "u"},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
    )
    assert client.status("u")["message"] == "Grüße ✓"
