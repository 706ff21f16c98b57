"""`make stop` against what a crashed `make run` leaves behind."""

import subprocess
import sys
from pathlib import Path

import pytest

from task_scheduler_emulator import run
from task_scheduler_emulator.run import PID_FILE, stop_running


def test_stop_without_a_running_stack(tmp_path: Path) -> None:
    assert stop_running(tmp_path) == 0
    assert not (tmp_path / PID_FILE).exists()


def test_stop_removes_the_pid_file_of_a_dead_run(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / PID_FILE).write_text(str(dead.pid))

    assert stop_running(tmp_path) == 0
    assert not (tmp_path / PID_FILE).exists()


def test_banner_hook_for_the_client_example(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run.client_example("http://127.0.0.1:8080") == ""  # until the client lands

    monkeypatch.setattr(run, "CLIENT_EXAMPLE", "task-scheduler --url {url} status ID")

    assert "task-scheduler --url http://127.0.0.1:8080 status ID" in run.client_example(
        "http://127.0.0.1:8080"
    )
