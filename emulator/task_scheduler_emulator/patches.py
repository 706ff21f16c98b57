"""The single entry point that applies every moto patch of the emulator (idempotent)."""

from __future__ import annotations

import threading

from . import (
    apigw_route_scopes,
    apigw_stage,
    apigw_stage_tags,
    dynamodb_atomic,
    lambda_config,
    lambda_layers,
    lambda_runtime,
    request_log,
    sfn_clients,
    sfn_executions,
    sfn_parser_state,
    sfn_validate,
    sfn_versions,
    sfn_wait,
)

# Gaps 1, 2, 5, 6, then the further gaps 8 to 16 (3 and 4 are set by config.py/server.py; 7 is
# the gateway).
_PATCHES = [sfn_validate, sfn_versions, lambda_runtime, sfn_wait]
_PATCHES += [lambda_layers, lambda_config, apigw_stage, apigw_stage_tags, request_log]
_PATCHES += [sfn_clients, dynamodb_atomic, sfn_executions, sfn_parser_state, apigw_route_scopes]
_lock = threading.Lock()
_applied = False


def apply_patches() -> None:
    """Patch moto in this process; safe to call repeatedly."""
    global _applied
    with _lock:
        if not _applied:
            for module in _PATCHES:
                module.patch()
            _applied = True
