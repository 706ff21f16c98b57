"""Settings of the emit function, read from its environment variables.

A plain dataclass, not a pydantic model like the api function's: pydantic's import alone would
add about a fifth to the emit function's cold start, and its one setting needs no parsing.
"""

import os
from dataclasses import dataclass
from typing import Self


@dataclass(frozen=True)
class EmitSettings:
    topic_arn: str

    @classmethod
    def from_env(cls) -> Self:
        topic_arn = os.environ.get("TOPIC_ARN", "")
        if not topic_arn:
            raise ValueError("TOPIC_ARN must name the task topic")
        return cls(topic_arn=topic_arn)
