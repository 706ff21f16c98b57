"""`make stop` against what a crashed `make run` leaves behind, the banner's client example,
`--trust-ca`."""

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from task_scheduler_client import cli
from task_scheduler_emulator import run
from task_scheduler_emulator.gateway.jwt import TRUSTED_CA_ENV
from task_scheduler_emulator.run import PID_FILE, stop_running, trust


def test_stop_without_a_running_stack(tmp_path: Path) -> None:
    assert stop_running(tmp_path) == 0
    assert not (tmp_path / PID_FILE).exists()


def test_stop_removes_the_pid_file_of_a_dead_run(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / PID_FILE).write_text(str(dead.pid))

    assert stop_running(tmp_path) == 0
    assert not (tmp_path / PID_FILE).exists()


def test_banner_client_example_is_a_valid_command_line() -> None:
    example = run.client_example("http://127.0.0.1:8080")
    commands = [line.strip() for line in example.splitlines() if "task-scheduler" in line]

    assert [shlex.split(c)[3] for c in commands] == ["schedule", "tail"]
    for command in commands:
        argv = shlex.split(command)[1:]
        assert cli.build_parser().parse_args(argv).url == "http://127.0.0.1:8080"


def test_trust_ca_adds_to_the_gateway_trust_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TRUSTED_CA_ENV, "/etc/first.pem")

    trust([tmp_path / "issuer.pem"])
    assert os.environ[TRUSTED_CA_ENV].split(os.pathsep) == [
        "/etc/first.pem",
        str(tmp_path / "issuer.pem"),
    ]
    trust([])
    assert os.environ[TRUSTED_CA_ENV].endswith("issuer.pem")
