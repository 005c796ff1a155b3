"""Confidence scorers: the protocol, the registry of backends, and the FineCE scorer.

Backends are registered explicitly in :data:`SCORER_BACKENDS`; :func:`create_scorer` builds one
by name and an unknown name is an error listing the valid ones. Importing this package does not
import torch: backends load lazily.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from guardrail.errors import GuardrailConfigError
from guardrail.scorers.base import ModelBoundScorer, Scorer, ScoringSession

if TYPE_CHECKING:
    from guardrail.policy.schema import ScorerSettings

__all__ = [
    "SCORER_BACKENDS",
    "Scorer",
    "ScoringSession",
    "create_scorer",
    "create_text_scorer",
    "reads_generator_logprobs",
    "scorer_for_settings",
]


def _finece(model: str, **options: Any) -> Scorer:
    from guardrail.scorers.finece import FineCEScorer

    return FineCEScorer.from_ref(model, **options)


def _value_head(model: str, **options: Any) -> Scorer:
    from guardrail.scorers.value_head import ValueHeadScorer

    return ValueHeadScorer.from_ref(model, **options)


def _remote(model: str, **options: Any) -> Scorer:
    from guardrail.scorers.remote import remote_scorer

    return remote_scorer(model, **options)


def _logprob(model: str, **options: Any) -> Scorer:
    from guardrail.scorers.logprob import LogprobScorer

    return LogprobScorer.from_ref(model, **options)


def _hybrid(
    model: str, *, calibration: str | None = None, recompute: Any = None, **options: Any
) -> Scorer:
    from guardrail.scorers.hybrid import HybridScorer, parse_hybrid_ref

    finece = create_scorer(parse_hybrid_ref(model), **options)
    return HybridScorer.from_ref(model, finece, calibration=calibration, recompute=recompute)


def _adapted(model: str, **options: Any) -> Scorer:
    from guardrail.scorers.adapted import load_adapted

    return load_adapted(model, **options)


SCORER_BACKENDS: dict[str, Callable[..., Scorer]] = {
    "finece": _finece,
    "value_head": _value_head,
    "remote": _remote,  # a scorer service: options url=, engine=, adapter=
    "logprob": _logprob,
    "hybrid": _hybrid,  # hybrid:REF, a FineCE scorer and logprob signals; options go to REF
    "adapted": _adapted,  # a folder written by `guardrail adapt` (adapt.json)
}


def reads_generator_logprobs(ref: str) -> bool:
    """Whether the scorer ``ref`` names reads the generator's token logprobs.

    ``logprob:SIGNAL`` and ``hybrid:REF`` do, and a ``guardrail adapt`` folder that chose one
    of them: a guarded call then asks the provider for them.
    """
    if ref.startswith(("logprob:", "hybrid:")):
        return True
    from guardrail.scorers.adapted import adapted_inner_ref, is_adapted_dir

    if is_adapted_dir(ref):
        from pathlib import Path

        return adapted_inner_ref(Path(ref).expanduser()).startswith(("logprob:", "hybrid:"))
    return False


def create_scorer(model: str, *, backend: str = "auto", **options: Any) -> Scorer:
    """Build a scorer: ``backend`` names the method, ``model`` the model reference it loads.

    ``auto`` picks ``logprob`` for ``logprob:SIGNAL`` references (training-free scorers on the
    generator's logprobs), ``hybrid`` for ``hybrid:REF`` (a FineCE scorer and those signals,
    combined), ``adapted`` for a folder written by ``guardrail adapt``, reads a scorer
    artifact's ``finece.json`` (its ``kind``) and otherwise uses the instruction-prompt
    ``finece`` backend.
    """
    if backend == "auto":
        backend = _artifact_kind(model)
    try:
        factory = SCORER_BACKENDS[backend]
    except KeyError:
        valid = ", ".join(sorted(SCORER_BACKENDS))
        raise GuardrailConfigError(f"unknown scorer backend {backend!r}; valid: {valid}") from None
    return factory(model, **options)


Prompt = Sequence[dict[str, str]] | str  # chat messages, or a plain-text prompt


class LogprobSource(Protocol):
    """A generator that can give the logprobs of an answer's tokens after a prompt."""

    def token_logprobs(self, messages: Prompt, answer: str) -> list[Any]: ...


def create_text_scorer(
    model: str,
    *,
    generator: str | None,
    load_generator: Callable[[], LogprobSource],
    prompt: Callable[[str], Prompt],
    **options: Any,
) -> Scorer:
    """A scorer for finished answers given as text (evaluations, benchmarks, reports).

    A stream carries its tokens' logprobs; a text answer does not, so a scorer that reads them
    (``logprob:``, ``hybrid:``) gets them from a forward pass of the generator over
    ``prompt(question)`` and the answer (``load_generator`` is called only then), and is bound
    to ``generator``'s calibration map or combiner.
    """
    if reads_generator_logprobs(model):
        source = load_generator()

        def recompute(question: str, answer: str) -> list[Any]:
            return source.token_logprobs(prompt(question), answer)

        options["recompute"] = recompute
    scorer = create_scorer(model, **options)
    if isinstance(scorer, ModelBoundScorer) and generator:
        scorer = scorer.for_model(generator)
    return scorer


def _artifact_kind(model: str) -> str:
    if model.startswith("logprob:"):
        return "logprob"
    if model.startswith("hybrid:"):
        return "hybrid"
    from guardrail.scorers.adapted import is_adapted_dir

    if is_adapted_dir(model):
        return "adapted"
    import json
    from pathlib import Path

    from guardrail.models.artifacts import builtin_artifact_path

    path = (
        builtin_artifact_path(model.removeprefix("builtin:"))
        if model.startswith("builtin:")
        else Path(model)
    )
    meta = path / "finece.json" if path is not None else None
    if meta is not None and meta.is_file():
        kind = json.loads(meta.read_text()).get("kind", "ift")
        return "value_head" if kind == "value_head" else "finece"
    return "finece"


def scorer_for_settings(settings: ScorerSettings) -> Scorer:
    """The scorer a policy's ``scorer:`` section names: in process, or a service at ``url``."""
    if settings.url is not None:
        return create_scorer(
            settings.model,
            backend="remote",
            url=settings.url,
            engine=settings.engine,
            adapter=settings.adapter,
            latency_budget_s=settings.latency_budget_s,
            headers=settings.headers,
            api_key_env=settings.api_key_env,
            max_input_tokens=settings.max_input_tokens,
        )
    return create_scorer(
        settings.model, device=settings.device, max_input_tokens=settings.max_input_tokens
    )
