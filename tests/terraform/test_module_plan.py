"""Plan the root module with each tfvars case and check the real plan JSON."""

import base64
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import hcl2
import pytest
import tftest

from scripts.build_lambda import build
from tests.conftest import REPO_ROOT
from tests.terraform.conftest import PlanFn, TerraformFn

BASE_COUNTS = {
    "aws_apigatewayv2_api": 1,
    "aws_apigatewayv2_integration": 1,
    "aws_apigatewayv2_route": 5,
    "aws_apigatewayv2_stage": 1,
    "aws_cloudwatch_log_group": 4,
    # The task registry and the slot table.
    "aws_dynamodb_table": 2,
    "aws_iam_role": 3,
    "aws_iam_role_policy": 3,
    "aws_lambda_function": 2,
    "aws_lambda_permission": 5,
    "aws_sfn_state_machine": 1,
    "aws_sns_topic": 1,
    "aws_sqs_queue": 1,
}

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


KEY_ARN = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def managed(plan: Any) -> dict[str, dict[str, Any]]:
    return {address: r for address, r in plan.resources.items() if r["mode"] == "managed"}


def of_type(plan: Any, resource_type: str) -> list[dict[str, Any]]:
    return [r["values"] for r in managed(plan).values() if r["type"] == resource_type]


def one(plan: Any, resource_type: str) -> dict[str, Any]:
    (values,) = of_type(plan, resource_type)
    return values


def functions(plan: Any) -> dict[str, dict[str, Any]]:
    return {values["function_name"]: values for values in of_type(plan, "aws_lambda_function")}


def tables(plan: Any) -> dict[str, dict[str, Any]]:
    return {values["name"]: values for values in of_type(plan, "aws_dynamodb_table")}


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


ROUTE_KEYS = {
    "schedule": "POST /schedule",
    "list": "GET /schedule",
    "status": "GET /schedule/{id}",
    "cancel": "DELETE /schedule/{id}",
    "reschedule": "PATCH /schedule/{id}",
}


def routes(plan: Any) -> dict[str, dict[str, Any]]:
    return {
        r["index"]: r["values"]
        for r in managed(plan).values()
        if r["type"] == "aws_apigatewayv2_route"
    }


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


def route_throttling(plan: Any) -> dict[str, tuple[float, int]]:
    stage = one(plan, "aws_apigatewayv2_stage")
    return {
        s["route_key"]: (s["throttling_rate_limit"], s["throttling_burst_limit"])
        for s in stage["route_settings"]
    }


def test_list_is_throttled_below_the_stage_by_default(plan: PlanFn) -> None:
    # GET /schedule reads up to 100 tasks a request: 10 per second, burst 20, under the
    # stage's 50 and 100; every other route gets the stage's limits.
    assert route_throttling(plan()) == {"GET /schedule": (10, 20)}


def test_route_throttling_never_loosens_the_stage(plan: PlanFn) -> None:
    # custom.tfvars sets the stage to 5 per second, burst 10: list's default is held to those.
    assert route_throttling(plan(case="custom")) == {"GET /schedule": (5, 10)}
    planned = plan(
        api_route_throttling={
            "schedule": {"rate_limit": 20, "burst_limit": 40},
            "cancel": {"rate_limit": 2.5, "burst_limit": 5},
            # Above the stage's 50 and 100: the stage's apply.
            "status": {"rate_limit": 500, "burst_limit": 1000},
        }
    )
    # The map replaces the default: list now gets the stage's limits.
    assert route_throttling(planned) == {
        "POST /schedule": (20, 40),
        "DELETE /schedule/{id}": (2.5, 5),
        "GET /schedule/{id}": (50, 100),
    }
    stage = one(planned, "aws_apigatewayv2_stage")["default_route_settings"][0]
    assert (stage["throttling_rate_limit"], stage["throttling_burst_limit"]) == (50, 100)


def test_route_settings_name_their_routes_so_routes_exist_first(plan: PlanFn) -> None:
    # API Gateway refuses settings for a route key the API lacks: the stage must wait for them.
    # The plan's configuration leaves dynamic blocks out: read api.tf itself.
    # (python-hcl2 keeps the quotes of block labels.)
    resources = hcl2.load((REPO_ROOT / "api.tf").open())["resource"]
    (stage,) = [
        r['"aws_apigatewayv2_stage"']['"this"']
        for r in resources
        if '"aws_apigatewayv2_stage"' in r
    ]
    (dynamic,) = stage["dynamic"]
    (content,) = dynamic['"route_settings"']["content"]
    assert content["route_key"] == "${aws_apigatewayv2_route.this[route_settings.key].route_key}"
    assert dynamic['"route_settings"']["for_each"] == "${local.route_throttling}"


def reserved_concurrency(plan: Any) -> dict[str, int]:
    return {
        name.removeprefix("task-scheduler-"): f["reserved_concurrent_executions"]
        for name, f in functions(plan).items()
    }


@pytest.mark.parametrize(
    ("tf_vars", "expected"),
    [
        ({}, {"api": -1, "emit": -1}),
        # As before issue 9: one value for both functions.
        ({"lambda_reserved_concurrent_executions": 5}, {"api": 5, "emit": 5}),
        # The api function capped on its own; emit keeps the account's unreserved pool.
        ({"api_reserved_concurrent_executions": 20}, {"api": 20, "emit": -1}),
        (
            {"api_reserved_concurrent_executions": 20, "lambda_reserved_concurrent_executions": 50},
            {"api": 20, "emit": 50},
        ),
        # Emit reserved, the api function left unreserved.
        (
            {"api_reserved_concurrent_executions": -1, "lambda_reserved_concurrent_executions": 50},
            {"api": -1, "emit": 50},
        ),
        ({"api_reserved_concurrent_executions": 0}, {"api": 0, "emit": -1}),
    ],
)
def test_api_reserved_concurrency(
    plan: PlanFn, tf_vars: dict[str, int], expected: dict[str, int]
) -> None:
    assert reserved_concurrency(plan(**tf_vars)) == expected


def memory_deprecation_check(plan: Any) -> str:
    (check,) = [
        c
        for c in plan["checks"]
        if c["address"]["to_display"] == "check.lambda_memory_size_deprecated"
    ]
    return check["status"]


@pytest.mark.parametrize(
    ("tf_vars", "api_memory", "warned"),
    [
        ({}, 256, False),
        ({"api_memory_size": 512}, 512, False),
        # The deprecated name still sizes the api function, with a warning.
        ({"lambda_memory_size": 1024}, 1024, True),
        # Set, the deprecated name wins: a caller who has not renamed it sees no change.
        ({"api_memory_size": 512, "lambda_memory_size": 1024}, 1024, True),
    ],
)
def test_api_memory_size_and_its_deprecated_name(
    plan: PlanFn, tf_vars: dict[str, int], api_memory: int, warned: bool
) -> None:
    planned = plan(**tf_vars)
    memory = {name: f["memory_size"] for name, f in functions(planned).items()}
    assert memory == {"task-scheduler-api": api_memory, "task-scheduler-emit": 128}
    # A failed check block is a warning: the plan succeeds either way.
    assert memory_deprecation_check(planned) == ("fail" if warned else "pass")


@pytest.mark.parametrize(("case", "key"), [("defaults", None), ("kms", KEY_ARN)])
def test_slots_table(plan: PlanFn, case: str, key: str | None) -> None:
    planned = plan(case=case)
    table = tables(planned)["task-scheduler-slots"]
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    # A slot's counter and a shard's entries: partition "<slot>" or "<slot>#<shard>", sorted by
    # ordinal (lambda_src/task_scheduler/slot_store.py).
    assert (table["hash_key"], table["range_key"]) == ("pk", "sk")
    assert sorted((a["name"], a["type"]) for a in table["attribute"]) == [("pk", "S"), ("sk", "N")]
    # Items expire 91 days after their slot.
    assert table["ttl"] == [{"attribute_name": "expires_at", "enabled": True}]
    (encryption,) = table["server_side_encryption"]
    assert encryption["enabled"] is True
    assert encryption.get("kms_key_arn") == key
    # The entries hold the messages of tasks not yet emitted: continuous backups, like the
    # registry.
    assert table["point_in_time_recovery"][0]["enabled"] is True
    # A shard is read by its partition key: no index, no stream.
    assert table["global_secondary_index"] == []
    assert table["local_secondary_index"] == []
    assert table.get("stream_enabled") in (None, False)
    assert table["tags"] in (None, {})
    assert planned.outputs["dynamodb_slots_table_name"] == "task-scheduler-slots"


def test_the_idempotency_table_is_gone(plan: PlanFn) -> None:
    # Earlier releases created <name>-idempotency for the Powertools Idempotency utility: an
    # upgrade destroys it (the deployer may still delete it, test_iam_policies.py).
    for planned in (plan(), plan(case="kms")):
        assert set(tables(planned)) == {"task-scheduler-tasks", "task-scheduler-slots"}
        addresses = [*planned.resource_changes, *planned.resources, *planned.outputs]
        assert not [a for a in addresses if "idempotency" in a]


def test_publication_log_off_keeps_the_slot_table(plan: PlanFn) -> None:
    # tftest passes -var values as they print: Terraform reads "false".
    planned = plan(emit_idempotency_enabled="false")
    # The emit function reads its shards from the slot table either way; only what it records
    # there changes (PUBLICATION_LOG, test_rendered.py).
    assert tables(planned) == tables(plan())
    assert planned.outputs["dynamodb_slots_table_name"] == "task-scheduler-slots"
    counts = Counter(r["type"] for r in managed(planned).values())
    assert counts == Counter(BASE_COUNTS)
    # The functions' environment embeds ARNs, so the plan knows none of it: PUBLICATION_LOG
    # and the shard size are checked on the mocked apply (test_rendered.py, hcl/).


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
    assert deployed["task-scheduler-api"]["handler"] == "task_scheduler.api.handler.lambda_handler"
    assert (
        deployed["task-scheduler-emit"]["handler"] == "task_scheduler.emit.handler.lambda_handler"
    )


@pytest.mark.parametrize(
    ("case", "authorization"),
    [("defaults", "AWS_IAM"), ("authorization_none", "NONE"), ("jwt", "JWT")],
)
def test_every_route_is_authorized_like_post_schedule(
    plan: PlanFn, case: str, authorization: str
) -> None:
    planned = plan(case=case)
    assert {key: r["route_key"] for key, r in routes(planned).items()} == ROUTE_KEYS
    assert {r["authorization_type"] for r in routes(planned).values()} == {authorization}
    assert planned.outputs["api_authorization_type"] == authorization
    # The route keys are known at plan; the ids behind them are not.
    assert planned.outputs["api_route_keys"] == ROUTE_KEYS


ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
AUDIENCE = ["4a1b2c3d4e5f6g7h8i9j0k1l2m", "reminders-cli"]
# Which jwt_scopes each route requires (write: schedule, cancel, reschedule; read: list, status).
ROUTE_ACCESS = {
    "schedule": "write",
    "list": "read",
    "status": "read",
    "cancel": "write",
    "reschedule": "write",
}
JWT_SCOPES = {"read": ["tasks/read", "tasks/admin"], "write": ["tasks/write", "tasks/admin"]}


def authorizers(plan: Any) -> list[dict[str, Any]]:
    return of_type(plan, "aws_apigatewayv2_authorizer")


def route_authorizer_is_set(plan: Any) -> dict[str, Any]:
    """Per route: True if its authorizer id is set (known only after apply), else its value."""
    changes = plan.resource_changes
    return {
        key: changes[f'aws_apigatewayv2_route.this["{key}"]']["change"]["after_unknown"].get(
            "authorizer_id", values.get("authorizer_id")
        )
        for key, values in routes(plan).items()
    }


@pytest.mark.parametrize("case", ["defaults", "authorization_none"])
def test_no_authorizer_and_no_scopes_outside_jwt(plan: PlanFn, case: str) -> None:
    planned = plan(case=case)
    assert authorizers(planned) == []
    assert route_authorizer_is_set(planned) == dict.fromkeys(ROUTE_KEYS, None)
    assert {key: r["authorization_scopes"] for key, r in routes(planned).items()} == (
        dict.fromkeys(ROUTE_KEYS, None)
    )
    assert planned.outputs["apigatewayv2_authorizer_id"] is None


def test_jwt_authorizer_checks_the_bearer_token_of_the_issuer_and_audience(plan: PlanFn) -> None:
    planned = plan(case="jwt")
    (authorizer,) = authorizers(planned)
    assert authorizer["name"] == "task-scheduler-jwt"
    assert authorizer["authorizer_type"] == "JWT"
    assert authorizer["identity_sources"] == ["$request.header.Authorization"]
    assert authorizer["jwt_configuration"] == [{"issuer": ISSUER, "audience": AUDIENCE}]
    # A Lambda (REQUEST) authorizer's settings stay unset.
    assert authorizer.get("authorizer_uri") is None
    assert authorizer.get("authorizer_credentials_arn") is None
    # Every route names the authorizer (its id is known after apply: tests/terraform/hcl).
    assert route_authorizer_is_set(planned) == dict.fromkeys(ROUTE_KEYS, True)
    configuration = planned.configuration["root_module"]["resources"]
    (route,) = [c for c in configuration if c["address"] == "aws_apigatewayv2_route.this"]
    assert (
        "aws_apigatewayv2_authorizer.this[0].id"
        in (route["expressions"]["authorizer_id"]["references"])
    )


def test_jwt_scopes_split_write_routes_from_read_routes(plan: PlanFn) -> None:
    scopes = {key: sorted(r["authorization_scopes"]) for key, r in routes(plan(case="jwt")).items()}
    assert scopes == {key: sorted(JWT_SCOPES[access]) for key, access in ROUTE_ACCESS.items()}


@pytest.mark.parametrize(
    ("jwt_scopes", "expected"),
    [
        # No scopes: any valid token from the issuer for the audience is accepted everywhere.
        ({}, dict.fromkeys(ROUTE_KEYS, None)),
        # Write scopes only: reading needs a valid token, changing needs the scope.
        (
            {"write": ["tasks/write"]},
            {
                key: ["tasks/write"] if access == "write" else None
                for key, access in ROUTE_ACCESS.items()
            },
        ),
        (
            {"read": ["tasks/read"], "write": []},
            {
                key: ["tasks/read"] if access == "read" else None
                for key, access in ROUTE_ACCESS.items()
            },
        ),
    ],
)
def test_jwt_without_some_or_all_scopes(
    plan: PlanFn, jwt_scopes: dict[str, list[str]], expected: dict[str, Any]
) -> None:
    planned = plan(
        authorization_type="JWT",
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE[:1],
        jwt_scopes=jwt_scopes,
    )
    assert {key: r["authorization_scopes"] for key, r in routes(planned).items()} == expected
    assert {r["authorization_type"] for r in routes(planned).values()} == {"JWT"}
    (authorizer,) = authorizers(planned)
    assert authorizer["jwt_configuration"] == [{"issuer": ISSUER, "audience": AUDIENCE[:1]}]
    assert route_authorizer_is_set(planned) == dict.fromkeys(ROUTE_KEYS, True)


def test_every_route_targets_the_one_integration(plan: PlanFn) -> None:
    resources = plan().configuration["root_module"]["resources"]
    (route,) = [r for r in resources if r["address"] == "aws_apigatewayv2_route.this"]
    assert "local.routes" in route["for_each_expression"]["references"]
    assert "aws_apigatewayv2_integration.this.id" in route["expressions"]["target"]["references"]
    assert "var.authorization_type" in route["expressions"]["authorization_type"]["references"]


def test_one_lambda_permission_per_route(plan: PlanFn) -> None:
    permissions = {
        r["index"]: r["values"]
        for r in managed(plan()).values()
        if r["type"] == "aws_lambda_permission"
    }
    assert set(permissions) == set(ROUTE_KEYS)
    for key, permission in permissions.items():
        assert permission["statement_id"] == f"Allow{key.title()}RouteInvoke"
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["action"] == "lambda:InvokeFunction"
        assert permission["function_name"] == "task-scheduler-api"
    # The POST route's permission keeps its pre-issue-8 statement id (the moved block keeps it).
    assert permissions["schedule"]["statement_id"] == "AllowScheduleRouteInvoke"


def test_single_route_deployments_move_to_the_schedule_keys() -> None:
    # Before issue 8 the route and the permission were single resources: `moved` blocks carry
    # a deployment over to the "schedule" instances instead of replacing them.
    moved = hcl2.load((REPO_ROOT / "migrations.tf").open())["moved"]
    assert sorted((m["from"], m["to"]) for m in moved) == [
        ("${aws_apigatewayv2_route.this}", '${aws_apigatewayv2_route.this["schedule"]}'),
        ("${aws_lambda_permission.this}", '${aws_lambda_permission.this["schedule"]}'),
    ]


@pytest.mark.parametrize(("case", "key"), [("defaults", None), ("kms", KEY_ARN)])
def test_task_table(plan: PlanFn, case: str, key: str | None) -> None:
    table = tables(plan(case=case))["task-scheduler-tasks"]
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert (table["hash_key"], table["range_key"]) == ("id", None)
    assert sorted((a["name"], a["type"]) for a in table["attribute"]) == [
        ("id", "S"),
        ("status", "S"),
        ("timestamp", "S"),
    ]
    (index,) = table["global_secondary_index"]
    assert (index["name"], index["hash_key"], index["range_key"]) == (
        "status-timestamp",
        "status",
        "timestamp",
    )
    assert index["projection_type"] == "ALL"
    assert table["ttl"] == [{"attribute_name": "expires_at", "enabled": True}]
    assert table["point_in_time_recovery"][0]["enabled"] is True
    (encryption,) = table["server_side_encryption"]
    assert encryption["enabled"] is True
    assert encryption.get("kms_key_arn") == key
    assert table["local_secondary_index"] == []
    assert table.get("stream_enabled") in (None, False)
    assert table["tags"] in (None, {})


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


@pytest.mark.parametrize("case", ["defaults", "authorization_none", "kms", "custom", "jwt"])
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
