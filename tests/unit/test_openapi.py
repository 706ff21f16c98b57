"""The committed OpenAPI document (docs/openapi.json) is what the api function's code generates.

conftest.assert_documented also checks every answer of the api tests against it.
"""

import importlib
import json

import pytest

from tests.unit.conftest import OPENAPI_DOCUMENT

UPSTREAM = ["502", "503"]
# API Gateway's own answers: 401 and 403 from the authorizer, 429 from throttling.
GATEWAY = ["401", "403", "429"]
OPERATIONS = {
    key: sorted([*statuses, *UPSTREAM, *GATEWAY])
    for key, statuses in {
        ("/schedule", "post"): ["200", "201", "400", "409", "413", "415", "422"],
        ("/schedule", "get"): ["200", "400"],
        ("/schedule/{id}", "get"): ["200", "400", "404"],
        ("/schedule/{id}", "delete"): ["200", "400", "404", "409"],
        ("/schedule/{id}", "patch"): ["200", "400", "404", "409", "413", "415", "422"],
    }.items()
}


@pytest.fixture(scope="module")
def document():
    return json.loads(OPENAPI_DOCUMENT.read_text(encoding="utf-8"))


def test_the_committed_document_is_what_the_code_generates():
    # Imported once the environment is set, as the api handler is (see conftest.api_handler).
    export_openapi = importlib.import_module("scripts.export_openapi")

    assert OPENAPI_DOCUMENT.read_text(encoding="utf-8") == export_openapi.render(), (
        "docs/openapi.json is stale: run `.venv/bin/python scripts/export_openapi.py` and commit it"
    )


def test_it_is_openapi_3(document):
    assert document["openapi"].startswith("3.")


def test_every_route_documents_each_answer_it_gives(document):
    documented = {
        (path, method): sorted(operation["responses"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }

    assert documented == OPERATIONS


def test_every_error_answer_is_an_error_response(document):
    for operations in document["paths"].values():
        for operation in operations.values():
            for status, response in operation["responses"].items():
                schema = response["content"]["application/json"]["schema"]
                if status in GATEWAY:
                    assert schema == {"$ref": "#/components/schemas/GatewayResponse"}, status
                elif status >= "400":
                    assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, status


def test_throttling_answers_document_retry_after(document):
    for operations in document["paths"].values():
        for operation in operations.values():
            assert "Retry-After" in operation["responses"]["503"]["headers"]
