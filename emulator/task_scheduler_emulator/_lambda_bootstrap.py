"""The Python Lambda runtime loop for one invocation (stdlib only).

Imported by :mod:`task_scheduler_emulator.lambda_runtime` for in-process invocations, and run
as ``python -S -c <this source>`` for subprocess invocations, where it reads
``{"event", "context"}`` from stdin and writes ``{"error": bool, "payload": ...}`` to the
original stdout (the handler's own stdout is redirected to stderr, which becomes the log).
Errors are shaped like the AWS Python runtime's: ``errorMessage``, ``errorType``, ``stackTrace``.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes of the AWS Python runtime's context object that handlers use."""

    def __init__(self, fields: dict[str, Any]) -> None:
        self.function_name: str = fields["function_name"]
        self.function_version: str = fields["function_version"]
        self.invoked_function_arn: str = fields["invoked_function_arn"]
        self.memory_limit_in_mb: int = int(fields["memory_limit_in_mb"])
        self.aws_request_id: str = fields["aws_request_id"]
        self.log_group_name: str = fields["log_group_name"]
        self.log_stream_name: str = fields["log_stream_name"]
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline: float = fields["deadline"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _error(error_type: str, message: str, exc: BaseException | None = None) -> dict[str, Any]:
    frames = exc.__traceback__.tb_next if exc and exc.__traceback__ else None  # skip our frame
    trace = traceback.format_list(traceback.extract_tb(frames)) if frames else []
    return {"errorMessage": message, "errorType": error_type, "stackTrace": trace}


def invoke_handler(handler: str, event: Any, context: dict[str, Any]) -> tuple[bool, Any]:
    """Import ``module.function`` from sys.path and call it; returns (errored, payload)."""
    module_name, _, function_name = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        return True, _error(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", exc
        )
    function = getattr(module, function_name, None)
    if function is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        return True, _error("Runtime.HandlerNotFound", message)
    try:
        result = function(event, LambdaContext(context))
    except Exception as exc:
        return True, _error(type(exc).__name__, str(exc), exc)
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        return True, _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", exc)
    return False, result


def main() -> None:
    result_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the handler prints goes to the log (stderr)
    request = json.load(sys.stdin)
    errored, payload = invoke_handler(os.environ["_HANDLER"], request["event"], request["context"])
    sys.stdout.flush()
    result_out.write(json.dumps({"error": errored, "payload": payload}))
    result_out.flush()


if __name__ == "__main__":
    main()
