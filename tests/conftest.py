"""Shared test set-up: every Terraform run in the tests uses the repository's CLI config
(local provider mirror when present), as the Makefile does."""

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _terraform_cli_config() -> str:
    """Generate build/terraform.rc the way the Makefile does, for runs of bare `pytest`."""
    config = REPO_ROOT / "build" / "terraform.rc"
    config.parent.mkdir(exist_ok=True)
    rendered = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "terraform_cli_config.py")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    config.write_text(rendered)
    return str(config)


os.environ["TF_CLI_CONFIG_FILE"] = _terraform_cli_config()
os.environ.setdefault("TF_IN_AUTOMATION", "1")


# `make test` runs the suite on two pytest-xdist workers (`-n 2 --dist loadscope`). The
# local-stack suite mostly waits for timestamps, so it runs on one worker while the other takes
# the CPU-bound rest (plans, unit tests). Each scope below runs on one worker, so that no
# package- or module-scoped fixture is built twice (one local stack, one recorded deployer
# lifecycle); the local stack is collected first so that it starts at once (xdist hands out
# scopes in collection order with --no-loadscope-reorder).
SHARED_PACKAGES = ("local_stack", "deployer", "emulator")
LOCAL_STACK = "tests/local_stack"


def scope_of(nodeid: str) -> str:
    """The package for the packages sharing fixtures, else the test module."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[1] in SHARED_PACKAGES else path


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook; the runtime venvs lack xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return scope_of(nodeid)

    return SharedFixtureScheduling(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    shared = [nodeid for nodeid, n in Counter(item.nodeid for item in items).items() if n > 1]
    if shared:  # pytest-xdist would run only the first item of each
        raise pytest.UsageError(f"tests share node ids: {shared}")
    items.sort(key=lambda item: scope_of(item.nodeid) != LOCAL_STACK)  # stable: order kept
