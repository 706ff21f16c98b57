"""Every validation block rejects bad input with its own message at plan time.

Terraform reports every failing validation of a plan at once, so each case plans
once with one bad value per variable and expects each variable's message.
"""

from collections.abc import Callable
from typing import Any

import pytest
import tftest

CASES: dict[str, dict[str, tuple[Any, str]]] = {
    "out_of_range": {
        "name": ("9-starts-with-a-digit", "name must start with a letter"),
        "authorization_type": ("COGNITO", "authorization_type must be AWS_IAM, JWT or NONE"),
        # API Gateway reads the issuer's keys over TLS only.
        "jwt_issuer": ("http://issuer.example.com", "jwt_issuer must be an https URL"),
        "jwt_audience": ([""], "Each jwt_audience entry must be a non-empty string"),
        "jwt_scopes": ({"write": ["tasks write"]}, "Each jwt_scopes entry must be an OAuth 2.0"),
        "api_route_throttling": (
            {"lists": {"rate_limit": 1, "burst_limit": 1}},
            "api_route_throttling keys must be routes",
        ),
        "api_reserved_concurrent_executions": (
            -2,
            "api_reserved_concurrent_executions must be null, or a whole number",
        ),
        "max_schedule_horizon_days": (
            3651,
            "max_schedule_horizon_days must be a whole number from 1 to 3650",
        ),
        "execution_segment_seconds": (
            0,
            "execution_segment_seconds must be a whole number from 1 to 31449600",
        ),
        "api_throttling_rate_limit": (0, "api_throttling_rate_limit must be greater than 0"),
        "api_throttling_burst_limit": (0, "api_throttling_burst_limit must be a whole number"),
        "log_retention_in_days": (2, "log_retention_in_days must be one of"),
        "log_level": ("TRACE", "log_level must be DEBUG, INFO, WARNING or ERROR"),
        "state_machine_log_level": ("DEBUG", "state_machine_log_level must be ALL, ERROR"),
        "lambda_runtime": ("python3.9", "lambda_runtime must be python3.12 or python3.13"),
        "lambda_architecture": ("riscv", "lambda_architecture must be x86_64 or arm64"),
        "lambda_memory_size": (64, "lambda_memory_size must be a whole number"),
        "api_memory_size": (64, "api_memory_size must be a whole number"),
        "powertools_layer_version": (0, "powertools_layer_version must be a positive"),
        "powertools_layer_arn": ("not-an-arn", "powertools_layer_arn must be a Lambda layer"),
        "kms_key_arn": ("alias/mine", "kms_key_arn must be a KMS key ARN"),
        "dead_letter_retention_seconds": (30, "dead_letter_retention_seconds must be from 60"),
        "alarm_topic_arn": (
            "arn:aws:sqs:eu-west-1:111122223333:on-call",
            "alarm_topic_arn must be a standard SNS topic ARN",
        ),
        "slot_shard_size": (0, "slot_shard_size must be a whole number from 1 to 1000"),
    },
    "fractional_and_oversize": {
        "name": ("x" * 41, "name must start with a letter"),
        "max_schedule_horizon_days": (1.5, "max_schedule_horizon_days must be a whole number"),
        # One second over 364 days: a day of the one-year limit stays for retries.
        "execution_segment_seconds": (
            31449601,
            "execution_segment_seconds must be a whole number from 1 to 31449600",
        ),
        "api_throttling_burst_limit": (2.5, "api_throttling_burst_limit must be a whole number"),
        # A query or a fragment: not an OpenID Connect issuer identifier.
        "jwt_issuer": ("https://issuer.example.com/?tenant=1", "jwt_issuer must be an https URL"),
        "jwt_scopes": ({"read": ['tasks"read']}, "Each jwt_scopes entry must be an OAuth 2.0"),
        "api_route_throttling": (
            {"list": {"rate_limit": 10001, "burst_limit": 2.5}},
            "Each api_route_throttling entry needs rate_limit greater than 0",
        ),
        "api_reserved_concurrent_executions": (
            1.5,
            "api_reserved_concurrent_executions must be null, or a whole number",
        ),
        "lambda_memory_size": (10241, "lambda_memory_size must be a whole number"),
        "api_memory_size": (10241, "api_memory_size must be a whole number"),
        "dead_letter_retention_seconds": (1209601, "dead_letter_retention_seconds must be from 60"),
        # A shard is one emit invocation: SNS publishes at most 10 a batch, 100 batches a shard.
        "slot_shard_size": (1001, "slot_shard_size must be a whole number from 1 to 1000"),
        # Each value is in range; together they would wait 10 times 100 s.
        "emit_retry": (
            {"max_attempts": 10, "interval_seconds": 100, "backoff_rate": 1},
            "emit_retry may wait at most 900 seconds in all",
        ),
        # Each value is in range; together they would look back 25 hours.
        "alarms": (
            {"period_seconds": 3600, "evaluation_periods": 25},
            "evaluation_periods * period_seconds at most 86400",
        ),
    },
    "nested_objects": {
        "subscriptions": (
            {
                "pager": {"protocol": "pigeon", "endpoint": "coop"},
                "bad_json": {"protocol": "https", "endpoint": "https://x", "filter_policy": "{"},
                "bad_scope": {
                    "protocol": "https",
                    "endpoint": "https://x",
                    "filter_policy": "{}",
                    "filter_policy_scope": "Everything",
                },
            },
            "Each subscription protocol must be one of",
        ),
        "emit_retry": (
            {"max_attempts": 11, "interval_seconds": 0, "backoff_rate": 0.5},
            "emit_retry.max_attempts must be a whole number from 0 to 10",
        ),
        "alarms": (
            {
                "period_seconds": 90,
                "evaluation_periods": 0,
                "api_5xx_threshold": 0.5,
                "open_executions_percent": 100,
            },
            "alarms.period_seconds must be a multiple of 60 from 60 to 86400",
        ),
    },
}

# Messages of the other validation blocks of the nested variables above.
NESTED_EXTRA_MESSAGES = [
    "Each subscription filter_policy must be a JSON document",
    "Each subscription filter_policy_scope must be MessageAttributes or MessageBody",
    "emit_retry.interval_seconds must be a whole number from 1 to 300",
    "emit_retry.backoff_rate must be from 1 to 10",
    "alarms.evaluation_periods must be a whole number from 1",
    "alarms.api_5xx_threshold and alarms.emit_errors_threshold must be whole numbers from 0",
    "alarms.open_executions_percent must be from 10 to 99",
]


@pytest.mark.parametrize("case", CASES)
def test_invalid_inputs_are_rejected_with_their_messages(
    terraform: Callable[[str], tftest.TerraformTest], case: str
) -> None:
    invalid = CASES[case]
    with pytest.raises(tftest.TerraformTestError) as rejected:
        terraform(".").plan(tf_vars={variable: value for variable, (value, _) in invalid.items()})
    error = " ".join(str(rejected.value).replace("\\n", " ").split())
    expected = [message for _, message in invalid.values()]
    if case == "nested_objects":
        expected += NESTED_EXTRA_MESSAGES
    missing = [message for message in expected if message not in error]
    assert not missing, error


JWT = {
    "authorization_type": "JWT",
    "jwt_issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123",
    "jwt_audience": ["app-client"],
}


@pytest.mark.parametrize(
    ("tf_vars", "message"),
    [
        # JWT needs an issuer and an audience (checked together: preconditions on the API).
        ({"authorization_type": "JWT"}, 'authorization_type = "JWT" needs jwt_issuer'),
        ({**JWT, "jwt_audience": []}, 'authorization_type = "JWT" needs jwt_issuer'),
        (
            {k: v for k, v in JWT.items() if k != "jwt_issuer"},
            'authorization_type = "JWT" needs jwt_issuer',
        ),
        # JWT settings without JWT would leave the routes open (NONE) or on IAM: refused.
        ({**JWT, "authorization_type": "NONE"}, "apply only with authorization_type"),
        ({"jwt_audience": ["app-client"]}, "apply only with authorization_type"),
        ({"jwt_scopes": {"write": ["tasks/write"]}}, "apply only with authorization_type"),
    ],
)
def test_jwt_settings_must_come_together(
    terraform: Callable[[str], tftest.TerraformTest], tf_vars: dict[str, Any], message: str
) -> None:
    with pytest.raises(tftest.TerraformTestError) as rejected:
        terraform(".").plan(tf_vars=tf_vars)
    assert message in " ".join(str(rejected.value).replace("\\n", " ").split())


def test_jwt_boundary_values_are_accepted(
    terraform: Callable[[str], tftest.TerraformTest],
) -> None:
    plan = terraform(".").plan(
        output=True,
        tf_vars={
            **JWT,
            # A trailing slash (Auth0's issuers end with one) and a port.
            "jwt_issuer": "https://issuer.example.com:8443/tenant/",
            # Every printable ASCII character a scope-token may hold.
            "jwt_scopes": {"read": ["!#[]~", "https://api.example.com/tasks.read"], "write": []},
        },
    )
    (authorizer,) = [
        r["values"] for r in plan.resources.values() if r["type"] == "aws_apigatewayv2_authorizer"
    ]
    assert authorizer["jwt_configuration"][0]["issuer"] == "https://issuer.example.com:8443/tenant/"
    planned_limits = {
        "api_route_throttling": {
            route: {"rate_limit": 0.5, "burst_limit": 1}
            for route in ("schedule", "list", "status", "cancel", "reschedule")
        }
    }
    terraform(".").plan(tf_vars=planned_limits)


def test_boundary_values_are_accepted(terraform: Callable[[str], tftest.TerraformTest]) -> None:
    plan = terraform(".").plan(
        output=True,
        tf_vars={
            "name": "a" * 40,
            "max_schedule_horizon_days": 3650,
            "execution_segment_seconds": 31449600,
            "emit_retry": {"max_attempts": 0},
            "dead_letter_retention_seconds": 60,
            "api_memory_size": 128,
            "lambda_memory_size": 10240,
        },
    )
    planned_roles = {
        r["values"]["name"] for r in plan.resources.values() if r["type"] == "aws_iam_role"
    }
    assert max(len(name) for name in planned_roles) <= 64


def test_smallest_segment_and_horizon_are_accepted(
    terraform: Callable[[str], tftest.TerraformTest],
) -> None:
    terraform(".").plan(tf_vars={"max_schedule_horizon_days": 1, "execution_segment_seconds": 1})


def test_fractional_segment_is_rejected(terraform: Callable[[str], tftest.TerraformTest]) -> None:
    with pytest.raises(tftest.TerraformTestError) as rejected:
        terraform(".").plan(tf_vars={"execution_segment_seconds": 1.5})
    assert "execution_segment_seconds must be a whole number" in str(rejected.value)


@pytest.mark.parametrize("size", [0, 1001, 2.5, -1])
def test_slot_shard_size_outside_1_to_1000_or_fractional_is_rejected(
    terraform: Callable[[str], tftest.TerraformTest], size: float
) -> None:
    with pytest.raises(tftest.TerraformTestError) as rejected:
        terraform(".").plan(tf_vars={"slot_shard_size": size})
    error = " ".join(str(rejected.value).replace("\\n", " ").split())
    assert "slot_shard_size must be a whole number from 1 to 1000" in error


@pytest.mark.parametrize("size", [1, 1000])
def test_slot_shard_size_boundaries_are_accepted(
    terraform: Callable[[str], tftest.TerraformTest], size: int
) -> None:
    # The functions' environment is known only after apply: hcl/mocked_apply.tftest.hcl checks
    # that 1 (custom_horizon) and 1000 (long_horizon) reach SLOT_SHARD_UNITS.
    plan = terraform(".").plan(output=True, tf_vars={"slot_shard_size": size})
    # tftest passes -var values as strings; the plan records them so.
    assert str(plan.variables["slot_shard_size"]) == str(size)
    assert {
        r["values"]["function_name"]
        for r in plan.resources.values()
        if r["type"] == "aws_lambda_function"
    } == {"task-scheduler-api", "task-scheduler-emit"}
