"""moto's config switches, set once before anything is created.

``stepfunctions.execute_state_machine`` and ``lambda.use_docker`` do not just toggle behaviour:
each selects a different backend *store* (``stepfunctions_parser_backends`` vs
``stepfunctions_backends``, ``lambda_simple_backends`` vs ``lambda_backends``), so flipping them
after resources exist hides those resources. The server reads ``moto.core.config.
default_user_config``; :func:`configure` writes it through ``moto_api_backend.set_config`` (what
``POST /moto-api/config`` does) at emulator start. ``mock_aws`` patches the same dict with its
``config=`` argument for its lifetime, hence :func:`mock_emulator`.
"""

from __future__ import annotations

from moto import mock_aws
from moto.core.config import DefaultConfig, default_user_config
from moto.core.models import MockAWS
from moto.moto_api._internal.models import moto_api_backend

from . import patches

EMULATOR_CONFIG: DefaultConfig = {
    "lambda": {"use_docker": False},  # never try Docker; patches/awslambda runs the handlers
    "stepfunctions": {"execute_state_machine": True},  # interpret the ASL definitions
}


def configure(config: DefaultConfig = EMULATOR_CONFIG) -> DefaultConfig:
    """Set the switches for this process's moto server; returns the previous ones (to restore)."""
    previous: DefaultConfig = {
        "lambda": default_user_config["lambda"],
        "stepfunctions": default_user_config["stepfunctions"],
    }
    moto_api_backend.set_config(dict(config))
    return previous


def mock_emulator() -> MockAWS:
    """``mock_aws`` with the emulator's patches and config (Lambda handlers run in-process).

    Not in a process that runs :class:`~.server.Emulator`: ``mock_aws`` resets every backend.
    """
    patches.apply()
    return mock_aws(config=EMULATOR_CONFIG)
