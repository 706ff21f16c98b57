"""Lambda execution environments: warm environments, concurrency, throttling, timeouts and
runtimes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from task_scheduler_emulator import Emulator
from task_scheduler_emulator.patches.awslambda import runtime as lambda_runtime
from task_scheduler_emulator.runtimes import RUNTIMES_DIR

from .conftest import REGION, _zip_of

HANDLERS = {
    "app/__init__.py": "",
    "app/handlers.py": """
import os
import sys
import time

INITIALISED_AT = time.time()


def nap(event, context):
    started = time.time()
    time.sleep(event.get("seconds", 0))
    return {
        "pid": os.getpid(),
        "started": started,
        "ended": time.time(),
        "initialised_at": INITIALISED_AT,
        "version": list(sys.version_info[:2]),
        "path": sys.path,
    }
""",
}


def invoke(client: Callable[[str], Any], arn: str, payload: Any) -> tuple[str | None, Any]:
    result = client("lambda").invoke(FunctionName=arn, Payload=json.dumps(payload))
    return result.get("FunctionError"), json.loads(result["Payload"].read())


def stats(arn: str) -> dict[str, int]:
    return lambda_runtime.statistics()[arn.split(":")[-1]]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed worker the emulator has not reaped yet is a zombie: not alive either.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_an_environment_is_reused_by_later_invocations(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    arn = make_function(HANDLERS, "app.handlers.nap")

    first = [invoke(client, arn, {})[1] for _ in range(3)]

    assert len({answer["pid"] for answer in first}) == 1
    assert len({answer["initialised_at"] for answer in first}) == 1  # Init ran once
    assert stats(arn) == {"cold_starts": 1, "warm_starts": 2, "throttles": 0, "timeouts": 0}


def test_concurrent_invocations_run_concurrently_in_separate_environments(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    arn = make_function(HANDLERS, "app.handlers.nap")

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: invoke(client, arn, {"seconds": 2})[1], range(4)))
    later = [invoke(client, arn, {})[1] for _ in range(4)]

    assert len({answer["pid"] for answer in answers}) == 4
    assert max(a["started"] for a in answers) < min(a["ended"] for a in answers)  # overlapped
    assert {answer["pid"] for answer in later} <= {answer["pid"] for answer in answers}
    assert stats(arn)["cold_starts"] == 4
    assert stats(arn)["warm_starts"] == 4


def test_past_reserved_concurrency_invoke_is_throttled_not_queued(
    emulator: Emulator, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    arn = make_function(HANDLERS, "app.handlers.nap")
    client("lambda").put_function_concurrency(FunctionName=arn, ReservedConcurrentExecutions=1)
    single_attempt = boto3.client(
        "lambda",
        endpoint_url=emulator.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )

    def call(seconds: int) -> str:
        try:
            single_attempt.invoke(FunctionName=arn, Payload=json.dumps({"seconds": seconds}))
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "ok"

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(call, (3, 3)))

    assert outcomes == ["TooManyRequestsException", "ok"]
    assert stats(arn)["throttles"] == 1


def test_a_timed_out_environment_is_discarded(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    arn = make_function(HANDLERS, "app.handlers.nap", timeout=1)
    before = invoke(client, arn, {})[1]["pid"]

    error, payload = invoke(client, arn, {"seconds": 5})
    after = invoke(client, arn, {})[1]["pid"]

    assert (error, payload["errorType"]) == ("Unhandled", "Sandbox.Timedout")
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    assert not alive(before)
    assert after != before
    assert stats(arn) == {"cold_starts": 2, "warm_starts": 1, "throttles": 0, "timeouts": 1}


def test_new_code_retires_the_old_environments(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    arn = make_function(HANDLERS, "app.handlers.nap")
    old = invoke(client, arn, {})[1]["pid"]
    changed = {**HANDLERS, "app/__init__.py": "# version 2\n"}

    client("lambda").update_function_code(FunctionName=arn, ZipFile=_zip_of(changed))
    new = invoke(client, arn, {})[1]["pid"]

    assert new != old
    assert not alive(old)


@pytest.mark.parametrize("runtime", ["python3.12", "python3.13"])
def test_each_function_runs_under_the_python_its_runtime_names(
    runtime: str, client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    arn = make_function(HANDLERS, "app.handlers.nap", runtime=runtime)

    answer = invoke(client, arn, {})[1]

    assert answer["version"] == [int(part) for part in runtime.removeprefix("python").split(".")]
    site_dirs = [entry for entry in answer["path"] if "-packages" in entry or "runtimes" in entry]
    assert site_dirs == [str(RUNTIMES_DIR / runtime)]  # the layer stand-in, not the tooling's venv
    assert sys.prefix not in json.dumps(answer["path"])
