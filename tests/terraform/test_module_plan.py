"""Plan the root module with each tfvars case and check the real plan JSON."""

import base64
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import tftest

from scripts.build_lambda import build
from tests.conftest import REPO_ROOT
from tests.terraform.conftest import PlanFn, TerraformFn

BASE_COUNTS = {
    "aws_apigatewayv2_api": 1,
    "aws_apigatewayv2_integration": 1,
    "aws_apigatewayv2_route": 1,
    "aws_apigatewayv2_stage": 1,
    "aws_cloudwatch_log_group": 4,
    "aws_iam_role": 3,
    "aws_iam_role_policy": 3,
    "aws_lambda_function": 2,
    "aws_lambda_permission": 1,
    "aws_sfn_state_machine": 1,
    "aws_sns_topic": 1,
    "aws_sqs_queue": 1,
}

EXPECTED_OUTPUTS = {
    "api_id",
    "api_endpoint",
    "api_execution_arn",
    "api_schedule_url",
    "api_authorization_type",
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
    "deployer_policy_json",
    "iam_role_arns",
    "cloudwatch_metric_alarm_arns",
}


def managed(plan: Any) -> dict[str, dict[str, Any]]:
    return {address: r for address, r in plan.resources.items() if r["mode"] == "managed"}


def of_type(plan: Any, resource_type: str) -> list[dict[str, Any]]:
    return [r["values"] for r in managed(plan).values() if r["type"] == resource_type]


def one(plan: Any, resource_type: str) -> dict[str, Any]:
    (values,) = of_type(plan, resource_type)
    return values


def functions(plan: Any) -> dict[str, dict[str, Any]]:
    return {values["function_name"]: values for values in of_type(plan, "aws_lambda_function")}


@pytest.mark.parametrize(
    ("case", "extra"),
    [
        ("defaults", {}),
        ("authorization_none", {}),
        ("kms", {}),
        ("custom", {"aws_sns_topic_subscription": 2}),
        ("alarms", {"aws_cloudwatch_metric_alarm": 8}),
    ],
)
def test_resource_counts(plan: PlanFn, case: str, extra: dict[str, int]) -> None:
    counts = Counter(r["type"] for r in managed(plan(case=case)).values())
    assert counts == Counter({**BASE_COUNTS, **extra})


def test_every_output_is_declared(plan: PlanFn) -> None:
    assert set(plan().outputs) == EXPECTED_OUTPUTS


def test_defaults_are_secure(plan: PlanFn) -> None:
    defaults = plan()
    assert one(defaults, "aws_apigatewayv2_route")["authorization_type"] == "AWS_IAM"
    assert one(defaults, "aws_apigatewayv2_route")["route_key"] == "POST /schedule"
    assert one(defaults, "aws_sns_topic")["kms_master_key_id"] == "alias/aws/sns"
    queue = one(defaults, "aws_sqs_queue")
    assert queue["sqs_managed_sse_enabled"] is True
    assert queue["message_retention_seconds"] == 1209600
    logging = one(defaults, "aws_sfn_state_machine")["logging_configuration"][0]
    assert (logging["include_execution_data"], logging["level"]) == (False, "ERROR")
    assert {g["retention_in_days"] for g in of_type(defaults, "aws_cloudwatch_log_group")} == {30}


def test_http_api_integration_and_stage(plan: PlanFn) -> None:
    defaults = plan()
    integration = one(defaults, "aws_apigatewayv2_integration")
    assert integration["integration_type"] == "AWS_PROXY"
    assert integration["payload_format_version"] == "2.0"
    assert one(defaults, "aws_apigatewayv2_api")["protocol_type"] == "HTTP"
    stage = one(defaults, "aws_apigatewayv2_stage")
    assert stage["name"] == "$default"
    assert stage["auto_deploy"] is True
    throttling = stage["default_route_settings"][0]
    assert (throttling["throttling_rate_limit"], throttling["throttling_burst_limit"]) == (50, 100)
    access_log_fields = json.loads(stage["access_log_settings"][0]["format"])
    assert {"requestId", "status", "routeKey", "callerArn"} <= set(access_log_fields)
    assert one(defaults, "aws_lambda_permission")["principal"] == "apigateway.amazonaws.com"


def test_committed_package_is_a_fresh_build_of_lambda_src(tmp_path: Path) -> None:
    fresh = build(tmp_path / "fresh.zip").read_bytes()
    assert fresh == (REPO_ROOT / "dist" / "task_scheduler.zip").read_bytes(), (
        "dist/task_scheduler.zip is stale: run `make build` and commit it"
    )


def test_functions_deploy_a_fresh_build_of_lambda_src(plan: PlanFn, tmp_path: Path) -> None:
    fresh = build(tmp_path / "fresh.zip").read_bytes()
    expected_hash = base64.b64encode(hashlib.sha256(fresh).digest()).decode()
    deployed = functions(plan())
    assert set(deployed) == {"task-scheduler-api", "task-scheduler-emit"}
    for function in deployed.values():
        assert function["source_code_hash"] == expected_hash
        assert function["runtime"] == "python3.13"
        assert function["architectures"] == ["arm64"]
        assert function["tracing_config"] == [{"mode": "Active"}]
        assert function["layers"] == [
            "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
        ]
    assert deployed["task-scheduler-api"]["handler"] == "task_scheduler.handlers.api.lambda_handler"
    assert (
        deployed["task-scheduler-emit"]["handler"] == "task_scheduler.handlers.emit.lambda_handler"
    )


def test_authorization_none_is_explicit_opt_in(plan: PlanFn) -> None:
    route = one(plan(case="authorization_none"), "aws_apigatewayv2_route")
    assert route["authorization_type"] == "NONE"


def test_customer_managed_key_encrypts_topic_and_dead_letters(plan: PlanFn) -> None:
    kms = plan(case="kms")
    key = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert one(kms, "aws_sns_topic")["kms_master_key_id"] == key
    queue = one(kms, "aws_sqs_queue")
    assert queue["kms_master_key_id"] == key
    assert queue.get("sqs_managed_sse_enabled") in (None, False)


def test_custom_inputs_reach_every_resource(plan: PlanFn) -> None:
    custom = plan(case="custom")
    tags = {"team": "billing", "env": "test"}
    taggable = [r for r in managed(custom).values() if "tags" in r["values"]]
    assert len(taggable) == 14
    assert all(r["values"]["tags"] == tags for r in taggable)
    names = [
        *(f["function_name"] for f in of_type(custom, "aws_lambda_function")),
        *(r["name"] for r in of_type(custom, "aws_iam_role")),
        one(custom, "aws_sns_topic")["name"],
        one(custom, "aws_sqs_queue")["name"],
        one(custom, "aws_sfn_state_machine")["name"],
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


def test_subscriptions_from_the_typed_map(plan: PlanFn) -> None:
    subscriptions = {
        s["protocol"]: s for s in of_type(plan(case="custom"), "aws_sns_topic_subscription")
    }
    assert subscriptions["sqs"]["endpoint"] == "arn:aws:sqs:eu-west-1:111122223333:worker"
    assert subscriptions["sqs"]["raw_message_delivery"] is True
    assert subscriptions["sqs"]["filter_policy"] is None
    assert subscriptions["https"]["raw_message_delivery"] is False
    assert json.loads(subscriptions["https"]["filter_policy"]) == {"message_encoding": ["json"]}
    assert subscriptions["https"]["filter_policy_scope"] == "MessageAttributes"


def test_roles_are_authorised_before_their_users_are_created(plan: PlanFn) -> None:
    # CreateStateMachine and CreateFunction (with tracing) check the role's permissions.
    resources = plan().configuration["root_module"]["resources"]
    depends_on = {r["address"]: set(r.get("depends_on", [])) for r in resources}
    assert "aws_iam_role_policy.state_machine" in depends_on["aws_sfn_state_machine.this"]
    assert "aws_iam_role_policy.api" in depends_on["aws_lambda_function.api"]
    assert "aws_iam_role_policy.emit" in depends_on["aws_lambda_function.emit"]


TOPIC = "arn:aws:sns:eu-west-1:111122223333:on-call"
# kind: (namespace, metric, statistic, threshold in tests/terraform/cases/alarms.tfvars)
ALARMS = {
    "dead-letter": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", 0),
    "executions-failed": ("AWS/States", "ExecutionsFailed", "Sum", 0),
    "executions-timed-out": ("AWS/States", "ExecutionsTimedOut", "Sum", 0),
    "executions-aborted": ("AWS/States", "ExecutionsAborted", "Sum", 0),
    "api-5xx": ("AWS/ApiGateway", "5xx", "Sum", 5),
    "emit-errors": ("AWS/Lambda", "Errors", "Sum", 2),
    "emit-throttles": ("AWS/Lambda", "Throttles", "Sum", 2),
}
# Every alarm the module can create: those above plus the account-wide metric-math one.
ALARM_KINDS = (*ALARMS, "open-executions")


def alarms(plan: Any) -> dict[str, dict[str, Any]]:
    return {a["alarm_name"]: a for a in of_type(plan, "aws_cloudwatch_metric_alarm")}


@pytest.mark.parametrize("case", ["defaults", "authorization_none", "kms", "custom"])
def test_no_alarms_without_a_topic(plan: PlanFn, case: str) -> None:
    planned = plan(case=case)
    assert alarms(planned) == {}
    assert planned.outputs["cloudwatch_metric_alarm_arns"] == {}


def test_one_alarm_per_kind_notifies_the_topic(plan: PlanFn) -> None:
    planned = alarms(plan(case="alarms"))
    assert set(planned) == {f"reminders-{kind}" for kind in [*ALARMS, "open-executions"]}
    for alarm in planned.values():
        assert alarm["alarm_actions"] == [TOPIC]
        assert alarm["ok_actions"] == [TOPIC]
        assert alarm["insufficient_data_actions"] in (None, [])
        assert alarm["actions_enabled"] is True
        assert alarm["comparison_operator"] == "GreaterThanThreshold"
        assert alarm["treat_missing_data"] == "notBreaching"
        assert alarm["evaluation_periods"] == 3
        assert alarm["tags"] == {"team": "billing", "env": "test"}
        assert alarm["alarm_description"]
    for kind, (namespace, metric, statistic, threshold) in ALARMS.items():
        alarm = planned[f"reminders-{kind}"]
        assert (alarm["namespace"], alarm["metric_name"]) == (namespace, metric), kind
        assert (alarm["statistic"], alarm["period"], alarm["threshold"]) == (
            statistic,
            60,
            threshold,
        )
        assert alarm["metric_query"] == []


def test_alarm_dimensions_name_the_module_s_resources(plan: PlanFn) -> None:
    planned = plan(case="alarms")
    values = alarms(planned)
    assert values["reminders-dead-letter"]["dimensions"] == {"QueueName": "reminders-dead-letter"}
    for kind in ("emit-errors", "emit-throttles"):
        assert values[f"reminders-{kind}"]["dimensions"] == {"FunctionName": "reminders-emit"}
    # ARNs and the API id are known after apply: tests/terraform/hcl (mocked apply) and
    # tests/deployer (the requests sent) check their values; here, that they are set.
    for kind in ("executions-failed", "executions-timed-out", "executions-aborted", "api-5xx"):
        change = planned.resource_changes[f'aws_cloudwatch_metric_alarm.this["{kind}"]']["change"]
        assert change["after_unknown"]["dimensions"] is True, kind


def test_open_executions_alarm_divides_the_account_s_count_by_its_quota(plan: PlanFn) -> None:
    alarm = alarms(plan(case="alarms"))["reminders-open-executions"]
    assert alarm["threshold"] == 80
    assert (alarm["namespace"], alarm["metric_name"], alarm["dimensions"]) == (None, None, None)
    queries = {q["id"]: q for q in alarm["metric_query"]}
    assert set(queries) == {"open", "limit", "percent"}
    assert queries["percent"]["expression"] == "100 * open / limit"
    assert [q["id"] for q in queries.values() if q["return_data"]] == ["percent"]
    for query_id, metric in (("open", "OpenExecutionCount"), ("limit", "OpenExecutionLimit")):
        (stat,) = queries[query_id]["metric"]
        # Dimensionless: the quota and the count are the account's, in this region.
        assert (stat["namespace"], stat["metric_name"]) == ("AWS/States", metric)
        assert (stat["stat"], stat["period"], stat["dimensions"]) == ("Maximum", 60, None)


def test_open_executions_alarm_can_be_left_to_another_stack(plan: PlanFn) -> None:
    planned = alarms(
        plan(name="reminders", alarm_topic_arn=TOPIC, alarms={"open_executions_alarm": False})
    )
    assert set(planned) == {f"reminders-{kind}" for kind in ALARMS}
    assert {a["period"] for a in planned.values()} == {300}


def test_alarms_enabled_decides_over_the_topic(plan: PlanFn) -> None:
    # With a topic created alongside, its ARN is unknown at plan: alarms.enabled decides
    # (examples/complete plans that case with enabled = true).
    assert alarms(plan(alarm_topic_arn=TOPIC, alarms={"enabled": False})) == {}


def test_alarms_enabled_without_a_topic_is_refused(terraform: TerraformFn) -> None:
    with pytest.raises(tftest.TerraformTestError) as refused:
        terraform(".").plan(tf_vars={"alarms": {"enabled": True}})
    assert "alarms.enabled = true needs alarm_topic_arn" in str(refused.value)
