"""Import optional dependencies with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from guardrail.errors import MissingExtraError


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        if exc.name is not None and module.split(".")[0] != exc.name.split(".")[0]:
            raise  # the module exists but one of *its* imports is broken: show that
        raise MissingExtraError(module.split(".")[0], extra) from exc


LOCAL_MODULES = ("torch", "transformers", "safetensors")


def require_local() -> None:
    """Check that the ``local`` extra (torch and transformers) is installed.

    Called where a model is loaded (the local scorer, the embedded models, client-side
    tokenizers), so that a base install using a local model fails with one error that names
    the extra instead of a bare ``ModuleNotFoundError`` deep inside a checkpoint.
    """
    for module in LOCAL_MODULES:
        require(module, "local")
