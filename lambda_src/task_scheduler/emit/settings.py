"""Settings of the emit function, read from its environment variables.

A plain dataclass, not a pydantic model like the api function's: pydantic's import alone would
add about a fifth to the emit function's cold start.
"""

import os
from dataclasses import dataclass
from typing import Self

from task_scheduler.core.decisions import MAX_SEGMENT_SECONDS
from task_scheduler.core.slots import DEFAULT_SHARD_UNITS, MAX_SHARD_UNITS
from task_scheduler.core.timing import DEFAULT_EMISSION_LEAD_SECONDS, MAX_EMISSION_LEAD_SECONDS


@dataclass(frozen=True)
class EmitSettings:
    topic_arn: str
    tasks_table_name: str
    slots_table_name: str
    dead_letter_queue_url: str
    emission_lead_seconds: int = DEFAULT_EMISSION_LEAD_SECONDS
    execution_segment_seconds: int = MAX_SEGMENT_SECONDS
    shard_units: int = DEFAULT_SHARD_UNITS
    # Whether each shard records what it published, so that a retried invocation skips it.
    publication_log: bool = True

    @classmethod
    def from_env(cls) -> Self:
        return cls(
            topic_arn=_required("TOPIC_ARN", "the task topic's ARN"),
            tasks_table_name=_required("TASKS_TABLE_NAME", "the task registry table"),
            slots_table_name=_required("SLOTS_TABLE_NAME", "the slot table"),
            dead_letter_queue_url=_required("DEAD_LETTER_QUEUE_URL", "the dead-letter queue"),
            emission_lead_seconds=_whole(
                "EMISSION_LEAD_SECONDS", DEFAULT_EMISSION_LEAD_SECONDS, 0, MAX_EMISSION_LEAD_SECONDS
            ),
            execution_segment_seconds=_whole(
                "EXECUTION_SEGMENT_SECONDS", MAX_SEGMENT_SECONDS, 1, MAX_SEGMENT_SECONDS
            ),
            shard_units=_whole("SLOT_SHARD_UNITS", DEFAULT_SHARD_UNITS, 1, MAX_SHARD_UNITS),
            publication_log=os.environ.get("PUBLICATION_LOG", "true") != "false",
        )


def _required(name: str, what: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ValueError(f"{name} must name {what}")
    return value


def _whole(name: str, default: int, least: int, most: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    if not text.isascii() or not text.isdigit() or not least <= int(text) <= most:
        raise ValueError(f"{name} must be a whole number from {least} to {most}")
    return int(text)
