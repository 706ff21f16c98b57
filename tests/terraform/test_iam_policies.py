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
from tests.terraform.plan_values import ALARM_KINDS

# Actions AWS authorises only on "*": X-Ray ingestion and sampling, Step Functions log delivery,
# listing log groups, and definition validation.
ACTIONS_REQUIRING_STAR = {
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "states:ValidateStateMachineDefinition",
    # No resource type in the Service Authorization Reference.
    "sns:Unsubscribe",
    "sns:GetSubscriptionAttributes",
    "sns:SetSubscriptionAttributes",
}
# On "*" because the HTTP API logging page grants them there (the deployer's
# AccessLoggingDeliveries statement), not because AWS has no resource type for them.
DOCUMENTED_ON_STAR = {"logs:CreateLogGroup"}

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
        for s in document.get("Statement", [])
    ]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def assert_no_wildcard_actions(actions: list[str]) -> None:
    assert actions
    assert not [a for a in actions if "*" in a], actions


def expected_deployer_resources(name: str) -> dict[str, set[str]]:
    """The exact ARNs each name-scoped deployer statement may act on (eu-west-1, any account)."""
    region = "arn:aws:{service}:eu-west-1:*"
    roles = {f"arn:aws:iam::*:role/{name}-{role}" for role in ("api", "emit", "state-machine")}
    logs = region.format(service="logs")
    alarms = {f"{region.format(service='cloudwatch')}:alarm:{name}-{kind}" for kind in ALARM_KINDS}
    return {
        "ManageRoles": roles,
        "CreateRoles": roles,
        "PassRolesToServices": roles,
        "ManageStateMachine": {f"{region.format(service='states')}:stateMachine:{name}"},
        "ManageTopic": {f"{region.format(service='sns')}:{name}"},
        "ManageDeadLetterQueue": {f"{region.format(service='sqs')}:{name}-dead-letter"},
        "ManageFunctions": {
            f"{region.format(service='lambda')}:function:{name}-{function}"
            for function in ("api", "emit")
        },
        # Actions naming a log group by name are authorised on "log-group:NAME:*".
        "ManageLogGroups": {
            f"{logs}:log-group:{group}{suffix}"
            for group in (
                f"/aws/lambda/{name}-api",
                f"/aws/lambda/{name}-emit",
                f"/aws/vendedlogs/states/{name}",
                f"/aws/apigateway/{name}",
            )
            for suffix in ("", ":*")
        },
        # As the HTTP API logging page grants them: every log group of the region.
        "AccessLoggingReadLogGroups": {f"{logs}:log-group:*"},
        "CreateApiGatewayServiceLinkedRole": {
            "arn:aws:iam::*:role/aws-service-role/ops.apigateway.amazonaws.com/"
            "AWSServiceRoleForAPIGateway"
        },
        "ManageDashboard": {f"arn:aws:cloudwatch::*:dashboard/{name}"},
        # Every alarm the module can create, so that turning alarms off can delete them.
        "ManageAlarms": alarms,
        "PutAlarms": alarms,
        # The task and slot tables, and the idempotency table of earlier releases (to delete
        # it on upgrade).
        "ManageTables": {
            f"{region.format(service='dynamodb')}:table/{name}-{table}"
            for table in ("tasks", "idempotency", "slots")
        },
        "EncryptTables": {KEY},
        "EncryptStateMachine": {KEY},
        # Any key, but only by the alias of DynamoDB's AWS managed key (kms:RequestAlias).
        "DescribeDynamoDBManagedKey": {f"{region.format(service='kms')}:key/*"},
    }


KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize("case", ["defaults", "custom", "alarms", "kms", "jwt"])
def test_deployer_policy_is_the_documented_list_scoped_to_exact_names(
    plan: PlanFn, case: str
) -> None:
    result = plan(case=case)
    deployer = {s["Sid"]: s for s in statements(result.outputs["deployer_policy_json"])}
    actions = {action for s in deployer.values() for action in s["Action"]}
    # Each documented action is granted where it is used (README: "Where each documented
    # action is granted"): StartExecution by the runtime roles (the api function's, and the
    # emit function's for a shard's next hop, see test_rendered.py); StopExecution by none
    # since time slots (executions are shared). Neither lets CI run or stop tasks.
    at_run_time = {"states:StartExecution", "states:StopExecution"}
    assert actions >= DOCUMENTED_DEPLOYER_ACTIONS - at_run_time
    assert not actions & at_run_time
    expected = expected_deployer_resources(result.variables["name"])
    for sid, statement in deployer.items():
        assert statement["Effect"] == "Allow"
        assert_no_wildcard_actions(statement["Action"])
        if sid in expected:
            assert set(statement["Resource"]) == expected[sid], sid
        elif statement["Action"][0].startswith("apigateway:"):
            # API ids are generated by AWS: named by condition keys where API Gateway has them.
            assert all(":apigateway:eu-west-1::/" in r for r in statement["Resource"]), sid
        elif sid == "UsePowertoolsLayer":
            (layer,) = statement["Resource"]
            assert layer.startswith("arn:aws:lambda:eu-west-1:017000801446:layer:")
        else:
            assert statement["Resource"] == ["*"], sid
            assert set(statement["Action"]) <= ACTIONS_REQUIRING_STAR | DOCUMENTED_ON_STAR, sid
    assert deployer["PassRolesToServices"]["Condition"]["StringEquals"] == {
        "iam:PassedToService": ["lambda.amazonaws.com", "states.amazonaws.com"]
    }
    assert deployer["CreateHttpApi"]["Condition"]["StringEquals"] == {
        "apigateway:Request/ApiName": result.variables["name"]
    }
    assert deployer["DeleteHttpApi"]["Condition"]["StringEquals"] == {
        "apigateway:Resource/ApiName": result.variables["name"]
    }
    assert deployer["UpdateHttpApi"]["Condition"]["StringEquals"] == {
        "apigateway:Resource/ApiName": result.variables["name"]
    }
    assert deployer["CreateApiGatewayServiceLinkedRole"]["Condition"] == {
        "StringEquals": {"iam:AWSServiceName": "ops.apigateway.amazonaws.com"}
    }
    # No grant lets CI run or stop tasks.
    assert not [a for a in actions if "Execution" in a and a.startswith("states:")]


def policy_documents_in_configuration(result: Any) -> dict[str, Any]:
    resources = result.configuration["root_module"]["resources"]
    return {
        r["address"]: r.get("expressions", {})
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
        "data.aws_iam_policy_document.read_executions": ["local.execution_arns"],
        "data.aws_iam_policy_document.register_tasks": [
            "aws_dynamodb_table.this.arn",
            "local.status_index_name",
        ],
        "data.aws_iam_policy_document.claim_tasks": ["aws_dynamodb_table.this.arn"],
        "data.aws_iam_policy_document.place_tasks": ["aws_dynamodb_table.slots.arn"],
        "data.aws_iam_policy_document.read_shards": ["aws_dynamodb_table.slots.arn"],
        "data.aws_iam_policy_document.continue_executions": ["local.built_state_machine_arn"],
        "data.aws_iam_policy_document.dead_letter_tasks": ["aws_sqs_queue.dead_letter.arn"],
        "data.aws_iam_policy_document.mark_failed": ["aws_dynamodb_table.this.arn"],
        "data.aws_iam_policy_document.invoke": ["local.route_arns"],
        "data.aws_iam_policy_document.invoke_read_only": [
            "local.route_arns.list",
            "local.route_arns.status",
        ],
    }
    for address, expected_references in runtime.items():
        referenced = set()
        for statement in documents[address]["statement"]:
            assert_no_wildcard_actions(statement["actions"]["constant_value"])
            assert "constant_value" not in statement["resources"], (address, statement)
            referenced.update(statement["resources"]["references"])
        assert set(expected_references) <= referenced, address


def rendered_documents(result: Any) -> dict[str, list[dict[str, Any]]]:
    """Statements of the policy documents Terraform could render at plan time."""
    return {
        address: statements(r["values"]["json"])
        for address, r in result.prior_resources.items()
        if r["type"] == "aws_iam_policy_document"
    }


@pytest.mark.parametrize("case", ["defaults", "kms"])
def test_star_resources_only_where_aws_requires_them(plan: PlanFn, case: str) -> None:
    rendered = rendered_documents(plan(case=case))
    assert {
        "data.aws_iam_policy_document.tracing",
        "data.aws_iam_policy_document.state_machine_logs",
        "data.aws_iam_policy_document.deployer",
    } <= set(rendered)
    for address, document in rendered.items():
        for statement in document:
            assert_no_wildcard_actions(statement["Action"])
            if "*" in statement["Resource"]:
                assert statement["Resource"] == ["*"], address
                assert set(statement["Action"]) <= ACTIONS_REQUIRING_STAR | DOCUMENTED_ON_STAR, (
                    address
                )


def test_customer_managed_key_is_granted_only_when_set(plan: PlanFn) -> None:
    assert rendered_documents(plan())["data.aws_iam_policy_document.encrypt"] == []
    (statement,) = rendered_documents(plan(case="kms"))["data.aws_iam_policy_document.encrypt"]
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statement["Resource"] == [
        "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    ]


def test_customer_managed_key_encrypts_the_state_machine(
    plan: PlanFn,
) -> None:
    # "Data at rest encryption in Step Functions": the definition and the executions' data use
    # the customer key, and the deployer may use it through Step Functions.
    without = plan()
    assert without.resources["aws_sfn_state_machine.this"]["values"][
        "encryption_configuration"
    ] == [{"type": "AWS_OWNED_KEY", "kms_key_id": None, "kms_data_key_reuse_period_seconds": None}]
    assert rendered_documents(without)["data.aws_iam_policy_document.execution_data_key"] == []

    result = plan(case="kms")
    assert result.resources["aws_sfn_state_machine.this"]["values"]["encryption_configuration"] == [
        {
            "type": "CUSTOMER_MANAGED_KMS_KEY",
            "kms_key_id": KEY,
            "kms_data_key_reuse_period_seconds": 900,
        }
    ]
    # What each role is granted on the key (the state machine's ARN is only known after an
    # apply): test_rendered.py.
    deployer = {s["Sid"]: s for s in statements(result.outputs["deployer_policy_json"])}
    assert sorted(deployer["EncryptStateMachine"]["Action"]) == [
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:GenerateDataKey",
    ]
    assert deployer["EncryptStateMachine"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "states.eu-west-1.amazonaws.com"}
    }


def test_roles_trust_only_their_service(plan: PlanFn) -> None:
    roles = [
        r["values"]
        for r in plan().resources.values()
        if r["mode"] == "managed" and r["type"] == "aws_iam_role"
    ]
    trusted, conditions = {}, {}
    for role in roles:
        (statement,) = statements(role["assume_role_policy"])
        assert statement["Action"] == ["sts:AssumeRole"]
        trusted[role["name"]] = statement["Principal"]["Service"]
        conditions[role["name"]] = statement.get("Condition")
    assert conditions["task-scheduler-state-machine"] == {
        "ArnLike": {"aws:SourceArn": "arn:aws:states:eu-west-1:*:stateMachine:task-scheduler"}
    }
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
    assert "data.aws_iam_policy_document.encrypt.json" in sources["emit"]
    assert "data.aws_iam_policy_document.encrypt.json" in sources["state_machine"]
    assert "data.aws_iam_policy_document.state_machine_logs.json" in sources["state_machine"]
    # The task registry, each role for what it does with it; executions likewise.
    table = {
        "api": "register_tasks",
        "emit": "claim_tasks",
        "state_machine": "mark_failed",
    }
    for role, document in table.items():
        for other_role in sources:
            contains = f"data.aws_iam_policy_document.{document}.json" in sources[other_role]
            assert contains is (other_role == role), (role, other_role)
        assert "data.aws_iam_policy_document.table_key.json" in sources[role]
    assert "data.aws_iam_policy_document.read_executions.json" in sources["api"]
    assert "data.aws_iam_policy_document.continue_executions.json" in sources["emit"]
    assert "data.aws_iam_policy_document.start_execution.json" not in sources["emit"]
    # The slot table: both functions place tasks; only the emit function reads shards and
    # parks tasks in the dead-letter queue itself.
    assert [
        role for role in sources if "data.aws_iam_policy_document.place_tasks.json" in sources[role]
    ] == ["api", "emit"]
    for document in ("read_shards", "dead_letter_tasks"):
        holders = [
            r for r in sources if f"data.aws_iam_policy_document.{document}.json" in sources[r]
        ]
        assert holders == ["emit"], document


def test_table_key_is_granted_only_when_set_and_only_through_dynamodb(plan: PlanFn) -> None:
    assert rendered_documents(plan())["data.aws_iam_policy_document.table_key"] == []
    (statement,) = rendered_documents(plan(case="kms"))["data.aws_iam_policy_document.table_key"]
    # DynamoDB decrypts the table key on behalf of whoever reads or writes items.
    assert statement["Action"] == ["kms:Decrypt"]
    assert statement["Resource"] == [KEY]
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": "dynamodb.eu-west-1.amazonaws.com"}
    }


def test_deployer_manages_the_tables_and_their_key_only_through_dynamodb(
    plan: PlanFn,
) -> None:
    deployer = {s["Sid"]: s for s in statements(plan().outputs["deployer_policy_json"])}
    assert "EncryptTables" not in deployer
    assert sorted(deployer["ManageTables"]["Action"]) == [
        "dynamodb:CreateTable",
        "dynamodb:DeleteTable",
        "dynamodb:DescribeContinuousBackups",
        "dynamodb:DescribeTable",
        "dynamodb:DescribeTimeToLive",
        "dynamodb:ListTagsOfResource",
        "dynamodb:TagResource",
        "dynamodb:UntagResource",
        "dynamodb:UpdateContinuousBackups",
        "dynamodb:UpdateTable",
        "dynamodb:UpdateTimeToLive",
    ]
    assert sorted(deployer["ManageTables"]["Resource"]) == [
        "arn:aws:dynamodb:eu-west-1:*:table/task-scheduler-idempotency",
        "arn:aws:dynamodb:eu-west-1:*:table/task-scheduler-slots",
        "arn:aws:dynamodb:eu-west-1:*:table/task-scheduler-tasks",
    ]
    # The same without the publication log: the tables do not change.
    without = plan(emit_idempotency_enabled="false").outputs["deployer_policy_json"]
    assert {s["Sid"]: s for s in statements(without)}["ManageTables"] == deployer["ManageTables"]
    # No item-level action: CI creates the table, it does not read or write tasks.
    granted = {a for s in deployer.values() for a in s["Action"]}
    assert not {a for a in granted if a.startswith("dynamodb:") and "Item" in a}
    assert not granted & {"dynamodb:Query", "dynamodb:Scan"}
    # The provider looks up DynamoDB's AWS managed key by its alias whenever it reads the table.
    assert deployer["DescribeDynamoDBManagedKey"]["Action"] == ["kms:DescribeKey"]
    assert deployer["DescribeDynamoDBManagedKey"]["Condition"] == {
        "StringEquals": {"kms:RequestAlias": "alias/aws/dynamodb"}
    }
    with_key = {s["Sid"]: s for s in statements(plan(case="kms").outputs["deployer_policy_json"])}
    # "Key policy for a customer managed key": what the principal who selects the key needs.
    assert sorted(with_key["EncryptTables"]["Action"]) == [
        "kms:CreateGrant",
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    ]
    assert with_key["EncryptTables"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "dynamodb.eu-west-1.amazonaws.com"}
    }


def test_deployer_may_put_alarms_only_with_the_alarm_topic_as_their_action(plan: PlanFn) -> None:
    without = {s["Sid"] for s in statements(plan().outputs["deployer_policy_json"])}
    assert "PutAlarms" not in without
    assert "ManageAlarms" in without
    deployer = {
        s["Sid"]: s for s in statements(plan(case="alarms").outputs["deployer_policy_json"])
    }
    assert deployer["PutAlarms"]["Action"] == ["cloudwatch:PutMetricAlarm"]
    assert deployer["PutAlarms"]["Condition"] == {
        "ForAllValues:StringEquals": {
            "cloudwatch:AlarmActions": "arn:aws:sns:eu-west-1:111122223333:on-call"
        }
    }


def test_deployer_manages_the_jwt_authorizer_and_route_settings_in_every_mode(plan: PlanFn) -> None:
    # Granted whether or not the routes use JWT now, so that leaving JWT can delete it.
    for case in ("defaults", "jwt"):
        deployer = {
            s["Sid"]: s for s in statements(plan(case=case).outputs["deployer_policy_json"])
        }
        authorizer = deployer["ManageHttpApiAuthorizer"]
        assert sorted(authorizer["Action"]) == [
            "apigateway:DELETE",
            "apigateway:PATCH",
            "apigateway:POST",
        ]
        assert sorted(authorizer["Resource"]) == [
            "arn:aws:apigateway:eu-west-1::/apis/*/authorizers",
            "arn:aws:apigateway:eu-west-1::/apis/*/authorizers/*",
        ]
        assert "Condition" not in authorizer
        # Changing a route's throttling deletes its route settings first; nothing else.
        reset = deployer["ResetHttpApiRouteSettings"]
        assert (reset["Action"], reset["Resource"]) == (
            ["apigateway:DELETE"],
            ["arn:aws:apigateway:eu-west-1::/apis/*/stages/*/routesettings/*"],
        )


def documents_granting(result: Any, action: str) -> dict[str, list[Any]]:
    """Per policy document of the configuration: the resource expressions of its statements
    granting `action`."""
    return {
        address: [
            statement["resources"]
            for statement in expressions.get("statement", [])
            if action in statement.get("actions", {}).get("constant_value", [])
        ]
        for address, expressions in policy_documents_in_configuration(result).items()
        if any(
            action in statement.get("actions", {}).get("constant_value", [])
            for statement in expressions.get("statement", [])
        )
    }


def test_no_runtime_document_grants_stop_execution(plan: PlanFn) -> None:
    # The module shares executions between tasks and never stops one; the deployer has no
    # execution action either (test above).
    for case in ("defaults", "kms", "jwt"):
        assert documents_granting(plan(case=case), "states:StopExecution") == {}, case
    assert "local.built_execution_arns" not in json.dumps(policy_documents_in_configuration(plan()))


def test_emit_role_grants_on_the_slot_table_and_queue_name_them(plan: PlanFn) -> None:
    documents = policy_documents_in_configuration(plan())
    emit_sources = documents["data.aws_iam_policy_document.emit"]["source_policy_documents"][
        "references"
    ]
    # lambda_logs["emit"]: the configuration holds the document once, for every instance.
    emit_documents = {
        r.removesuffix(".json").split("[")[0] for r in emit_sources if r.endswith(".json")
    }
    resources: dict[str, set[str]] = {}
    for address in emit_documents:
        for statement in documents[address].get("statement", []):
            actions = statement["actions"]["constant_value"]
            services = {a.split(":")[0] for a in actions} & {"dynamodb", "sqs"}
            for service in services:
                # References only, never a literal (a "*" or a hand-written ARN).
                assert "constant_value" not in statement["resources"], (address, statement)
                references = statement["resources"]["references"]
                resources.setdefault(service, set()).update(
                    r for r in references if r.endswith(".arn")
                )
    assert resources == {
        "dynamodb": {"aws_dynamodb_table.this.arn", "aws_dynamodb_table.slots.arn"},
        "sqs": {"aws_sqs_queue.dead_letter.arn"},
    }
    (place,) = documents["data.aws_iam_policy_document.place_tasks"]["statement"]
    assert sorted(place["actions"]["constant_value"]) == [
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    ]
    (shards,) = documents["data.aws_iam_policy_document.read_shards"]["statement"]
    assert shards["actions"]["constant_value"] == ["dynamodb:Query"]
    (dead_letter,) = documents["data.aws_iam_policy_document.dead_letter_tasks"]["statement"]
    assert dead_letter["actions"]["constant_value"] == ["sqs:SendMessage"]
    # No document of the emit role deletes items or scans, on either table.
    granted = {
        a
        for address in emit_documents
        for statement in documents[address].get("statement", [])
        for a in statement["actions"]["constant_value"]
    }
    assert not granted & {"dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:BatchWriteItem"}
    # The emit role decrypts the customer key through DynamoDB for both tables (table_key).
    assert "data.aws_iam_policy_document.table_key.json" in emit_sources
