"""Plan the examples as a user would run them and check what they wire together."""

import json
from collections import Counter
from typing import Any

from tests.terraform.conftest import PlanFn
from tests.terraform.plan_values import ALARM_KINDS, BASE_COUNTS


def module_resources(plan: Any) -> dict[str, dict[str, Any]]:
    return plan.modules["module.task_scheduler"].resources


def managed_types(resources: dict[str, dict[str, Any]]) -> Counter[str]:
    return Counter(r["type"] for r in resources.values() if r["mode"] == "managed")


def test_basic_example_uses_the_secure_defaults(plan: PlanFn) -> None:
    basic = plan("examples/basic")
    assert managed_types(module_resources(basic)) == Counter(BASE_COUNTS)
    routes = [r for r in module_resources(basic).values() if r["type"] == "aws_apigatewayv2_route"]
    assert {r["values"]["authorization_type"] for r in routes} == {"AWS_IAM"}
    assert set(basic.outputs) == {
        "api_schedule_url",
        "sns_topic_arn",
        "sqs_dead_letter_queue_url",
        "invoke_policy_json",
        "invoke_read_only_policy_json",
        "dynamodb_table_name",
        "dynamodb_table_arn",
    }
    assert basic.outputs["dynamodb_table_name"] == "task-scheduler-tasks"


def test_complete_example_wires_kms_subscriber_and_consumers(plan: PlanFn) -> None:
    complete = plan("examples/complete")
    inner = module_resources(complete)
    assert managed_types(inner) == Counter(
        {**BASE_COUNTS, "aws_sns_topic_subscription": 1, "aws_cloudwatch_metric_alarm": 8}
    )
    assert managed_types(complete.resources) == Counter(
        {
            "aws_kms_key": 1,
            "aws_sqs_queue": 1,
            "aws_sqs_queue_policy": 1,
            "aws_iam_role": 1,
            "aws_iam_role_policy": 1,
            "aws_sns_topic": 1,
        }
    )
    assert complete.resources["aws_kms_key.tasks"]["values"]["enable_key_rotation"] is True
    subscription = inner['aws_sns_topic_subscription.this["worker"]']["values"]
    assert (subscription["protocol"], subscription["raw_message_delivery"]) == ("sqs", True)
    stage = inner["aws_apigatewayv2_stage.this"]["values"]["default_route_settings"][0]
    assert (stage["throttling_rate_limit"], stage["throttling_burst_limit"]) == (20, 40)
    names = {r["values"].get("name") for r in inner.values() if r["type"] == "aws_iam_role"}
    assert names == {"reminders-api", "reminders-emit", "reminders-state-machine"}
    # Both tables are encrypted with the example's key (its ARN is known after apply).
    for table in ("this", "slots"):
        change = complete.resource_changes[f"module.task_scheduler.aws_dynamodb_table.{table}"]
        assert change["change"]["after_unknown"]["server_side_encryption"] == [
            {"kms_key_arn": True}
        ]
    # The example keeps AWS_IAM: its client role signs with invoke_policy_json.
    routes = [r["values"] for r in inner.values() if r["type"] == "aws_apigatewayv2_route"]
    assert {r["authorization_type"] for r in routes} == {"AWS_IAM"}
    assert {
        "invoke_policy_json",
        "invoke_read_only_policy_json",
        "dynamodb_table_name",
        "dynamodb_table_arn",
    } <= set(complete.outputs)


def local_routes(plan: Any) -> dict[str, str]:
    return {
        r["values"]["route_key"]: r["values"]["authorization_type"]
        for r in module_resources(plan).values()
        if r["type"] == "aws_apigatewayv2_route"
    }


def test_local_example_serves_without_authorization_unless_told(plan: PlanFn) -> None:
    # `make run` (and a newcomer's curl) gets NONE; the tests set AWS_IAM through TF_VAR_...
    assert set(local_routes(plan("examples/local")).values()) == {"NONE"}
    signed = plan("examples/local", authorization_type="AWS_IAM")
    assert len(local_routes(signed)) == 5
    assert set(local_routes(signed).values()) == {"AWS_IAM"}


def test_local_example_passes_jwt_settings_through(plan: PlanFn) -> None:
    # The local stack's JWT tests point these at the emulator's local OpenID Connect issuer.
    issuer = "https://127.0.0.1:8443/local-pool"
    local = plan(
        "examples/local",
        authorization_type="JWT",
        jwt_issuer=issuer,
        jwt_audience=["task-scheduler"],
        jwt_scopes={"read": ["tasks/read"], "write": ["tasks/write"]},
    )
    assert set(local_routes(local).values()) == {"JWT"}
    resources = module_resources(local).values()
    (authorizer,) = [r["values"] for r in resources if r["type"] == "aws_apigatewayv2_authorizer"]
    assert authorizer["jwt_configuration"] == [{"issuer": issuer, "audience": ["task-scheduler"]}]
    scopes = {
        r["values"]["route_key"]: r["values"]["authorization_scopes"]
        for r in resources
        if r["type"] == "aws_apigatewayv2_route"
    }
    assert scopes == {
        "POST /schedule": ["tasks/write"],
        "GET /schedule": ["tasks/read"],
        "GET /schedule/{id}": ["tasks/read"],
        "DELETE /schedule/{id}": ["tasks/write"],
        "PATCH /schedule/{id}": ["tasks/write"],
    }
    module_call = local.configuration["root_module"]["module_calls"]["task_scheduler"]
    for variable in ("jwt_issuer", "jwt_audience", "jwt_scopes"):
        assert module_call["expressions"][variable]["references"] == [f"var.{variable}"]
    # Unset, they are the module's own defaults: no authorizer.
    unset = plan("examples/local")
    assert (unset.variables["jwt_issuer"], unset.variables["jwt_audience"]) == (None, [])
    assert unset.variables["jwt_scopes"] == {"read": [], "write": []}
    assert not [r for r in module_resources(unset).values() if "authorizer" in r["type"]]
    assert "apigatewayv2_authorizer_id" in local.configuration["root_module"]["outputs"]


def test_local_example_points_dynamodb_at_the_emulator_and_passes_the_segment(
    plan: PlanFn,
) -> None:
    local = plan("examples/local", execution_segment_seconds=5)
    endpoints = local.configuration["provider_config"]["aws"]["expressions"]["endpoints"][0]
    assert endpoints["dynamodb"]["references"] == ["var.endpoint_url"]
    module_call = local.configuration["root_module"]["module_calls"]["task_scheduler"]
    assert module_call["expressions"]["execution_segment_seconds"]["references"] == [
        "var.execution_segment_seconds"
    ]
    # tftest passes -var values as strings; Terraform converts them to the variable's type.
    assert str(local.variables["execution_segment_seconds"]) == "5"
    assert plan("examples/local").variables["execution_segment_seconds"] is None
    assert {
        "dynamodb_table_name",
        "dynamodb_slots_table_name",
        "invoke_policy_json",
        "invoke_read_only_policy_json",
    } <= set(local.outputs)
    # The local stack's tests read the slot table by this name.
    assert local.outputs["dynamodb_slots_table_name"] == "local-scheduler-slots"
    assert "dynamodb_idempotency_table_name" not in local.outputs


def test_complete_example_consumes_module_outputs_like_another_stack(plan: PlanFn) -> None:
    configuration = plan("examples/complete").configuration["root_module"]["resources"]
    expressions = {r["address"]: r.get("expressions", {}) for r in configuration}
    client_policy = expressions["aws_iam_role_policy.client_schedules_tasks"]["policy"]
    assert "module.task_scheduler.invoke_policy_json" in client_policy["references"]
    queue_policy = expressions["data.aws_iam_policy_document.worker_queue"]["statement"][0]
    assert (
        "module.task_scheduler.sns_topic_arn"
        in queue_policy["condition"][0]["values"]["references"]
    )


def test_complete_example_key_policy_lets_cloudwatch_logs_encrypt_the_module_log_groups(
    plan: PlanFn,
) -> None:
    # The module encrypts its log groups with kms_key_arn; CloudWatch Logs must be allowed by
    # the key policy itself, for exactly those log groups (encryption context), or creating
    # them fails: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html
    complete = plan("examples/complete")
    policy = json.loads(complete.resources["aws_kms_key.tasks"]["values"]["policy"])
    statements = {statement["Sid"]: statement for statement in policy["Statement"]}
    assert set(statements) == {
        "EnableIamPolicies",
        "AllowCloudWatchLogsForTaskSchedulerLogGroups",
        "AllowLogDeliveryForStateMachineLogs",
        "AllowCloudWatchAlarmsToPublish",
    }
    # The state machine's logs are delivered by CloudWatch Logs' delivery service.
    delivery = statements["AllowLogDeliveryForStateMachineLogs"]
    assert delivery["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert (delivery["Action"], delivery["Resource"]) == ("kms:Decrypt", "*")

    account = statements["EnableIamPolicies"]
    assert account["Principal"] == {"AWS": "arn:aws:iam::111122223333:root"}
    assert (account["Effect"], account["Action"], account["Resource"]) == ("Allow", "kms:*", "*")

    logs = statements["AllowCloudWatchLogsForTaskSchedulerLogGroups"]
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert (logs["Effect"], logs["Resource"]) == ("Allow", "*")
    assert sorted(logs["Action"]) == [
        "kms:Decrypt*",
        "kms:Describe*",
        "kms:Encrypt*",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
    ]
    log_groups = [
        resource
        for resource in module_resources(complete).values()
        if resource["type"] == "aws_cloudwatch_log_group"
    ]
    assert len(log_groups) == 4
    assert sorted(logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]) == sorted(
        f"arn:aws:logs:eu-west-1:111122223333:log-group:{group['values']['name']}"
        for group in log_groups
    )
    # ... and those log groups are encrypted with the key (its ARN is known after apply).
    for group in log_groups:
        change = complete.resource_changes[group["address"]]["change"]
        assert change["after_unknown"]["kms_key_id"] is True


def test_complete_example_alarms_notify_its_encrypted_alarm_topic(plan: PlanFn) -> None:
    complete = plan("examples/complete")
    alarms = [
        r["values"]
        for r in module_resources(complete).values()
        if r["type"] == "aws_cloudwatch_metric_alarm"
    ]
    assert {a["alarm_name"] for a in alarms} == {f"reminders-{kind}" for kind in ALARM_KINDS}
    topic = complete.resource_changes["aws_sns_topic.alarms"]["change"]
    # The topic's ARN and key are known after apply: the module gets that very topic.
    assert topic["after_unknown"]["arn"] is True
    assert topic["after_unknown"]["kms_master_key_id"] is True
    module_call = complete.configuration["root_module"]["module_calls"]["task_scheduler"]
    topic_reference = module_call["expressions"]["alarm_topic_arn"]["references"]
    assert "aws_sns_topic.alarms.arn" in topic_reference
    policy = json.loads(complete.resources["aws_kms_key.tasks"]["values"]["policy"])
    (publish,) = [s for s in policy["Statement"] if s["Sid"] == "AllowCloudWatchAlarmsToPublish"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(publish["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
