"""Settings of each function, read from its environment variables.

Powertools reads its own (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, ...).
"""

import os
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

ONE_YEAR_SECONDS = 365 * 24 * 60 * 60


class _EnvironmentSettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    @classmethod
    def from_env(cls) -> Self:
        return cls.model_validate(dict(os.environ))


class ApiSettings(_EnvironmentSettings):
    """Settings of the api function."""

    state_machine_arn: str = Field(alias="STATE_MACHINE_ARN", min_length=1)
    max_horizon_seconds: int = Field(
        alias="MAX_HORIZON_SECONDS", default=ONE_YEAR_SECONDS, ge=1, le=ONE_YEAR_SECONDS
    )


class EmitSettings(_EnvironmentSettings):
    """Settings of the emit function."""

    topic_arn: str = Field(alias="TOPIC_ARN", min_length=1)
