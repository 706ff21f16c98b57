"""Fixtures: one emulator for tests/emulator, boto3 clients for it, functions from tiny zips."""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from task_scheduler_emulator import Emulator, start_emulator

REGION = "us-east-1"
Client = Any


@pytest.fixture(scope="package")
def emulator() -> Iterator[Emulator]:
    """Stopped when tests/emulator is done, so other suites' mock_aws find moto as usual."""
    with start_emulator() as running:
        yield running


@pytest.fixture(scope="package")
def client(emulator: Emulator) -> Callable[[str], Client]:
    def make(service: str) -> Client:
        return boto3.client(
            service,
            endpoint_url=emulator.endpoint_url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return make


@pytest.fixture(scope="package")
def role_arn(client: Callable[[str], Client]) -> str:
    trust = {"Version": "2012-10-17", "Statement": []}
    role = client("iam").create_role(
        RoleName="emulator-tests", AssumeRolePolicyDocument=json.dumps(trust)
    )
    return str(role["Role"]["Arn"])


def _zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, source in files.items():
            archive.writestr(name, source)
    return buffer.getvalue()


@pytest.fixture
def make_function(client: Callable[[str], Client], role_arn: str) -> Callable[..., str]:
    """Create a function (python3.13 unless told) from ``{file: source}``; returns its ARN."""

    def make(
        files: dict[str, str],
        handler: str,
        env: dict[str, str] | None = None,
        timeout: int = 10,
        runtime: str = "python3.13",
    ) -> str:
        created = client("lambda").create_function(
            FunctionName=f"fn-{uuid.uuid4().hex[:12]}",
            Runtime=runtime,
            Role=role_arn,
            Handler=handler,
            Code={"ZipFile": _zip_of(files)},
            Environment={"Variables": env or {}},
            Timeout=timeout,
        )
        return str(created["FunctionArn"])

    return make


@pytest.fixture
def run_execution(client: Callable[[str], Client], role_arn: str) -> Callable[..., dict[str, Any]]:
    """Create a STANDARD state machine, start it with ``payload``, wait for it to end."""
    sfn = client("stepfunctions")

    def run(definition: dict[str, Any], payload: Any, limit: float = 30) -> dict[str, Any]:
        machine = sfn.create_state_machine(
            name=f"sm-{uuid.uuid4().hex[:12]}", definition=json.dumps(definition), roleArn=role_arn
        )
        execution = sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"], input=json.dumps(payload)
        )
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            described: dict[str, Any] = sfn.describe_execution(
                executionArn=execution["executionArn"]
            )
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.05)
        raise AssertionError(f"execution still running after {limit} s")

    return run
