"""Upgrading from the layout before the files were split by component changes nothing.

The module's .tf files at the baseline commit (the parent of the commit that added
migrations.tf, found in git history so that it survives rebases) are applied to the emulator;
the current .tf files then replace them under the same state, and a plan must hold no change:
every resource no-op, the dead-letter queue only moved (its `moved` block), every output
unchanged. Both layouts deploy the current dist/task_scheduler.zip, so that only the Terraform
files are compared. The root module sets the deprecated lambda_memory_size, as a caller of the
baseline layout did, and turns the alarms and the dashboard on, which name the queue.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from task_scheduler_emulator import start_emulator
from task_scheduler_emulator.local_stack import run_terraform
from task_scheduler_emulator.terraform import provider_block
from tests.conftest import REPO_ROOT

REGION = "us-east-1"
MODULE = "module.task_scheduler"
# The one address the split renamed; migrations.tf moves it.
MOVED = {f"{MODULE}.aws_sqs_queue.dead_letter": f"{MODULE}.aws_sqs_queue.this"}

ROOT = """
terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}

%(provider)s

resource "aws_sns_topic" "alarms" {
  name = "upgrade-check-alarms"
}

module "task_scheduler" {
  source = "./module"

  name               = "upgrade-check"
  lambda_memory_size = 512
  alarm_topic_arn    = aws_sns_topic.alarms.arn
  alarms             = { enabled = true }
  dashboard_enabled  = true
  tracing_enabled    = false
}

output "module" {
  value = module.task_scheduler
}
"""


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=True
    ).stdout


def baseline_commit() -> str:
    """The parent of the first commit that added migrations.tf."""
    try:
        added = _git("log", "--diff-filter=A", "--format=%H", "--", "migrations.tf").split()
        if not added:
            pytest.skip("no commit in this checkout's history adds migrations.tf")
        return _git("rev-parse", "--verify", f"{added[-1]}^").strip()
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"this checkout has no git history to find the baseline layout in: {error}")


def materialise(module: Path, commit: str | None) -> None:
    """The module's top-level .tf files at `commit` (None: the working tree), with the current
    package."""
    if module.exists():
        shutil.rmtree(module)
    module.mkdir(parents=True)
    if commit is None:
        for source in REPO_ROOT.glob("*.tf"):
            shutil.copy2(source, module / source.name)
    else:
        for name in _git("ls-tree", "--name-only", commit).split():
            if name.endswith(".tf"):
                (module / name).write_text(_git("show", f"{commit}:{name}"))
    shutil.copytree(REPO_ROOT / "dist", module / "dist")


@dataclass
class Upgrade:
    baseline: str
    baseline_plan: dict[str, Any]
    current_plan: dict[str, Any]


def _terraform(workdir: Path, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    result = run_terraform(
        ["terraform", f"-chdir={workdir}", *args],
        env={**os.environ, "TF_DATA_DIR": str(workdir / ".terraform")},
        timeout=600,
    )
    assert result.returncode in ok, f"terraform {args[0]}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _plan(workdir: Path) -> dict[str, Any]:
    _terraform(workdir, "plan", "-input=false", "-no-color", "-out=upgrade.tfplan")
    plan: dict[str, Any] = json.loads(_terraform(workdir, "show", "-json", "upgrade.tfplan"))
    return plan


@pytest.fixture(scope="module")
def upgrade(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upgrade]:
    baseline = baseline_commit()
    workdir = tmp_path_factory.mktemp("upgrade")
    module = workdir / "module"
    materialise(module, baseline)
    with start_emulator() as emulator:
        (workdir / "main.tf").write_text(
            ROOT % {"provider": provider_block(emulator.endpoint_url, REGION)}
        )
        _terraform(workdir, "init", "-input=false", "-no-color")
        _terraform(workdir, "apply", "-input=false", "-no-color", "-auto-approve")
        # The emulator answers as it stored: the baseline planned again changes nothing, so
        # whatever the current layout's plan shows comes from the layout.
        baseline_plan = _plan(workdir)
        materialise(module, None)
        _terraform(workdir, "init", "-input=false", "-no-color")
        yield Upgrade(baseline, baseline_plan, _plan(workdir))


def changes(plan: dict[str, Any]) -> dict[str, list[str]]:
    """Actions of every resource and output that would change."""
    resources = {
        rc["address"]: rc["change"]["actions"]
        for rc in plan.get("resource_changes", [])
        if rc["change"]["actions"] != ["no-op"]
    }
    outputs = {
        f"output.{name}": change["actions"]
        for name, change in plan.get("output_changes", {}).items()
        if change["actions"] != ["no-op"]
    }
    return {**resources, **outputs}


def test_the_baseline_is_the_layout_before_migrations_tf(upgrade: Upgrade) -> None:
    listed = _git("ls-tree", "--name-only", upgrade.baseline).split()
    assert "migrations.tf" not in listed
    assert {"main.tf", "iam.tf", "variables.tf", "outputs.tf"} <= set(listed)


def test_the_baseline_applied_plans_no_change(upgrade: Upgrade) -> None:
    assert changes(upgrade.baseline_plan) == {}


def test_the_current_layout_plans_no_change_on_the_baseline_s_state(upgrade: Upgrade) -> None:
    plan = upgrade.current_plan
    assert changes(plan) == {}
    moved = {
        rc["address"]: rc["previous_address"]
        for rc in plan["resource_changes"]
        if "previous_address" in rc
    }
    assert moved == MOVED
    # The same managed resources, under the same addresses but for the move.
    before = {rc["address"] for rc in upgrade.baseline_plan["resource_changes"]}
    after = {rc["address"] for rc in plan["resource_changes"]}
    renamed = {MOVED.get(address, address) for address in after}
    assert renamed == before
