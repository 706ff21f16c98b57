"""Generate the README's Inputs and Outputs tables from variables.tf and outputs.tf.

Usage: readme_tables.py [--check]

The tables sit between marker comments in README.md; everything else in the README is left as
it is. With --check nothing is written and the exit status says whether the tables are current
(tests/terraform/test_readme_tables.py runs the same comparison).
"""

import json
import re
import sys
from pathlib import Path
from typing import Any

import hcl2

REPO_ROOT = Path(__file__).resolve().parent.parent
README = REPO_ROOT / "README.md"
MARKERS = {
    "inputs": (
        "<!-- BEGIN INPUTS: generated from variables.tf by `make docs` -->",
        "<!-- END INPUTS -->",
    ),
    "outputs": (
        "<!-- BEGIN OUTPUTS: generated from outputs.tf by `make docs` -->",
        "<!-- END OUTPUTS -->",
    ),
}
# Keys python-hcl2 adds to its parse tree that are not Terraform arguments.
_PARSER_KEYS = {"__is_block__", "__comments__", "__inline_comments__"}


def _unquote(text: str) -> str:
    """A quoted HCL string literal's value (python-hcl2 keeps the quotes)."""
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        try:
            value: str = json.loads(text)
            return value
        except json.JSONDecodeError:
            return text[1:-1]
    return text


def _expression(text: str) -> str:
    """An expression as written (python-hcl2 wraps non-literals in ${...})."""
    if text.startswith("${") and text.endswith("}"):
        return text[2:-1]
    return text


def hcl_literal(value: Any) -> str:
    """A parsed default value, written back as HCL on one line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return _expression(value)
    if isinstance(value, list):
        return "[" + ", ".join(hcl_literal(item) for item in value) + "]"
    if isinstance(value, dict):
        items = [
            f"{_unquote(key)} = {hcl_literal(item)}"
            for key, item in value.items()
            if key not in _PARSER_KEYS
        ]
        return "{" + ", ".join(items) + "}"
    raise TypeError(f"unexpected value in a default: {value!r}")


def _cell(text: str) -> str:
    """Prose for a table cell: one line, and no pipe or angle bracket read as markup."""
    text = " ".join(text.split()).replace("|", "\\|")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    return "`" + " ".join(text.split()).replace("|", "\\|") + "`"


def _blocks(path: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    with path.open() as tf:
        parsed = hcl2.load(tf)
    return [
        (_unquote(name), body) for block in parsed.get(kind, []) for name, body in block.items()
    ]


def render_inputs(variables_tf: Path = REPO_ROOT / "variables.tf") -> str:
    rows = ["| name | description | type | default |", "|---|---|---|---|"]
    for name, body in _blocks(variables_tf, "variable"):
        description = _unquote(body.get("description", ""))
        type_ = _expression(body.get("type", "any"))
        default = _code(hcl_literal(body["default"])) if "default" in body else "required"
        rows.append(f"| `{name}` | {_cell(description)} | {_code(type_)} | {default} |")
    return "\n".join(rows)


def render_outputs(outputs_tf: Path = REPO_ROOT / "outputs.tf") -> str:
    rows = ["| name | description |", "|---|---|"]
    for name, body in _blocks(outputs_tf, "output"):
        rows.append(f"| `{name}` | {_cell(_unquote(body.get('description', '')))} |")
    return "\n".join(rows)


def update(readme: str, tables: dict[str, str]) -> str:
    """``readme`` with the text between each pair of markers replaced by its table."""
    for section, (begin, end) in MARKERS.items():
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.DOTALL)
        matches = list(pattern.finditer(readme))
        if len(matches) != 1:
            raise ValueError(f"README.md needs exactly one {begin} ... {end} pair")
        start, stop = matches[0].span()
        readme = f"{readme[:start]}{begin}\n{tables[section]}\n{end}{readme[stop:]}"
    return readme


def generated_readme(readme: Path = README) -> str:
    tables = {"inputs": render_inputs(), "outputs": render_outputs()}
    return update(readme.read_text(), tables)


def main(check: bool) -> int:
    current = README.read_text()
    wanted = generated_readme()
    if current == wanted:
        print("README.md: Inputs and Outputs tables are current")
        return 0
    if check:
        print("README.md: Inputs or Outputs tables differ from the .tf files; run `make docs`")
        return 1
    README.write_text(wanted)
    print("README.md: Inputs and Outputs tables regenerated")
    return 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments not in ([], ["--check"]):
        sys.exit(__doc__)
    sys.exit(main(check=arguments == ["--check"]))
