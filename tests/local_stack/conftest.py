"""One local stack for the whole package: `make run`'s own entry point, in a subprocess.

The stack runs in its own process, as for a user, so that the moto backends it serves are not
shared with the in-process `mock_aws` of other suites. Tests reach it over HTTP: the local API
gateway and the emulator's AWS endpoint.
"""

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from task_scheduler_emulator.gateway.oidc_issuer import TRUSTED_CA_ENV, OidcIssuer
from task_scheduler_emulator.local_stack import client, terraform

START_TIMEOUT_SECONDS = 300
STOP_TIMEOUT_SECONDS = 180
# Whole seconds handed out by fresh_second in this session.
_USED_SECONDS: set[int] = set()


@dataclass(frozen=True)
class RunningStack:
    url: str
    endpoint_url: str
    outputs: dict[str, Any]
    timings: dict[str, float]
    state_dir: Path

    def client(self, service: str) -> Any:
        return client(service, endpoint_url=self.endpoint_url)

    def terraform(self, command: str, *args: str, ok_codes: tuple[int, ...] = (0,)) -> Any:
        return terraform(
            command,
            *args,
            endpoint_url=self.endpoint_url,
            state_dir=self.state_dir,
            ok_codes=ok_codes,
        )


@pytest.fixture(scope="package")
def oidc_issuer() -> Iterator[OidcIssuer]:
    """The offline OIDC issuer of the JWT tests; the stack's gateway trusts its CA."""
    with OidcIssuer(audience="task-scheduler-tests") as issuer:
        yield issuer


@pytest.fixture(scope="package")
def stack(
    tmp_path_factory: pytest.TempPathFactory, oidc_issuer: OidcIssuer
) -> Iterator[RunningStack]:
    state_dir = tmp_path_factory.mktemp("local-stack")
    ready_file = state_dir / "ready.json"
    log = (state_dir / "run.log").open("w")
    run = [sys.executable, "-m", "task_scheduler_emulator.run", "--port", "0"]
    process = subprocess.Popen(
        [*run, "--state-dir", str(state_dir), "--ready-file", str(ready_file)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", TRUSTED_CA_ENV: str(oidc_issuer.ca_file)},
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not ready_file.exists():
            assert process.poll() is None, (state_dir / "run.log").read_text()
            assert time.monotonic() < deadline, "the local stack did not start in time"
            time.sleep(0.5)
        ready = json.loads(ready_file.read_text())
        yield RunningStack(state_dir=state_dir, **ready)
    finally:
        process.send_signal(signal.SIGINT)
        exit_code = process.wait(timeout=STOP_TIMEOUT_SECONDS)
        log.close()
        assert exit_code == 0, (state_dir / "run.log").read_text()


@pytest.fixture(scope="package")
def run_log(stack: RunningStack) -> Callable[[], str]:
    """What `make run` printed so far (emissions are JSON lines)."""
    return lambda: (stack.state_dir / "run.log").read_text()


@dataclass(frozen=True)
class Received:
    task_id: str
    data: Any
    received_at: datetime


class Inbox:
    """Everything a listener received, by task id, filled by a background thread."""

    def __init__(self) -> None:
        self._received: dict[str, list[Received]] = {}
        self._changed = threading.Condition()

    def add(self, received: Received) -> None:
        with self._changed:
            self._received.setdefault(received.task_id, []).append(received)
            self._changed.notify_all()

    def wait_for(self, task_id: str, timeout: float = 20.0) -> Received:
        with self._changed:
            assert self._changed.wait_for(lambda: task_id in self._received, timeout), task_id
            return self._received[task_id][0]

    def count(self, task_id: str) -> int:
        with self._changed:
            return len(self._received.get(task_id, []))


@pytest.fixture(scope="package")
def events(stack: RunningStack) -> Iterator[Inbox]:
    """A client of GET /events for the whole package."""
    inbox = Inbox()
    response = urllib.request.urlopen(f"{stack.url}/events", timeout=60)
    assert response.headers["content-type"] == "text/event-stream"

    def listen() -> None:
        with contextlib.suppress(OSError, ValueError):  # closed at teardown
            for raw in response:
                line = raw.decode().rstrip("\n")
                if line.startswith("data: "):
                    data = json.loads(line.removeprefix("data: "))
                    inbox.add(Received(data["id"], data, datetime.now(UTC)))

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    yield inbox
    response.close()


@pytest.fixture(scope="package")
def worker_inbox(stack: RunningStack) -> Iterator[Inbox]:
    """What the worker queue (raw SNS delivery, as a consuming stack) receives."""
    inbox, stopped = Inbox(), threading.Event()
    sqs, queue_url = stack.client("sqs"), stack.outputs["sqs_worker_queue_url"]

    def drain() -> None:
        while not stopped.is_set():
            try:
                received = sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    MessageAttributeNames=["All"],
                )
            except sqs.exceptions.QueueDoesNotExist:
                return  # the last test destroyed the stack
            for message in received.get("Messages", []):
                attributes = message["MessageAttributes"]
                task_id = attributes["task_id"]["StringValue"]
                inbox.add(Received(task_id, message, datetime.now(UTC)))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    yield inbox
    stopped.set()
    thread.join()


# --- time slots: which execution carries a task ------------------------------------------------


def fresh_second(ahead: float) -> int:
    """A whole epoch second at least `ahead` seconds from now that no other test of the session
    was given: the executions of its slot (`slot-<second>-<shard>`) carry no task of a test that
    took its own second, and a fault matching `slot-<second>-` hits no such test's calls. (A
    test that picks its timestamps otherwise may still have a task in it: assert on yours.)"""
    second = math.ceil(time.time() + ahead)
    while second in _USED_SECONDS:
        second += 1
    _USED_SECONDS.add(second)
    return second


def at(second: int, milliseconds: int = 0) -> str:
    """The timestamp `milliseconds` into epoch second `second`, as the API writes it."""
    instant = datetime.fromtimestamp(second, UTC).replace(microsecond=milliseconds * 1000)
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def slot_of(timestamp: str) -> int:
    """The slot (whole epoch second) of a task due at `timestamp`."""
    return math.floor(datetime.fromisoformat(timestamp).timestamp())


def registry_item(stack: RunningStack, task_id: str) -> dict[str, Any] | None:
    """The task's registry item as DynamoDB holds it (a strongly consistent read)."""
    response = stack.client("dynamodb").get_item(
        TableName=stack.outputs["dynamodb_table_name"],
        Key={"id": {"S": task_id}},
        ConsistentRead=True,
    )
    item: dict[str, Any] | None = response.get("Item")
    return item


def all_executions(stack: RunningStack) -> list[dict[str, Any]]:
    """Every execution of the state machine (all pages), by name."""
    pages = (
        stack.client("stepfunctions")
        .get_paginator("list_executions")
        .paginate(stateMachineArn=stack.outputs["sfn_state_machine_arn"])
    )
    return sorted((e for page in pages for e in page["executions"]), key=lambda e: e["name"])


def carriers(stack: RunningStack, slot: int, task_id: str | None = None) -> list[dict[str, Any]]:
    """The executions of a slot: its shards' (`slot-<slot>-<shard>`) and their hops
    (`slot-<slot>-<shard>-<hop>`), and, with `task_id`, the task's own (a late joiner's,
    `<id>_<version>_s<ordinal>`), by name."""
    return [
        e
        for e in all_executions(stack)
        if e["name"].startswith(f"slot-{slot}-")
        or (task_id is not None and e["name"].startswith(f"{task_id}_"))
    ]


def execution_output(stack: RunningStack, name: str, timeout: float = 60) -> dict[str, Any]:
    """What the execution named `name` ended with: the emit function's tally (published,
    skipped, dead_lettered), once it succeeded."""
    sfn = stack.client("stepfunctions")
    machine = stack.outputs["sfn_state_machine_arn"]
    arn = f"{machine.replace(':stateMachine:', ':execution:')}:{name}"
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{name} is still running"
        time.sleep(0.2)
    assert described["status"] == "SUCCEEDED", described
    output: dict[str, Any] = json.loads(described["output"])
    return output
