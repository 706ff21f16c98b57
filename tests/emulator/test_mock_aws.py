"""moto's config switches and the Lambda runtime under ``mock_aws``: same backends, handlers
run in-process.

Runs in a subprocess: ``mock_aws`` resets every moto backend of its process, which would wipe
the session's emulator.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import io, json, zipfile
    import boto3
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import get_backend
    from task_scheduler_emulator import mock_emulator

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("inproc.py", '''
    import os, boto3
    def ok(event, context):
        boto3.client("sqs").create_queue(QueueName=os.environ["QUEUE"])
        return {"echo": event}
    def bad(event, context):
        raise KeyError("missing")
    ''')

    with mock_emulator():
        assert isinstance(get_backend("123456789012", "us-east-1"), StepFunctionsParserBackend)
        iam = boto3.client("iam", region_name="us-east-1")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        lam = boto3.client("lambda", region_name="us-east-1")
        for name in ("ok", "bad"):
            lam.create_function(FunctionName=name, Runtime="python3.11", Role=role,
                                Handler="inproc." + name, Code={"ZipFile": code.getvalue()},
                                Environment={"Variables": {"QUEUE": "made-by-handler"}})
        ok = lam.invoke(FunctionName="ok", Payload=b'{"x": 1}')
        bad = lam.invoke(FunctionName="bad", Payload=b"{}")
        queues = boto3.client("sqs", region_name="us-east-1").list_queues()["QueueUrls"]
        print(json.dumps({
            "ok": [ok.get("FunctionError"), json.loads(ok["Payload"].read())],
            "bad": [bad.get("FunctionError"), json.loads(bad["Payload"].read())["errorType"]],
            "queues": [q.rsplit("/", 1)[-1] for q in queues],
        }))
    """
)


def test_mock_emulator_runs_handlers_in_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == (
        '{"ok": [null, {"echo": {"x": 1}}], "bad": ["Unhandled", "KeyError"], '
        '"queues": ["made-by-handler"]}'
    )
