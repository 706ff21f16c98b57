"""Schemathesis against docs/openapi.json and the local stack's API (authorization NONE).

Every operation the document describes is called with generated requests, valid and invalid
(schemathesis' coverage phase: boundary and type-violating values of every parameter and body
field; then its fuzzing phase: random ones), through the local gateway and the real api
function. Each answer must be no 5xx, a status the document lists for the operation, with the
documented content type, headers and body schema, and invalid input must be refused with a
4xx. The example count is bounded (FUZZ_MAX_EXAMPLES per operation and generation mode, 50 by
default) and generation is deterministic, so that `make test` stays reproducible and within
about a minute; raise FUZZ_MAX_EXAMPLES to search harder.
"""

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.local_stack.conftest import RunningStack

pytestmark = pytest.mark.local_stack

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "50"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

config = schemathesis.Config.from_dict(
    {
        "generation": {
            "mode": "all",  # valid and invalid requests
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
        },
        "phases": {"stateful": {"enabled": False}},  # the document declares no links
        "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    }
)
schema = schemathesis.openapi.from_path(OPENAPI, config=config)
# Answers by operation and status, printed at the end of the module.
answered: Counter[tuple[str, int]] = Counter()


@pytest.fixture(scope="module", autouse=True)
def tally() -> Iterator[None]:
    yield
    by_operation: Counter[str] = Counter()
    for (operation, _), count in answered.items():
        by_operation[operation] += count
    print(f"\nschemathesis: {sum(answered.values())} requests")
    for operation, total in sorted(by_operation.items()):
        statuses = {s: n for (o, s), n in sorted(answered.items()) if o == operation}
        print(f"  {operation}: {total} {statuses}")


@schema.parametrize()
def test_every_answer_conforms_to_the_document(
    case: schemathesis.Case[Any], stack: RunningStack
) -> None:
    response = case.call(base_url=stack.url, timeout=30)
    answered[(f"{case.method} {case.path}", response.status_code)] += 1
    case.validate_response(
        response, checks=CHECKS, transport_kwargs={"base_url": stack.url, "timeout": 30}
    )
