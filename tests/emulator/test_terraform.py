"""Gaps 1 and 2 end to end: the aws provider creates and refreshes a state machine quickly."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from task_scheduler_emulator import Emulator
from task_scheduler_emulator.terraform import provider_block

CLI_CONFIG = Path(__file__).resolve().parents[2] / "build" / "terraform.rc"
CONFIG = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}

resource "aws_sfn_state_machine" "tiny" {
  name       = "terraform-tiny"
  role_arn   = "arn:aws:iam::123456789012:role/sfn"
  definition = jsonencode({ StartAt = "A", States = { A = { Type = "Pass", End = true } } })
}
"""


def terraform(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(CLI_CONFIG), "TF_IN_AUTOMATION": "1"}
    return subprocess.run(
        ["terraform", f"-chdir={workdir}", *args, "-input=false", "-no-color"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
@pytest.mark.skipif(not CLI_CONFIG.exists(), reason="run `make install` for build/terraform.rc")
def test_apply_then_plan_is_empty(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(CONFIG + provider_block(emulator.endpoint_url))
    init = terraform(tmp_path, "init")
    assert init.returncode == 0, init.stderr

    started = time.monotonic()
    apply = terraform(tmp_path, "apply", "-auto-approve")
    applied_in = time.monotonic() - started
    plan = terraform(tmp_path, "plan", "-detailed-exitcode")

    assert apply.returncode == 0, apply.stderr
    assert applied_in < 30, apply.stdout
    assert plan.returncode == 0, plan.stdout + plan.stderr  # 2 would mean a non-empty plan
