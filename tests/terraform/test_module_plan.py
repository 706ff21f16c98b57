"""Plan the root module with each tfvars case and check the real plan JSON: what holds across
components (resource counts, outputs, secure defaults, custom inputs, creation order)."""

from collections import Counter

import pytest

from tests.terraform.conftest import PlanFn
from tests.terraform.plan_values import (
    BASE_COUNTS,
    ROUTE_KEYS,
    functions,
    managed,
    of_type,
    one,
    routes,
    tables,
)

EXPECTED_OUTPUTS = {
    "api_id",
    "api_endpoint",
    "api_execution_arn",
    "api_schedule_url",
    "api_route_keys",
    "api_authorization_type",
    "apigatewayv2_authorizer_id",
    "sns_topic_arn",
    "sns_topic_name",
    "sns_subscription_arns",
    "sfn_state_machine_arn",
    "sfn_state_machine_name",
    "sqs_dead_letter_queue_arn",
    "sqs_dead_letter_queue_url",
    "lambda_api_function_arn",
    "lambda_api_function_name",
    "lambda_emit_function_arn",
    "lambda_emit_function_name",
    "cloudwatch_log_group_names",
    "invoke_policy_json",
    "invoke_read_only_policy_json",
    "dynamodb_table_name",
    "dynamodb_table_arn",
    "dynamodb_slots_table_name",
    "dynamodb_slots_table_arn",
    "deployer_policy_json",
    "iam_role_arns",
    "cloudwatch_metric_alarm_arns",
    "cloudwatch_dashboard_arn",
}


@pytest.mark.parametrize(
    ("case", "extra"),
    [
        ("defaults", {}),
        ("authorization_none", {}),
        ("kms", {}),
        ("custom", {"aws_sns_topic_subscription": 2}),
        ("alarms", {"aws_cloudwatch_metric_alarm": 8}),
        ("jwt", {"aws_apigatewayv2_authorizer": 1}),
    ],
)
def test_resource_counts(plan: PlanFn, case: str, extra: dict[str, int]) -> None:
    counts = Counter(r["type"] for r in managed(plan(case=case)).values())
    assert counts == Counter({**BASE_COUNTS, **extra})


def test_every_output_is_declared(plan: PlanFn) -> None:
    assert set(plan().outputs) == EXPECTED_OUTPUTS


def test_defaults_are_secure(plan: PlanFn) -> None:
    defaults = plan()
    assert {key: r["authorization_type"] for key, r in routes(defaults).items()} == dict.fromkeys(
        ROUTE_KEYS, "AWS_IAM"
    )
    assert one(defaults, "aws_sns_topic")["kms_master_key_id"] == "alias/aws/sns"
    queue = one(defaults, "aws_sqs_queue")
    assert queue["sqs_managed_sse_enabled"] is True
    assert queue["message_retention_seconds"] == 1209600
    logging = one(defaults, "aws_sfn_state_machine")["logging_configuration"][0]
    assert (logging["include_execution_data"], logging["level"]) == (False, "ERROR")
    assert {g["retention_in_days"] for g in of_type(defaults, "aws_cloudwatch_log_group")} == {30}


def test_custom_inputs_reach_every_resource(plan: PlanFn) -> None:
    custom = plan(case="custom")
    tags = {"team": "billing", "env": "test"}
    taggable = [r for r in managed(custom).values() if "tags" in r["values"]]
    assert len(taggable) == 16
    assert all(r["values"]["tags"] == tags for r in taggable)
    names = [
        *(f["function_name"] for f in of_type(custom, "aws_lambda_function")),
        *(r["name"] for r in of_type(custom, "aws_iam_role")),
        one(custom, "aws_sns_topic")["name"],
        one(custom, "aws_sqs_queue")["name"],
        one(custom, "aws_sfn_state_machine")["name"],
        *tables(custom),
    ]
    assert all(name.startswith("billing-reminders") for name in names)
    for function in functions(custom).values():
        assert function["tracing_config"] == [{"mode": "PassThrough"}]
        assert function["layers"][0].endswith("AWSLambdaPowertoolsPythonV3-python312-x86_64:27")
    throttling = one(custom, "aws_apigatewayv2_stage")["default_route_settings"][0]
    assert (throttling["throttling_rate_limit"], throttling["throttling_burst_limit"]) == (5, 10)
    state_machine = one(custom, "aws_sfn_state_machine")
    assert state_machine["logging_configuration"][0]["level"] == "ALL"
    assert state_machine["tracing_configuration"] == [{"enabled": False}]
    assert set(tables(custom)) == {"billing-reminders-tasks", "billing-reminders-slots"}


def test_roles_are_authorised_before_their_users_are_created(plan: PlanFn) -> None:
    # CreateStateMachine and CreateFunction (with tracing) check the role's permissions.
    resources = plan().configuration["root_module"]["resources"]
    depends_on = {r["address"]: set(r.get("depends_on", [])) for r in resources}
    assert "aws_iam_role_policy.state_machine" in depends_on["aws_sfn_state_machine.this"]
    assert "aws_iam_role_policy.api" in depends_on["aws_lambda_function.api"]
    assert "aws_iam_role_policy.emit" in depends_on["aws_lambda_function.emit"]
