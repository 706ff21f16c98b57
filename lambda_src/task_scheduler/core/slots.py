"""Time slots: tasks due in the same whole second share executions (stdlib only: emit imports it).

A task's slot is the whole second of its timestamp. Each task joining a slot draws an ordinal
from the slot's counter, counted in units of UNIT_BYTES of message, and the ordinal names its
shard: `shard_units` units per shard. One Standard execution carries each non-empty shard,
named `slot-<epoch second>-<shard>` (task executions are named `<id>_<version>_<segment>`: a
shard's name has no underscore, so the two never collide). Every task of a shard starts that
execution with the same name and input, which Step Functions answers as one execution while it
is open (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html:
"If StartExecution is called with the same name and input as a running execution, the call
succeeds and return the same response as the original request").

A slot further ahead than one execution can wait is reached by hops: hop j waits until
`release - j * segment_seconds` and starts hop j - 1; hop 0 emits. A joiner starts the lowest
hop it can reach, so every joiner in the same window starts the same execution.

A task that joins too late (its shard is sealed: its emit invocation has read it) is carried by
an execution of its own, named `<id>_<version>_s<ordinal>`.
"""

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from task_scheduler.core.tasks import TASK_ID_RULE, is_task_id
from task_scheduler.core.timestamps import format_timestamp, parse_timestamp
from task_scheduler.core.timing import format_release, release_at

# A shard's messages are held in memory by its emit invocation: 500 units of 16 KiB is 8 MiB.
UNIT_BYTES = 16 * 1024
DEFAULT_SHARD_UNITS = 500
MAX_SHARD_UNITS = 1000


def units(message_bytes: int) -> int:
    """How many counter units a message of `message_bytes` takes (at least one)."""
    return max(1, math.ceil(message_bytes / UNIT_BYTES))


def slot_of(timestamp: datetime) -> int:
    """The slot of a task due at `timestamp`: its whole second, in epoch seconds."""
    return math.floor(timestamp.timestamp())


def shard_of(ordinal: int, shard_units: int) -> int:
    """The shard of the task whose last unit drew `ordinal` (1, 2, ...) from its slot."""
    return (ordinal - 1) // shard_units


def slot_release(slot: int, lead_seconds: int) -> datetime:
    """When the executions of `slot` release it: a whole second at least the lead before."""
    return release_at(datetime.fromtimestamp(slot, UTC), lead_seconds)


@dataclass(frozen=True)
class Placement:
    """Where a task version waits: its slot, shard and ordinal."""

    slot: int
    shard: int
    ordinal: int


@dataclass(frozen=True)
class Entry:
    """A task version as its shard holds it: what the emit function publishes. A task scheduled
    before time slots has no placement: its own execution carries it."""

    id: str
    version: int
    timestamp: datetime
    message: Any
    placement: Placement | None


@dataclass(frozen=True)
class ShardExecution:
    """The execution that carries a slot's shard, or one of the hops that lead to it."""

    slot: int
    shard: int
    hop: int
    release_at: datetime

    @property
    def name(self) -> str:
        base = f"slot-{self.slot}-{self.shard}"
        return base if self.hop == 0 else f"{base}-{self.hop}"

    def execution_input(self) -> str:
        document = {
            "slot": self.slot,
            "shard": self.shard,
            "hop": self.hop,
            "release_at": format_release(self.release_at),
        }
        return json.dumps(document, separators=(",", ":"))

    def previous_hop(self, segment_seconds: int) -> "ShardExecution":
        """The execution this hop starts when it is released."""
        return ShardExecution(
            self.slot,
            self.shard,
            self.hop - 1,
            self.release_at + timedelta(seconds=segment_seconds),
        )


def shard_execution(
    placement: Placement, *, now: datetime, lead_seconds: int, segment_seconds: int
) -> ShardExecution:
    """The execution a task placed at `placement` starts at `now`: the lowest hop whose wait
    fits one segment (hop 0 when the slot's release is within one)."""
    release = slot_release(placement.slot, lead_seconds)
    ahead = (release - now).total_seconds()
    hop = max(0, math.ceil(ahead / segment_seconds) - 1)
    return ShardExecution(
        placement.slot,
        placement.shard,
        hop,
        release - timedelta(seconds=hop * segment_seconds),
    )


@dataclass(frozen=True)
class SoloExecution:
    """The execution of one task version that joined its shard too late."""

    id: str
    version: int
    placement: Placement
    release_at: datetime

    @property
    def name(self) -> str:
        # With the ordinal: a version withdrawn and scheduled again draws a new one, and the
        # name of its first attempt stays taken (closed) for 90 days.
        return f"{self.id}_{self.version}_s{self.placement.ordinal}"

    def execution_input(self) -> str:
        document = {
            "id": self.id,
            "version": self.version,
            "slot": self.placement.slot,
            "shard": self.placement.shard,
            "ordinal": self.placement.ordinal,
            "release_at": format_release(self.release_at),
        }
        return json.dumps(document, separators=(",", ":"))


def parse_execution_input(document: object) -> ShardExecution | SoloExecution:
    """The shard or solo execution an input describes; ValueError if it is neither."""
    if not isinstance(document, Mapping):
        raise ValueError("expected an execution input object")
    slot, shard = document.get("slot"), document.get("shard")
    # A slot before 1970 (a long overdue task) is negative.
    if not _is_whole(slot, least=None) or not _is_whole(shard, least=0):
        raise ValueError("expected an execution input with a slot and a shard")
    release = parse_timestamp(document.get("release_at"))
    if "id" not in document:
        hop = document.get("hop")
        if not _is_whole(hop, least=0):
            raise ValueError("expected a shard execution input with a hop")
        return ShardExecution(slot, shard, hop, release)
    task_id, version, ordinal = document.get("id"), document.get("version"), document.get("ordinal")
    if not is_task_id(task_id):
        raise ValueError(f"expected a task id ({TASK_ID_RULE})")
    if not _is_whole(version, least=1) or not _is_whole(ordinal, least=1):
        raise ValueError("expected a solo execution input with a version and an ordinal")
    return SoloExecution(task_id, version, Placement(slot, shard, ordinal), release)


def describe_entry(entry: Entry) -> dict[str, Any]:
    """The dead-letter form of a task version (what `task-scheduler redrive` reads)."""
    return {
        "id": entry.id,
        "version": entry.version,
        "timestamp": format_timestamp(entry.timestamp),
        "message": entry.message,
    }


def _is_whole(value: object, *, least: int | None) -> TypeGuard[int]:
    return (
        isinstance(value, int) and not isinstance(value, bool) and (least is None or value >= least)
    )
