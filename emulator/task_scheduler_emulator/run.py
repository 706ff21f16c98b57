"""`make run`: the product on localhost, until Ctrl-C (or `make stop`) destroys it.

    python -m task_scheduler_emulator.run [--port 8080] [--state-dir build/local] [--trust-ca PEM]
    python -m task_scheduler_emulator.run --stop

The port defaults to $TASK_SCHEDULER_PORT, else 8080. `--ready-file` receives the endpoints as
JSON once the API is served (for scripts and tests). With `authorization_type = "JWT"`, the
gateway fetches the issuer's keys over HTTPS trusting the system's CAs plus each `--trust-ca`
file and those in $TASK_SCHEDULER_EMULATOR_TRUSTED_CA (`os.pathsep`-separated), e.g. the local
test issuer's `ca_file` (task_scheduler_emulator.gateway.oidc_issuer).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .gateway.jwt import TRUSTED_CA_ENV
from .local_stack import REGION, REPO_ROOT, LocalStack
from .patches.awslambda import runtime as lambda_runtime

DEFAULT_STATE_DIR = REPO_ROOT / "build" / "local"
PID_FILE = "run.pid"


def _echo(line: str) -> None:
    print(line, flush=True)


# The client's example: one `task-scheduler ...` command line (the CLI of client/, installed
# with `pip install ./client`), with `{url}` for the local API; the banner shows it under
# "With the client:".
# `make install` puts the client (client/) in .venv; elsewhere: pip install ./client.
CLIENT_EXAMPLE = (
    '.venv/bin/task-scheduler --url {url} schedule --in 5s --message \'{{"name": "Luke"}}\'\n'
    "  .venv/bin/task-scheduler --url {url} tail"
)


def client_example(url: str) -> str:
    """The banner's client section: one `task-scheduler` example against this stack."""
    return "With the client (client/README.md):\n  " + CLIENT_EXAMPLE.format(url=url) + "\n"


def aws_cli_commands(endpoint: str, outputs: dict[str, Any]) -> list[str]:
    """The banner's AWS CLI commands: each with an explicit --endpoint-url, which AWS CLI v1
    and v2 both honour for every service (v1 ignores AWS_ENDPOINT_URL for SQS)."""
    cli = f"aws --endpoint-url {endpoint}"
    return [
        f"{cli} stepfunctions list-executions"
        f" --state-machine-arn {outputs['sfn_state_machine_arn']}",
        f"{cli} sns list-subscriptions-by-topic --topic-arn {outputs['sns_topic_arn']}",
        f"{cli} sqs receive-message --queue-url {outputs['sqs_dead_letter_queue_url']}",
    ]


def _banner(stack: LocalStack) -> str:
    url = stack.url
    assert stack.emulator is not None
    endpoint = stack.emulator.endpoint_url
    machine = stack.outputs["sfn_state_machine_arn"]
    aws_cli = "\n".join(f"  {command}" for command in aws_cli_commands(endpoint, stack.outputs))
    timings = ", ".join(f"{k.removesuffix('_seconds')} {v} s" for k, v in stack.timings.items())
    return f"""
Task scheduler running locally ({timings}).
  API:      POST {url}/schedule
  Events:   GET  {url}/events   (Server-Sent Events; emissions are also printed below)
  Lambda:   GET  {url}/emulator/lambda   (cold and warm starts, throttles, timeouts)
  AWS:      {endpoint}   (the emulator; any access key works, region {REGION})

Inspect it with the AWS CLI (v1 or v2, if installed) or boto3: the executions, the topic, the
dead letters (each command names the endpoint: AWS CLI v1 ignores AWS_ENDPOINT_URL for SQS):
  export AWS_ENDPOINT_URL={endpoint} AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \\
    AWS_DEFAULT_REGION={REGION}
{aws_cli}
  .venv/bin/python -c "import boto3; print(boto3.client('stepfunctions').list_executions(
    stateMachineArn='{machine}')['executions'])"

Schedule a task 5 seconds from now:
  ts=$(date -u -d '+5 seconds' +%Y-%m-%dT%H:%M:%S.%3NZ)
  curl -s {url}/schedule -H 'Content-Type: application/json' \\
    -d '{{"timestamp": "'"$ts"'", "message": {{"name": "Luke"}}}}'
Watch it arrive:
  curl -N {url}/events
{client_example(url)}
Ctrl-C (or `make stop`) destroys the stack and stops everything.
"""


def trust(ca_files: list[Path]) -> None:
    """Have this process's gateway trust ``ca_files`` too: they are added to the variable
    :data:`TRUSTED_CA_ENV`, which only the gateway's own TLS context reads."""
    trusted = [os.environ.get(TRUSTED_CA_ENV, ""), *(str(path.resolve()) for path in ca_files)]
    if ca_files:
        os.environ[TRUSTED_CA_ENV] = os.pathsep.join(path for path in trusted if path)


def stop_running(state_dir: Path) -> int:
    """Ask the `make run` that owns `state_dir` to shut down, and wait until it has."""
    pid_file = state_dir / PID_FILE
    if not pid_file.exists():
        print("No local stack is running.")
        return 0
    pid = int(pid_file.read_text())
    try:
        os.kill(pid, signal.SIGINT)
        while pid_file.exists():  # removed once the stack is destroyed
            time.sleep(0.2)
            os.kill(pid, 0)  # raises once the process is gone
    except ProcessLookupError:  # it died without cleaning up
        pid_file.unlink(missing_ok=True)
        print(f"The local stack (pid {pid}) was not running; removed its stale pid file.")
    return 0


def serve(port: int, state_dir: Path, ready_file: Path | None) -> int:
    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())
    state_dir.mkdir(parents=True, exist_ok=True)
    pid_file = state_dir / PID_FILE
    pid_file.write_text(str(os.getpid()))
    stack = LocalStack(port=port, state_dir=state_dir, echo=_echo)
    try:
        _echo("Starting the emulator and applying examples/local ...")
        stack.start()
        _echo(_banner(stack))
        if ready_file is not None:
            assert stack.emulator is not None
            ready = {
                "url": stack.url,
                "endpoint_url": stack.emulator.endpoint_url,
                "timings": stack.timings,
                "outputs": stack.outputs,
            }
            ready_file.write_text(json.dumps(ready))
        stop_requested.wait()
        _echo("Destroying the stack ...")
    finally:
        stack.stop()
        pid_file.unlink(missing_ok=True)
    _echo(f"Lambda environments: {json.dumps(lambda_runtime.statistics())}")
    _echo(f"Stopped ({', '.join(f'{k} {v}' for k, v in stack.timings.items())}).")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("TASK_SCHEDULER_PORT", 8080))
    )
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--ready-file", type=Path)
    parser.add_argument("--stop", action="store_true", help="stop a running `make run`")
    parser.add_argument(
        "--trust-ca",
        type=Path,
        action="append",
        default=[],
        metavar="PEM",
        help="a CA certificate the gateway trusts to fetch a JWT issuer's keys (repeatable)",
    )
    args = parser.parse_args(argv)
    if args.stop:
        return stop_running(args.state_dir)
    trust(args.trust_ca)
    return serve(args.port, args.state_dir, args.ready_file)


if __name__ == "__main__":
    sys.exit(main())
