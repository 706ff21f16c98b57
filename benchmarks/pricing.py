"""Cost per million tasks, from a rendered state machine definition and the functions' settings.

The one price list of the project (us-east-1 list prices, on-demand, free tiers ignored):
https://aws.amazon.com/step-functions/pricing/ ("Step Functions counts a state transition each
time a step of your workflow is executed"), https://aws.amazon.com/lambda/pricing/,
https://aws.amazon.com/api-gateway/pricing/ (HTTP APIs), https://aws.amazon.com/sns/pricing/,
https://aws.amazon.com/dynamodb/pricing/on-demand/ (write request units, after the November 2024
price cut).
"""

import math
from dataclasses import dataclass
from typing import Any

PRICES_USD = {
    "sfn_state_transition": 0.025 / 1000,
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_gb_second_x86_64": 0.0000166667,
    "http_api_request": 1.00 / 1_000_000,
    "sns_publish": 0.50 / 1_000_000,
    "dynamodb_write_request_unit": 0.625 / 1_000_000,
}

# Writes to the task registry per task that is scheduled and emitted, each item under 1 KB
# (one write request unit): the api function's PutItem and the emit function's claim
# (UpdateItem), plus the status-timestamp index: one write when the item is created, and two
# when the claim changes its key ("If an update to the table changes the value of an indexed
# key attribute (from A to B), two writes are required", DynamoDB Developer Guide, GSI writes).
REGISTRY_WRITE_UNITS_PER_TASK = (1 + 1) + (1 + 2)
# Writes to the slot table per task: its slot's counter (UpdateItem) and its entry (PutItem,
# one unit per KB of message; 1 for the messages priced here).
SLOT_WRITE_UNITS_PER_TASK = 1 + 1
# Per shard: its seal, and its publication log (lambda_src/task_scheduler/emit/publisher.py):
# written every LOG_FLUSH_COUNT publications or LOG_FLUSH_SECONDS (a second's tasks: up to four
# times), an item of about 6 bytes per task published so far, billed by its size.
LOG_FLUSH_COUNT = 100
LOG_FLUSHES_PER_SECOND = 4
LOG_BYTES_PER_TASK = 6


def shard_write_units(tasks: int) -> int:
    """Writes to the slot table per shard of `tasks` tasks: its seal and its log."""
    flushes = max(math.ceil(tasks / LOG_FLUSH_COUNT), min(tasks, LOG_FLUSHES_PER_SECOND))
    return 1 + flushes * math.ceil(tasks * LOG_BYTES_PER_TASK / 1024)


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
    definition: dict[str, Any],
    functions: list[Function],
    *,
    api_requests: int,
    dynamodb_write_units: float = 0,
    shard_functions: tuple[Function, ...] = (),
    tasks_per_shard: int = 1,
    shard_dynamodb_write_units: float = 0,
) -> float:
    """USD per million tasks: API requests, `functions` (invoked once per task), SNS and
    DynamoDB writes per task; and, shared by the `tasks_per_shard` tasks of one execution, its
    transitions, `shard_functions` and writes."""
    per_task = api_requests * PRICES_USD["http_api_request"]
    per_task += sum(_invocation(function) for function in functions)
    per_task += PRICES_USD["sns_publish"]
    per_task += dynamodb_write_units * PRICES_USD["dynamodb_write_request_unit"]
    per_shard = happy_path_states(definition) * PRICES_USD["sfn_state_transition"]
    per_shard += sum(_invocation(function) for function in shard_functions)
    per_shard += shard_dynamodb_write_units * PRICES_USD["dynamodb_write_request_unit"]
    return round((per_task + per_shard / tasks_per_shard) * 1_000_000, 2)


def _invocation(function: Function) -> float:
    gb_seconds = function.memory_mb / 1024 * function.billed_seconds
    return (
        PRICES_USD["lambda_request"]
        + gb_seconds * PRICES_USD[f"lambda_gb_second_{function.architecture}"]
    )


def seed_cost_per_million() -> float:
    """The same formula applied to the seed's design."""
    return cost_per_million(SEED_DEFINITION, [], api_requests=0)
