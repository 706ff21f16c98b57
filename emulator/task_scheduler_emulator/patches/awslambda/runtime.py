"""``lambda:Invoke`` runs the deployed Python handler in warm execution environments.

Without Docker, moto answers Invoke with the request payload and never runs code. This replaces
``moto.awslambda.models.LambdaFunction.invoke`` (reached by Invoke, SNS, SQS, ... triggers) and
removes the canned-response override ``moto.awslambda_simple.models.LambdaSimpleBackend.invoke``.

Against the moto server, each function runs as AWS documents its execution environments
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html, "Lambda
execution environment lifecycle"; https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html):

* An environment is a worker process of the interpreter the function's ``runtime`` names, with
  the function's zip and that runtime's libraries (:mod:`task_scheduler_emulator.runtimes`) on
  its path, the function's environment, Lambda's reserved variables, fake credentials and
  AWS_ENDPOINT_URL pointing at the emulator. Its Init phase imports the handler once (limited
  to 10 s, as on AWS); then it serves one invocation at a time and is reused by later ones
  (warm starts).
* A new environment starts (a cold start) only when every environment of the function is busy.
  Concurrency is bounded like an account's: past ``reserved_concurrency`` for the function, or
  past :data:`ACCOUNT_CONCURRENCY` in-flight invocations in all, Invoke is throttled with
  ``TooManyRequestsException`` (HTTP 429) at once, never queued. The emulator's account limit
  is lower than AWS's default of 1,000 because this machine is small: harsher, never kinder.
* Environments belong to one version of the function's code and configuration: after an update,
  new invocations start new environments and the old ones are shut down once idle.
* An invocation that exceeds the function's timeout fails with ``Sandbox.Timedout`` and its
  environment is discarded (AWS resets it; the next invocation starts cold). So is one whose
  runtime crashed (``Runtime.ExitError``) or whose Init failed.
* Idle environments are shut down after :data:`IDLE_SECONDS` (AWS keeps them for an
  undocumented while).
* Each invocation's output and an AWS-style ``REPORT`` line (with ``Init Duration`` on cold
  starts) go to the function's CloudWatch log group.

:func:`statistics` counts cold starts, warm starts, throttles and timeouts per function.

Under ``mock_aws`` (botocore is stubbed in this process; a subprocess could not reach it), the
handler runs in-process, serialised, with the function's environment patched in: no timeout,
no output captured, and every invocation imports it afresh.

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
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from unittest import mock

from moto import settings
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.models import botocore_stubber

from task_scheduler_emulator import runtimes

from . import _bootstrap, config

_BOOTSTRAP_SOURCE = Path(_bootstrap.__file__).read_text(encoding="utf-8")
_LOG_TAIL_BYTES = 4096
INIT_LIMIT_SECONDS = 10.0
IDLE_SECONDS = 300.0
ACCOUNT_CONCURRENCY = int(os.environ.get("TASK_SCHEDULER_EMULATOR_LAMBDA_CONCURRENCY", "100"))
_code_root: Path | None = None
_extract_lock = threading.Lock()
_in_process_lock = threading.Lock()


@dataclass(frozen=True)
class Invocation:
    errored: bool
    payload: bytes
    logs: str


class TooManyRequestsException(LambdaClientError):
    """What Invoke answers past the concurrency limit (HTTP 429)."""

    def __init__(self, reason: str) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")
        self.code = 429
        self.description = json.dumps(
            {"message": "Rate Exceeded.", "Reason": reason, "Type": "User"}
        )


class _EnvironmentFailed(Exception):
    """The environment cannot be reused; ``payload`` is the invocation's error."""

    def __init__(self, payload: bytes, logs: str = "") -> None:
        super().__init__()
        self.payload, self.logs = payload, logs


def _error(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


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
        **config.runtime_env(fn),
    }


@dataclass(frozen=True)
class _Version:
    """What an environment is built from; any change means new environments."""

    function_arn: str
    runtime: str
    code_sha: str
    timeout: float
    environment: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, fn: LambdaFunction) -> _Version:
        return cls(
            function_arn=fn.function_arn,
            runtime=str(fn.run_time),
            code_sha=str(fn.code_sha_256),
            timeout=float(fn.timeout),
            environment=tuple(sorted(_reserved_env(fn).items())),
        )


class _Environment:
    """One execution environment: a runtime worker process serving one invocation at a time."""

    def __init__(self, fn: LambdaFunction, version: _Version) -> None:
        self.version = version
        try:
            runtime = runtimes.ensure(version.runtime)
        except runtimes.RuntimeUnavailable as exc:
            raise _EnvironmentFailed(_error("Runtime.Unavailable", str(exc))) from exc
        code = _code_dir(fn)
        # The worker's stdout and stderr, for the environment's life (closed by close());
        # append mode, so that truncating it after each invocation does not leave the worker
        # writing at its old offset.
        self._log = tempfile.TemporaryFile(mode="a+b")  # noqa: SIM115
        self._process = subprocess.Popen(
            [str(runtime.python), "-S", "-c", _BOOTSTRAP_SOURCE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "LANG": "C.UTF-8",
                "TZ": ":UTC",
                "PYTHONPATH": os.pathsep.join([str(code), str(runtime.site_dir)]),
                "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only on AWS
                "LAMBDA_TASK_ROOT": str(code),
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{settings.moto_server_port()}",
                **dict(version.environment),
            },
            cwd=code,
        )
        self.idle_since = time.monotonic()
        ready = self._receive(INIT_LIMIT_SECONDS)
        if ready is None:
            message = "Init phase exceeded 10 seconds"
            raise _EnvironmentFailed(_error("Runtime.InitTimeout", message), self.close())
        self.init_ms: float = ready["init_ms"]
        if ready["error"] is not None:
            raise _EnvironmentFailed(json.dumps(ready["error"]).encode(), self.close())

    def _receive(self, timeout: float) -> dict[str, Any] | None:
        """The worker's next answer, or None if it exceeds ``timeout`` or the worker died."""
        stdout: IO[bytes] = self._process.stdout  # type: ignore[assignment]
        # poll, not select: under load the emulator holds more than FD_SETSIZE (1024) open
        # descriptors, and select() refuses any above it, which failed invocations at random.
        poller = select.poll()
        poller.register(stdout, select.POLLIN)
        readable = poller.poll(max(timeout, 0) * 1000)
        line = stdout.readline() if readable else b""
        return json.loads(line) if line else None

    def _logs(self) -> str:
        self._log.seek(0)
        text = self._log.read().decode(errors="replace")
        self._log.seek(0)
        self._log.truncate()
        return text

    def invoke(self, request: dict[str, Any]) -> Invocation:
        stdin: IO[bytes] = self._process.stdin  # type: ignore[assignment]
        try:
            stdin.write(json.dumps(request).encode() + b"\n")
            stdin.flush()
        except BrokenPipeError:
            pass  # it died; _receive reports it
        answer = self._receive(request["context"]["deadline"] - time.time())
        if answer is None:
            timed_out = self._process.poll() is None
            logs = self.close()
            if timed_out:
                request_id = request["context"]["aws_request_id"]
                message = (
                    f"RequestId: {request_id} Error: Task timed out after "
                    f"{self.version.timeout:.2f} seconds"
                )
                raise _EnvironmentFailed(_error("Sandbox.Timedout", message), logs)
            message = f"Runtime exited with error: exit status {self._process.returncode}"
            raise _EnvironmentFailed(_error("Runtime.ExitError", message), logs)
        return Invocation(
            bool(answer["error"]), json.dumps(answer["payload"]).encode(), self._logs()
        )

    def close(self) -> str:
        """Shut the environment down; returns what it logged since the last invocation."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()
        logs = self._logs()
        self._log.close()
        return logs


@dataclass
class _Pool:
    """Every function's environments, and the account's in-flight invocations."""

    idle: dict[str, list[_Environment]] = field(default_factory=lambda: defaultdict(list))
    in_flight: Counter[str] = field(default_factory=Counter)
    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def acquire(self, fn: LambdaFunction, version: _Version) -> _Environment | None:
        """A warm environment of this version, or None to start one; raises when throttled."""
        retired: list[_Environment] = []
        with self.lock:
            now = time.monotonic()
            for arn, environments in self.idle.items():
                keep = [
                    e
                    for e in environments
                    if now - e.idle_since < IDLE_SECONDS
                    and (arn != fn.function_arn or e.version == version)
                ]
                retired += [e for e in environments if e not in keep]
                environments[:] = keep
            reserved = fn.reserved_concurrency
            if reserved is not None and self.in_flight[fn.function_arn] >= int(reserved):
                self.counts[fn.function_name]["throttles"] += 1
                reason = "ReservedFunctionConcurrentInvocationLimitExceeded"
            elif sum(self.in_flight.values()) >= ACCOUNT_CONCURRENCY:
                self.counts[fn.function_name]["throttles"] += 1
                reason = "ConcurrentInvocationLimitExceeded"
            else:
                reason = ""
                self.in_flight[fn.function_arn] += 1
                warm = self.idle[fn.function_arn].pop() if self.idle[fn.function_arn] else None
                self.counts[fn.function_name]["warm_starts" if warm else "cold_starts"] += 1
        for environment in retired:
            environment.close()
        if reason:
            raise TooManyRequestsException(reason)
        return warm

    def release(self, fn: LambdaFunction, environment: _Environment | None) -> None:
        with self.lock:
            self.in_flight[fn.function_arn] -= 1
            if environment is not None:
                environment.idle_since = time.monotonic()
                self.idle[fn.function_arn].append(environment)

    def count(self, fn: LambdaFunction, event: str) -> None:
        with self.lock:
            self.counts[fn.function_name][event] += 1

    def close_all(self) -> None:
        with self.lock:
            environments = [e for idle in self.idle.values() for e in idle]
            self.idle.clear()
        for environment in environments:
            environment.close()


_pool = _Pool()
atexit.register(_pool.close_all)


def statistics() -> dict[str, dict[str, int]]:
    """Per function name: cold_starts, warm_starts, throttles, timeouts so far."""
    events = ("cold_starts", "warm_starts", "throttles", "timeouts")
    with _pool.lock:
        return {name: {e: counts[e] for e in events} for name, counts in _pool.counts.items()}


def shutdown_environments() -> None:
    """Stop every idle environment (the emulator is stopping)."""
    _pool.close_all()


def _report(request_id: str, started: float, init_ms: float | None) -> str:
    duration = (time.monotonic() - started) * 1000
    init = f"\tInit Duration: {init_ms:.2f} ms" if init_ms is not None else ""
    return f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms{init}\n"


def _run_in_environment(fn: LambdaFunction, request: dict[str, Any]) -> Invocation:
    version = _Version.of(fn)
    started = time.monotonic()
    environment = _pool.acquire(fn, version)
    init_ms = None
    try:
        if environment is None:
            environment = _Environment(fn, version)
            init_ms = environment.init_ms
        result = environment.invoke(request)
    except _EnvironmentFailed as failure:
        if b"Sandbox.Timedout" in failure.payload:
            _pool.count(fn, "timeouts")
        _pool.release(fn, None)
        report = _report(request["context"]["aws_request_id"], started, init_ms)
        return Invocation(True, failure.payload, failure.logs + report)
    except BaseException:
        _pool.release(fn, None)
        raise
    _pool.release(fn, environment)
    report = _report(request["context"]["aws_request_id"], started, init_ms)
    return Invocation(result.errored, result.payload, result.logs + report)


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
        errored, payload = _bootstrap.invoke_handler(
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
    if botocore_stubber.enabled:
        result = _run_in_process(fn, _code_dir(fn), request)
    else:
        result = _run_in_environment(fn, request)
    if result.logs:
        fn.logs_backend.ensure_log_group(fn.logs_group_name)
        fn.save_logs(result.logs)
    return result


def _run_queued(fn: LambdaFunction, body: str | bytes | None) -> None:
    """An asynchronous invocation: Lambda keeps a throttled event and retries it with backoff
    (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html)."""
    for backoff in (1, 2, 4, 8, 16, 32, 64, 128, 256, 300):
        try:
            run_function(fn, body)
            return
        except TooManyRequestsException:
            time.sleep(backoff)


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
        threading.Thread(target=_run_queued, args=(self, body), daemon=True).start()
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
