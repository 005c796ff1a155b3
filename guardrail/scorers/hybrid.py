"""Hybrid scorers: a FineCE scorer's readout and the generator's own logprob signals, combined.

In the domain it was trained on, the FineCE readout ranks answers far better than the
generator's token logprobs; outside it, those signals can beat the readout. ``hybrid:REF``
(``REF`` a FineCE scorer reference, e.g. ``hybrid:builtin:finece-smollm2``) feeds both into a
small logistic combiner (:class:`~guardrail.combiner.LogisticCombiner`, features
:data:`~guardrail.combiner.HYBRID_FEATURES`): FineCE's question estimate, its estimate of the
answer so far, and the ``mean_logprob``, ``min_window`` and ``mean_entropy`` signals of the
answer's tokens (raw, uncalibrated: the combiner standardises them).

The combiner is fitted per generator (a signal means something different for every model) by
``guardrail calibrate --scorer hybrid:REF`` on graded answers of that generator which the FineCE
scorer was not trained on (:func:`guardrail.lab.hybrid_fit.fit_hybrid`), and stored as a
:class:`HybridCalibration`: in the calibration store (``hybrid.REF.MODEL.json``) or, for a
scorer artifact, shipped in its ``hybrid/`` folder. :meth:`HybridScorer.for_model` picks the
guarded model's combiner; the card lists the models that have one, so a model without one is a
``scorer_mismatch``.

What a session returns:

* before any answer token: FineCE's question estimate (the combiner needs the answer's tokens);
* with tokens and a combiner: the combined estimate; the tokens must carry logprobs (ask the
  provider for ``logprobs=True``), else :class:`~guardrail.errors.ScorerUnavailableError`,
  which the policy's ``on_error`` decides on, as for a ``logprob:`` scorer;
* without a combiner for the model: FineCE's own estimate (and the run says
  ``scorer_mismatch: true``).

Text-only scoring (:meth:`HybridScorer.score_batch`: BCI futures, within-question evaluation)
re-derives the tokens' logprobs with ``recompute`` (a local generator's forward pass).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guardrail.combiner import HYBRID_FEATURES, LogisticCombiner
from guardrail.entropy import TokenLogprobs, parse_logprobs
from guardrail.errors import GuardrailConfigError, ScorerUnavailableError
from guardrail.scorers.base import Scorer, ScoringSession
from guardrail.scorers.calibrations import (
    CALIBRATION_FORMAT,
    calibration_store,
    model_slug,
    read_store_file,
    write_store_file,
)
from guardrail.scorers.card import ScorerCard, card_of, entry_for_model
from guardrail.scorers.logprob import Recompute
from guardrail.token_signals import SIGNAL_NAMES, signal_confidence

__all__ = [
    "HYBRID_PREFIX",
    "HybridCalibration",
    "HybridScorer",
    "HybridSession",
    "hybrid_card",
    "hybrid_inputs",
    "is_hybrid_ref",
    "load_hybrids",
    "parse_hybrid_ref",
    "read_hybrid",
    "write_hybrid",
]

HYBRID_PREFIX = "hybrid:"


def is_hybrid_ref(ref: str) -> bool:
    """Whether ``ref`` names a hybrid scorer (``hybrid:REF``)."""
    return ref.startswith(HYBRID_PREFIX)


def parse_hybrid_ref(ref: str) -> str:
    """The FineCE scorer reference inside ``hybrid:REF``; a bad one is an error that says why."""
    inner = ref.removeprefix(HYBRID_PREFIX).strip()
    if not is_hybrid_ref(ref) or not inner:
        raise GuardrailConfigError(
            f"{ref!r} is not a hybrid scorer reference: expected hybrid:REF with REF a FineCE "
            "scorer (e.g. hybrid:builtin:finece-smollm2)"
        )
    if is_hybrid_ref(inner) or inner.startswith("logprob:"):
        raise GuardrailConfigError(
            f"{ref!r}: the scorer inside hybrid: must be a FineCE scorer, not {inner!r}"
        )
    return inner


# --------------------------------------------------------------------------- storage
@dataclass(frozen=True, slots=True)
class HybridCalibration:
    """The combiner of one hybrid scorer for one generator, and how it was fitted."""

    scorer: str
    model: str
    window: int
    combiner: LogisticCombiner
    fit: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "format": CALIBRATION_FORMAT,
            "scorer": self.scorer,
            "model": self.model,
            "window": self.window,
            "combiner": self.combiner.to_dict(),
            "fit": dict(self.fit),
            "source": self.source,
        }


def _file_name(scorer: str, model: str) -> str:
    return f"hybrid.{model_slug(parse_hybrid_ref(scorer))}.{model_slug(model)}.json"


def write_hybrid(calibration: HybridCalibration, path: Path | None = None) -> Path:
    """Write ``calibration`` to ``path`` (default: the calibration store); return the path."""
    if path is None:
        path = calibration_store() / _file_name(calibration.scorer, calibration.model)
    return write_store_file(path, calibration.to_dict())


def read_hybrid(path: Path) -> HybridCalibration:
    """Read one combiner file; a clear error names the file and the bad field."""
    data, window, fit = read_store_file(path, "hybrid combiner")
    if not is_hybrid_ref(data["scorer"]):
        raise GuardrailConfigError(f"{path}: scorer: expected hybrid:REF, got {data['scorer']!r}")
    combiner = LogisticCombiner.from_dict(data.get("combiner") or {}, where=f"{path}: combiner")
    if combiner.features != HYBRID_FEATURES:
        raise GuardrailConfigError(
            f"{path}: combiner: features {list(combiner.features)}, expected "
            f"{list(HYBRID_FEATURES)}"
        )
    return HybridCalibration(
        data["scorer"], data["model"], window, combiner, fit, str(data.get("source", ""))
    )


def _shipped_folder(inner: str) -> Path | None:
    """The ``hybrid/`` folder of a scorer artifact (built-in or a local directory), if any."""
    if inner.startswith("builtin:"):
        from guardrail.models.artifacts import builtin_artifact_path

        artifact = builtin_artifact_path(inner.removeprefix("builtin:"))
    else:
        candidate = Path(inner).expanduser()
        artifact = candidate if (candidate / "finece.json").is_file() else None
    folder = None if artifact is None else artifact / "hybrid"
    return folder if folder is not None and folder.is_dir() else None


def load_hybrids(ref: str, folder: Path | None = None) -> dict[str, HybridCalibration]:
    """Every combiner of ``ref`` by model: the artifact's shipped ones, then the store's.

    A combiner in the store (or ``folder``) replaces a shipped one for the same model.
    """
    inner = parse_hybrid_ref(ref)
    found: dict[str, HybridCalibration] = {}
    shipped = _shipped_folder(inner)
    if shipped is not None:
        for path in sorted(shipped.glob("*.json")):
            calibration = read_hybrid(path)
            found[calibration.model] = calibration
    root = calibration_store() if folder is None else folder
    for path in sorted(root.glob(f"hybrid.{model_slug(inner)}.*.json")):
        calibration = read_hybrid(path)
        if calibration.scorer == ref:
            found[calibration.model] = calibration
    return found


# --------------------------------------------------------------------------- features
def hybrid_inputs(
    question: float, current: float, tokens: Sequence[TokenLogprobs], window: int
) -> dict[str, float] | None:
    """The combiner's inputs: FineCE's question and current estimates, and the raw signals.

    ``None`` when no token carries a logprob (no signal can be computed).
    """
    values = {"finece_question": question, "finece_outcome": current}
    for name in SIGNAL_NAMES:
        value = signal_confidence(name, tokens, window)
        if value is None:
            return None
        values[name] = value
    return values


def hybrid_card(
    ref: str, finece_card: ScorerCard | None, combiners: Mapping[str, HybridCalibration]
) -> ScorerCard:
    """The card of ``hybrid:REF``: the FineCE scorer's, with the models that have a combiner."""
    inner = parse_hybrid_ref(ref)
    fitted = {
        model: {
            "window": c.window,
            "weights": dict(zip(c.combiner.features, c.combiner.coef, strict=True)),
            **{
                k: c.fit[k]
                for k in ("questions", "answers", "correct", "auroc", "brier")
                if k in c.fit
            },
            **({"source": c.source} if c.source else {}),
        }
        for model, c in sorted(combiners.items())
    }
    return ScorerCard(
        ref=ref,
        kind="hybrid",
        summary=f"FineCE scorer {inner} and the generator's logprob signals, combined by a "
        "logistic combiner fitted per generator",
        base_model=None if finece_card is None else finece_card.base_model,
        generators=tuple(sorted(combiners)),
        task_families=() if finece_card is None else finece_card.task_families,
        calibration=fitted or None,
        notes=(
            "needs the generator's token logprobs (providers: logprobs=True); a model without "
            "a combiner (`guardrail calibrate --scorer " + ref + "`) gets the FineCE estimate "
            "alone and scorer_mismatch=true",
            "generators: the models with a combiner (calibration: its in-sample fit); the "
            "FineCE scorer's training generators and its dev and held-out figures are in "
            "`guardrail scorer info " + inner + "`",
        ),
    )


# --------------------------------------------------------------------------- scorer
class HybridSession:
    """One answer: the FineCE session, the streamed tokens' logprobs, the question estimate."""

    __slots__ = ("_fed", "_question", "_question_estimate", "_scorer", "_session", "_tokens")

    def __init__(self, scorer: HybridScorer, question: str) -> None:
        self._scorer = scorer
        self._question = question
        self._session: ScoringSession = scorer.finece.open_session(question)
        self._tokens: list[TokenLogprobs] = []
        self._fed = 0  # chunks of answer text, with or without logprobs
        self._question_estimate: float | None = None

    @property
    def truncated_tokens(self) -> int:
        """What the FineCE session's last score left out of the answer."""
        return int(getattr(self._session, "truncated_tokens", 0))

    def append(self, text: str) -> None:
        """Answer text that came without logprobs."""
        if text:
            self._session.append(text)
            self._fed += 1

    def append_token(self, text: str, logprobs: object) -> None:
        """One streamed chunk with its OpenAI-shaped logprobs (``None``: none came)."""
        if not text:
            return
        self._session.append(text)
        self._fed += 1
        try:
            self._tokens.extend(parse_logprobs(logprobs))
        except TypeError as exc:
            raise ScorerUnavailableError(
                f"{self._scorer.name}: unreadable logprobs: {exc}"
            ) from exc

    def score(self) -> float:
        """The combined estimate of the answer so far (module documentation)."""
        current = float(self._session.score())
        if self._question_estimate is None:
            self._question_estimate = (
                current if self._fed == 0 else float(self._scorer.finece.score(self._question))
            )
        if self._fed == 0:
            return self._question_estimate
        return self._scorer.combine(self._question_estimate, current, self._tokens)

    def entropy(self) -> float | None:
        """The FineCE scorer's entropy (entropy triggers)."""
        return self._session.entropy()

    def close(self) -> None:
        """Close the FineCE session and forget the tokens."""
        self._tokens.clear()
        self._session.close()


class HybridScorer:
    """``hybrid:REF``: a FineCE scorer and logprob signals, combined (module documentation).

    ``calibrations`` maps model names to their combiners; ``model`` is the guarded model this
    instance applies the combiner of (:meth:`for_model`).
    """

    def __init__(
        self,
        finece: Scorer,
        ref: str,
        *,
        calibrations: Mapping[str, HybridCalibration] | None = None,
        model: str = "",
        recompute: Recompute | None = None,
    ) -> None:
        parse_hybrid_ref(ref)
        self.finece = finece
        self.ref = ref
        self.calibrations: dict[str, HybridCalibration] = dict(calibrations or {})
        self.model = model
        self.recompute = recompute
        self.calibration = entry_for_model(self.calibrations, model)
        self._card = hybrid_card(ref, card_of(finece), self.calibrations)

    @classmethod
    def from_ref(
        cls,
        ref: str,
        finece: Scorer,
        *,
        calibration: str | None = None,
        recompute: Recompute | None = None,
    ) -> HybridScorer:
        """``hybrid:REF`` on the loaded FineCE scorer ``REF``, with its combiners.

        The combiners are the artifact's shipped ones and the calibration store's, or only
        ``calibration`` (one combiner file). :func:`guardrail.scorers.create_scorer` loads
        ``finece`` and calls this.
        """
        if calibration is not None:
            one = read_hybrid(Path(calibration))
            if one.scorer != ref:
                raise GuardrailConfigError(f"{calibration}: combiner of {one.scorer}, not of {ref}")
            maps = {one.model: one}
        else:
            maps = load_hybrids(ref)
        return cls(finece, ref, calibrations=maps, recompute=recompute)

    @property
    def name(self) -> str:
        """``hybrid:REF``."""
        return self.ref

    @property
    def card(self) -> ScorerCard:
        """Its card: the models with a combiner."""
        return self._card

    def for_model(self, model: str) -> HybridScorer:
        """The same scorer applying ``model``'s combiner (if it has one)."""
        if model == self.model:
            return self
        return HybridScorer(
            self.finece,
            self.ref,
            calibrations=self.calibrations,
            model=model,
            recompute=self.recompute,
        )

    def open_session(self, question: str) -> HybridSession:
        """A session fed token by token (with logprobs) by the monitor."""
        return HybridSession(self, question)

    def score(self, question: str, answer: str = "") -> float:
        """Score a text (its logprobs recomputed: needs ``recompute``)."""
        return self.score_batch([(question, answer)])[0]

    def score_batch(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Score texts: FineCE in batches, logprobs recomputed (needs ``recompute``)."""
        if not pairs:
            return []
        questions = sorted({q for q, _ in pairs})
        asked = self.finece.score_batch([(q, "") for q in questions])
        estimate = dict(zip(questions, asked, strict=True))
        answered = [(q, a) for q, a in pairs if a]
        current = iter(self.finece.score_batch(answered) if answered else [])
        results = []
        for question, answer in pairs:
            if not answer:
                results.append(estimate[question])
                continue
            value = next(current)
            if self.calibration is None:
                results.append(value)
                continue
            if self.recompute is None:
                raise ScorerUnavailableError(
                    f"{self.name} reads the generator's token logprobs and has no model to "
                    "recompute them for a bare text: stream the answer through a monitor with "
                    "its logprobs, or build the scorer with recompute= (a local generator)"
                )
            tokens = self.recompute(question, answer)
            results.append(self.combine(estimate[question], value, tokens))
        return results

    def combine(self, question: float, current: float, tokens: Sequence[TokenLogprobs]) -> float:
        """The combined estimate (FineCE's ``current`` when the model has no combiner)."""
        calibration = self.calibration
        if calibration is None:
            return current
        values = hybrid_inputs(question, current, tokens, calibration.window)
        if values is None:
            raise ScorerUnavailableError(
                f"{self.name} needs the generator's token logprobs, but this answer's tokens "
                "came without any (ask the provider for logprobs=True, or use a FineCE scorer)"
            )
        return calibration.combiner.predict(values)

    def __repr__(self) -> str:
        bound = f", model={self.model!r}" if self.model else ""
        return f"HybridScorer({self.ref!r}{bound})"
