"""One local stack for the whole package: `make run`'s own entry point, in a subprocess.

The stack runs in its own process, as for a user, so that the moto backends it serves are not
shared with the in-process `mock_aws` of other suites. Tests reach it over HTTP: the local API
gateway and the emulator's AWS endpoint.
"""

import contextlib
import json
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

from task_scheduler_emulator.local_stack import client, terraform
from task_scheduler_emulator.oidc_issuer import TRUSTED_CA_ENV, OidcIssuer

START_TIMEOUT_SECONDS = 300
STOP_TIMEOUT_SECONDS = 180


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
