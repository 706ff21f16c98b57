"""Placing a task version in its time slot, and starting what carries it (no pydantic: emit too).

A version is placed in three steps, around the registry write that makes it the task's:

1. `stage`: draw its ordinal from the slot's counter (which names its shard) and write its entry,
   with the message, into the shard;
2. the caller writes the registry (create, reschedule, redrive or place), naming the placement;
3. `start`: read the slot's sealed shards, then start the shard's execution (or the hop that
   leads to it), with the name and input every task of the shard uses.

The hand-over to an emit invocation that is already reading the shard: that invocation seals
the shard before it reads it (emit/handler.py). A shard found unsealed in step 3 was sealed
after steps 1 and 2, so its read sees the entry and the registry. A sealed shard, or a shard
execution that has closed (Step Functions answers `ExecutionAlreadyExists`), means the read may
have missed the version: it gets an execution of its own. Both may then try to emit it; the
registry's claim lets exactly one of them publish.
"""

import json
from datetime import datetime

from task_scheduler.aws.executions import Executions
from task_scheduler.aws.slot_store import SlotStore
from task_scheduler.core.slots import (
    Entry,
    Placement,
    SoloExecution,
    shard_execution,
    shard_of,
    slot_of,
    slot_release,
    units,
)
from task_scheduler.core.tasks import Task


class Placer:
    def __init__(
        self,
        store: SlotStore,
        executions: Executions,
        *,
        lead_seconds: int,
        segment_seconds: int,
        shard_units: int,
    ) -> None:
        self.store = store
        self.executions = executions
        self.lead_seconds = lead_seconds
        self.segment_seconds = segment_seconds
        self.shard_units = shard_units

    def stage(self, task: Task, version: int, now: datetime) -> Placement:
        """Draw the version's place in its slot and write its entry there."""
        slot = slot_of(task.timestamp)
        size = len(json.dumps(task.message, ensure_ascii=False).encode())
        ordinal, _ = self.store.join(slot, units(size), now)
        placement = Placement(slot, shard_of(ordinal, self.shard_units), ordinal)
        entry = Entry(task.id, version, task.timestamp, task.message, placement)
        self.store.put(entry, now)
        return placement

    def start(self, task_id: str, version: int, placement: Placement, now: datetime) -> str:
        """Start the execution that carries the version placed at `placement`; its ARN."""
        if placement.shard not in self.store.sealed(placement.slot):
            execution = shard_execution(
                placement,
                now=now,
                lead_seconds=self.lead_seconds,
                segment_seconds=self.segment_seconds,
            )
            while True:
                started = self.executions.start(execution)
                if started is not None:
                    return started
                if execution.hop == 0:
                    break  # the shard's execution has closed
                # That hop closed as this request computed it: it has started the next.
                execution = execution.previous_hop(self.segment_seconds)
        solo = SoloExecution(
            task_id, version, placement, slot_release(placement.slot, self.lead_seconds)
        )
        # Its name holds the version's own ordinal: only a retry of this very start can hold it.
        return self.executions.start(solo) or self.executions.arn(solo.name)
