"""IAM role names are global to an account: the same name in two regions must not collide.

The fixture root module (fixtures/two_regions) calls the module twice with the same name, once
per region through two provider aliases, and is planned with and without
iam_role_use_name_prefix.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import tftest

from tests.terraform.conftest import TerraformFn

ROLE_TYPE = "aws_iam_role"


def planned_roles(terraform: TerraformFn, use_name_prefix: bool) -> list[dict[str, Any]]:
    result: tftest.TerraformPlanOutput = terraform("two_regions").plan(
        output=True, tf_vars={"iam_role_use_name_prefix": str(use_name_prefix).lower()}
    )
    return [
        {**change["change"]["after"], "unknown": change["change"]["after_unknown"]}
        | {"address": address}
        for address, change in result.resource_changes.items()
        if change["type"] == ROLE_TYPE
    ]


def test_the_same_name_in_two_regions_collides_with_exact_role_names(
    terraform: TerraformFn,
) -> None:
    roles = planned_roles(terraform, use_name_prefix=False)
    assert len(roles) == 6
    names = Counter(role["name"] for role in roles)
    # Each of the three names planned twice: IAM refuses the second region's CreateRole.
    assert names == {"reminders-api": 2, "reminders-emit": 2, "reminders-state-machine": 2}


def test_the_same_name_in_two_regions_does_not_collide_with_name_prefixes(
    terraform: TerraformFn,
) -> None:
    roles = planned_roles(terraform, use_name_prefix=True)
    assert len(roles) == 6
    for role in roles:
        # No fixed name: IAM picks one from the prefix, unique in the account (a 26-character
        # suffix), within the 64 characters of a role name.
        assert role.get("name") is None, role["address"]
        assert role["unknown"]["name"] is True, role["address"]
        assert role["name_prefix"].startswith("reminders-"), role["address"]
        assert len(role["name_prefix"]) + 26 <= 64
    assert sorted(Counter(role["name_prefix"] for role in roles).values()) == [2, 2, 2]
    assert {role["name_prefix"] for role in roles} == {
        "reminders-api-",
        "reminders-emit-",
        "reminders-sfn-",
    }
    # No known name is planned twice (none is known at all).
    known = [role["name"] for role in roles if role.get("name")]
    assert len(known) == len(set(known))


def test_deployer_policies_name_the_prefixed_roles_in_each_region(terraform: TerraformFn) -> None:
    result = terraform("two_regions").plan(
        output=True, tf_vars={"iam_role_use_name_prefix": "true"}
    )
    for region, document in result.outputs["deployer_policies"].items():
        statements = {s["Sid"]: s for s in json.loads(document)["Statement"]}
        assert sorted(statements["ManageRoles"]["Resource"]) == [
            "arn:aws:iam::*:role/reminders-api-*",
            "arn:aws:iam::*:role/reminders-emit-*",
            "arn:aws:iam::*:role/reminders-sfn-*",
        ], region
        machine = statements["ManageStateMachine"]["Resource"]
        assert machine == f"arn:aws:states:{region.replace('_', '-')}:*:stateMachine:reminders"
