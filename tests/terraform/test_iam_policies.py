"""IAM documents from the real plan: scoped to concrete ARNs, no wildcard actions.

Documents whose inputs are known at plan (deployer, trust, X-Ray, log delivery) are
checked value by value. Runtime documents embed ARNs known only after apply, so their
statements are checked in the plan's configuration: every resource must be a
reference to a resource of this module, or "*" for the actions AWS offers no
resource-level permission for.
"""

import json
from typing import Any

import pytest

from tests.terraform.conftest import PlanFn

# Actions AWS authorises only on "*": X-Ray ingestion, Step Functions log delivery,
# listing log groups, and definition validation.
ACTIONS_REQUIRING_STAR = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "states:ValidateStateMachineDefinition",
}

# The action list of the product's documented deployer policy (the seed).
DOCUMENTED_DEPLOYER_ACTIONS = {
    "iam:PassRole",
    "sns:DeleteTopic",
    "iam:DeleteRolePolicy",
    "states:DeleteStateMachine",
    "sns:CreateTopic",
    "iam:CreateRole",
    "iam:DeleteRole",
    "states:StartExecution",
    "states:StopExecution",
    "sns:Subscribe",
    "iam:PutRolePolicy",
    "states:CreateStateMachine",
    "sns:Unsubscribe",
}


def statements(policy_json: str) -> list[dict[str, Any]]:
    document = json.loads(policy_json)
    assert document["Version"] == "2012-10-17"
    return [
        {**s, "Action": as_list(s["Action"]), "Resource": as_list(s.get("Resource", []))}
        for s in document["Statement"]
    ]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def assert_no_wildcard_actions(actions: list[str]) -> None:
    assert actions
    assert not [a for a in actions if "*" in a], actions


@pytest.mark.parametrize("case", ["defaults", "custom"])
def test_deployer_policy_is_the_documented_list_scoped_by_name(plan: PlanFn, case: str) -> None:
    result = plan(case=case)
    name = result.variables["name"]
    deployer = statements(result.outputs["deployer_policy_json"])
    actions = {action for s in deployer for action in s["Action"]}
    assert actions >= DOCUMENTED_DEPLOYER_ACTIONS
    for statement in deployer:
        assert statement["Effect"] == "Allow"
        assert_no_wildcard_actions(statement["Action"])
        if statement["Resource"] == ["*"]:
            assert set(statement["Action"]) <= ACTIONS_REQUIRING_STAR, statement["Sid"]
        elif statement["Sid"] == "ManageHttpApi":
            # API ids are generated, so the API is scoped by region only.
            assert all(":apigateway:eu-west-1::/" in r for r in statement["Resource"])
        elif statement["Sid"] == "UsePowertoolsLayer":
            assert statement["Resource"][0].startswith(
                "arn:aws:lambda:eu-west-1:017000801446:layer:"
            )
        else:
            assert all(f"/{name}" in r or f":{name}" in r for r in statement["Resource"]), statement
    pass_role = next(s for s in deployer if s["Action"] == ["iam:PassRole"])
    assert pass_role["Condition"]["StringEquals"]["iam:PassedToService"] == [
        "lambda.amazonaws.com",
        "states.amazonaws.com",
    ]


def policy_documents_in_configuration(result: Any) -> dict[str, Any]:
    resources = result.configuration["root_module"]["resources"]
    return {
        r["address"]: r["expressions"]
        for r in resources
        if r["mode"] == "data" and r["type"] == "aws_iam_policy_document"
    }


def test_runtime_policies_reference_concrete_resources(plan: PlanFn) -> None:
    documents = policy_documents_in_configuration(plan())
    runtime = {
        "data.aws_iam_policy_document.lambda_logs": ["aws_cloudwatch_log_group.lambda"],
        "data.aws_iam_policy_document.start_execution": ["aws_sfn_state_machine.this"],
        "data.aws_iam_policy_document.publish": ["aws_sns_topic.this"],
        "data.aws_iam_policy_document.orchestrate": [
            "aws_lambda_function.emit",
            "aws_sqs_queue.dead_letter",
        ],
        "data.aws_iam_policy_document.invoke": ["local.schedule_route_arn"],
    }
    for address, expected_references in runtime.items():
        referenced = set()
        for statement in documents[address]["statement"]:
            assert_no_wildcard_actions(statement["actions"]["constant_value"])
            assert "constant_value" not in statement["resources"], (address, statement)
            referenced.update(statement["resources"]["references"])
        assert set(expected_references) <= referenced, address


def test_star_resources_only_where_aws_requires_them(plan: PlanFn) -> None:
    for address, document in policy_documents_in_configuration(plan()).items():
        for statement in document.get("statement", []):
            if statement.get("resources", {}).get("constant_value") == ["*"]:
                actions = set(statement["actions"]["constant_value"])
                assert actions <= ACTIONS_REQUIRING_STAR, address


def test_roles_trust_only_their_service(plan: PlanFn) -> None:
    roles = [
        r["values"]
        for r in plan().resources.values()
        if r["mode"] == "managed" and r["type"] == "aws_iam_role"
    ]
    trusted = {}
    for role in roles:
        (statement,) = statements(role["assume_role_policy"])
        assert statement["Action"] == ["sts:AssumeRole"]
        trusted[role["name"]] = statement["Principal"]["Service"]
    assert trusted == {
        "task-scheduler-api": "lambda.amazonaws.com",
        "task-scheduler-emit": "lambda.amazonaws.com",
        "task-scheduler-state-machine": "states.amazonaws.com",
    }


def test_role_policies_combine_one_document_per_concern(plan: PlanFn) -> None:
    documents = policy_documents_in_configuration(plan())
    sources = {
        role: documents[f"data.aws_iam_policy_document.{role}"]["source_policy_documents"][
            "references"
        ]
        for role in ("api", "emit", "state_machine")
    }
    assert "data.aws_iam_policy_document.start_execution.json" in sources["api"]
    assert "data.aws_iam_policy_document.publish.json" in sources["emit"]
    assert "data.aws_iam_policy_document.publish.json" not in sources["api"]
    assert "data.aws_iam_policy_document.orchestrate.json" in sources["state_machine"]
    assert "data.aws_iam_policy_document.state_machine_logs.json" in sources["state_machine"]
