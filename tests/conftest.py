"""Shared test set-up: every Terraform run in the tests uses the repository's CLI config
(local provider mirror when present), as the Makefile does."""

import os
import subprocess
import sys
from pathlib import Path

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
