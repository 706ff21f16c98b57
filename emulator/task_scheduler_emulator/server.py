"""The emulator process: moto's ThreadedMotoServer on 127.0.0.1, patched and configured.

**MOTO_PORT.** moto's Step Functions interpreter calls Lambda, SQS, SNS, ... at
``http://localhost:$MOTO_PORT`` (``moto.settings.moto_server_port``, default 5000), and the
Lambda runtime points handlers there too, so ``MOTO_PORT`` is set to the port actually bound.
``MOTO_PORT`` is process-wide: run one emulator per process.

Every service the emulator stands in for runs on threads of this one process, under one
interpreter lock. When many requests arrive together (a whole second's Waits end at once),
Python's default 5 ms switch interval makes a request wait its turn behind dozens of others;
a 1 ms interval keeps each request's latency closer to its own cost, as on AWS, where the
services do not share a CPU.
"""

from __future__ import annotations

import logging
import os
import sys

from moto.server import ThreadedMotoServer

from . import patches
from .config import configure
from .patches.awslambda import runtime as lambda_runtime

SWITCH_INTERVAL_SECONDS = 0.001


class Emulator:
    """A running moto server; use as a context manager or call :meth:`stop`."""

    def __init__(self, port: int = 0) -> None:
        patches.apply()
        self._previous_switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
        self._previous_config = configure()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        self.host, self.port = self._server.get_host_and_port()
        self._previous_moto_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(self.port)
        self._stopped = False

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop the server and its Lambda environments; restore MOTO_PORT and moto's config
        switches (patches stay)."""
        if self._stopped:
            return
        self._stopped = True
        self._server.stop()
        lambda_runtime.shutdown_environments()
        if self._server._server is not None:  # ThreadedMotoServer.stop leaves the socket open
            self._server._server.server_close()
        configure(self._previous_config)
        sys.setswitchinterval(self._previous_switch_interval)
        if self._previous_moto_port is None:
            os.environ.pop("MOTO_PORT", None)
        else:
            os.environ["MOTO_PORT"] = self._previous_moto_port

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_emulator(port: int = 0, *, quiet: bool = True) -> Emulator:
    """Start the emulator on 127.0.0.1:``port`` (0 = a free port); see ``Emulator.endpoint_url``."""
    if quiet:  # werkzeug logs every request at INFO; errors are still logged
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return Emulator(port=port)
