"""The Step Functions calls the aws provider makes that moto lacks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

PASS = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}


def test_validate_state_machine_definition_ok_and_fail(client: Callable[[str], Any]) -> None:
    sfn = client("stepfunctions")

    ok = sfn.validate_state_machine_definition(definition=json.dumps(PASS), type="STANDARD")
    bogus = {"StartAt": "A", "States": {"A": {"Type": "Bogus", "End": True}}}
    failed = sfn.validate_state_machine_definition(definition=json.dumps(bogus))
    unparsable = sfn.validate_state_machine_definition(definition="{not json")

    assert (ok["result"], ok["diagnostics"]) == ("OK", [])
    assert failed["result"] == "FAIL"
    assert failed["diagnostics"][0]["severity"] == "ERROR"
    assert "Bogus" in failed["diagnostics"][0]["message"]
    assert unparsable["result"] == "FAIL"


def test_list_state_machine_versions(client: Callable[[str], Any], role_arn: str) -> None:
    sfn = client("stepfunctions")
    plain = sfn.create_state_machine(
        name="unversioned", definition=json.dumps(PASS), roleArn=role_arn
    )
    published = sfn.create_state_machine(
        name="versioned", definition=json.dumps(PASS), roleArn=role_arn, publish=True
    )

    none = sfn.list_state_machine_versions(stateMachineArn=plain["stateMachineArn"])
    one = sfn.list_state_machine_versions(stateMachineArn=published["stateMachineArn"])

    assert none["stateMachineVersions"] == []
    assert [v["stateMachineVersionArn"] for v in one["stateMachineVersions"]] == [
        published["stateMachineVersionArn"]
    ]
