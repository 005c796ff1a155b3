"""The card of any scorer reference, read from metadata only (no model is loaded).

Apart from :mod:`guardrail.scorers.card` because it knows every kind of scorer, the
training-free ``logprob:`` ones included (which build their cards on that module).
"""

from __future__ import annotations

from pathlib import Path

from guardrail.errors import GuardrailConfigError
from guardrail.scorers.card import ScorerCard, card_for_artifact
from guardrail.scorers.logprob import logprob_card

__all__ = ["card_for_ref"]


def card_for_ref(ref: str) -> ScorerCard:
    """The card of any scorer reference, read from metadata only (no model is loaded).

    ``logprob:SIGNAL`` -- a training-free scorer and its calibration maps; ``hybrid:REF`` -- a
    FineCE scorer combined with them, and the models with a combiner; a folder written by
    ``guardrail adapt`` -- its generator, data, candidates and choice; ``builtin:NAME`` --
    a shipped scorer artifact, or a built-in model used untrained; a local directory with
    ``finece.json`` -- a trained artifact; anything else -- a model used untrained.
    """
    if ref.startswith("logprob:"):
        return logprob_card(ref)
    if ref.startswith("hybrid:"):
        from guardrail.scorers.hybrid import hybrid_card, load_hybrids, parse_hybrid_ref

        return hybrid_card(ref, card_for_ref(parse_hybrid_ref(ref)), load_hybrids(ref))
    if ref.startswith("builtin:"):
        from guardrail.models.artifacts import builtin_artifact_path
        from guardrail.models.builtin import BUILTIN_MODELS

        name = ref.removeprefix("builtin:")
        artifact = builtin_artifact_path(name)
        if artifact is not None:
            return card_for_artifact(ref, artifact)
        if name not in BUILTIN_MODELS:
            valid = sorted(
                [f"builtin:{n}" for n in BUILTIN_MODELS]
                + [f"builtin:{p.name}" for p in _artifact_dirs()]
            )
            raise GuardrailConfigError(
                f"unknown built-in scorer {ref!r}; valid: {', '.join(valid)}"
            )
        return _untrained(ref, BUILTIN_MODELS[name].description)
    path = Path(ref).expanduser()
    from guardrail.scorers.adapted import ADAPT_FILE, adapted_card

    if (path / ADAPT_FILE).is_file():
        return adapted_card(ref, path)
    if (path / "finece.json").is_file():
        return card_for_artifact(ref, path)
    return ScorerCard(
        ref=ref,
        kind="finece",
        summary=f"the model {ref} asked with the FineCE instruction prompt",
        base_model=ref,
        generators=None,
        notes=(
            "no finece.json: what it was trained on is not recorded, so scorer_mismatch "
            "cannot be checked",
        ),
    )


def _artifact_dirs() -> list[Path]:
    from guardrail.models.artifacts import builtin_artifact_path

    root = Path(__file__).resolve().parent.parent / "_artifacts"
    return [p for p in sorted(root.iterdir()) if builtin_artifact_path(p.name) is not None]


def _untrained(ref: str, what: str) -> ScorerCard:
    return ScorerCard(
        ref=ref,
        kind="untrained",
        summary=f"{what}, asked with the FineCE instruction prompt, never trained on labels",
        base_model=ref,
        generators=(),
        notes=(
            "no confidence training: every guarded model is a mismatch; train a scorer "
            "(`guardrail data build`, `guardrail train`) or use a logprob: scorer",
        ),
    )
