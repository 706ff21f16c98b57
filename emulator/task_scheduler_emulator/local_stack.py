"""The whole product on one machine: examples/local applied into the emulator and served.

`LocalStack.start()` starts the emulator, `terraform apply`s examples/local into it, and serves
the HTTP API plus `GET /events` on 127.0.0.1; `stop()` destroys the stack and stops it all.
Terraform's state and data live in `state_dir`, so the repository stays clean.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import boto3

from . import faults
from .events import EventFeed
from .gateway import Gateway
from .patches.awslambda import runtime as lambda_runtime
from .server import Emulator, start_emulator

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_EXAMPLE = REPO_ROOT / "examples" / "local"
REGION = "us-east-1"


class TerraformFailed(RuntimeError):
    """A terraform command exited non-zero; the message carries its output."""


def client(service: str, *, endpoint_url: str) -> Any:
    """A boto3 client for `service` in the emulator at `endpoint_url`."""
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


LOST_RESPONSE = "use of closed network connection"


def run_terraform(
    command_line: list[str], *, env: Mapping[str, str], timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a Terraform command line against an emulator, once more when the AWS provider lost
    a response on the wire ("use of closed network connection", after which the provider's
    one attempt per call gives up).

    That was seen only under the test suite's two parallel workers, in a few runs: while
    destroying the dead-letter queue (the poll after DeleteQueue) and while tagging a role; the
    emulator's answers to those calls are well-formed, and the cause is not established.
    Terraform commands are safe to run again, which is also the remedy on AWS for a transient
    network error; any other failure, or the same one twice, is returned as it is."""
    for _attempt in range(2):
        result = subprocess.run(
            command_line,
            capture_output=True,
            text=True,
            env=dict(env),
            timeout=timeout,
            check=False,
        )
        if result.returncode == 0 or LOST_RESPONSE not in result.stderr + result.stdout:
            break
    return result


def terraform(
    command: str,
    *args: str,
    endpoint_url: str,
    state_dir: Path,
    ok_codes: tuple[int, ...] = (0,),
) -> subprocess.CompletedProcess[str]:
    """Run `terraform <command>` on examples/local against the emulator at `endpoint_url`
    (see :func:`run_terraform`)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    variables = [f"-var=endpoint_url={endpoint_url}", f"-var=region={REGION}"]
    state = [f"-state={state_dir / 'terraform.tfstate'}"]
    options = {"init": ["-input=false"], "output": ["-json", *state]}.get(
        command, ["-input=false", *variables, *state]
    )
    result = run_terraform(
        ["terraform", f"-chdir={LOCAL_EXAMPLE}", command, "-no-color", *options, *args],
        env={**os.environ, "TF_DATA_DIR": str(state_dir / ".terraform")},
    )
    if result.returncode not in ok_codes:
        raise TerraformFailed(f"terraform {command} failed:\n{result.stdout}\n{result.stderr}")
    return result


def serve_lambda_statistics(request: BaseHTTPRequestHandler) -> None:
    """Answer `GET /emulator/lambda`: per function, cold and warm starts, throttles, timeouts."""
    body = json.dumps(lambda_runtime.statistics()).encode()
    request.send_response(200)
    request.send_header("content-type", "application/json")
    request.send_header("content-length", str(len(body)))
    request.end_headers()
    request.wfile.write(body)


class LocalStack:
    """examples/local deployed into a fresh emulator, its API served on 127.0.0.1:`port`."""

    def __init__(
        self,
        *,
        port: int,
        state_dir: Path,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.port, self.state_dir, self.echo = port, state_dir, echo
        self.timings: dict[str, float] = {}
        self.outputs: dict[str, Any] = {}
        self.emulator: Emulator | None = None
        self.gateway: Gateway | None = None
        self.feed: EventFeed | None = None

    @property
    def url(self) -> str:
        assert self.gateway is not None, "start() first"
        return self.gateway.url

    def terraform(
        self, command: str, *args: str, ok_codes: tuple[int, ...] = (0,)
    ) -> subprocess.CompletedProcess[str]:
        assert self.emulator is not None, "start() first"
        return terraform(
            command,
            *args,
            endpoint_url=self.emulator.endpoint_url,
            state_dir=self.state_dir,
            ok_codes=ok_codes,
        )

    def _timed(self, name: str, command: str, *args: str) -> None:
        started = time.monotonic()
        self.terraform(command, *args)
        self.timings[name] = round(time.monotonic() - started, 1)

    def start(self) -> None:
        self.emulator = start_emulator()
        self._timed("init_seconds", "init")
        self._timed("apply_seconds", "apply", "-auto-approve")
        self.outputs = {
            k: v["value"] for k, v in json.loads(self.terraform("output").stdout).items()
        }
        sqs = client("sqs", endpoint_url=self.emulator.endpoint_url)
        self.feed = EventFeed(sqs, self.outputs["sqs_events_queue_url"], self.echo)
        self.gateway = Gateway(
            self.emulator.endpoint_url,
            region=REGION,
            port=self.port,
            api_id=self.outputs["api_id"],
            local_routes={
                "GET /events": self.feed.serve_sse,
                "GET /emulator/lambda": serve_lambda_statistics,
                **{f"{m} /emulator/faults": faults.serve for m in ("GET", "POST", "DELETE")},
            },
        )

    def stop(self) -> None:
        """Stop serving, destroy the stack, stop the emulator; safe after a failed start()."""
        try:
            if self.feed is not None:
                self.feed.stop()
            if self.gateway is not None:
                self.gateway.stop()
            if self.emulator is not None and (self.state_dir / "terraform.tfstate").exists():
                self._timed("destroy_seconds", "destroy", "-auto-approve")
        finally:
            if self.emulator is not None:
                self.emulator.stop()
