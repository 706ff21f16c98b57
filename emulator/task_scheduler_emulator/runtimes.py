"""The Python a function's ``runtime`` names, with the libraries a deployed function imports.

On AWS a ``python3.13`` function runs under CPython 3.13 with the runtime's boto3 and, here, the
Powertools layer (pydantic, aws-xray-sdk) on its path. The emulator does the same: it finds that
interpreter on this machine and installs ``requirements/lambda-runtime.txt`` for it, once, into
``build/lambda-runtimes/<runtime>/`` (the stand-in for the layer and the runtime's boto3). The
tooling's own virtualenv is never on a function's path.
`make install` prepares both supported runtimes ahead of the first invocation.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO_ROOT / "requirements" / "lambda-runtime.txt"
RUNTIMES_DIR = Path(
    os.environ.get("TASK_SCHEDULER_RUNTIMES_DIR", REPO_ROOT / "build/lambda-runtimes")
)
SUPPORTED = ("python3.12", "python3.13")
_RUNTIME = re.compile(r"python(?P<major>3)\.(?P<minor>\d+)")
_install_lock = threading.Lock()


class RuntimeUnavailable(RuntimeError):
    """No interpreter for the runtime on this machine, or its libraries could not be installed."""


@dataclass(frozen=True)
class Runtime:
    name: str
    python: Path
    site_dir: Path


def _version_of(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return int(out[0]), int(out[1])


@functools.cache
def interpreter(runtime: str) -> Path:
    """The CPython executable for ``runtime`` (``python3.13`` -> a 3.13 interpreter).

    Looked up as ``$TASK_SCHEDULER_PYTHON3_13``, then ``python3.13`` on PATH, then pyenv's
    versions (whose shims answer only when that version is selected).
    """
    match = _RUNTIME.fullmatch(runtime)
    if match is None:
        raise RuntimeUnavailable(f"{runtime} is not a Python runtime")
    wanted = (int(match["major"]), int(match["minor"]))
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = [
        os.environ.get(f"TASK_SCHEDULER_{runtime.upper().replace('.', '_')}"),
        shutil.which(runtime),
        *sorted(glob.glob(f"{pyenv_root}/versions/{wanted[0]}.{wanted[1]}.*/bin/{runtime}")),
    ]
    if wanted == sys.version_info[:2]:
        candidates.append(sys.executable)
    for candidate in filter(None, candidates):
        if _version_of(candidate) == wanted:
            return Path(candidate)
    raise RuntimeUnavailable(
        f"no {runtime} interpreter found (tried $TASK_SCHEDULER_{runtime.upper().replace('.', '_')}"
        f", PATH and {pyenv_root}/versions); install CPython {wanted[0]}.{wanted[1]}"
    )


def ensure(runtime: str) -> Runtime:
    """``runtime``'s interpreter and library folder, installing the libraries on first use."""
    python = interpreter(runtime)
    site_dir = RUNTIMES_DIR / runtime
    stamp = site_dir / ".requirements-sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    with _install_lock:
        if not (stamp.exists() and stamp.read_text() == wanted):
            staging = RUNTIMES_DIR / f".{runtime}.staging"
            shutil.rmtree(staging, ignore_errors=True)
            pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            result = subprocess.run(
                [*pip, "--no-input", "--target", str(staging), "-r", str(REQUIREMENTS)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise RuntimeUnavailable(
                    f"installing {REQUIREMENTS.name} for {runtime} failed:\n{result.stderr}"
                )
            (staging / stamp.name).write_text(wanted)
            shutil.rmtree(site_dir, ignore_errors=True)
            staging.rename(site_dir)
    return Runtime(runtime, python, site_dir)


def ensure_supported() -> None:
    """Prepare every runtime the module deploys (what `make install` runs)."""
    for runtime in SUPPORTED:
        installed = ensure(runtime)
        print(f"{runtime}: {installed.python} with {installed.site_dir}")
