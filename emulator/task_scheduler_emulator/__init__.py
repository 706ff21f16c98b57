"""Local AWS stand-in for the task scheduler: moto server plus the gaps it leaves.

``start_emulator()`` runs a patched, configured moto server on 127.0.0.1; ``Gateway`` serves
its HTTP APIs; ``mock_emulator()`` is ``mock_aws`` with the same patches and config;
``local_oidc_issuer()`` is an HTTPS OIDC issuer minting tokens for JWT routes.
"""

from .config import EMULATOR_CONFIG, mock_emulator
from .gateway import Gateway
from .gateway.oidc_issuer import OidcIssuer, local_oidc_issuer
from .patches import apply as apply_patches
from .server import Emulator, start_emulator

__all__ = [
    "EMULATOR_CONFIG",
    "Emulator",
    "Gateway",
    "OidcIssuer",
    "apply_patches",
    "local_oidc_issuer",
    "mock_emulator",
    "start_emulator",
]
