"""Lambda: handlers run in worker processes of the runtime's Python (``runtime``, with the
runtime loop ``_bootstrap`` that each worker runs), and the configuration moto drops."""

from . import config, layers, runtime

__all__ = ["config", "layers", "runtime"]
