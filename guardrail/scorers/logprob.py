"""Scorers that need no training: confidence from the generator's own token logprobs.

``logprob:mean_logprob``, ``logprob:min_window`` (DeepConf's lowest sliding-window confidence)
and ``logprob:mean_entropy`` (:mod:`guardrail.token_signals`) read the logprobs that the
generator returned for the tokens of the answer so far: the monitor hands each streamed token's
OpenAI-shaped logprobs to the session (:meth:`LogprobSession.append_token`). A raw signal is
not a probability of being right, so each generator gets a Platt map
(:mod:`guardrail.scorers.calibrations`, fitted by ``guardrail calibrate``); :meth:`for_model`
picks the map of the guarded model. Without one the raw signal is returned and the scorer's card
reports the model as a mismatch (``scorer_mismatch: true``), so nothing passes silently.

Before the first token the estimate is the calibration's base rate (the graded file's share of
correct answers; 0.5 uncalibrated). An answer streamed without any logprobs cannot be scored:
:meth:`LogprobSession.score` raises :class:`~guardrail.errors.ScorerUnavailableError`, which the
policy's ``on_error`` turns into a decision. Text-only scoring (:meth:`LogprobScorer.score`,
BCI futures) needs ``recompute``: a function that re-derives the tokens' logprobs by a forward
pass of the generator (:class:`~guardrail.generation.LocalGenerator.score_tokens`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from guardrail.entropy import TokenLogprobs, parse_logprobs
from guardrail.errors import GuardrailConfigError, ScorerUnavailableError
from guardrail.scorers.calibrations import ModelCalibration, load_calibrations
from guardrail.scorers.card import ScorerCard, entry_for_model
from guardrail.token_signals import DEFAULT_WINDOW, SIGNAL_NAMES, SignalName, signal_confidence

__all__ = [
    "LOGPROB_PREFIX",
    "LogprobScorer",
    "LogprobSession",
    "Recompute",
    "is_logprob_ref",
    "logprob_card",
    "parse_logprob_ref",
]

LOGPROB_PREFIX = "logprob:"

Recompute = Callable[[str, str], Sequence[TokenLogprobs]]
"""``(question, answer) -> the answer's tokens with their logprobs under the generator``."""

_UNCALIBRATED_PRIOR = 0.5


def is_logprob_ref(ref: str) -> bool:
    """Whether ``ref`` names a training-free ``logprob:`` scorer."""
    return ref.startswith(LOGPROB_PREFIX)


def parse_logprob_ref(ref: str) -> SignalName:
    """The signal of ``logprob:SIGNAL``; an unknown one is an error listing the valid refs."""
    signal = ref.removeprefix(LOGPROB_PREFIX)
    for known in SIGNAL_NAMES:
        if signal == known:
            return known
    valid = ", ".join(f"{LOGPROB_PREFIX}{name}" for name in SIGNAL_NAMES)
    raise GuardrailConfigError(f"unknown logprob scorer {ref!r}; valid: {valid}")


def logprob_card(
    ref: str, calibrations: Mapping[str, ModelCalibration] | None = None
) -> ScorerCard:
    """The card of ``logprob:SIGNAL``: the models it has calibration maps for."""
    parse_logprob_ref(ref)
    maps = load_calibrations(ref) if calibrations is None else calibrations
    summary = {
        "mean_logprob": "exp of the mean token log-probability of the answer so far",
        "min_window": "exp of the lowest mean log-probability over sliding windows of tokens "
        "(DeepConf)",
        "mean_entropy": "exp(-mean top-k entropy) of the answer's tokens",
    }[ref.removeprefix(LOGPROB_PREFIX)]
    return ScorerCard(
        ref=ref,
        kind="logprob",
        summary=f"training-free: {summary}, from the generator's own logprobs",
        generators=tuple(sorted(maps)),
        calibration={
            model: {**c.platt.to_dict(), "window": c.window, **dict(c.fit)}
            for model, c in sorted(maps.items())
        }
        or None,
        notes=(
            "needs the generator's token logprobs (providers: logprobs=True); a model without "
            "a calibration map gets the raw signal and scorer_mismatch=true",
        ),
    )


class LogprobSession:
    """One answer's tokens and logprobs; :meth:`score` applies the signal and calibration."""

    __slots__ = ("_scorer", "_text_tokens", "_tokens")

    def __init__(self, scorer: LogprobScorer) -> None:
        self._scorer = scorer
        self._tokens: list[TokenLogprobs] = []
        self._text_tokens = 0

    def append(self, text: str) -> None:
        """Text that came without logprobs (counted, so a score can say what is missing)."""
        if text:
            self._text_tokens += 1

    def append_token(self, text: str, logprobs: object) -> None:
        """One streamed chunk with its OpenAI-shaped logprobs (``None``: none came)."""
        if not text:
            return
        try:
            entries = parse_logprobs(logprobs)
        except TypeError as exc:
            raise ScorerUnavailableError(
                f"{self._scorer.name}: unreadable logprobs: {exc}"
            ) from exc
        if not entries:
            self._text_tokens += 1
        self._tokens.extend(entries)

    def score(self) -> float:
        """The calibrated signal of the tokens so far (the prior before any token)."""
        return self._scorer.score_tokens(self._tokens, missing=self._text_tokens)

    def entropy(self) -> float | None:
        """``None``: no scorer LM (entropy triggers read the generator's logprobs)."""
        return None

    def close(self) -> None:
        """Forget the tokens."""
        self._tokens.clear()


class LogprobScorer:
    """A training-free confidence from the generator's token logprobs (module docstring).

    ``calibrations`` maps model names to their maps; ``model`` is the guarded model this
    instance applies the map of (set by :meth:`for_model`); ``window`` is ``min_window``'s size.
    """

    def __init__(
        self,
        signal: SignalName,
        *,
        window: int = DEFAULT_WINDOW,
        calibrations: Mapping[str, ModelCalibration] | None = None,
        model: str = "",
        recompute: Recompute | None = None,
    ) -> None:
        if window < 1:
            raise GuardrailConfigError(f"window must be >= 1, got {window}")
        self.signal: SignalName = signal
        self.window = window
        self.calibrations: dict[str, ModelCalibration] = dict(calibrations or {})
        self.model = model
        self.recompute = recompute
        self.calibration = entry_for_model(self.calibrations, model)
        self._card = logprob_card(self.name, self.calibrations)

    @classmethod
    def from_ref(
        cls,
        ref: str,
        *,
        window: int | None = None,
        calibration: str | None = None,
        recompute: Recompute | None = None,
        device: str = "auto",
        **_ignored: object,
    ) -> LogprobScorer:
        """``logprob:SIGNAL`` with the calibration maps of the store (or one ``calibration`` file).

        ``device`` is accepted for the policy's ``scorer.device`` and unused: nothing is loaded.
        """
        from pathlib import Path

        from guardrail.scorers.calibrations import read_calibration

        signal = parse_logprob_ref(ref)
        if calibration is not None:
            one = read_calibration(Path(calibration))
            if one.scorer != ref:
                raise GuardrailConfigError(
                    f"{calibration}: calibration of {one.scorer}, not of {ref}"
                )
            maps = {one.model: one}
        else:
            maps = load_calibrations(ref)
        if window is None:
            windows = {c.window for c in maps.values()}
            window = windows.pop() if len(windows) == 1 else DEFAULT_WINDOW
        return cls(signal, window=window, calibrations=maps, recompute=recompute)

    # ------------------------------------------------------------------ protocol
    @property
    def name(self) -> str:
        """``logprob:SIGNAL``."""
        return f"{LOGPROB_PREFIX}{self.signal}"

    @property
    def card(self) -> ScorerCard:
        """Its card: the models it has calibration maps for."""
        return self._card

    def for_model(self, model: str) -> LogprobScorer:
        """The same scorer applying ``model``'s calibration map (if it has one)."""
        if model == self.model:
            return self
        return LogprobScorer(
            self.signal,
            window=self.window,
            calibrations=self.calibrations,
            model=model,
            recompute=self.recompute,
        )

    def open_session(self, question: str) -> LogprobSession:
        """A session fed token by token (with logprobs) by the monitor."""
        return LogprobSession(self)

    def score(self, question: str, answer: str = "") -> float:
        """Score a text: its logprobs are recomputed (needs ``recompute``)."""
        return self.score_batch([(question, answer)])[0]

    def score_batch(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Score texts by recomputing their logprobs (needs ``recompute``)."""
        if self.recompute is None:
            raise ScorerUnavailableError(
                f"{self.name} scores the generator's own token logprobs and has no model to "
                "recompute them for a bare text: stream the answer through a monitor with its "
                "logprobs, or build the scorer with recompute= (a local generator)"
            )
        return [self.score_tokens(self.recompute(q, a) if a else ()) for q, a in pairs]

    # ------------------------------------------------------------------ internals
    def raw(self, tokens: Sequence[TokenLogprobs]) -> float | None:
        """The uncalibrated signal (``None`` when no token has a logprob)."""
        return signal_confidence(self.signal, tokens, self.window)

    def score_tokens(self, tokens: Sequence[TokenLogprobs], *, missing: int = 0) -> float:
        """The calibrated signal; the prior when there are no tokens at all."""
        value = self.raw(tokens)
        if value is None:
            if missing:
                raise ScorerUnavailableError(
                    f"{self.name} needs the generator's token logprobs, but the {missing} "
                    "token(s) of this answer came without any (ask the provider for "
                    "logprobs=True, or use a trained scorer)"
                )
            return self._prior()
        if self.calibration is None:
            return value
        return float(self.calibration.platt.apply_list([value])[0])

    def _prior(self) -> float:
        if self.calibration is None:
            return _UNCALIBRATED_PRIOR
        rate = self.calibration.base_rate
        return _UNCALIBRATED_PRIOR if rate is None else rate

    def with_calibration(self, calibration: ModelCalibration) -> LogprobScorer:
        """A copy that also knows ``calibration`` (for its model)."""
        return LogprobScorer(
            self.signal,
            window=self.window,
            calibrations={**self.calibrations, calibration.model: calibration},
            model=self.model,
            recompute=self.recompute,
        )

    def __repr__(self) -> str:
        bound = f", model={self.model!r}" if self.model else ""
        return f"LogprobScorer({self.name!r}, window={self.window}{bound})"
