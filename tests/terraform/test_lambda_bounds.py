"""The ranges variables.tf admits for the settings the module passes to the functions are the
ranges the functions accept (lambda_src/task_scheduler): a value Terraform lets through must
never fail a function's settings at cold start, and no value the code supports is refused.

The bounds come from the Python constants; Terraform's side is read by planning with them
(least and most pass, one beyond either fails with the variable's own message, which names the
same bounds) and from the plan's configuration (the defaults).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import tftest

from task_scheduler.api.settings import MAX_HORIZON_SECONDS, ONE_YEAR_SECONDS, ApiSettings
from task_scheduler.core.decisions import MAX_SEGMENT_SECONDS
from task_scheduler.core.slots import DEFAULT_SHARD_UNITS, MAX_SHARD_UNITS
from task_scheduler.core.timing import DEFAULT_EMISSION_LEAD_SECONDS, MAX_EMISSION_LEAD_SECONDS
from task_scheduler.emit.settings import EmitSettings
from tests.terraform.conftest import PlanFn

DAY = 24 * 60 * 60


@dataclass(frozen=True)
class Bound:
    variable: str  # in variables.tf
    environment: str  # the functions' environment variable it becomes
    field: str  # ApiSettings' field for it
    least: int
    most: int
    default: int
    scale: int = 1  # environment value per unit of the variable
    read_by_emit: bool = True

    @property
    def message(self) -> str:
        return f"{self.variable} must be a whole number from {self.least} to {self.most}"


BOUNDS = [
    Bound(
        "emission_lead_seconds",
        "EMISSION_LEAD_SECONDS",
        "emission_lead_seconds",
        0,
        MAX_EMISSION_LEAD_SECONDS,
        DEFAULT_EMISSION_LEAD_SECONDS,
    ),
    Bound(
        "execution_segment_seconds",
        "EXECUTION_SEGMENT_SECONDS",
        "execution_segment_seconds",
        1,
        MAX_SEGMENT_SECONDS,
        MAX_SEGMENT_SECONDS,
    ),
    Bound(
        "slot_shard_size",
        "SLOT_SHARD_UNITS",
        "shard_units",
        1,
        MAX_SHARD_UNITS,
        DEFAULT_SHARD_UNITS,
    ),
    # Whole days in Terraform, seconds in the api function (MAX_HORIZON_SECONDS = days * 86400).
    Bound(
        "max_schedule_horizon_days",
        "MAX_HORIZON_SECONDS",
        "max_horizon_seconds",
        1,
        MAX_HORIZON_SECONDS // DAY,
        ONE_YEAR_SECONDS // DAY,
        scale=DAY,
        read_by_emit=False,
    ),
]
IDS = [bound.variable for bound in BOUNDS]


def _limits(field: str) -> tuple[int, int]:
    metadata = ApiSettings.model_fields[field].metadata
    (ge,) = [m.ge for m in metadata if hasattr(m, "ge")]
    (le,) = [m.le for m in metadata if hasattr(m, "le")]
    return ge, le


@pytest.mark.parametrize("bound", BOUNDS, ids=IDS)
def test_the_api_function_accepts_exactly_the_bounds(bound: Bound) -> None:
    ge, le = _limits(bound.field)
    assert le == bound.most * bound.scale
    # The horizon is checked in seconds there: one day, the module's least, is within it.
    assert ge == bound.least if bound.scale == 1 else ge <= bound.least * bound.scale
    assert ApiSettings.model_fields[bound.field].default == bound.default * bound.scale


@pytest.mark.parametrize("bound", [b for b in BOUNDS if b.read_by_emit], ids=lambda b: b.variable)
def test_the_emit_function_accepts_exactly_the_bounds(
    bound: Bound, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TOPIC_ARN", "TASKS_TABLE_NAME", "SLOTS_TABLE_NAME", "DEAD_LETTER_QUEUE_URL"):
        monkeypatch.setenv(name, "set")
    for value in (bound.least, bound.most):
        monkeypatch.setenv(bound.environment, str(value))
        EmitSettings.from_env()
    for value in (bound.least - 1, bound.most + 1):
        monkeypatch.setenv(bound.environment, str(value))
        with pytest.raises(ValueError, match="must be a whole number"):
            EmitSettings.from_env()


def test_the_module_s_defaults_are_the_code_s(plan: PlanFn) -> None:
    variables: dict[str, Any] = plan().configuration["root_module"]["variables"]
    assert {b.variable: variables[b.variable]["default"] for b in BOUNDS} == {
        b.variable: b.default for b in BOUNDS
    }


@pytest.mark.parametrize("end", ["least", "most"])
def test_the_module_accepts_the_code_s_bounds(
    terraform: Callable[[str], tftest.TerraformTest], end: str
) -> None:
    values = {b.variable: getattr(b, end) for b in BOUNDS}
    planned = terraform(".").plan(output=True, tf_vars=values)
    # tftest passes -var values as strings; the plan records them so.
    assert {b.variable: str(planned.variables[b.variable]) for b in BOUNDS} == {
        variable: str(value) for variable, value in values.items()
    }


@pytest.mark.parametrize("beyond", ["below_least", "above_most"])
def test_the_module_refuses_one_beyond_the_code_s_bounds(
    terraform: Callable[[str], tftest.TerraformTest], beyond: str
) -> None:
    values = {b.variable: b.least - 1 if beyond == "below_least" else b.most + 1 for b in BOUNDS}
    with pytest.raises(tftest.TerraformTestError) as refused:
        terraform(".").plan(tf_vars=values)
    error = " ".join(str(refused.value).replace("\\n", " ").split())
    assert [b.message for b in BOUNDS if b.message not in error] == []
