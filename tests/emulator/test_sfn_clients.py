"""Step Functions' Lambda integration reuses one client instead of building one per Task."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from task_scheduler_emulator.patches.sfn import clients

HANDLER = {"echo.py": "def handler(event, context):\n    return event\n"}


def test_lambda_tasks_share_one_client(
    make_function: Callable[..., str], run_execution: Callable[..., Any]
) -> None:
    arn = make_function(HANDLER, "echo.handler")
    definition = {
        "StartAt": "Invoke",
        "States": {
            "Invoke": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }
    first = run_execution(definition, {"n": 1})
    built = clients._client.cache_info().misses

    later = [run_execution(definition, {"n": n}) for n in (2, 3)]

    assert [json.loads(done["output"]) for done in (first, *later)] == [
        {"n": 1},
        {"n": 2},
        {"n": 3},
    ]
    assert clients._client.cache_info().misses == built  # no client built for later Tasks
