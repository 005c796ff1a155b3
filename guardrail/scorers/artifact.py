"""Scorer artifacts: a directory with an adapter (or full weights) and ``finece.json``.

``finece.json`` records what the scorer is and how it was made: ``kind`` (``ift`` or
``value_head``), the ``base_model`` reference, the instruction, the SHA-256 of the training
data, label statistics, the training configuration and the final dev metrics. The model loader
(:func:`guardrail.models.load_model`) reads ``base_model`` to apply the adapter.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from guardrail.errors import ModelUnavailableError

__all__ = ["ARTIFACT_FORMAT", "read_metadata", "write_metadata"]

ARTIFACT_FORMAT = 1


def write_metadata(directory: Path, metadata: dict[str, Any]) -> None:
    """Write ``finece.json`` (atomically)."""
    data = {"format": ARTIFACT_FORMAT, **metadata}
    tmp = directory / "finece.json.tmp"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(directory / "finece.json")


def read_metadata(directory: Path) -> dict[str, Any]:
    """Read ``finece.json``; a clear error if it is missing or from a newer format."""
    path = directory / "finece.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelUnavailableError(f"{directory} is not a scorer artifact: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != ARTIFACT_FORMAT:
        raise ModelUnavailableError(f"{path}: unsupported artifact format {data.get('format')!r}")
    return data
