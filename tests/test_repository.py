"""The repository's own front matter: the README stays a front page whose links resolve, and
the pre-commit hooks run what `make lint` runs."""

import re
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
PAGES += [REPO_ROOT / "examples" / "README.md", REPO_ROOT / "emulator" / "README.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_readme_is_a_front_page() -> None:
    assert len((REPO_ROOT / "README.md").read_text().splitlines()) <= 300


def test_relative_links_resolve() -> None:
    broken = []
    for page in PAGES:
        if not page.exists():
            broken.append(f"{page.relative_to(REPO_ROOT)} is missing")
            continue
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            if not resolved.exists():
                broken.append(f"{page.relative_to(REPO_ROOT)}: {target}")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{page.relative_to(REPO_ROOT)}: {target} (no such heading)")
    assert broken == []


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_pre_commit_runs_the_lint_tools_at_their_pinned_versions() -> None:
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text())
    (ruff,) = [repo for repo in config["repos"] if repo["repo"].endswith("/ruff-pre-commit")]
    pinned = re.search(r"^ruff==(\S+)$", (REPO_ROOT / "requirements/dev.txt").read_text(), re.M)
    assert pinned
    assert ruff["rev"] == f"v{pinned[1]}"
    linted = re.search(r"\$\(BIN\)/ruff check (.+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
    assert linted
    for hook in ruff["hooks"]:
        assert hook["files"] == "^(" + "|".join(linted[1].split()) + ")/", hook["id"]
    local = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff", "ruff-format", "mypy", "terraform-fmt", "terraform-validate"} <= local
