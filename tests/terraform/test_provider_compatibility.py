"""The module stays usable under hashicorp/aws 5.x and 6.x, with nothing deprecated.

Two checks: Terraform's own validation against the installed provider (5.100.0) reports no
deprecation, and no reference names an attribute that provider 6 deprecates for the resources
and data sources the module uses (version 6 upgrade guide:
https://registry.terraform.io/providers/hashicorp/aws/latest/docs/guides/version-6-upgrade).
"""

import json
import re
from collections.abc import Callable

import tftest

from tests.conftest import REPO_ROOT

# Attributes the provider 6 upgrade guide deprecates, among what this module uses.
DEPRECATED_IN_6 = {
    r"data\.aws_region\.[a-z_]+\.name\b": "data.aws_region name: use id (or region on 6.x only)",
}


def test_validation_reports_no_deprecation(
    terraform: Callable[[str], tftest.TerraformTest],
) -> None:
    result = terraform(".").execute_command("validate", "-json", "-no-color")
    diagnostics = json.loads(result.out)["diagnostics"]
    assert [d for d in diagnostics if "deprecat" in json.dumps(d).lower()] == []


def test_no_reference_to_attributes_provider_6_deprecates() -> None:
    found = [
        f"{path.name}: {why}"
        for path in REPO_ROOT.glob("*.tf")
        for pattern, why in DEPRECATED_IN_6.items()
        if re.search(pattern, path.read_text())
    ]
    assert found == []


def test_constraint_admits_5_and_6() -> None:
    versions = (REPO_ROOT / "versions.tf").read_text()
    assert re.search(r'version\s*=\s*">= 5\.70, < 7\.0"', versions)
