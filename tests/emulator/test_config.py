"""moto's config switches and MOTO_PORT are set for the running server."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend as lambda_backend
from moto.core.config import default_user_config
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import get_backend as sfn_backend

from task_scheduler_emulator import Emulator, apply_patches
from task_scheduler_emulator.patches.awslambda.runtime import run_function

ACCOUNT = "123456789012"


def test_server_selects_executing_backends(emulator: Emulator) -> None:
    assert default_user_config["stepfunctions"] == {"execute_state_machine": True}
    assert default_user_config["lambda"] == {"use_docker": False}
    assert isinstance(sfn_backend(ACCOUNT, "us-east-1"), StepFunctionsParserBackend)
    assert type(lambda_backend(ACCOUNT, "us-east-1")).__name__ == "LambdaSimpleBackend"


def test_interpreter_reaches_this_server(
    emulator: Emulator, client: Callable[[str], Any], run_execution: Callable[..., Any]
) -> None:
    assert os.environ["MOTO_PORT"] == str(emulator.port)
    sqs = client("sqs")
    queue_url = sqs.create_queue(QueueName="interpreter-port")["QueueUrl"]
    send = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": queue_url, "MessageBody.$": "$.message"},
        "End": True,
    }

    done = run_execution({"StartAt": "Send", "States": {"Send": send}}, {"message": "hi"})

    assert done["status"] == "SUCCEEDED", done
    received = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in received] == ["hi"]


def test_apply_patches_is_idempotent(emulator: Emulator) -> None:
    patched = LambdaFunction.invoke

    apply_patches()

    assert LambdaFunction.invoke is patched
    assert patched.__module__ == run_function.__module__
