"""Every input says what it is in a sentence or two (the reasoning lives in docs/), with a type
and a default; every output has a description."""

import json
from pathlib import Path
from typing import Any

import hcl2

from tests.conftest import REPO_ROOT

# The README's Inputs table shows each description in one cell: the hard limit.
MAX_DESCRIPTION = 300


def _blocks(tf_file: Path, kind: str) -> dict[str, dict[str, Any]]:
    """Blocks of one kind by name (python-hcl2 keeps the quotes of labels and strings)."""
    with tf_file.open() as handle:
        parsed = hcl2.load(handle)
    return {
        json.loads(name): body for block in parsed.get(kind, []) for name, body in block.items()
    }


def _description(body: dict[str, Any]) -> str | None:
    return json.loads(body["description"]) if "description" in body else None


def test_every_variable_has_a_description_a_type_and_a_default() -> None:
    variables = _blocks(REPO_ROOT / "variables.tf", "variable")
    assert len(variables) > 30, "the parser no longer finds the variables"
    missing = {
        name: [key for key in ("description", "type", "default") if key not in body]
        for name, body in variables.items()
    }
    assert {name: keys for name, keys in missing.items() if keys} == {}
    assert [name for name, body in variables.items() if not _description(body)] == []


def test_variable_descriptions_are_at_most_300_characters() -> None:
    variables = _blocks(REPO_ROOT / "variables.tf", "variable")
    lengths = {name: len(_description(body) or "") for name, body in variables.items()}
    assert {name: n for name, n in lengths.items() if n > MAX_DESCRIPTION} == {}


def test_the_deprecated_memory_variable_says_so_first() -> None:
    variables = _blocks(REPO_ROOT / "variables.tf", "variable")
    deprecated = _description(variables["lambda_memory_size"]) or ""
    assert deprecated.startswith("Deprecated: use api_memory_size.")
    assert variables["lambda_memory_size"]["default"] is None


def test_every_output_has_a_description() -> None:
    outputs = _blocks(REPO_ROOT / "outputs.tf", "output")
    assert len(outputs) > 20, "the parser no longer finds the outputs"
    assert [name for name, body in outputs.items() if not _description(body)] == []
