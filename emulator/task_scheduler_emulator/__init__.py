"""Local AWS stand-in for the task scheduler: moto server plus the gaps it leaves.

``start_emulator()`` runs a patched, configured moto server on 127.0.0.1; ``Gateway`` serves
its HTTP APIs; ``mock_emulator()`` is ``mock_aws`` with the same patches and config.
"""

from .config import EMULATOR_CONFIG, mock_emulator
from .gateway import Gateway
from .patches import apply_patches
from .server import Emulator, start_emulator

__all__ = [
    "EMULATOR_CONFIG",
    "Emulator",
    "Gateway",
    "apply_patches",
    "mock_emulator",
    "start_emulator",
]
