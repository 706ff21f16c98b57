"""The `task-scheduler` command line against the running local stack, as a user runs it."""

import json
import subprocess
import sys
import uuid
from typing import Any

import pytest

from tests.local_stack.conftest import RunningStack

pytestmark = pytest.mark.local_stack


def command(stack: RunningStack, *args: str) -> list[str]:
    return [sys.executable, "-m", "task_scheduler_client", "--url", stack.url, "-o", "json", *args]


def cli(stack: RunningStack, *args: str, timeout: float = 60) -> Any:
    """Run the command line with JSON output; return its decoded standard output."""
    result = subprocess.run(
        command(stack, *args),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_command_against_the_running_stack(stack: RunningStack) -> None:
    task_id = f"cli-{uuid.uuid4().hex[:8]}"
    tail = subprocess.Popen(
        command(stack, "tail", "--id", task_id, "--count", "1", "--timeout", "40"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    created = cli(stack, "schedule", "--in", "1h", "--message", '{"via": "cli"}', "--id", task_id)
    status = cli(stack, "status", task_id)
    listed = cli(stack, "list", "--status", "scheduled", "--all")
    moved = cli(stack, "reschedule", task_id, "--in", "3s", "--message", "soon")
    out, err = tail.communicate(timeout=60)

    assert created["id"] == task_id
    assert status["message"] == {"via": "cli"}
    assert task_id in {task["id"] for task in listed["tasks"]}
    assert moved["version"] == 2
    assert tail.returncode == 0, err
    assert json.loads(out)["message"] == "soon"
    assert cli(stack, "status", task_id)["status"] == "emitted"

    other = cli(stack, "schedule", "--in", "1h", "--message", "bye")["id"]
    assert cli(stack, "cancel", other)["status"] == "cancelled"
