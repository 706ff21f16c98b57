"""The Python Lambda runtime loop of one execution environment (stdlib only).

Run as ``python -S -c <this source>`` by :mod:`.runtime` (which reads this file by its path),
it is one warm execution environment: the Init phase imports the handler once and reports
``{"init_ms", "error"}``; then every line read from stdin is one invocation
(``{"event", "context"}``) answered by one line ``{"error": bool, "payload": ...}`` on the
original stdout. What the handler prints goes to stderr, the environment's log. Imported
in-process under ``mock_aws`` for :func:`invoke_handler`. Errors are shaped like the AWS Python
runtime's: ``errorMessage``, ``errorType``, ``stackTrace``.
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


def load_handler(handler: str) -> tuple[Any, dict[str, Any] | None]:
    """Import ``module.function`` from sys.path: (function, None) or (None, error payload)."""
    module_name, _, function_name = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        message = f"Unable to import module '{module_name}': {exc}"
        return None, _error("Runtime.ImportModuleError", message, exc)
    function = getattr(module, function_name, None)
    if function is None:
        message = f"Handler '{function_name}' missing on module '{module_name}'"
        return None, _error("Runtime.HandlerNotFound", message)
    return function, None


def call_handler(function: Any, event: Any, context: dict[str, Any]) -> tuple[bool, Any]:
    """Call the handler; returns (errored, payload)."""
    try:
        result = function(event, LambdaContext(context))
    except Exception as exc:
        return True, _error(type(exc).__name__, str(exc), exc)
    try:
        json.dumps(result)
    except (TypeError, ValueError) as exc:
        return True, _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", exc)
    return False, result


def invoke_handler(handler: str, event: Any, context: dict[str, Any]) -> tuple[bool, Any]:
    """Import and call the handler once (a cold start every time); returns (errored, payload)."""
    function, error = load_handler(handler)
    if error is not None:
        return True, error
    return call_handler(function, event, context)


def _send(channel: Any, message: dict[str, Any]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()  # the log of this phase is complete before its answer
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def main() -> None:
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the handler prints goes to the log (stderr)
    started = time.perf_counter()
    function, error = load_handler(os.environ["_HANDLER"])
    _send(channel, {"init_ms": (time.perf_counter() - started) * 1000, "error": error})
    if error is not None:
        return
    for line in sys.stdin:
        request = json.loads(line)
        errored, payload = call_handler(function, request["event"], request["context"])
        _send(channel, {"error": errored, "payload": payload})


if __name__ == "__main__":
    main()
