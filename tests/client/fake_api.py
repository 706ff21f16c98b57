"""A tiny in-memory stand-in for the scheduler's HTTP API (the contract of docs/api.md), served
on 127.0.0.1, recording every request. The client's unit tests run against it (the local-stack
tests run the client against the real routes); `respond_next` injects canned answers for error
mapping.

Redrive: posting the same id, timestamp and message as a `failed` task
re-schedules it as a new version and answers 201."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
STATUSES = ("scheduled", "emitted", "cancelled", "failed")


@dataclass
class Recorded:
    method: str
    path: str  # as sent, query included
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int | None = None  # the answer's, once decided
    answered_at: float | None = None  # time.monotonic() just before the answer was sent

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)


@dataclass
class Canned:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _now() -> str:
    return _format(datetime.now(UTC))


def _format(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _digest(message: Any) -> str:
    return hashlib.sha256(json.dumps(message, sort_keys=True).encode()).hexdigest()


def _error(status: int, field: str | None, rule: str, detail: str) -> tuple[int, Any]:
    return status, {
        "message": f"Invalid request: {rule}",
        "errors": [{"field": field, "rule": rule, "detail": detail}],
    }


class FakeApi:
    """Tasks in a dict; the routes of the contract; every request recorded."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.tasks: dict[str, dict[str, Any]] = {}
        self.digests: dict[str, str] = {}  # the message's sha256, for idempotent replays
        self.canned: list[Canned] = []
        self.generated = 0
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = Recorded(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with api._lock:
                    api.requests.append(recorded)
                    canned = api.canned.pop(0) if api.canned else None
                    if canned is None:
                        status, answer = api.route(recorded)
                        canned = Canned(status, json.dumps(answer).encode())
                recorded.status, recorded.answered_at = canned.status, time.monotonic()
                self.send_response(canned.status)
                headers = {"Content-Type": "application/json", **canned.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(canned.body)))
                self.end_headers()
                self.wfile.write(canned.body)

            do_GET = do_POST = do_DELETE = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def respond_next(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.canned.append(Canned(status, raw, headers or {}))

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    # The contract.

    def route(self, request: Recorded) -> tuple[int, Any]:
        parts = urlsplit(request.path)
        segments = parts.path.strip("/").split("/")
        if segments[0] != "schedule" or len(segments) > 2:
            return 404, {"message": "Not Found"}
        if len(segments) == 1:
            if request.method == "POST":
                return self.create(request)
            if request.method == "GET":
                return self.list(parse_qs(parts.query, keep_blank_values=True))
            return 404, {"message": "Not Found"}
        task_id = segments[1]
        if not ID.match(task_id):
            return _error(400, "id", "invalid_id", f"{task_id!r} is not a valid id")
        task = self.tasks.get(task_id)
        if task is None or request.method not in ("GET", "DELETE", "PATCH"):
            return _error(404, "id", "not_found", f"no task {task_id}")
        if request.method == "GET":
            return 200, task
        if task["status"] == "cancelled" and request.method == "DELETE":
            return 200, task
        if task["status"] != "scheduled":
            return _error(409, "id", "not_scheduled", f"task {task_id} is {task['status']}")
        if request.method == "DELETE":
            task.update(status="cancelled", updated_at=_now())
            return 200, task
        change = json.loads(request.body or b"{}")
        if not change or set(change) - {"timestamp", "message"}:
            return _error(422, None, "extra_forbidden", "timestamp and/or message")
        if "timestamp" in change:
            change["timestamp"] = _format(datetime.fromisoformat(change["timestamp"]))
        task.update(change, version=task["version"] + 1, updated_at=_now())
        return 200, task

    def create(self, request: Recorded) -> tuple[int, Any]:
        body = json.loads(request.body)
        for name in ("timestamp", "message"):
            if name not in body:
                return _error(422, name, "missing", f"{name} is required")
        header_id = request.headers.get("idempotency-key")
        if header_id is not None and "id" in body and body["id"] != header_id:
            return _error(422, "id", "id_mismatch", "body id and Idempotency-Key differ")
        task_id = body.get("id", header_id)
        if task_id is None:
            self.generated += 1
            task_id = f"generated-{self.generated}"
        if not ID.match(task_id):
            return _error(422, "id", "invalid_id", f"{task_id!r} is not a valid id")
        timestamp = _format(datetime.fromisoformat(body["timestamp"]))
        digest = _digest(body["message"])
        response = {
            "message": f"Scheduled task at {timestamp}",
            "id": task_id,
            "timestamp": timestamp,
            "fires_immediately": timestamp <= _now(),
        }
        existing = self.tasks.get(task_id)
        if existing is not None:
            if (existing["timestamp"], self.digests[task_id]) == (timestamp, digest):
                if existing["status"] == "failed":  # redrive: a new version
                    existing.update(
                        status="scheduled", version=existing["version"] + 1, updated_at=_now()
                    )
                    return 201, response
                return 200, {**response, "timestamp": existing["timestamp"]}
            return _error(409, "id", "id_conflict", f"task {task_id} exists with other content")
        now = _now()
        self.tasks[task_id] = {
            "id": task_id,
            "status": "scheduled",
            "version": 1,
            "timestamp": timestamp,
            "created_at": now,
            "updated_at": now,
            "emitted_at": None,
            "message": body["message"],
        }
        self.digests[task_id] = digest
        return 201, response

    def list(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        status = query.get("status", [None])[0]
        if status is not None and status not in STATUSES:
            return _error(400, "status", "invalid_filter", f"unknown status {status!r}")
        try:
            limit = int(query.get("limit", ["25"])[0])
            if not 1 <= limit <= 100:
                raise ValueError(limit)
        except ValueError:
            return _error(400, "limit", "invalid_filter", "limit is 1..100")
        try:
            token = query.get("next", [None])[0]
            start = int(json.loads(base64.urlsafe_b64decode(token))["i"]) if token else 0
        except ValueError:
            return _error(400, "next", "invalid_token", "malformed token")
        tasks = sorted(self.tasks.values(), key=lambda t: (t["timestamp"], t["id"]))
        if status is not None:
            tasks = [t for t in tasks if t["status"] == status]
        page = tasks[start : start + limit]
        more = start + limit < len(tasks)
        next_token = (
            base64.urlsafe_b64encode(json.dumps({"i": start + limit}).encode()).decode()
            if more
            else None
        )
        summaries = [{k: v for k, v in t.items() if k != "message"} for t in page]
        return 200, {"tasks": summaries, "next": next_token}

    def add(self, task_id: str, status: str = "scheduled", **fields: Any) -> dict[str, Any]:
        """Put a task straight into the store (emitted and failed ones, for instance)."""
        now = _now()
        task = {
            "id": task_id,
            "status": status,
            "version": 1,
            "timestamp": fields.pop("timestamp", now),
            "created_at": now,
            "updated_at": now,
            "emitted_at": now if status == "emitted" else None,
            "message": fields.pop("message", {"n": task_id}),
            **fields,
        }
        self.tasks[task_id] = task
        self.digests[task_id] = _digest(task["message"])
        return task


def serve() -> Iterator[FakeApi]:
    api = FakeApi()
    try:
        yield api
    finally:
        api.stop()
