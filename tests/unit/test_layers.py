"""The Lambda package's layers, read from its source: which folder may import which.

core/ is the standard library's and its own; aws/ adds boto3 and never reaches up to a
function's code; emit/ never imports api/ (pydantic would slow its cold start, see
test_emit.py); api/ never imports emit/. Every module belongs to one of the four folders.
"""

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "lambda_src" / "task_scheduler"
# Per folder: the package's folders and the third-party distributions its modules may import.
ALLOWED = {
    "core": ({"core"}, set()),
    "aws": ({"core", "aws"}, {"boto3", "botocore"}),
    "emit": ({"core", "aws", "emit"}, {"boto3", "botocore", "aws_lambda_powertools"}),
    "api": (
        {"core", "aws", "api"},
        {"boto3", "botocore", "aws_lambda_powertools", "pydantic", "pydantic_core"},
    ),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """The absolute names of the modules `path` imports, anywhere in it."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from task_scheduler import api` imports the folder it names.
            if base == "task_scheduler":
                names.update(f"{base}.{alias.name}" for alias in node.names)
            else:
                names.add(base)
    return names


def violations(path: Path) -> list[str]:
    parts = path.relative_to(PACKAGE).parts
    if parts == ("__init__.py",):
        return []
    if len(parts) < 2 or parts[0] not in ALLOWED:
        return [f"{module_name(path)} is in none of the folders {sorted(ALLOWED)}"]
    folders, distributions = ALLOWED[parts[0]]
    found = []
    for name in sorted(imported(path)):
        top = name.split(".")[0]
        if top == "task_scheduler":
            folder = name.split(".")[1] if "." in name else None
            if folder not in folders:
                found.append(f"{module_name(path)} imports {name}")
        elif top not in sys.stdlib_module_names and top not in distributions:
            found.append(f"{module_name(path)} imports {name}")
    return found


def test_each_folder_imports_only_what_its_layer_may():
    modules = sorted(PACKAGE.rglob("*.py"))
    assert {path.relative_to(PACKAGE).parts[0] for path in modules} >= set(ALLOWED)

    assert [problem for path in modules for problem in violations(path)] == []
