"""Plan of the HTTP API (api.tf): integration, stage and throttling, routes and their
authorization, Lambda permissions."""

import json
from typing import Any

import hcl2
import pytest

from tests.conftest import REPO_ROOT
from tests.terraform.conftest import PlanFn
from tests.terraform.plan_values import (
    ROUTE_KEYS,
    managed,
    of_type,
    one,
    routes,
)


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
    # The POST route's permission keeps the statement id it had as the module's only one (the
    # moved block keeps it).
    assert permissions["schedule"]["statement_id"] == "AllowScheduleRouteInvoke"
