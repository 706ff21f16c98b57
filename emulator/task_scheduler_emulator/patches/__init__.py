"""The single entry point that applies every moto patch of the emulator (idempotent).

Each patch module makes moto behave as the AWS page its docstring cites, and has a
``patch()`` that asserts the moto seam it replaces still exists before replacing it.
"""

from __future__ import annotations

import threading

from . import apigw, awslambda, dynamodb, request_log, sfn

# In the order they were found (moto's config switches and MOTO_PORT are set by config.py and
# server.py; the HTTP API gateway is gateway/).
_PATCHES = [sfn.validate, sfn.versions, awslambda.runtime, sfn.wait]
_PATCHES += [awslambda.layers, awslambda.config, apigw.stage, apigw.stage_tags, request_log]
_PATCHES += [sfn.clients, dynamodb.atomic, sfn.executions, sfn.parser_state, apigw.route_scopes]
_lock = threading.Lock()
_applied = False


def apply() -> None:
    """Patch moto in this process; safe to call repeatedly."""
    global _applied
    with _lock:
        if not _applied:
            for module in _PATCHES:
                module.patch()
            _applied = True
