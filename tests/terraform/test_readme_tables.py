"""The README's Inputs and Outputs tables are generated from variables.tf and outputs.tf
(`make docs`, scripts/readme_tables.py) and must not drift from them."""

import difflib
import re
from pathlib import Path

import pytest

from scripts.readme_tables import (
    MARKERS,
    README,
    generated_readme,
    hcl_literal,
    render_inputs,
    render_outputs,
    update,
)
from tests.conftest import REPO_ROOT


def _table_names(readme: str, section: str) -> list[str]:
    begin, end = MARKERS[section]
    table = readme.split(begin, 1)[1].split(end, 1)[0]
    return re.findall(r"^\| `([a-z0-9_]+)` \|", table, re.MULTILINE)


def _declared(tf_file: str, kind: str) -> list[str]:
    """Block names read with a regular expression, independently of the generator's parser."""
    text = (REPO_ROOT / tf_file).read_text()
    return re.findall(rf'^{kind} "([a-z0-9_]+)" {{', text, re.MULTILINE)


def test_readme_tables_are_current() -> None:
    current = README.read_text()
    wanted = generated_readme()
    diff = "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            wanted.splitlines(keepends=True),
            "README.md",
            "generated",
        )
    )
    assert current == wanted, f"README tables drifted from the .tf files; run `make docs`:\n{diff}"


def test_every_variable_and_output_has_one_row() -> None:
    readme = README.read_text()
    variables = _declared("variables.tf", "variable")
    outputs = _declared("outputs.tf", "output")
    # Including emission_lead_seconds and emit_memory_size, which a hand-written table once lacked.
    assert {"emission_lead_seconds", "emit_memory_size"} <= set(variables)
    assert _table_names(readme, "inputs") == variables
    assert _table_names(readme, "outputs") == outputs


def test_time_slot_inputs_and_outputs_have_rows() -> None:
    readme = README.read_text()
    assert "slot_shard_size" in _table_names(readme, "inputs")
    (row,) = [r for r in render_inputs().splitlines() if r.startswith("| `slot_shard_size` |")]
    assert row.endswith("| `number` | `500` |")
    outputs = _table_names(readme, "outputs")
    assert {"dynamodb_slots_table_name", "dynamodb_slots_table_arn"} <= set(outputs)
    # The idempotency table is gone, and its outputs with it.
    assert not [name for name in outputs if "idempotency" in name]


def test_every_variable_and_output_is_described_and_typed() -> None:
    for row in render_inputs().splitlines()[2:]:
        _name, description, type_, default = (cell.strip() for cell in row.strip("|").split(" | "))
        assert description, row
        assert type_ != "`any`", row
        assert default, row
    for row in render_outputs().splitlines()[2:]:
        assert row.strip("|").split(" | ")[1].strip(), row


def test_a_changed_variable_makes_the_tables_drift(tmp_path: Path) -> None:
    variables = (REPO_ROOT / "variables.tf").read_text()
    changed = tmp_path / "variables.tf"
    changed.write_text(
        variables.replace('default     = "task-scheduler"', 'default     = "scheduler"', 1)
        + '\nvariable "extra" {\n  description = "A | B <c>"\n  type = list(string)\n}\n'
    )
    table = render_inputs(changed)
    assert '`"scheduler"`' in table
    assert "| `extra` | A \\| B &lt;c&gt; | `list(string)` | required |" in table
    readme = README.read_text()
    assert update(readme, {"inputs": table, "outputs": render_outputs()}) != readme


@pytest.mark.parametrize(
    ("parsed", "hcl"),
    [
        (None, "null"),
        (True, "true"),
        (-1, "-1"),
        ('"AWS_IAM"', '"AWS_IAM"'),
        ({}, "{}"),
        ([], "[]"),
        ({"a": 1, "__is_block__": True}, "{a = 1}"),
        (['"x"', 2], '["x", 2]'),
    ],
)
def test_defaults_are_written_back_as_hcl(parsed: object, hcl: str) -> None:
    assert hcl_literal(parsed) == hcl


def test_update_needs_exactly_one_pair_of_markers() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        update("no markers here", {"inputs": "", "outputs": ""})
