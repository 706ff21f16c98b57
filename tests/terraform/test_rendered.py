"""What only an apply renders, read from the mocked apply's state (hcl/mocked_apply.tftest.hcl).

The plan cannot show the state machine definition, the functions' environment, the routes'
execute-api ARNs or the runtime policy documents' resources: they embed ARNs AWS assigns. The
mocked provider assigns them (realistic ARNs where a test needs one), Terraform renders every
expression of the module, and these tests check the values it produced:

- "definition": the defaults (AWS_IAM, tracing, no customer key), emit_retry set;
- "long_horizon": ten years, 60 s segments, a 2 s lead, shards of 1000, a customer key,
  authorization NONE;
- "jwt": JWT with read and write scopes, reserved concurrency, no publication log.
"""

import json
from typing import Any

import pytest

from tests.terraform.conftest import MockedApply, PlanFn

ACCOUNT = "111122223333"
MACHINE = f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:task-scheduler"
EXECUTIONS = f"arn:aws:states:eu-west-1:{ACCOUNT}:execution:task-scheduler:*"
TABLE = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/task-scheduler-tasks"
SLOTS_TABLE = f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/task-scheduler-slots"
EMIT = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:task-scheduler-emit"
QUEUE = f"arn:aws:sqs:eu-west-1:{ACCOUNT}:task-scheduler-dead-letter"
QUEUE_URL = f"https://sqs.eu-west-1.amazonaws.com/{ACCOUNT}/task-scheduler-dead-letter"
KEY = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
API = f"arn:aws:execute-api:eu-west-1:{ACCOUNT}:a1b2c3d4e5"
ROUTE_ARNS = {
    "schedule": f"{API}/*/POST/schedule",
    "list": f"{API}/*/GET/schedule",
    "status": f"{API}/*/GET/schedule/*",
    "cancel": f"{API}/*/DELETE/schedule/*",
    "reschedule": f"{API}/*/PATCH/schedule/*",
}
ROUTE_KEYS = {
    "schedule": "POST /schedule",
    "list": "GET /schedule",
    "status": "GET /schedule/{id}",
    "cancel": "DELETE /schedule/{id}",
    "reschedule": "PATCH /schedule/{id}",
}
XRAY = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
    }
)
VIA_DYNAMODB = (("StringEquals", "kms:ViaService", ("dynamodb.eu-west-1.amazonaws.com",)),)


def definition(applied: MockedApply, run: str = "definition") -> dict[str, Any]:
    machine = applied.resources(run)["aws_sfn_state_machine.this"]
    decoded: dict[str, Any] = json.loads(machine["definition"])
    return decoded


def test_happy_path_stays_two_states_and_emit_gets_the_execution_arn(
    mocked_apply: MockedApply,
) -> None:
    states = definition(mocked_apply)["States"]
    # MarkFailed is gone: the emit function marks each dead-lettered task failed itself.
    assert set(states) == {
        "WaitUntilRelease",
        "Emit",
        "DeadLetter",
        "SendToDeadLetterQueue",
        "EmissionFailed",
    }
    assert states["WaitUntilRelease"]["Next"] == "Emit"
    assert states["Emit"]["End"] is True
    assert states["Emit"]["Parameters"] == {
        "FunctionName": EMIT,
        "Payload": {"task.$": "$", "execution_arn.$": "$$.Execution.Id"},
    }
    assert "Payload.$" not in states["Emit"]["Parameters"]
    assert states["Emit"]["OutputPath"] == "$.Payload"


# Lambda service errors and throttling (local.emit_throttle_retry in state_machine.tf).
THROTTLE_RETRY = {
    "ErrorEquals": [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.ClientExecutionTimeoutException",
    ],
    "IntervalSeconds": 1,
    "MaxAttempts": 15,
    "BackoffRate": 2,
    "MaxDelaySeconds": 60,
    "JitterStrategy": "FULL",
}


def throttling_wait_bounds(retrier: dict[str, Any]) -> tuple[float, float]:
    """The longest total wait of a retrier's attempts, without jitter and on average with
    FULL jitter (each wait uniform between 0 and its capped backoff)."""
    waits = [
        min(retrier["IntervalSeconds"] * retrier["BackoffRate"] ** n, retrier["MaxDelaySeconds"])
        for n in range(retrier["MaxAttempts"])
    ]
    return sum(waits), sum(waits) / 2


def test_emit_retries_throttling_jittered_then_emit_retry_then_dead_letters(
    mocked_apply: MockedApply,
) -> None:
    emit = definition(mocked_apply)["States"]["Emit"]
    # emit_retry = { max_attempts = 4, interval_seconds = 3, backoff_rate = 1.5 } in the suite.
    assert emit["Retry"] == [
        THROTTLE_RETRY,
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3, "MaxAttempts": 4, "BackoffRate": 1.5},
    ]
    # About ten minutes of throttling at most (five on average): late, never dead-lettered.
    assert throttling_wait_bounds(emit["Retry"][0]) == (603, 301.5)
    assert emit["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "DeadLetter"}
    ]
    # The function's timeout (30 s plus the 1 s lead) plus a 10 s margin.
    assert mocked_apply.resources("definition")["aws_lambda_function.emit"]["timeout"] == 31
    assert emit["TimeoutSeconds"] == 41


def test_dead_letter_hands_the_failed_input_to_the_emit_function(
    mocked_apply: MockedApply,
) -> None:
    states = definition(mocked_apply)["States"]
    timeout = mocked_apply.resources("definition")["aws_lambda_function.emit"]["timeout"]
    # The emit function marks each task of the input that is not yet published failed and
    # parks it alone, with its message and the error, in the dead-letter queue.
    assert states["DeadLetter"] == {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": EMIT,
            "Payload": {"dead_letter.$": "$", "execution_arn.$": "$$.Execution.Id"},
        },
        "ResultPath": None,
        "TimeoutSeconds": timeout + 10,
        "Retry": [
            THROTTLE_RETRY,
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": 2,
                "MaxAttempts": 6,
                "BackoffRate": 2,
            },
        ],
        "Catch": [
            {
                "ErrorEquals": ["States.ALL"],
                "ResultPath": "$.dead_letter_error",
                "Next": "SendToDeadLetterQueue",
            }
        ],
        "Next": "EmissionFailed",
    }
    # Last resort: the input itself (it names the shard, whose entries keep the messages) with
    # both errors; the execution fails either way.
    assert states["SendToDeadLetterQueue"] == {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": QUEUE_URL, "MessageBody.$": "$"},
        "ResultPath": None,
        "Retry": [
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": 1,
                "MaxAttempts": 8,
                "BackoffRate": 2,
            }
        ],
        "Next": "EmissionFailed",
    }
    assert states["EmissionFailed"] == {
        "Type": "Fail",
        "Error": "EmissionFailed",
        "Cause": "Tasks could not be emitted: they were sent to the dead-letter queue and marked "
        "failed in the task registry.",
    }


def test_no_state_writes_the_registry_any_more(mocked_apply: MockedApply) -> None:
    # Executions started before the upgrade keep their definition (and its MarkFailed): the
    # state machine role keeps dynamodb:UpdateItem for them (expected_roles below), but the
    # definition new executions run touches no table.
    resources = {state.get("Resource") for state in definition(mocked_apply)["States"].values()}
    assert resources == {
        None,
        "arn:aws:states:::lambda:invoke",
        "arn:aws:states:::sqs:sendMessage",
    }


POWERTOOLS = {
    "POWERTOOLS_SERVICE_NAME": "task-scheduler",
    "POWERTOOLS_METRICS_NAMESPACE": "TaskScheduler",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


@pytest.mark.parametrize(
    ("run", "horizon", "lead", "segment", "shard_units", "publication_log"),
    [
        # execution_segment_seconds = null there: the module's default.
        ("definition", "31536000", "1", "31449600", "500", "true"),
        ("long_horizon", "315360000", "2", "60", "1000", "true"),
        # emit_idempotency_enabled = false: the emit function records no publications.
        ("jwt", "31536000", "1", "31449600", "500", "false"),
    ],
)
def test_functions_environment(
    mocked_apply: MockedApply,
    run: str,
    horizon: str,
    lead: str,
    segment: str,
    shard_units: str,
    publication_log: str,
) -> None:
    resources = mocked_apply.resources(run)
    (api,) = resources["aws_lambda_function.api"]["environment"]
    (emit,) = resources["aws_lambda_function.emit"]["environment"]
    assert api["variables"] == {
        **POWERTOOLS,
        "STATE_MACHINE_ARN": MACHINE,
        "TASKS_TABLE_NAME": "task-scheduler-tasks",
        "SLOTS_TABLE_NAME": "task-scheduler-slots",
        "MAX_HORIZON_SECONDS": horizon,
        "EMISSION_LEAD_SECONDS": lead,
        "EXECUTION_SEGMENT_SECONDS": segment,
        "SLOT_SHARD_UNITS": shard_units,
    }
    assert emit["variables"] == {
        **POWERTOOLS,
        "TOPIC_ARN": resources["aws_sns_topic.this"]["arn"],
        "TASKS_TABLE_NAME": "task-scheduler-tasks",
        "SLOTS_TABLE_NAME": "task-scheduler-slots",
        "DEAD_LETTER_QUEUE_URL": QUEUE_URL,
        "PUBLICATION_LOG": publication_log,
        "EMISSION_LEAD_SECONDS": lead,
        "EXECUTION_SEGMENT_SECONDS": segment,
        "SLOT_SHARD_UNITS": shard_units,
    }


@pytest.mark.parametrize(
    ("run", "api", "emit"), [("definition", -1, -1), ("long_horizon", -1, -1), ("jwt", 20, 50)]
)
def test_reserved_concurrency(mocked_apply: MockedApply, run: str, api: int, emit: int) -> None:
    resources = mocked_apply.resources(run)
    assert resources["aws_lambda_function.api"]["reserved_concurrent_executions"] == api
    assert resources["aws_lambda_function.emit"]["reserved_concurrent_executions"] == emit


@pytest.mark.parametrize(
    ("run", "authorization"),
    [("definition", "AWS_IAM"), ("long_horizon", "NONE"), ("jwt", "JWT")],
)
def test_routes_and_their_lambda_permissions(
    mocked_apply: MockedApply, run: str, authorization: str
) -> None:
    resources = mocked_apply.resources(run)
    integration = resources["aws_apigatewayv2_integration.this"]["id"]
    for key, route_key in ROUTE_KEYS.items():
        route = resources[f'aws_apigatewayv2_route.this["{key}"]']
        assert route["route_key"] == route_key
        assert route["authorization_type"] == authorization
        assert route["target"] == f"integrations/{integration}"
    permissions = {
        address: values
        for address, values in resources.items()
        if address.startswith("aws_lambda_permission.")
    }
    assert {p["source_arn"] for p in permissions.values()} == set(ROUTE_ARNS.values())
    for key, arn in ROUTE_ARNS.items():
        permission = permissions[f'aws_lambda_permission.this["{key}"]']
        assert permission["source_arn"] == arn
        assert permission["statement_id"] == f"Allow{key.title()}RouteInvoke"
        assert permission["principal"] == "apigateway.amazonaws.com"
        assert permission["function_name"] == "task-scheduler-api"
    outputs = mocked_apply.outputs(run)
    assert outputs["api_route_keys"] == ROUTE_KEYS
    assert outputs["api_authorization_type"] == authorization


SCOPES = {
    "schedule": ["tasks/write"],
    "list": ["tasks/read"],
    "status": ["tasks/read"],
    "cancel": ["tasks/write"],
    "reschedule": ["tasks/write"],
}


@pytest.mark.parametrize("run", ["definition", "long_horizon", "jwt"])
def test_routes_name_the_jwt_authorizer_and_their_scopes_only_under_jwt(
    mocked_apply: MockedApply, run: str
) -> None:
    resources = mocked_apply.resources(run)
    routes = {key: resources[f'aws_apigatewayv2_route.this["{key}"]'] for key in ROUTE_KEYS}
    outputs = mocked_apply.outputs(run)
    if run != "jwt":
        assert "aws_apigatewayv2_authorizer.this[0]" not in resources
        assert {key: r["authorizer_id"] for key, r in routes.items()} == dict.fromkeys(
            ROUTE_KEYS, None
        )
        # A null output is left out of the state.
        assert outputs.get("apigatewayv2_authorizer_id") is None
        return
    authorizer = resources["aws_apigatewayv2_authorizer.this[0]"]
    assert authorizer["id"] == "jwt123"
    assert authorizer["api_id"] == resources["aws_apigatewayv2_api.this"]["id"]
    assert authorizer["jwt_configuration"] == [
        {
            "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
            "audience": ["app-client"],
        }
    ]
    assert {key: r["authorizer_id"] for key, r in routes.items()} == dict.fromkeys(
        ROUTE_KEYS, "jwt123"
    )
    assert {key: r["authorization_scopes"] for key, r in routes.items()} == SCOPES
    assert outputs["apigatewayv2_authorizer_id"] == "jwt123"


Statement = tuple[str, frozenset[str], frozenset[str], tuple[tuple[str, str, tuple[str, ...]], ...]]


def rendered_statements(values: dict[str, Any]) -> set[Statement]:
    """A mocked policy document's configured statements: (sid, actions, resources, conditions)."""
    return {
        (
            s["sid"],
            frozenset(s["actions"]),
            frozenset(s["resources"]),
            tuple(sorted((c["test"], c["variable"], tuple(c["values"])) for c in s["condition"])),
        )
        for s in values["statement"]
    }


def test_invoke_policies_name_exactly_their_routes(mocked_apply: MockedApply) -> None:
    resources = mocked_apply.resources("definition")
    invoke = "execute-api:Invoke"
    assert rendered_statements(resources["data.aws_iam_policy_document.invoke"]) == {
        ("ManageTasks", frozenset({invoke}), frozenset(ROUTE_ARNS.values()), ())
    }
    read_only = {ROUTE_ARNS["list"], ROUTE_ARNS["status"]}
    assert rendered_statements(resources["data.aws_iam_policy_document.invoke_read_only"]) == {
        ("ReadTasks", frozenset({invoke}), frozenset(read_only), ())
    }


def role_statements(plan: Any, applied: MockedApply, run: str, role: str) -> set[Statement]:
    """Every statement of a role's policy: its source documents (from the configuration, as
    the plan records them) with the statements the mocked apply rendered for each."""
    configuration = plan.configuration["root_module"]["resources"]
    (document,) = [
        c for c in configuration if c["address"] == f"data.aws_iam_policy_document.{role}"
    ]
    references = document["expressions"]["source_policy_documents"]["references"]
    sources = [r.removesuffix(".json") for r in references if r.endswith(".json")]
    if "local.tracing_policies" in references:
        sources.append("data.aws_iam_policy_document.tracing")
    resources = applied.resources(run)
    # Counted documents (`[*].json`) are referenced by their bare address: every instance.
    sources += [
        address
        for reference in references
        if not reference.endswith(".json") and reference.startswith("data.")
        for address in resources
        if address.startswith(f"{reference}[")
    ]
    statements: set[Statement] = set()
    for source in sources:
        statements |= rendered_statements(resources[source])
    return statements


def log_statement(applied: MockedApply, run: str, function: str) -> Statement:
    group = applied.resources(run)[f'aws_cloudwatch_log_group.lambda["{function}"]']["arn"]
    actions = frozenset({"logs:CreateLogStream", "logs:PutLogEvents"})
    return ("WriteOwnLogs", actions, frozenset({f"{group}:*"}), ())


def expected_roles(applied: MockedApply, run: str, *, kms: bool) -> dict[str, set[Statement]]:
    resources = applied.resources(run)
    topic = resources["aws_sns_topic.this"]["arn"]
    emit_arn = resources["aws_lambda_function.emit"]["arn"]
    queue = resources["aws_sqs_queue.dead_letter"]["arn"]
    traces: Statement = ("WriteTraces", XRAY, frozenset({"*"}), ())
    table_key: set[Statement] = (
        {("DecryptTableKey", frozenset({"kms:Decrypt"}), frozenset({KEY}), VIA_DYNAMODB)}
        if kms
        else set()
    )
    encrypt: set[Statement] = (
        {("EncryptTasks", frozenset({"kms:GenerateDataKey", "kms:Decrypt"}), frozenset({KEY}), ())}
        if kms
        else set()
    )
    # Starting, reading and running an execution of a state machine with a customer key
    # encrypts or decrypts its data, in the context of the state machine's ARN.
    execution_data_key: set[Statement] = (
        {
            (
                "EncryptExecutionData",
                frozenset({"kms:GenerateDataKey", "kms:Decrypt"}),
                frozenset({KEY}),
                (("StringEquals", "kms:EncryptionContext:aws:states:stateMachineArn", (MACHINE,)),),
            )
        }
        if kms
        else set()
    )
    execution_log_key: set[Statement] = (
        {
            (
                "EncryptExecutionLogs",
                frozenset({"kms:GenerateDataKey"}),
                frozenset({KEY}),
                (
                    (
                        "StringEquals",
                        "kms:EncryptionContext:SourceArn",
                        (f"arn:aws:logs:eu-west-1:{ACCOUNT}:*",),
                    ),
                ),
            )
        }
        if kms
        else set()
    )
    # Both functions place tasks in slots (the counter, the entry, the seal, the publication
    # log): the same actions on the slot table only.
    place: Statement = (
        "PlaceTasksInSlots",
        frozenset({"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"}),
        frozenset({SLOTS_TABLE}),
        (),
    )
    log_delivery = frozenset(
        {
            "logs:CreateLogDelivery",
            "logs:GetLogDelivery",
            "logs:UpdateLogDelivery",
            "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries",
            "logs:PutResourcePolicy",
            "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups",
        }
    )
    return {
        "api": {
            log_statement(applied, run, "api"),
            ("StartTaskExecutions", frozenset({"states:StartExecution"}), frozenset({MACHINE}), ()),
            # A task scheduled before time slots keeps its message in its execution's input.
            (
                "ReadTaskExecutions",
                frozenset({"states:DescribeExecution"}),
                frozenset({EXECUTIONS}),
                (),
            ),
            (
                "RegisterTasks",
                frozenset(
                    {
                        "dynamodb:PutItem",
                        "dynamodb:GetItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                    }
                ),
                frozenset({TABLE}),
                (),
            ),
            place,
            (
                "ListTasksByStatus",
                frozenset({"dynamodb:Query"}),
                frozenset({f"{TABLE}/index/status-timestamp"}),
                (),
            ),
            ("ListAllTasks", frozenset({"dynamodb:Scan"}), frozenset({TABLE}), ()),
            traces,
            *table_key,
            *execution_data_key,
        },
        "emit": {
            log_statement(applied, run, "emit"),
            ("PublishTasks", frozenset({"sns:Publish"}), frozenset({topic}), ()),
            (
                "ClaimTasks",
                frozenset({"dynamodb:GetItem", "dynamodb:UpdateItem"}),
                frozenset({TABLE}),
                (),
            ),
            place,
            ("ReadShards", frozenset({"dynamodb:Query"}), frozenset({SLOTS_TABLE}), ()),
            (
                "StartNextExecutions",
                frozenset({"states:StartExecution"}),
                frozenset({MACHINE}),
                (),
            ),
            ("DeadLetterTasks", frozenset({"sqs:SendMessage"}), frozenset({queue}), ()),
            traces,
            *encrypt,
            *table_key,
            *execution_data_key,
        },
        "state_machine": {
            (
                "InvokeEmit",
                frozenset({"lambda:InvokeFunction"}),
                frozenset({emit_arn, f"{emit_arn}:*"}),
                (),
            ),
            ("DeadLetterTasks", frozenset({"sqs:SendMessage"}), frozenset({queue}), ()),
            ("DeliverExecutionLogs", log_delivery, frozenset({"*"}), ()),
            # Kept for executions started before time slots (their MarkFailed state).
            ("MarkTasksFailed", frozenset({"dynamodb:UpdateItem"}), frozenset({TABLE}), ()),
            traces,
            *encrypt,
            *table_key,
            *execution_data_key,
            *execution_log_key,
        },
    }


# The publication log (jwt: off) changes what the emit function writes, not what it may write.
@pytest.mark.parametrize(
    ("run", "kms"), [("definition", False), ("long_horizon", True), ("jwt", False)]
)
def test_each_role_holds_exactly_its_actions_on_concrete_resources(
    plan: PlanFn, mocked_apply: MockedApply, run: str, kms: bool
) -> None:
    assert mocked_apply.resources(run)["aws_sfn_state_machine.this"]["arn"] == MACHINE
    expected = expected_roles(mocked_apply, run, kms=kms)
    for role, statements in expected.items():
        assert role_statements(plan(), mocked_apply, run, role) == statements, role


@pytest.mark.parametrize("run", ["definition", "long_horizon", "jwt"])
def test_no_runtime_role_stops_executions(
    plan: PlanFn, mocked_apply: MockedApply, run: str
) -> None:
    # Time slots share executions between tasks: cancelling or rescheduling one never stops one.
    for role in ("api", "emit", "state_machine"):
        actions = {
            a for _, acts, _, _ in role_statements(plan(), mocked_apply, run, role) for a in acts
        }
        assert "states:StopExecution" not in actions, role
        assert not [a for a in actions if "*" in a], role


@pytest.mark.parametrize("run", ["definition", "jwt"])
def test_emit_role_reads_and_writes_only_named_tables_and_the_dead_letter_queue(
    plan: PlanFn, mocked_apply: MockedApply, run: str
) -> None:
    queue = mocked_apply.resources(run)["aws_sqs_queue.dead_letter"]["arn"]
    assert queue == QUEUE
    by_service: dict[str, set[str]] = {}
    for _, actions, resources, _ in role_statements(plan(), mocked_apply, run, "emit"):
        for service in {a.split(":")[0] for a in actions} & {"dynamodb", "sqs"}:
            by_service.setdefault(service, set()).update(resources)
    # Concrete ARNs: the task registry and the slot table (no index, no other table), the
    # module's own dead-letter queue.
    assert by_service == {"dynamodb": {TABLE, SLOTS_TABLE}, "sqs": {QUEUE}}
    assert not [r for resources in by_service.values() for r in resources if "*" in r]


def test_emit_role_names_the_state_machine_without_referencing_it(plan: PlanFn) -> None:
    # The state machine invokes the emit function, whose role's policy must exist first: the
    # policy builds the state machine's ARNs from its name and a role's account instead (the
    # test above checks they are the state machine's own).
    configuration = plan().configuration["root_module"]["resources"]
    (document,) = [
        c
        for c in configuration
        if c["address"] == "data.aws_iam_policy_document.continue_executions"
    ]
    references = {
        reference
        for statement in document["expressions"]["statement"]
        for reference in statement["resources"]["references"]
    }
    # Nothing stops executions any more: the execution ARNs are not built either.
    assert references == {"local.built_state_machine_arn"}


def test_table_outputs(mocked_apply: MockedApply) -> None:
    outputs = mocked_apply.outputs("definition")
    assert outputs["dynamodb_table_name"] == "task-scheduler-tasks"
    assert outputs["dynamodb_table_arn"] == TABLE
    assert outputs["dynamodb_slots_table_name"] == "task-scheduler-slots"
    assert outputs["dynamodb_slots_table_arn"] == SLOTS_TABLE
    assert "dynamodb_idempotency_table_name" not in outputs
    # The slot table exists whether or not the publication log is on.
    without = mocked_apply.outputs("jwt")
    assert without["dynamodb_slots_table_name"] == "task-scheduler-slots"
    assert without["dynamodb_slots_table_arn"] == SLOTS_TABLE
    assert without["dynamodb_table_name"] == "task-scheduler-tasks"
