"""Plan of the two functions (emission.tf, api.tf): the committed package, memory and
reserved concurrency."""

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from scripts.build_lambda import build
from tests.conftest import REPO_ROOT
from tests.terraform.conftest import PlanFn
from tests.terraform.plan_values import (
    functions,
)

# The functions' environment embeds ARNs, so the plan knows none of it: PUBLICATION_LOG
# and the shard size are checked on the mocked apply (test_rendered.py, hcl/).


def test_committed_package_is_a_fresh_build_of_lambda_src(tmp_path: Path) -> None:
    fresh = build(tmp_path / "fresh.zip").read_bytes()
    assert fresh == (REPO_ROOT / "dist" / "task_scheduler.zip").read_bytes(), (
        "dist/task_scheduler.zip is stale: run `make build` and commit it"
    )


def test_functions_deploy_a_fresh_build_of_lambda_src(plan: PlanFn, tmp_path: Path) -> None:
    fresh = build(tmp_path / "fresh.zip").read_bytes()
    expected_hash = base64.b64encode(hashlib.sha256(fresh).digest()).decode()
    deployed = functions(plan())
    assert set(deployed) == {"task-scheduler-api", "task-scheduler-emit"}
    for function in deployed.values():
        assert function["source_code_hash"] == expected_hash
        assert function["runtime"] == "python3.13"
        assert function["architectures"] == ["arm64"]
        assert function["tracing_config"] == [{"mode": "Active"}]
        assert function["layers"] == [
            "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
        ]
    assert deployed["task-scheduler-api"]["handler"] == "task_scheduler.api.handler.lambda_handler"
    assert (
        deployed["task-scheduler-emit"]["handler"] == "task_scheduler.emit.handler.lambda_handler"
    )


def reserved_concurrency(plan: Any) -> dict[str, int]:
    return {
        name.removeprefix("task-scheduler-"): f["reserved_concurrent_executions"]
        for name, f in functions(plan).items()
    }


@pytest.mark.parametrize(
    ("tf_vars", "expected"),
    [
        ({}, {"api": -1, "emit": -1}),
        # As before api_reserved_concurrent_executions existed: one value for both functions.
        ({"lambda_reserved_concurrent_executions": 5}, {"api": 5, "emit": 5}),
        # The api function capped on its own; emit keeps the account's unreserved pool.
        ({"api_reserved_concurrent_executions": 20}, {"api": 20, "emit": -1}),
        (
            {"api_reserved_concurrent_executions": 20, "lambda_reserved_concurrent_executions": 50},
            {"api": 20, "emit": 50},
        ),
        # Emit reserved, the api function left unreserved.
        (
            {"api_reserved_concurrent_executions": -1, "lambda_reserved_concurrent_executions": 50},
            {"api": -1, "emit": 50},
        ),
        ({"api_reserved_concurrent_executions": 0}, {"api": 0, "emit": -1}),
    ],
)
def test_api_reserved_concurrency(
    plan: PlanFn, tf_vars: dict[str, int], expected: dict[str, int]
) -> None:
    assert reserved_concurrency(plan(**tf_vars)) == expected


def memory_deprecation_check(plan: Any) -> str:
    (check,) = [
        c
        for c in plan["checks"]
        if c["address"]["to_display"] == "check.lambda_memory_size_deprecated"
    ]
    return check["status"]


@pytest.mark.parametrize(
    ("tf_vars", "api_memory", "warned"),
    [
        ({}, 256, False),
        ({"api_memory_size": 512}, 512, False),
        # The deprecated name still sizes the api function, with a warning.
        ({"lambda_memory_size": 1024}, 1024, True),
        # Set, the deprecated name wins: a caller who has not renamed it sees no change.
        ({"api_memory_size": 512, "lambda_memory_size": 1024}, 1024, True),
    ],
)
def test_api_memory_size_and_its_deprecated_name(
    plan: PlanFn, tf_vars: dict[str, int], api_memory: int, warned: bool
) -> None:
    planned = plan(**tf_vars)
    memory = {name: f["memory_size"] for name, f in functions(planned).items()}
    assert memory == {"task-scheduler-api": api_memory, "task-scheduler-emit": 128}
    # A failed check block is a warning: the plan succeeds either way.
    assert memory_deprecation_check(planned) == ("fail" if warned else "pass")
