"""Policies shipped with the package: ``default``, ``strict``, ``observe``, ``math-agent``.

They live in ``policies/`` at the top of the repository. The wheel carries them as
``guardrail/_presets`` (read through :mod:`importlib.resources`); a source checkout (an editable
install, or the tree on ``sys.path``) reads ``policies/`` in place, so there is one copy to edit
and nothing links the two.
"""

from __future__ import annotations

import re
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

from guardrail.errors import ConfigIssue, GuardrailConfigError
from guardrail.policy.diagnostics import closest_name
from guardrail.policy.schema import Policy

__all__ = ["list_presets", "load_preset", "preset_path"]

_SUFFIX = ".yaml"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


_SOURCE_TREE = Path(__file__).resolve().parents[2] / "policies"


def _directory() -> Traversable:
    packaged = files("guardrail") / "_presets"
    if packaged.is_dir():
        return packaged  # an installed wheel
    return _SOURCE_TREE


def list_presets() -> list[str]:
    """Names of the shipped presets, sorted."""
    directory = _directory()
    if not directory.is_dir():
        return []
    return sorted(
        entry.name[: -len(_SUFFIX)]
        for entry in directory.iterdir()
        if entry.name.endswith(_SUFFIX) and entry.is_file()
    )


def preset_path(name: str) -> Traversable:
    """The resource holding preset ``name``; :class:`GuardrailConfigError` for an unknown name."""
    names = list_presets()
    if not _NAME.match(name) or name not in names:
        raise GuardrailConfigError(
            [
                ConfigIssue(
                    f"unknown policy preset {name!r}",
                    source="<presets>",
                    expected="one of " + ", ".join(names),
                    suggestion=closest_name(name, names),
                )
            ]
        )
    return _directory() / f"{name}{_SUFFIX}"


def load_preset(name: str) -> Policy:
    """Load and validate the shipped preset ``name`` (see :func:`list_presets`)."""
    resource = preset_path(name)
    return Policy.from_text(resource.read_bytes(), source=f"preset:{name}")
