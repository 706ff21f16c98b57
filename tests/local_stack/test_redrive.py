"""`task-scheduler redrive` against the running local stack: a task dead-lettered by real
failures (SNS refusing every publish of it) is re-scheduled with its id, delivered once, and
its message leaves the dead-letter queue only after the API accepted it."""

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from tests.local_stack.conftest import (
    Inbox,
    RunningStack,
    at,
    carriers,
    fresh_second,
    registry_item,
)
from tests.local_stack.test_end_to_end import wait_until
from tests.local_stack.test_faults import (
    delivered_once,
    fault_state,
    final_status,
    inject,
    no_faults_left,  # noqa: F401 (autouse: no fault outlives a test)
    schedule,
)
from tests.local_stack.test_lifecycle import call, new_id

pytestmark = pytest.mark.local_stack

EMIT_ATTEMPTS = 4  # the first invocation and the state machine's 3 retries (emit_retry)


def redrive(stack: RunningStack, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    """Run `task-scheduler redrive` on the dead-letter queue, as an operator would with the
    emulator's credentials: (exit code, one result per message, the summary on stderr)."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "task_scheduler_client",
            "--url",
            stack.url,
            "-o",
            "json",
            "redrive",
            "--queue-url",
            stack.outputs["sqs_dead_letter_queue_url"],
            "--endpoint-url",
            stack.endpoint_url,
            "--region",
            "us-east-1",
            "--wait-seconds",
            "1",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"},
    )
    results = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.returncode, results, result.stderr


def dead_letters_of(stack: RunningStack, task_id: str) -> int:
    """How many messages of the task the dead-letter queue holds (received with a zero
    visibility timeout, so they stay visible)."""
    sqs, queue_url = stack.client("sqs"), stack.outputs["sqs_dead_letter_queue_url"]
    received = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=0
    )
    return sum(json.loads(m["Body"]).get("id") == task_id for m in received.get("Messages", []))


def test_redrive_reschedules_a_dead_lettered_task_that_is_then_delivered_once(
    stack: RunningStack, events: Inbox, worker_inbox: Inbox
) -> None:
    task_id, slot = new_id("redrive"), fresh_second(2)
    fault = inject(
        stack,
        service="sns",
        operation="PublishBatch",
        error_code="AuthorizationError",
        count=EMIT_ATTEMPTS,
        contains=task_id,
    )
    message = {"redriven": True, "n": [1, 2]}
    status, created, _ = schedule(stack, task_id, at(slot, 700), message)
    assert status == 201, created
    wait_until(
        lambda: call(stack, "GET", f"/schedule/{task_id}")[1]["status"] == "failed",
        60,
        "the task to be dead-lettered and marked failed",
    )
    assert fault_state(stack, fault)["hits"] == EMIT_ATTEMPTS  # SNS publishes again from here
    assert dead_letters_of(stack, task_id) == 1
    failed_by = registry_item(stack, task_id)["claimed_by"]["S"]  # type: ignore[index]
    assert failed_by == f"slot-{slot}-0"  # the slot's shard, which dead-lettered it

    # A dry run reports the task and leaves it in the queue.
    code, dry, _ = redrive(stack, "--dry-run")
    assert code == 0
    assert [(r["id"], r["outcome"]) for r in dry] == [(task_id, "would_redrive")]
    assert dead_letters_of(stack, task_id) == 1

    code, results, summary = redrive(stack)
    assert code == 0, summary
    (result,) = results
    assert (result["id"], result["outcome"], result["http_status"]) == (task_id, "redriven", 201)
    assert result["deleted"] is True

    assert delivered_once(task_id, events, worker_inbox)["message"] == message
    found, task = call(stack, "GET", f"/schedule/{task_id}")
    assert found == 200
    assert (task["status"], task["version"], task["timestamp"]) == (
        "emitted",
        2,
        created["timestamp"],
    )
    # Version 2 joined a slot whose shard had been read (sealed) and had closed: it got an
    # execution of its own, `<id>_2_s<ordinal>`, which claimed and published it.
    claimant = registry_item(stack, task_id)["claimed_by"]["S"]  # type: ignore[index]
    assert claimant.startswith(f"{task_id}_2_s"), claimant
    first, second = carriers(stack, slot, task_id)
    assert (first["name"], second["name"]) == (claimant, failed_by)
    assert final_status(stack, second["executionArn"]) == "FAILED"
    assert final_status(stack, first["executionArn"]) == "SUCCEEDED"
    assert dead_letters_of(stack, task_id) == 0

    # Nothing is left: a second run finds no message and redrives nothing.
    code, again, _ = redrive(stack)
    assert (code, again) == (0, [])
