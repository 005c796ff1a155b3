"""The FineCE prompt as token ids and the digit readout from log-probabilities, without torch.

Engines that take token ids (SGLang, vLLM) get exactly the ids the in-process scorer feeds its
model (:class:`~guardrail.scorers.prompt.TokenizedPrompt`), so both read the same two
distributions: the first digit (``0`` or ``1``) at the token before the readout ``0.``, and the
tenths digit after it. An engine returns log-probabilities of the ten digit ids there; the
expected value is computed here exactly as :class:`~guardrail.scorers.readout.DigitReadout`
does from logits (a log-softmax differs from the logits by a constant per position, so the
renormalised digit probabilities are the same).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from guardrail.calibration import PlattMap
from guardrail.scorers.prompt import DEFAULT_INSTRUCTION, PromptSegments, TokenizedPrompt
from guardrail.scorers.readout import DigitReadout
from guardrail.scorers.remote.transport import RemoteScorerError

__all__ = ["PromptTokens", "digit_confidence", "load_tokenizer"]


def digit_confidence(
    first: Mapping[int, float], tenths: Mapping[int, float], digit_ids: Sequence[int]
) -> float:
    """Expected confidence from log-probabilities of the digit ids at the two readout positions.

    ``first`` must hold the ids of ``0`` and ``1``; ``tenths`` at least one digit (a digit an
    engine left out of a top-k list counts as probability 0).
    """
    zero, one = digit_ids[0], digit_ids[1]
    if zero not in first or one not in first:
        raise RemoteScorerError(
            f"the engine returned no log-probability for the digit ids {zero} and {one} at the "
            f"first readout position (got ids {sorted(first)[:12]})"
        )
    p_one = _softmax([first[zero], first[one]])[1]
    present = [(d, tenths[i]) for d, i in enumerate(digit_ids) if i in tenths]
    if not present:
        raise RemoteScorerError("the engine returned no digit log-probability after '0.'")
    weights = _softmax([lp for _, lp in present])
    below_one = sum(w * d / 10.0 for w, (d, _) in zip(weights, present, strict=True))
    return min(1.0, max(0.0, p_one + (1.0 - p_one) * below_one))


def _softmax(logprobs: Sequence[float]) -> list[float]:
    finite = [lp for lp in logprobs if math.isfinite(lp)]
    if not finite:
        raise RemoteScorerError(f"the engine returned no finite log-probability: {logprobs}")
    top = max(finite)
    exps = [math.exp(lp - top) if math.isfinite(lp) else 0.0 for lp in logprobs]
    total = sum(exps)
    return [e / total for e in exps]


@dataclass(frozen=True, slots=True)
class PromptTokens:
    """Token ids of scoring prompts and the readout digits, for engines that take ids."""

    prompt: TokenizedPrompt
    readout: DigitReadout
    calibration: PlattMap | None = None

    @classmethod
    def for_tokenizer(
        cls,
        tokenizer: Any,
        *,
        instruction: str = DEFAULT_INSTRUCTION,
        calibration: PlattMap | None = None,
    ) -> PromptTokens:
        """Segments and digit ids as :class:`~guardrail.scorers.finece.FineCEScorer` has them."""
        segments = PromptSegments.for_tokenizer(tokenizer, instruction)
        return cls(
            prompt=TokenizedPrompt.build(tokenizer, segments),
            readout=DigitReadout.for_tokenizer(tokenizer, segments.readout),
            calibration=calibration,
        )

    @property
    def digit_ids(self) -> tuple[int, ...]:
        """Token ids of ``0`` ... ``9``."""
        return self.readout.digit_ids

    def full_ids(self, question: str, answer: str) -> list[int]:
        """The scoring input, ending with the readout ``0.``."""
        return self.prompt.full_ids(question, answer)

    def confidence(self, first: Mapping[int, float], tenths: Mapping[int, float]) -> float:
        """The (calibrated, if a map is set) confidence from the two readout positions."""
        value = digit_confidence(first, tenths, self.digit_ids)
        if self.calibration is not None:
            return float(self.calibration.apply_list([value])[0])
        return value


def load_tokenizer(ref: str) -> Any:
    """The tokenizer of the model ``ref`` names (an adapter artifact's base model's)."""
    from guardrail._optional import require_local

    require_local()
    from transformers import AutoTokenizer

    from guardrail.models.loader import base_model_ref, resolve_model_path

    location = resolve_model_path(base_model_ref(ref))
    tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
