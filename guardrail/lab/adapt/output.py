"""Writing an adapt folder: ``adapt.json`` (card and runtime scorer), the combiner, the policy.

The folder is a scorer reference (:mod:`guardrail.scorers.adapted` reads it) and carries
``policy.yaml``: the named preset with ``scorer.model`` set to the folder and the threshold of
its outcome rules set to the confidence at which accepted dev answers reached the target
accuracy (:func:`guardrail.lab.adapt.measure.suggest_threshold`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from guardrail.lab.adapt.compare import Comparison
from guardrail.scorers.adapted import ADAPT_FILE, ADAPT_FORMAT
from guardrail.scorers.hybrid import HybridCalibration, write_hybrid
from guardrail.token_signals import DEFAULT_WINDOW

__all__ = ["POLICY_FILE", "runtime_scorer", "write_adapt_dir", "write_policy"]

POLICY_FILE = "policy.yaml"
HYBRID_FILE = "hybrid.json"


def runtime_scorer(
    comparison: Comparison, generator: str, base_scorer: str, finetuned: str | None
) -> dict[str, Any]:
    """The ``scorer`` entry of ``adapt.json`` for the chosen candidate (module documentation)."""
    chosen = comparison.chosen
    maps = {stage: platt.to_dict() for stage, platt in chosen.maps.items()}
    name = chosen.name
    if name.startswith("logprob:"):
        return {"kind": "logprob", "ref": name, "window": DEFAULT_WINDOW, "maps": maps}
    if name == "finece":
        return {"kind": "finece", "ref": base_scorer, "maps": maps}
    if name == "finetune":
        return {"kind": "finece", "ref": f"./{finetuned}", "maps": maps}
    inner = base_scorer if name == "hybrid" else f"./{finetuned}"
    return {"kind": "hybrid", "ref": f"hybrid:{inner}", "combiner": HYBRID_FILE, "maps": maps}


def write_policy(directory: Path, preset: str, threshold: Mapping[str, Any]) -> Path:
    """Write ``policy.yaml``: ``preset`` guarded by this folder, outcome threshold from the dev."""
    import yaml

    from guardrail.policy.presets import preset_path

    data = yaml.safe_load(preset_path(preset).read_text(encoding="utf-8"))
    data["name"] = f"{data.get('name', preset)}-adapted"
    data["scorer"] = {**data.get("scorer", {}), "model": str(directory.resolve())}
    value = threshold.get("threshold")
    changed = []
    if value is not None:
        for rule in data.get("rules", []):
            when = rule.get("when", {})
            if when.get("stage") == "outcome" and "confidence_below" in when:
                when["confidence_below"] = round(float(value), 4)
                changed.append(rule.get("name", "?"))
    target = threshold.get("target_accuracy")
    if value is None:
        why = (
            f"no threshold reached {target} accuracy on the dev answers (best "
            f"{threshold.get('best_accuracy')}): the preset's outcome thresholds are kept"
        )
    else:
        why = (
            f"outcome rules {', '.join(changed) or '(none found)'} use {float(value):.4f}: the "
            f"confidence at which the accepted dev answers reached {target} accuracy "
            f"(coverage {threshold.get('coverage', 0):.2f})"
        )
    header = (
        f"# Written by `guardrail adapt`: extends the preset {preset!r} (a copy of it, with the\n"
        f"# adapted scorer and its threshold). {why}.\n"
    )
    path = directory / POLICY_FILE
    path.write_text(header + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def write_adapt_dir(
    directory: Path,
    comparison: Comparison,
    *,
    generator: str,
    base_scorer: str,
    finetuned: str | None,
    preset: str,
    info: Mapping[str, Any],
) -> Path:
    """Write the folder (module documentation); ``info`` goes into ``adapt.json`` as given."""
    directory.mkdir(parents=True, exist_ok=True)
    scorer = runtime_scorer(comparison, generator, base_scorer, finetuned)
    chosen = comparison.chosen
    if scorer["kind"] == "hybrid":
        assert chosen.combiner is not None
        calibration = HybridCalibration(
            scorer["ref"],
            generator,
            DEFAULT_WINDOW,
            chosen.combiner,
            {"answers": chosen.fit.get("outcome"), "in_sample": True},
            "guardrail adapt",
        )
        write_hybrid(calibration, directory / HYBRID_FILE)
    data = {
        "format": ADAPT_FORMAT,
        **info,
        "generator": generator,
        "scorer": scorer,
        "comparison": comparison.to_dict(),
    }
    (directory / ADAPT_FILE).write_text(json.dumps(data, indent=2) + "\n")
    write_policy(directory, preset, comparison.threshold)
    return directory / ADAPT_FILE
