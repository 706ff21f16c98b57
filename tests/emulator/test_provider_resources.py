"""What the aws provider needs to apply the module's resources: layers of another account,
LoggingConfig and TracingConfig kept, UpdateStage, route scopes cleared; the gateway's route
matching."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from task_scheduler_emulator.gateway.http_api import match_route

POWERTOOLS = (
    "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python311-x86_64:18"
)
HANDLER = {
    "log.py": """
import os


def handler(event, context):
    print("logged")
    return os.getenv("AWS_LAMBDA_LOG_LEVEL")
"""
}


def test_layer_of_another_account_is_accepted(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    arn = make_function(HANDLER, "log.handler")
    lam = client("lambda")

    lam.update_function_configuration(FunctionName=arn, Layers=[POWERTOOLS])

    assert lam.get_function_configuration(FunctionName=arn)["Layers"][0]["Arn"] == POWERTOOLS


def test_logging_and_tracing_config_are_kept(
    client: Callable[[str], Any], make_function: Callable[..., str]
) -> None:
    arn = make_function(HANDLER, "log.handler")
    lam = client("lambda")
    assert lam.get_function_configuration(FunctionName=arn)["LoggingConfig"]["LogFormat"] == "Text"

    lam.update_function_configuration(
        FunctionName=arn,
        LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "WARN", "LogGroup": "/app/logs"},
        TracingConfig={"Mode": "Active"},
    )

    config = lam.get_function_configuration(FunctionName=arn)
    assert config["LoggingConfig"] == {
        "LogFormat": "JSON",
        "ApplicationLogLevel": "WARN",
        "SystemLogLevel": "INFO",
        "LogGroup": "/app/logs",
    }
    assert config["TracingConfig"] == {"Mode": "Active"}
    assert json.loads(lam.invoke(FunctionName=arn)["Payload"].read()) == "WARN"
    streams = client("logs").describe_log_streams(logGroupName="/app/logs")["logStreams"]
    assert len(streams) == 1


def test_update_stage(client: Callable[[str], Any]) -> None:
    apis = client("apigatewayv2")
    api_id = apis.create_api(Name="stages", ProtocolType="HTTP")["ApiId"]
    apis.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)

    apis.update_stage(
        ApiId=api_id,
        StageName="$default",
        DefaultRouteSettings={"ThrottlingBurstLimit": 20, "ThrottlingRateLimit": 5.0},
        AccessLogSettings={
            "DestinationArn": "arn:aws:logs:us-east-1:123456789012:log-group:a",
            "Format": "$context.requestId",
        },
    )

    stage = apis.get_stage(ApiId=api_id, StageName="$default")
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] == 20
    assert stage["AccessLogSettings"]["Format"] == "$context.requestId"
    assert stage["AutoDeploy"] is True


def test_update_route_with_no_scopes_clears_them(client: Callable[[str], Any]) -> None:
    apis = client("apigatewayv2")
    api_id = apis.create_api(Name="scopes", ProtocolType="HTTP")["ApiId"]
    route_id = apis.create_route(
        ApiId=api_id, RouteKey="GET /things", AuthorizationScopes=["things/read"]
    )["RouteId"]

    apis.update_route(ApiId=api_id, RouteId=route_id, RouteKey="GET /things")
    kept = apis.get_route(ApiId=api_id, RouteId=route_id).get("AuthorizationScopes")
    apis.update_route(ApiId=api_id, RouteId=route_id, AuthorizationScopes=[])
    cleared = apis.get_route(ApiId=api_id, RouteId=route_id).get("AuthorizationScopes", [])

    assert kept == ["things/read"]  # not sent: unchanged
    assert cleared == []


@pytest.mark.parametrize(
    ("route_key", "method", "path", "params"),
    [
        ("POST /schedule", "POST", "/schedule", {}),
        ("POST /schedule", "GET", "/schedule", None),
        ("ANY /tasks/{id}", "DELETE", "/tasks/42", {"id": "42"}),
        ("GET /files/{path+}", "GET", "/files/a/b.txt", {"path": "a/b.txt"}),
        ("GET /files/{path+}", "GET", "/files", None),
        ("GET /tasks/{id}", "GET", "/tasks/42/more", None),
        ("$default", "PATCH", "/anything", {}),
    ],
)
def test_gateway_route_matching(
    route_key: str, method: str, path: str, params: dict[str, str] | None
) -> None:
    found = match_route(route_key, method, path)

    assert (found[1] if found else None) == params


def test_gateway_prefers_the_most_specific_route() -> None:
    keys = ["$default", "ANY /{proxy+}", "GET /tasks/{id}", "ANY /tasks/42", "GET /tasks/42"]

    ranks = {key: found[0] for key in keys if (found := match_route(key, "GET", "/tasks/42"))}

    assert sorted(ranks, key=ranks.__getitem__) == [
        "GET /tasks/42",
        "ANY /tasks/42",
        "GET /tasks/{id}",
        "ANY /{proxy+}",
        "$default",
    ]
