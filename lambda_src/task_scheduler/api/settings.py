"""Settings of the api function, read from its environment variables.

Powertools reads its own (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, ...). The emit
function's are in emit/settings.py, which keeps pydantic off its cold start.
"""

import os
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from task_scheduler.core.decisions import MAX_SEGMENT_SECONDS
from task_scheduler.core.slots import DEFAULT_SHARD_UNITS, MAX_SHARD_UNITS
from task_scheduler.core.timing import DEFAULT_EMISSION_LEAD_SECONDS, MAX_EMISSION_LEAD_SECONDS

ONE_YEAR_SECONDS = 365 * 24 * 60 * 60
# Beyond a year, a task continues in follow-on executions (see decisions.py).
MAX_HORIZON_SECONDS = 3650 * 24 * 60 * 60


class _EnvironmentSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    @classmethod
    def from_env(cls) -> Self:
        return cls.model_validate(dict(os.environ))


class ApiSettings(_EnvironmentSettings):
    """Settings of the api function."""

    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN", min_length=1)
    tasks_table_name: str = Field(alias="TASKS_TABLE_NAME", min_length=1)
    slots_table_name: str = Field(alias="SLOTS_TABLE_NAME", min_length=1)
    # How many 16 KiB units of message one shard of a slot holds (see slots.py).
    shard_units: int = Field(
        alias="SLOT_SHARD_UNITS", default=DEFAULT_SHARD_UNITS, ge=1, le=MAX_SHARD_UNITS
    )
    max_horizon_seconds: int = Field(
        alias="MAX_HORIZON_SECONDS", default=ONE_YEAR_SECONDS, ge=1, le=MAX_HORIZON_SECONDS
    )
    # How long before the timestamp the Wait state releases the task (see timing.py).
    emission_lead_seconds: int = Field(
        alias="EMISSION_LEAD_SECONDS",
        default=DEFAULT_EMISSION_LEAD_SECONDS,
        ge=0,
        le=MAX_EMISSION_LEAD_SECONDS,
    )
    # How long one execution carries a task before handing it on to a follow-on execution.
    execution_segment_seconds: int = Field(
        alias="EXECUTION_SEGMENT_SECONDS", default=MAX_SEGMENT_SECONDS, ge=1, le=MAX_SEGMENT_SECONDS
    )
