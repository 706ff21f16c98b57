"""Gap 5: ``lambda:Invoke`` runs the deployed Python handler.

Without Docker, moto answers Invoke with the request payload and never runs code. This replaces
``moto.awslambda.models.LambdaFunction.invoke`` (reached by Invoke, SNS, SQS, ... triggers) and
removes the canned-response override ``moto.awslambda_simple.models.LambdaSimpleBackend.invoke``.
The function's zip is extracted once per CodeSha256 and its handler called:

* moto server: in a ``python -S`` subprocess with PYTHONPATH = code dir + this interpreter's
  site-packages (the stand-in for layers), the function's environment, Lambda's reserved
  variables, fake credentials and AWS_ENDPOINT_URL pointing at the emulator; the function's
  timeout is enforced (``Sandbox.Timedout``).
* under ``mock_aws`` (botocore is stubbed in this process; a subprocess could not reach it):
  in-process, serialised, with the function's environment patched in; no timeout, and the
  handler's output is not captured.

Every invocation is a cold start (a fresh interpreter / fresh import of the handler module).

Errors become ``FunctionError: Unhandled`` with AWS's ``{errorMessage, errorType, stackTrace}``
payload, so moto's Step Functions lambda:invoke integration raises ``errorType`` and
Retry/Catch behave as on AWS.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import importlib
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from moto import settings
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.models import botocore_stubber

from . import _lambda_bootstrap, lambda_config

_BOOTSTRAP_SOURCE = Path(_lambda_bootstrap.__file__).read_text(encoding="utf-8")
_LOG_TAIL_BYTES = 4096
_code_root: Path | None = None
_extract_lock = threading.Lock()
_in_process_lock = threading.Lock()


@dataclass(frozen=True)
class Invocation:
    errored: bool
    payload: bytes
    logs: str


def _code_dir(fn: LambdaFunction) -> Path:
    """The extracted zip of ``fn``, cached per process by CodeSha256."""
    global _code_root
    with _extract_lock:
        if _code_root is None:
            _code_root = Path(tempfile.mkdtemp(prefix="task-scheduler-emulator-"))
            atexit.register(shutil.rmtree, _code_root, True)
        target = _code_root / base64.b64decode(fn.code_sha_256).hex()
        if not target.is_dir():
            staging = Path(tempfile.mkdtemp(dir=_code_root))
            with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                archive.extractall(staging)
            staging.rename(target)
        return target


def _reserved_env(fn: LambdaFunction) -> dict[str, str]:
    return {
        **{str(k): str(v) for k, v in fn.environment_vars.items()},
        "_HANDLER": str(fn.handler),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
        **lambda_config.runtime_env(fn),
    }


def _subprocess_env(fn: LambdaFunction, code: Path) -> dict[str, str]:
    site_packages = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": os.pathsep.join([str(code), *site_packages]),
        "LAMBDA_TASK_ROOT": str(code),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{settings.moto_server_port()}",
        **_reserved_env(fn),
    }


def _error(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


def _run_subprocess(fn: LambdaFunction, code: Path, request: dict[str, Any]) -> Invocation:
    timeout = float(fn.timeout)
    try:
        proc = subprocess.run(
            [sys.executable, "-S", "-c", _BOOTSTRAP_SOURCE],
            input=json.dumps(request).encode(),
            capture_output=True,
            env=_subprocess_env(fn, code),
            cwd=code,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        request_id = request["context"]["aws_request_id"]
        message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
        logs = (exc.stderr or b"").decode(errors="replace")
        return Invocation(True, _error("Sandbox.Timedout", message), logs)
    logs = proc.stderr.decode(errors="replace")
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        message = f"Runtime exited with error: exit status {proc.returncode}"
        return Invocation(True, _error("Runtime.ExitError", message), logs)
    return Invocation(bool(result["error"]), json.dumps(result["payload"]).encode(), logs)


@contextlib.contextmanager
def _importable_from(code: Path) -> Iterator[None]:
    """Put ``code`` first on sys.path; forget modules imported from any extracted zip."""

    def forget_extracted_modules() -> None:
        root = str(_code_root)
        for name, module in list(sys.modules.items()):
            if str(getattr(module, "__file__", None) or "").startswith(root):
                del sys.modules[name]

    forget_extracted_modules()
    sys.path.insert(0, str(code))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path.remove(str(code))
        forget_extracted_modules()


def _run_in_process(fn: LambdaFunction, code: Path, request: dict[str, Any]) -> Invocation:
    with _in_process_lock, mock.patch.dict(os.environ, _reserved_env(fn)), _importable_from(code):
        errored, payload = _lambda_bootstrap.invoke_handler(
            str(fn.handler), request["event"], request["context"]
        )
    return Invocation(errored, json.dumps(payload).encode(), "")


def run_function(fn: LambdaFunction, body: str | bytes | None) -> Invocation:
    """Invoke ``fn`` with the JSON ``body`` and write its output to its CloudWatch log group."""
    request_id = str(uuid.uuid4())
    context = {
        "function_name": fn.function_name,
        "function_version": str(fn.version),
        "invoked_function_arn": fn.function_arn,
        "memory_limit_in_mb": fn.memory_size,
        "aws_request_id": request_id,
        "log_group_name": fn.logs_group_name,
        "log_stream_name": request_id,
        "deadline": time.time() + float(fn.timeout),
    }
    request = {"event": json.loads(body) if body else {}, "context": context}
    code = _code_dir(fn)
    if botocore_stubber.enabled:
        result = _run_in_process(fn, code, request)
    else:
        result = _run_subprocess(fn, code, request)
    if result.logs:
        fn.logs_backend.ensure_log_group(fn.logs_group_name)
        fn.save_logs(result.logs)
    return result


def _invoke(
    self: LambdaFunction,
    body: str | bytes | None,
    request_headers: Mapping[str, str] | None,
    response_headers: dict[str, str],
) -> bytes:
    """Replaces ``moto.awslambda.models.LambdaFunction.invoke``."""
    headers = {str(k).lower(): v for k, v in dict(request_headers or {}).items()}
    invocation_type = headers.get("x-amz-invocation-type", "RequestResponse")
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        threading.Thread(target=run_function, args=(self, body), daemon=True).start()
        return b""
    result = run_function(self, body)
    if result.errored:
        response_headers["x-amz-function-error"] = "Unhandled"
    tail = result.logs.encode()[-_LOG_TAIL_BYTES:]
    response_headers["x-amz-log-result"] = base64.b64encode(tail).decode()
    return result.payload


def patch() -> None:
    assert callable(getattr(LambdaFunction, "invoke", None)), "moto moved LambdaFunction.invoke"
    assert "invoke" in vars(LambdaSimpleBackend), "moto moved LambdaSimpleBackend.invoke"
    setattr(LambdaFunction, "invoke", _invoke)  # noqa: B010 (mypy forbids assigning methods)
    setattr(LambdaSimpleBackend, "invoke", LambdaBackend.invoke)  # noqa: B010
