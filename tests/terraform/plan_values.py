"""What the plan tests read from a plan, and the counts and alarms several of them share."""

from typing import Any

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
