"""Per-model calibration maps of the ``logprob:`` scorers: the file format and the store.

A ``logprob:`` signal means something different for every generator, so each model gets its own
Platt map (:mod:`guardrail.calibration`), fitted by ``guardrail calibrate`` on a small graded
file of that model's answers and written as JSON::

    {"format": 1, "scorer": "logprob:min_window", "model": "gpt-4o-mini", "window": 16,
     "calibration": {"kind": "platt", "coef": 1.7, "intercept": 0.2},
     "fit": {"answers": 60, "correct": 31, "base_rate": 0.52, "brier_raw": 0.27, ...},
     "source": "graded.jsonl"}

The store is the folder ``$GUARDRAIL_CACHE/calibration`` (``~/.cache/guardrail/calibration``):
``logprob:SIGNAL`` scorers load every map of their signal found there, keyed by model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guardrail.calibration import PlattMap
from guardrail.errors import GuardrailConfigError

__all__ = [
    "CALIBRATION_FORMAT",
    "ModelCalibration",
    "calibration_store",
    "load_calibrations",
    "model_slug",
    "read_calibration",
    "read_store_file",
    "write_calibration",
    "write_store_file",
]

CALIBRATION_FORMAT = 1


@dataclass(frozen=True, slots=True)
class ModelCalibration:
    """The Platt map of one ``logprob:`` scorer for one generator, and how it was fitted."""

    scorer: str
    model: str
    window: int
    platt: PlattMap
    fit: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    @property
    def base_rate(self) -> float | None:
        """Share of correct answers in the graded file (the estimate before any token)."""
        value = self.fit.get("base_rate")
        return float(value) if isinstance(value, int | float) and 0 <= value <= 1 else None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "format": CALIBRATION_FORMAT,
            "scorer": self.scorer,
            "model": self.model,
            "window": self.window,
            "calibration": self.platt.to_dict(),
            "fit": dict(self.fit),
            "source": self.source,
        }


def calibration_store() -> Path:
    """The folder the ``logprob:`` scorers read their maps from (created if missing)."""
    from guardrail.models.cache import cache_dir

    return cache_dir("calibration")


def model_slug(text: str) -> str:
    """``text`` as a file-name part (runs of other characters become ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def write_calibration(calibration: ModelCalibration, path: Path | None = None) -> Path:
    """Write ``calibration`` to ``path`` (default: its file in the store); return the path."""
    if path is None:
        signal = calibration.scorer.removeprefix("logprob:")
        path = calibration_store() / f"{signal}.{model_slug(calibration.model)}.json"
    return write_store_file(path, calibration.to_dict())


def write_store_file(path: Path, data: Mapping[str, Any]) -> Path:
    """Write one map file atomically (a temporary file renamed over it); return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def read_store_file(path: Path, what: str) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """A map file's checked common fields: its data, ``window`` and ``fit``.

    ``scorer`` and ``model`` are non-empty strings, ``window`` an integer >= 1 and ``fit`` an
    object; any other content is an error that names the file, ``what`` it should be and the
    field.
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise GuardrailConfigError(f"{path}: not a {what} file: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != CALIBRATION_FORMAT:
        got = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise GuardrailConfigError(f"{path}: unsupported {what} format {got!r}")
    for key in ("scorer", "model"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise GuardrailConfigError(f"{path}: {key}: expected a non-empty string")
    window = data.get("window")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise GuardrailConfigError(f"{path}: window: expected an integer >= 1, got {window!r}")
    fit = data.get("fit", {})
    if not isinstance(fit, dict):
        raise GuardrailConfigError(f"{path}: fit: expected an object")
    return data, window, fit


def read_calibration(path: Path) -> ModelCalibration:
    """Read one calibration file; a clear error names the file and the bad field."""
    data, window, fit = read_store_file(path, "calibration")
    platt = data.get("calibration")
    if not isinstance(platt, dict):
        raise GuardrailConfigError(f"{path}: calibration: expected an object")
    return ModelCalibration(
        scorer=data["scorer"],
        model=data["model"],
        window=window,
        platt=PlattMap.from_dict(platt, where=f"{path}: calibration"),
        fit=fit,
        source=str(data.get("source", "")),
    )


def load_calibrations(scorer: str, folder: Path | None = None) -> dict[str, ModelCalibration]:
    """Every map of ``scorer`` (``logprob:SIGNAL``) in ``folder`` (default: the store), by model."""
    root = calibration_store() if folder is None else folder
    signal = scorer.removeprefix("logprob:")
    found: dict[str, ModelCalibration] = {}
    for path in sorted(root.glob(f"{signal}.*.json")):
        calibration = read_calibration(path)
        if calibration.scorer == scorer:
            found[calibration.model] = calibration
    return found
