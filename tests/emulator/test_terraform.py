"""ValidateStateMachineDefinition and ListStateMachineVersions end to end: the aws provider
creates and refreshes a state machine.

Without the patches the provider's ValidateStateMachineDefinition and
ListStateMachineVersions calls fail (max_retries = 1 makes that quick), and so does apply.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from task_scheduler_emulator import Emulator
from task_scheduler_emulator.terraform import provider_block

CONFIG = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 5.70, < 6.0" }
  }
}

resource "aws_sfn_state_machine" "tiny" {
  name       = "terraform-tiny"
  role_arn   = "arn:aws:iam::123456789012:role/sfn"
  definition = jsonencode({ StartAt = "A", States = { A = { Type = "Pass", End = true } } })
}
"""


def terraform(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # tests/conftest.py points TF_CLI_CONFIG_FILE at the repository's CLI config.
    return subprocess.run(
        ["terraform", f"-chdir={workdir}", *args, "-input=false", "-no-color"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_apply_then_plan_is_empty(emulator: Emulator, tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(CONFIG + provider_block(emulator.endpoint_url))
    init = terraform(tmp_path, "init")
    assert init.returncode == 0, init.stderr

    apply = terraform(tmp_path, "apply", "-auto-approve")
    plan = terraform(tmp_path, "plan", "-detailed-exitcode")

    assert apply.returncode == 0, apply.stderr
    assert plan.returncode == 0, plan.stdout + plan.stderr  # 2 would mean a non-empty plan
