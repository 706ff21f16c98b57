"""Write the API's OpenAPI document, generated from the api function's routes.

    python scripts/export_openapi.py [DESTINATION]   (default: docs/openapi.json)

tests/unit/test_openapi.py fails when the committed document differs from what this generates.
"""

import json
import sys
from pathlib import Path
from typing import Any

from task_scheduler.api.handler import app

DESTINATION = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
TITLE = "terraform-aws-task-scheduler"
DESCRIPTION = (
    "Schedule a message for publication to an SNS topic at a millisecond; read, list, cancel "
    "and reschedule scheduled tasks. Every error answer is an ErrorResponse whose errors name "
    "the broken rules."
)
VERSION = "1.0.0"
_REF_PREFIX = "#/components/schemas/"


def document() -> dict[str, Any]:
    generated: dict[str, Any] = json.loads(
        app.get_openapi_json_schema(title=TITLE, version=VERSION, description=DESCRIPTION)
    )
    # Powertools documents its own 422 body on every route. Ours answer 422 with an
    # ErrorResponse, and only to a body: routes without one never do.
    for operations in generated["paths"].values():
        for operation in operations.values():
            responses = operation["responses"]
            if "requestBody" not in operation:
                del responses["422"]
            operation["responses"] = dict(sorted(responses.items()))
    schemas = generated["components"]["schemas"]
    used = _referenced(generated["paths"], schemas)
    generated["components"]["schemas"] = {name: schemas[name] for name in sorted(used)}
    return generated


def _referenced(node: Any, schemas: dict[str, Any], found: set[str] | None = None) -> set[str]:
    """The schemas `node` refers to, directly or through other schemas."""
    found = set() if found is None else found
    if isinstance(node, dict):
        ref = node.get("$ref")
        name = ref.removeprefix(_REF_PREFIX) if isinstance(ref, str) else None
        if name is not None and name not in found:
            found.add(name)
            _referenced(schemas[name], schemas, found)
        for value in node.values():
            _referenced(value, schemas, found)
    elif isinstance(node, list):
        for value in node:
            _referenced(value, schemas, found)
    return found


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


if __name__ == "__main__":
    destination = Path(sys.argv[1]) if len(sys.argv) > 1 else DESTINATION
    destination.write_text(render(), encoding="utf-8")
    print(destination)
