"""Scorer artifacts shipped with the package (trained adapters plus metadata)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["builtin_artifact_path"]

_ARTIFACT_ROOT = Path(__file__).resolve().parent.parent / "_artifacts"


def builtin_artifact_path(name: str) -> Path | None:
    """The directory of a shipped scorer artifact called ``name``, or ``None`` if absent."""
    candidate = _ARTIFACT_ROOT / name
    return candidate if (candidate / "finece.json").is_file() else None
