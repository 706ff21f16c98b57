"""The deployer policy, proven: every call Terraform makes is allowed, and every grant is used.

The package fixture applies, refreshes, updates and destroys the module with every optional
feature on against the emulator, recording each request the provider sends; each is mapped to
the IAM authorisations AWS performs (tests/deployer/authorization.py) and evaluated against the
rendered ``deployer_policy_json`` (task_scheduler_emulator.iam_policy).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from task_scheduler_emulator.iam_policy import Policy
from tests.conftest import REPO_ROOT
from tests.deployer.analysis import Analysis, analyse, documented_statements, reasons_for_unused
from tests.deployer.authorization import Authorization
from tests.deployer.lifecycle import JWT_ISSUER, PHASES, REGION, Lifecycle

ACCOUNT = "123456789012"  # moto's default account
BEFORE = Path(__file__).parent / "fixtures" / "deployer_policy_before_least_privilege.json"


def run(lifecycle: Lifecycle, document: dict[str, Any]) -> Analysis:
    reasons = reasons_for_unused(REPO_ROOT / "published_policies.tf")
    documented = frozenset(documented_statements(REPO_ROOT / "published_policies.tf"))
    return analyse(
        lifecycle.requests, document, reasons, region=REGION, account=ACCOUNT, documented=documented
    )


@pytest.fixture(scope="module")
def analysis(lifecycle: Lifecycle) -> Analysis:
    return run(lifecycle, lifecycle.deployer_policy)


def test_every_phase_made_calls_of_every_service(lifecycle: Lifecycle, analysis: Analysis) -> None:
    assert all(lifecycle.requests[phase] for phase in PHASES), lifecycle.seconds
    assert set(analysis.calls_per_service()) == {
        "apigateway",
        "dynamodb",
        "iam",
        "kms",
        "lambda",
        "logs",
        "monitoring",
        "sns",
        "sqs",
        "states",
    }
    operations = {f"{phase} {call}" for phase, call in analysis.calls}
    # The optional features really were exercised.
    assert {"apply sns:Subscribe", "apply lambda:PutFunctionConcurrency"} <= operations
    assert {"update iam:UntagRole", "update sns:SetSubscriptionAttributes"} <= operations
    assert {"destroy sns:Unsubscribe", "destroy apigateway:DeleteApi"} <= operations
    assert {"apply monitoring:PutMetricAlarm", "update monitoring:PutMetricAlarm"} <= operations
    assert {"update monitoring:UntagResource", "destroy monitoring:DeleteAlarms"} <= operations
    assert {
        "apply dynamodb:CreateTable",
        "apply dynamodb:UpdateContinuousBackups",
        "apply dynamodb:UpdateTimeToLive",
        "update dynamodb:UntagResource",
        "destroy dynamodb:DeleteTable",
        # The provider tells DynamoDB's AWS managed key from a customer key on every read.
        "refresh kms:DescribeKey",
    } <= operations
    # JWT authorization (the update changes the audience and the routes' scopes), the api
    # function's own reservation removed, route throttling changed.
    assert {
        "apply apigateway:CreateAuthorizer",
        "refresh apigateway:GetAuthorizer",
        "update apigateway:UpdateAuthorizer",
        "update apigateway:UpdateRoute",
        "update apigateway:UpdateStage",
        "destroy apigateway:DeleteAuthorizer",
        "update lambda:DeleteFunctionConcurrency",
    } <= operations
    # The update upgrades the module in place as well (lifecycle.UPGRADE), and turns the
    # dashboard's period with the alarms'.
    assert {
        "update apigateway:UpdateApi",
        "update apigateway:UpdateIntegration",
        "update lambda:UpdateFunctionCode",
        "apply monitoring:PutDashboard",
        "update monitoring:PutDashboard",
        "refresh monitoring:GetDashboard",
        "destroy monitoring:DeleteDashboards",
    } <= operations


# Each in-place change the module's resources allow, and the recorded call that made it: every
# resource type the module creates that can change in place is changed by the update phase.
IN_PLACE_UPDATES = {
    "aws_iam_role": "iam:TagRole",
    "aws_iam_role_policy": "iam:PutRolePolicy",
    "aws_cloudwatch_log_group": "logs:PutRetentionPolicy",
    "aws_dynamodb_table": "dynamodb:TagResource",
    "aws_sns_topic": "sns:TagResource",
    "aws_sns_topic_subscription": "sns:SetSubscriptionAttributes",
    "aws_sqs_queue": "sqs:SetQueueAttributes",
    "aws_lambda_function": "lambda:UpdateFunctionConfiguration",
    "aws_sfn_state_machine": "states:UpdateStateMachine",
    "aws_apigatewayv2_api": "apigateway:UpdateApi",
    "aws_apigatewayv2_integration": "apigateway:UpdateIntegration",
    "aws_apigatewayv2_authorizer": "apigateway:UpdateAuthorizer",
    "aws_apigatewayv2_route": "apigateway:UpdateRoute",
    "aws_apigatewayv2_stage": "apigateway:UpdateStage",
    "aws_cloudwatch_metric_alarm": "monitoring:PutMetricAlarm",
    "aws_cloudwatch_dashboard": "monitoring:PutDashboard",
}
# Replaced, never changed in place: every argument forces a new resource.
REPLACED_ONLY = {"aws_lambda_permission"}


def test_every_resource_that_can_change_in_place_is_updated(analysis: Analysis) -> None:
    declared = set()
    for source in REPO_ROOT.glob("*.tf"):
        declared |= set(re.findall(r'^resource "([a-z0-9_]+)"', source.read_text(), re.M))
    assert declared == set(IN_PLACE_UPDATES) | REPLACED_ONLY
    updated = {
        f"{call.service}:{call.operation}" for phase, call in analysis.calls if phase == "update"
    }
    assert {kind: c for kind, c in IN_PLACE_UPDATES.items() if c not in updated} == {}


def test_both_tables_were_created_and_deleted(analysis: Analysis, lifecycle: Lifecycle) -> None:
    name = lifecycle.variables["name"]
    for phase, operation in (("apply", "CreateTable"), ("destroy", "DeleteTable")):
        tables = {
            call.params["TableName"]
            for called_in, call in analysis.calls
            if called_in == phase and call.operation == operation
        }
        # The idempotency table of earlier releases is no longer created.
        assert tables == {f"{name}-tasks", f"{name}-slots"}, phase


def test_slot_table_was_created_as_planned(analysis: Analysis, lifecycle: Lifecycle) -> None:
    name, key = lifecycle.variables["name"], lifecycle.variables["kms_key_arn"]
    table = f"{name}-slots"
    applied = [
        call
        for phase, call in analysis.calls
        if phase == "apply" and call.params.get("TableName") == table
    ]
    (created,) = [c for c in applied if c.operation == "CreateTable"]
    assert created.params["BillingMode"] == "PAY_PER_REQUEST"
    assert created.params["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert sorted(
        (a["AttributeName"], a["AttributeType"]) for a in created.params["AttributeDefinitions"]
    ) == [("pk", "S"), ("sk", "N")]
    assert created.params["SSESpecification"] == {
        "Enabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": key,
    }
    assert "GlobalSecondaryIndexes" not in created.params
    (ttl,) = [c for c in applied if c.operation == "UpdateTimeToLive"]
    assert ttl.params["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    (backups,) = [c for c in applied if c.operation == "UpdateContinuousBackups"]
    assert backups.params["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_routes_were_created_with_the_authorizer_and_their_scopes(
    analysis: Analysis, lifecycle: Lifecycle
) -> None:
    created = [call for phase, call in analysis.calls if phase == "apply"]
    (authorizer,) = [c for c in created if c.operation == "CreateAuthorizer"]
    # REST-JSON: the request and response members as sent on the wire.
    assert authorizer.params["authorizerType"] == "JWT"
    assert authorizer.params["identitySource"] == ["$request.header.Authorization"]
    assert authorizer.params["jwtConfiguration"] == {
        "issuer": JWT_ISSUER,
        "audience": ["deployer-check"],
    }
    authorizer_id = authorizer.response["authorizerId"]
    routes = {c.params["routeKey"]: c.params for c in created if c.operation == "CreateRoute"}
    assert len(routes) == 5
    for route_key, params in routes.items():
        assert (params["authorizationType"], params["authorizerId"]) == ("JWT", authorizer_id)
        writes = route_key.startswith(("POST", "DELETE", "PATCH"))
        assert params.get("authorizationScopes") == (["tasks/write"] if writes else None), route_key
    (stage,) = [c for c in created if c.operation == "CreateStage"]
    ((route_key, settings),) = stage.params["routeSettings"].items()
    assert route_key == "GET /schedule"
    assert (settings["throttlingRateLimit"], settings["throttlingBurstLimit"]) == (10, 20)


def test_every_recorded_call_is_allowed(analysis: Analysis) -> None:
    assert analysis.denied == []


def test_every_granted_action_is_used_or_has_a_reason(analysis: Analysis) -> None:
    assert analysis.unused == []


def test_reasons_name_only_actions_no_call_uses(analysis: Analysis, lifecycle: Lifecycle) -> None:
    reasons = reasons_for_unused(REPO_ROOT / "published_policies.tf")
    assert reasons, "published_policies.tf carries no '# unused:' reasons: the parser misses them"
    assert sorted(set(reasons) & analysis.used) == []
    # Each reason names an action its own statement grants.
    granted = Policy(lifecycle.deployer_policy).granted_actions()
    assert [pair for pair in reasons if pair[1] not in granted.get(pair[0], [])] == []


def must_be_denied(lifecycle: Lifecycle) -> list[Authorization]:
    """Requests outside the module that the policy's conditions exist to refuse."""
    name, boundary = lifecycle.variables["name"], lifecycle.variables["role_permissions_boundary"]
    role = f"arn:aws:iam::{ACCOUNT}:role/{name}-api"
    apis = f"arn:aws:apigateway:{REGION}::/apis"
    other_logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/apigateway/other"
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
    tables = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table"
    key = lifecycle.variables["kms_key_arn"]
    return [
        Authorization("iam:CreateRole", role, {"iam:PermissionsBoundary": boundary + "-other"}),
        Authorization("iam:CreateRole", role, {}),
        Authorization("iam:PassRole", role, {"iam:PassedToService": "ec2.amazonaws.com"}),
        Authorization("apigateway:POST", apis, {"apigateway:Request/ApiName": "other"}),
        Authorization("apigateway:DELETE", f"{apis}/abc", {"apigateway:Resource/ApiName": "other"}),
        Authorization(
            "apigateway:POST",
            f"{apis}/abc/stages",
            {"apigateway:Request/AccessLoggingDestination": other_logs},
        ),
        Authorization("apigateway:PUT", f"{apis}/abc", {}),
        # UpdateApi of another API; the service-linked role of another service.
        Authorization("apigateway:PATCH", f"{apis}/abc", {"apigateway:Resource/ApiName": "other"}),
        Authorization(
            "iam:CreateServiceLinkedRole",
            f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS",
            {"iam:AWSServiceName": "ecs.amazonaws.com"},
        ),
        Authorization(
            "iam:CreateServiceLinkedRole",
            SERVICE_LINKED_ROLE.format(account=ACCOUNT),
            {"iam:AWSServiceName": "elasticloadbalancing.amazonaws.com"},
        ),
        Authorization(
            "cloudwatch:DeleteDashboards", f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/other", {}
        ),
        Authorization("states:StartExecution", machine, {}),
        Authorization(
            "states:StopExecution", f"{machine.replace('stateMachine', 'execution')}:t", {}
        ),
        # An alarm of this module that would stop an instance, and another stack's alarm.
        Authorization(
            "cloudwatch:PutMetricAlarm",
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}-dead-letter",
            {"cloudwatch:AlarmActions": [f"arn:aws:automate:{REGION}:ec2:stop"]},
        ),
        Authorization(
            "cloudwatch:PutMetricAlarm",
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:other-dead-letter",
            {"cloudwatch:AlarmActions": [lifecycle.variables["alarm_topic_arn"]]},
        ),
        Authorization(
            "cloudwatch:DeleteAlarms", f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:other", {}
        ),
        # Another stack's tables; items of this module's tables (CI runs no tasks).
        Authorization("dynamodb:DeleteTable", f"{tables}/other-tasks", {}),
        Authorization("dynamodb:DeleteTable", f"{tables}/other-slots", {}),
        Authorization("dynamodb:CreateTable", f"{tables}/{name}-slots-2", {}),
        Authorization("dynamodb:PutItem", f"{tables}/{name}-tasks", {}),
        Authorization("dynamodb:Scan", f"{tables}/{name}-tasks", {}),
        Authorization("dynamodb:Query", f"{tables}/{name}-slots", {}),
        Authorization("dynamodb:UpdateItem", f"{tables}/{name}-slots", {}),
        # The key, outside DynamoDB: directly, or through another service.
        Authorization("kms:Decrypt", key, {}),
        Authorization("kms:CreateGrant", key, {"kms:ViaService": f"sqs.{REGION}.amazonaws.com"}),
        Authorization("kms:CreateGrant", key, {"kms:ViaService": f"states.{REGION}.amazonaws.com"}),
        # Keys' metadata only by DynamoDB's managed key's alias, and nothing else with it.
        Authorization("kms:DescribeKey", key, {}),
        Authorization("kms:Decrypt", key, {"kms:RequestAlias": "alias/aws/dynamodb"}),
    ]


HTTP_API_LOGGING = (
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging.html"
)
SERVICE_LINKED_ROLES = (
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/using-service-linked-roles.html"
)
STEP_FUNCTIONS_ENCRYPTION = (
    "https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html"
)
SERVICE_LINKED_ROLE = (
    "arn:aws:iam::{account}:role/aws-service-role/ops.apigateway.amazonaws.com/"
    "AWSServiceRoleForAPIGateway"
)


def documented_requirements(lifecycle: Lifecycle) -> dict[str, list[Authorization]]:
    """What each page says the caller needs, as requests AWS may authorise inside a call
    (no recorded call shows them): by page."""
    group = (
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/apigateway/{lifecycle.variables['name']}"
    )
    on_groups = ("DescribeLogGroups", "DescribeLogStreams", "GetLogEvents", "FilterLogEvents")
    on_star = (
        "CreateLogDelivery",
        "PutResourcePolicy",
        "UpdateLogDelivery",
        "DeleteLogDelivery",
        "CreateLogGroup",
        "DescribeResourcePolicies",
        "GetLogDelivery",
        "ListLogDeliveries",
    )
    return {
        HTTP_API_LOGGING: [
            *(Authorization(f"logs:{action}", group) for action in on_groups),
            # Another log group: the page grants these on every log group of the region.
            *(Authorization(f"logs:{action}", f"{group}-other:*") for action in on_groups),
            *(Authorization(f"logs:{action}", "*") for action in on_star),
        ],
        SERVICE_LINKED_ROLES: [
            Authorization(
                "iam:CreateServiceLinkedRole",
                SERVICE_LINKED_ROLE.format(account=ACCOUNT),
                {"iam:AWSServiceName": "ops.apigateway.amazonaws.com"},
            )
        ],
        # Creating, updating and reading a state machine with a customer key: Step Functions
        # uses the key on the caller's behalf.
        STEP_FUNCTIONS_ENCRYPTION: [
            Authorization(
                f"kms:{action}",
                lifecycle.variables["kms_key_arn"],
                {"kms:ViaService": f"states.{REGION}.amazonaws.com"},
            )
            for action in ("DescribeKey", "GenerateDataKey", "Decrypt")
        ],
    }


def missing_documented(lifecycle: Lifecycle, document: dict[str, Any]) -> list[str]:
    policy = Policy(document)
    return [
        f"{page}: {request}"
        for page, requests in documented_requirements(lifecycle).items()
        for request in requests
        if not policy.evaluate(request).allowed
    ]


def test_documented_grants_hold_what_their_pages_list(lifecycle: Lifecycle) -> None:
    assert missing_documented(lifecycle, lifecycle.deployer_policy) == []


def test_documented_statements_name_their_pages(lifecycle: Lifecycle) -> None:
    documented = documented_statements(REPO_ROOT / "published_policies.tf")
    assert documented == {
        "AccessLoggingReadLogGroups": HTTP_API_LOGGING,
        "AccessLoggingDeliveries": HTTP_API_LOGGING,
        "CreateApiGatewayServiceLinkedRole": SERVICE_LINKED_ROLES,
        "EncryptStateMachine": STEP_FUNCTIONS_ENCRYPTION,
    }
    sids = {s["Sid"] for s in lifecycle.deployer_policy["Statement"]}
    assert set(documented) <= sids


# Statements no recorded call needs and no page lists: each action carries an "# unused:"
# reason (a change the emulator cannot make), so removing one goes unnoticed here.
ONLY_UNUSED_ACTIONS = {"ResetHttpApiRouteSettings"}


def test_removing_any_statement_fails(lifecycle: Lifecycle) -> None:
    """Each of today's statements is needed: by a recorded call, or by its documented page."""
    current = lifecycle.deployer_policy
    unnoticed = []
    for statement in current["Statement"]:
        document = copy.deepcopy(current)
        document["Statement"] = [s for s in current["Statement"] if s is not statement]
        result = run(lifecycle, document)
        if not (result.denied or missing_documented(lifecycle, document)):
            unnoticed.append(statement["Sid"])
    assert sorted(unnoticed) == sorted(ONLY_UNUSED_ACTIONS)


def allowed_probes(lifecycle: Lifecycle, document: dict[str, Any]) -> list[str]:
    policy = Policy(document)
    return [str(p) for p in must_be_denied(lifecycle) if policy.evaluate(p).allowed]


def test_requests_outside_the_module_are_denied(lifecycle: Lifecycle) -> None:
    assert allowed_probes(lifecycle, lifecycle.deployer_policy) == []


def broad_policy_statements(lifecycle: Lifecycle) -> list[dict[str, Any]]:
    """Statements of the broad policy before it was narrowed to exact names, re-targeted at the
    recorded module's name and region."""
    text = BEFORE.read_text().replace("NAME", lifecycle.variables["name"])
    return list(json.loads(text.replace("REGION", REGION))["Statement"])


def test_restoring_any_statement_of_the_old_policy_fails(lifecycle: Lifecycle) -> None:
    """Each old statement, in place of today's statements granting its actions, is caught."""
    current = lifecycle.deployer_policy

    def normalised(statement: dict[str, Any]) -> str:
        def canonical(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: canonical(v) for k, v in value.items()}
            return sorted(value) if isinstance(value, list) else [value]

        return json.dumps(
            canonical({k: v for k, v in statement.items() if k != "Sid"}), sort_keys=True
        )

    kept = {normalised(s) for s in current["Statement"]}
    changed = [old for old in broad_policy_statements(lifecycle) if normalised(old) not in kept]
    assert [old["Sid"] for old in changed] == [
        "ManageRoles",
        "ManageExecutions",
        "ManageSubscriptions",
        "ManageDeadLetterQueue",
        "ManageFunctions",
        "ManageLogGroups",
        # Kept as it was until the HTTP API logging page's statements replaced it.
        "DescribeLogGroupsAndDeliveries",
        "ManageHttpApi",
    ]
    for old in changed:
        old_actions = set(old["Action"])
        document = copy.deepcopy(current)
        document["Statement"] = [
            s
            for s in current["Statement"]
            if not old_actions & set([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        ] + [old]
        result = run(lifecycle, document)
        caught = (
            result.denied
            or result.unused
            or allowed_probes(lifecycle, document)
            or missing_documented(lifecycle, document)
        )
        assert caught, f"restoring {old['Sid']} went unnoticed"


def _members(params: dict[str, Any], prefix: str) -> list[dict[str, str]]:
    """Query-protocol list members (``<prefix>.member.N.<field>``) as dicts, in order."""
    members: dict[int, dict[str, str]] = {}
    for key, value in params.items():
        if key.startswith(f"{prefix}.member."):
            index, _, field = key.removeprefix(f"{prefix}.member.").partition(".")
            members.setdefault(int(index), {})[field] = value
    return [members[i] for i in sorted(members)]


def test_alarms_sent_watch_the_module_s_resources_and_notify_the_topic(
    analysis: Analysis, lifecycle: Lifecycle
) -> None:
    name, topic = lifecycle.variables["name"], lifecycle.variables["alarm_topic_arn"]
    created = [call for phase, call in analysis.calls if phase == "apply"]
    (api_id,) = [c.response["apiId"] for c in created if c.operation == "CreateApi"]
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
    puts = {c.params["AlarmName"]: c.params for c in created if c.operation == "PutMetricAlarm"}
    expected = {
        "dead-letter": (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": f"{name}-dead-letter"},
        ),
        "executions-failed": ("AWS/States", "ExecutionsFailed", {"StateMachineArn": machine}),
        "executions-timed-out": ("AWS/States", "ExecutionsTimedOut", {"StateMachineArn": machine}),
        "executions-aborted": ("AWS/States", "ExecutionsAborted", {"StateMachineArn": machine}),
        "api-5xx": ("AWS/ApiGateway", "5xx", {"ApiId": api_id, "Stage": "$default"}),
        "emit-errors": ("AWS/Lambda", "Errors", {"FunctionName": f"{name}-emit"}),
        "emit-throttles": ("AWS/Lambda", "Throttles", {"FunctionName": f"{name}-emit"}),
    }
    assert set(puts) == {f"{name}-{kind}" for kind in [*expected, "open-executions"]}
    for kind, (namespace, metric, dimensions) in expected.items():
        params = puts[f"{name}-{kind}"]
        assert (params["Namespace"], params["MetricName"]) == (namespace, metric), kind
        sent = {d["Name"]: d["Value"] for d in _members(params, "Dimensions")}
        assert sent == dimensions, kind
    queries = _members(puts[f"{name}-open-executions"], "Metrics")
    metrics = {q["Id"]: q.get("MetricStat.Metric.MetricName") for q in queries}
    assert metrics == {"open": "OpenExecutionCount", "limit": "OpenExecutionLimit", "percent": None}
    assert not [k for q in queries for k in q if "Dimensions" in k]
    for params in puts.values():
        actions = [v for k, v in params.items() if k.startswith(("AlarmActions.", "OKActions."))]
        assert actions == [topic, topic]
        assert params["TreatMissingData"] == "notBreaching"
