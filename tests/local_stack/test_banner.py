"""The AWS CLI commands `make run` prints work, run as printed, with a pinned AWS CLI v1.

AWS CLI v1 ignores AWS_ENDPOINT_URL for some services (SQS: it answered `Could not connect to
the endpoint URL: "https://queue.amazonaws.com/"`), so each printed command names the endpoint
with --endpoint-url, which v1 and v2 both honour. The CLI comes from its own virtualenv,
build/venvs/awscli (requirements/awscli.txt, `make install`): awscli pins botocore exactly,
which conflicts with the dev virtualenv's.
"""

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from task_scheduler_emulator import run
from tests.conftest import REPO_ROOT
from tests.local_stack.conftest import RunningStack

AWS_CLI_BIN = REPO_ROOT / "build" / "venvs" / "awscli" / "bin"
PINNED = (REPO_ROOT / "requirements" / "awscli.txt").read_text()


def printed(log: str) -> tuple[str, list[str]]:
    """The banner's `export ...` set-up (with its continuation line) and its `aws` commands."""
    lines = [line.strip() for line in log.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("export AWS_ENDPOINT_URL="))
    export = lines[start]
    while export.endswith("\\"):
        start += 1
        export = export.removesuffix("\\") + " " + lines[start]
    return export, [line for line in lines if line.startswith("aws ")]


def test_banner_aws_cli_commands_run_with_aws_cli_v1(
    stack: RunningStack, run_log: Callable[[], str], tmp_path: Path
) -> None:
    assert (AWS_CLI_BIN / "aws").exists(), "build/venvs/awscli is missing: run `make install`"
    version = subprocess.run(
        [str(AWS_CLI_BIN / "aws"), "--version"], capture_output=True, text=True, check=True
    )
    pinned = next(line for line in PINNED.splitlines() if line.startswith("awscli=="))
    assert f"aws-cli/{pinned.removeprefix('awscli==')} " in version.stdout + version.stderr

    export, commands = printed(run_log())
    assert commands == run.aws_cli_commands(stack.endpoint_url, stack.outputs)
    assert len(commands) == 3
    assert all(c.startswith(f"aws --endpoint-url {stack.endpoint_url} ") for c in commands)

    # Nothing of this machine's AWS set-up: only what the banner exports, and the pinned CLI.
    environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    environment.update(
        PATH=f"{AWS_CLI_BIN}{os.pathsep}{os.environ['PATH']}",
        HOME=str(tmp_path),
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
    )
    for command in commands:
        result = subprocess.run(
            ["bash", "-c", f"{export}\n{command} --output json"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (command, result.stderr)
        # receive-message on an empty queue prints nothing; the others print JSON.
        answer = json.loads(result.stdout) if result.stdout.strip() else {}
        if " stepfunctions " in command:
            assert "executions" in answer
        elif " sns " in command:
            assert "Subscriptions" in answer
