"""The moved blocks of migrations.tf."""

import hcl2

from tests.conftest import REPO_ROOT


def test_single_route_deployments_move_to_the_schedule_keys() -> None:
    # The module first had one route and one permission, at bare addresses: `moved` blocks carry
    # a deployment over to the "schedule" instances instead of replacing them. The dead-letter
    # queue was aws_sqs_queue.this: its block carries it over to its new address.
    moved = hcl2.load((REPO_ROOT / "migrations.tf").open())["moved"]
    assert sorted((m["from"], m["to"]) for m in moved) == [
        ("${aws_apigatewayv2_route.this}", '${aws_apigatewayv2_route.this["schedule"]}'),
        ("${aws_lambda_permission.this}", '${aws_lambda_permission.this["schedule"]}'),
        ("${aws_sqs_queue.this}", "${aws_sqs_queue.dead_letter}"),
    ]
