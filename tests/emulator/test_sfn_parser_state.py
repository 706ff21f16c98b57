"""Per-parse ASL parser state: moto's parser state is per parse, so concurrent and failed
parses don't leak."""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from task_scheduler_emulator import Emulator


def _parallel(query_language: str, state: dict[str, Any]) -> dict[str, Any]:
    branches = [
        {"StartAt": f"B{i}", "States": {f"B{i}": {"Type": "Pass", **state, "End": True}}}
        for i in range(4)
    ]
    return {
        "QueryLanguage": query_language,
        "StartAt": "P",
        "States": {"P": {"Type": "Parallel", "Branches": branches, "End": True}},
    }


JSONATA = _parallel("JSONata", {"Output": "{% $states.input %}"})
JSONPATH = _parallel("JSONPath", {"Parameters": {"a.$": "$.a"}})
# Runs without evaluating a JSONata expression (moto needs an optional package for those).
JSONATA_PASS = _parallel("JSONata", {})
# Rejected (a JSONata machine cannot hold a JSONPath state) after the parser opened its scope.
DOWNGRADE = {
    "QueryLanguage": "JSONata",
    "StartAt": "A",
    "States": {"A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": True}},
}


@pytest.fixture
def fast_thread_switches(emulator: Emulator) -> Iterator[None]:
    """Switch threads every microsecond, so parses interleave within a few iterations."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def test_a_rejected_definition_does_not_change_how_later_ones_parse(
    client: Callable[[str], Any],
) -> None:
    sfn = client("stepfunctions")

    rejected = sfn.validate_state_machine_definition(definition=json.dumps(DOWNGRADE))
    valid = sfn.validate_state_machine_definition(definition=json.dumps(JSONPATH))

    assert rejected["result"] == "FAIL"
    # moto 5.2.5 kept the JSONata scope of the rejected parse: every JSONPath definition failed.
    assert (valid["result"], valid["diagnostics"]) == ("OK", [])


@pytest.mark.usefixtures("fast_thread_switches")
def test_concurrent_parses_of_jsonata_and_jsonpath_definitions_all_succeed() -> None:
    threads, iterations = 8, 15
    barrier = threading.Barrier(threads)
    sources = [json.dumps(JSONATA if i % 2 else JSONPATH) for i in range(threads)]

    def parse(source: str) -> list[str]:
        errors = []
        barrier.wait()
        for _ in range(iterations):
            try:
                AmazonStateLanguageParser.parse(source)
            except Exception as exc:  # moto 5.2.5: ValueError, IndexError
                errors.append(repr(exc))
        return errors

    with ThreadPoolExecutor(threads) as pool:
        errors = [e for found in pool.map(parse, sources) for e in found]

    assert errors == []


@pytest.mark.usefixtures("fast_thread_switches")
def test_concurrent_executions_of_both_query_languages_all_succeed(
    client: Callable[[str], Any], role_arn: str
) -> None:
    sfn = client("stepfunctions")
    machines = [
        sfn.create_state_machine(
            name=f"sm-{uuid.uuid4().hex[:12]}", definition=json.dumps(d), roleArn=role_arn
        )["stateMachineArn"]
        for d in (JSONATA_PASS, JSONPATH)
    ]
    starts = [machines[i % 2] for i in range(24)]
    with ThreadPoolExecutor(12) as pool:
        arns = list(
            pool.map(
                lambda m: sfn.start_execution(stateMachineArn=m, input='{"a": 1}')["executionArn"],
                starts,
            )
        )

    deadline = time.monotonic() + 20
    statuses = {}
    while time.monotonic() < deadline:
        statuses = {a: sfn.describe_execution(executionArn=a)["status"] for a in arns}
        if "RUNNING" not in statuses.values():
            break
        time.sleep(0.2)
    # moto 5.2.5: some FAILED (the other language's scope), or RUNNING forever (a dead thread).
    assert set(statuses.values()) == {"SUCCEEDED"}, statuses
