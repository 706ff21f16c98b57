"""Last in the package (files run in name order): Terraform's view of the stack, then destroy."""

import pytest

from tests.local_stack.conftest import RunningStack

pytestmark = pytest.mark.local_stack


def test_second_plan_shows_no_changes(stack: RunningStack) -> None:
    plan = stack.terraform("plan", "-detailed-exitcode", ok_codes=(0, 2))
    assert plan.returncode == 0, plan.stdout


def test_destroy_leaves_no_resources(stack: RunningStack) -> None:
    stack.terraform("destroy", "-auto-approve")
    assert stack.client("lambda").list_functions()["Functions"] == []
    assert stack.client("stepfunctions").list_state_machines()["stateMachines"] == []
    assert stack.client("sns").list_topics()["Topics"] == []
    assert stack.client("sqs").list_queues().get("QueueUrls", []) == []
    assert stack.client("apigatewayv2").get_apis()["Items"] == []
    assert stack.client("iam").list_roles()["Roles"] == []
    assert stack.client("logs").describe_log_groups()["logGroups"] == []
    assert stack.client("dynamodb").list_tables()["TableNames"] == []
