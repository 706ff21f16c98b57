"""`local_stack.terraform`: one more run only when the provider lost a response on the wire."""

import subprocess
from pathlib import Path
from typing import Any

import pytest

from task_scheduler_emulator import local_stack

LOST = (
    "Error: waiting for SQS Queue (http://127.0.0.1:1/123456789012/q) delete: operation error "
    "SQS: GetQueueAttributes, decomposing response: read tcp 127.0.0.1:2->127.0.0.1:1: use of "
    "closed network connection"
)


def scripted(monkeypatch: pytest.MonkeyPatch, *outcomes: tuple[int, str]) -> list[list[str]]:
    """Make subprocess.run answer `outcomes` (exit code, stderr) in turn; return the calls."""
    calls: list[list[str]] = []

    def run(command: list[str], **_: Any) -> subprocess.CompletedProcess[str]:
        code, stderr = outcomes[len(calls)]
        calls.append(command)
        return subprocess.CompletedProcess(command, code, "", stderr)

    monkeypatch.setattr(local_stack.subprocess, "run", run)
    return calls


def destroy(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return local_stack.terraform(
        "destroy", "-auto-approve", endpoint_url="http://127.0.0.1:1", state_dir=tmp_path
    )


def test_a_lost_response_is_run_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = scripted(monkeypatch, (1, LOST), (0, ""))

    assert destroy(tmp_path).returncode == 0
    assert len(calls) == 2
    assert calls[0] == calls[1]


def test_the_same_loss_twice_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = scripted(monkeypatch, (1, LOST), (1, LOST))

    with pytest.raises(local_stack.TerraformFailed, match="use of closed network connection"):
        destroy(tmp_path)
    assert len(calls) == 2


def test_other_failures_are_not_run_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = scripted(monkeypatch, (1, "Error: DependencyViolation"))

    with pytest.raises(local_stack.TerraformFailed, match="DependencyViolation"):
        destroy(tmp_path)
    assert len(calls) == 1
