"""Cost per million tasks, from a rendered state machine definition and the functions' settings.

The one price list of the project (us-east-1 list prices, on-demand, free tiers ignored):
https://aws.amazon.com/step-functions/pricing/ ("Step Functions counts a state transition each
time a step of your workflow is executed"), https://aws.amazon.com/lambda/pricing/,
https://aws.amazon.com/api-gateway/pricing/ (HTTP APIs), https://aws.amazon.com/sns/pricing/.
"""

from dataclasses import dataclass
from typing import Any

PRICES_USD = {
    "sfn_state_transition": 0.025 / 1000,
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_gb_second_x86_64": 0.0000166667,
    "http_api_request": 1.00 / 1_000_000,
    "sns_publish": 0.50 / 1_000_000,
}

# The seed's design: Wait until the timestamp, then a Task that publishes to SNS; no Lambda.
SEED_DEFINITION = {
    "StartAt": "Wait",
    "States": {
        "Wait": {"Type": "Wait", "TimestampPath": "$.timestamp", "Next": "Publish"},
        "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": True},
    },
}


@dataclass(frozen=True)
class Function:
    memory_mb: int
    architecture: str
    billed_seconds: float  # mean duration per invocation, init and hold included


def happy_path_states(definition: dict[str, Any]) -> int:
    """How many states an execution enters when nothing fails: StartAt, then each Next."""
    states, name, count = definition["States"], definition["StartAt"], 0
    while name is not None:
        count += 1
        name = states[name].get("Next")
    return count


def cost_per_million(
    definition: dict[str, Any], functions: list[Function], *, api_requests: int
) -> float:
    """USD per million tasks: transitions, API requests, Lambda requests and GB-seconds, SNS."""
    per_task = happy_path_states(definition) * PRICES_USD["sfn_state_transition"]
    per_task += api_requests * PRICES_USD["http_api_request"]
    for function in functions:
        gb_seconds = function.memory_mb / 1024 * function.billed_seconds
        per_task += PRICES_USD["lambda_request"]
        per_task += gb_seconds * PRICES_USD[f"lambda_gb_second_{function.architecture}"]
    per_task += PRICES_USD["sns_publish"]
    return round(per_task * 1_000_000, 2)


def seed_cost_per_million() -> float:
    """The same formula applied to the seed's design."""
    return cost_per_million(SEED_DEFINITION, [], api_requests=0)
