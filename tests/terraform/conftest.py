"""Plan fixtures in the style of Cloud Foundation Fabric's tftest suites.

The module is copied to a temporary tree (with its examples) so that tests never
leave provider files or Terraform state in the working copy; each folder is
initialised once per session and planned once per tfvars case.
"""

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import tftest

from tests.conftest import REPO_ROOT

FIXTURES = Path(__file__).parent / "fixtures"
CASES = Path(__file__).parent / "cases"
COPIED = ["*.tf", "dist", "examples"]
LEFT_BEHIND = shutil.ignore_patterns(".terraform*", "*.tfstate*")

PlanFn = Callable[..., tftest.TerraformPlanOutput]
TerraformFn = Callable[[str], tftest.TerraformTest]


@pytest.fixture(scope="session")
def module_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("module")
    for pattern in COPIED:
        for source in REPO_ROOT.glob(pattern):
            target = tree / source.name
            if source.is_dir():
                shutil.copytree(source, target, ignore=LEFT_BEHIND)
            else:
                shutil.copy2(source, target)
    # The root module declares no provider; examples declare one that the override adjusts.
    shutil.copy2(FIXTURES / "offline_provider.tf", tree / "offline_provider.tf")
    shutil.copytree(Path(__file__).parent / "hcl", tree / "tests")
    for example in (path for path in (tree / "examples").iterdir() if path.is_dir()):
        override = FIXTURES / "offline_provider_override.tf"
        shutil.copy2(override, example / override.name)
    shutil.copy2(FIXTURES / "complete_account_override.tf", tree / "examples" / "complete")
    # A root module calling the module once per region (its own provider blocks): the module
    # copied without the offline provider, which a called module must not declare.
    two_regions = tree / "two_regions"
    shutil.copytree(FIXTURES / "two_regions", two_regions)
    (two_regions / "module").mkdir()
    for source in REPO_ROOT.glob("*.tf"):
        shutil.copy2(source, two_regions / "module" / source.name)
    shutil.copytree(REPO_ROOT / "dist", two_regions / "module" / "dist", ignore=LEFT_BEHIND)
    return tree


@pytest.fixture(scope="session")
def terraform(module_tree: Path) -> Callable[[str], tftest.TerraformTest]:
    """Initialised TerraformTest for a folder of the copied tree ('.' or 'examples/<name>')."""
    initialised: dict[str, tftest.TerraformTest] = {}

    def get(folder: str) -> tftest.TerraformTest:
        if folder not in initialised:
            tf = tftest.TerraformTest(str(module_tree / folder), binary="terraform")
            tf.setup(upgrade=False, cleanup_on_exit=False)
            initialised[folder] = tf
        return initialised[folder]

    return get


@pytest.fixture(scope="session")
def plan(terraform: Callable[[str], tftest.TerraformTest]) -> PlanFn:
    """Plan a folder with a tfvars case from tests/terraform/cases (cached per session)."""
    cache: dict[tuple[str, str, str], tftest.TerraformPlanOutput] = {}

    def run(
        folder: str = ".", case: str = "defaults", **tf_vars: Any
    ) -> tftest.TerraformPlanOutput:
        key = (folder, case, repr(sorted(tf_vars.items())))
        if key not in cache:
            cache[key] = terraform(folder).plan(
                output=True, tf_var_file=str(CASES / f"{case}.tfvars"), tf_vars=tf_vars or None
            )
        return cache[key]

    return run


@dataclass
class MockedApply:
    """What `terraform test -json -verbose` reported for the HCL suite in hcl/, per run."""

    outcomes: dict[str, str] = field(default_factory=dict)
    states: dict[str, dict[str, Any]] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    output: str = ""

    def resources(self, run: str) -> dict[str, dict[str, Any]]:
        """The values of each resource and data source a run applied, by address."""
        return {r["address"]: r["values"] for r in self.states[run]["root_module"]["resources"]}

    def outputs(self, run: str) -> dict[str, Any]:
        return {name: o["value"] for name, o in self.states[run]["outputs"].items()}


@pytest.fixture(scope="session")
def mocked_apply(terraform: TerraformFn) -> MockedApply:
    """Run the HCL suite once against its mocked provider and keep each run's state.

    The state holds what a plan cannot show (ARNs, the state machine definition, the functions'
    environment) as Terraform rendered it; mocked data sources keep their configured arguments
    (a policy document's statements), only their computed JSON is mocked.
    """
    tf = terraform(".")
    result = subprocess.run(
        [tf.binary, "test", "-json", "-verbose", "-no-color"],
        cwd=tf.tfdir,
        env=tf.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    applied = MockedApply(output=result.stdout[-20000:] + result.stderr[-5000:])
    for line in result.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        kind, run = message.get("type"), message.get("@testrun")
        if kind == "test_run" and message["test_run"].get("progress") == "complete":
            applied.outcomes[run] = message["test_run"]["status"]
        elif kind == "test_state":
            state = message["test_state"]
            applied.states[run] = {"root_module": state["root_module"], "outputs": state["outputs"]}
        elif kind == "test_summary":
            applied.summary = message["test_summary"]
    return applied
