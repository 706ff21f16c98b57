"""The emit function on a time slot's shard: every task at its millisecond, exactly once."""

import json
from datetime import timedelta
from typing import Any

from task_scheduler import timing
from task_scheduler.records import TaskStatus
from tests.unit.conftest import receive, shard_event


def test_a_shard_publishes_each_of_its_tasks_once(
    emit, sqs, topic, place_task, state_machine_arn, registry
):
    second = timing.utc_now().replace(microsecond=0)
    placed = [
        place_task({"n": n}, timestamp=second + timedelta(milliseconds=100 * n)) for n in range(3)
    ]
    # Tasks due in the same second share a shard, whatever their order of scheduling.
    assert len({(p.placement.slot, p.placement.shard) for p in placed}) == 1

    result = emit(shard_event(placed[0].placement, state_machine_arn))

    assert result["published"] == 3
    bodies = sorted(json.loads(m["Body"])["n"] for m in receive(sqs, topic.raw_queue))
    assert bodies == [0, 1, 2]
    assert {registry.get(p.task.id).status for p in placed} == {TaskStatus.EMITTED}
    # A retried invocation publishes nothing again.
    again: dict[str, Any] = emit(shard_event(placed[0].placement, state_machine_arn))
    assert again["published"] == 0
    assert receive(sqs, topic.raw_queue) == []
