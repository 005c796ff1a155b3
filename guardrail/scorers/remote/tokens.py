"""The FineCE prompt as token ids and the digit readout from log-probabilities, without torch.

Engines that take token ids (SGLang, vLLM) get exactly the ids the in-process scorer feeds its
model (:class:`~guardrail.scorers.prompt.TokenizedPrompt`), bounded to the same
``max_input_tokens`` (question head, answer tail), so both read the same two
distributions: the first digit (``0`` or ``1``) at the token before the readout ``0.``, and the
tenths digit after it. An engine returns log-probabilities of the ten digit ids there; the
expected value is computed here exactly as :class:`~guardrail.scorers.readout.DigitReadout`
does from logits (a log-softmax differs from the logits by a constant per position, so the
renormalised digit probabilities are the same).

A stream's checkpoints are tokenized incrementally (:class:`StreamWindows`): each tokenizes the
text appended since the stream's last checkpoint, not the answer so far.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from guardrail.calibration import PlattMap
from guardrail.scorers.answer_tokens import AnswerTokens
from guardrail.scorers.prompt import (
    DEFAULT_INSTRUCTION,
    DEFAULT_MAX_INPUT_TOKENS,
    PromptSegments,
    TokenizedPrompt,
)
from guardrail.scorers.readout import DigitReadout
from guardrail.scorers.remote.transport import RemoteScorerError

__all__ = ["PromptTokens", "StreamWindows", "digit_confidence", "load_tokenizer"]


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


class _Stream:
    """One stream's question ids and incrementally tokenized answer."""

    def __init__(self, prompt: TokenizedPrompt, question: str, max_input_tokens: int) -> None:
        self.question = question
        self.question_ids, _ = prompt.bounded_question_ids(question, max_input_tokens // 2)
        self.answer = AnswerTokens(prompt.encoder, max_input_tokens)


class StreamWindows:
    """Per stream id, the tokens of its answer so far (the ``max_streams`` most recent streams).

    A checkpoint whose text does not continue the stream's cached text (another question, an
    edited window) starts the stream afresh; a forgotten stream only costs one full (bounded)
    tokenization.
    """

    def __init__(self, max_streams: int = 256) -> None:
        self.max_streams = max_streams
        self._streams: OrderedDict[str, _Stream] = OrderedDict()
        self._lock = threading.Lock()

    def input_ids(
        self, prompt: TokenizedPrompt, stream: str, question: str, answer: str, bound: int
    ) -> list[int]:
        """The bounded scoring input of ``stream``'s checkpoint (see :meth:`PromptTokens.ids`)."""
        with self._lock:
            state = self._streams.pop(stream, None)
            if state is None or state.question != question or not state.answer.continues(answer):
                state = _Stream(prompt, question, bound)
            self._streams[stream] = state
            while len(self._streams) > self.max_streams:
                self._streams.popitem(last=False)
            state.answer.append(answer[state.answer.length :])
            return prompt.assemble(state.question_ids, state.answer.window())[0]

    def __len__(self) -> int:
        return len(self._streams)


@dataclass(frozen=True, slots=True)
class PromptTokens:
    """Token ids of scoring prompts and the readout digits, for engines that take ids.

    ``max_input_tokens`` bounds every input as it bounds the in-process scorer's.
    """

    prompt: TokenizedPrompt
    readout: DigitReadout
    calibration: PlattMap | None = None
    max_input_tokens: int = DEFAULT_MAX_INPUT_TOKENS
    streams: StreamWindows = field(default_factory=StreamWindows, compare=False, repr=False)

    @classmethod
    def for_tokenizer(
        cls,
        tokenizer: Any,
        *,
        instruction: str = DEFAULT_INSTRUCTION,
        calibration: PlattMap | None = None,
        max_input_tokens: int = DEFAULT_MAX_INPUT_TOKENS,
    ) -> PromptTokens:
        """Segments and digit ids as :class:`~guardrail.scorers.finece.FineCEScorer` has them."""
        segments = PromptSegments.for_tokenizer(tokenizer, instruction)
        return cls(
            prompt=TokenizedPrompt.build(tokenizer, segments),
            readout=DigitReadout.for_tokenizer(tokenizer, segments.readout),
            calibration=calibration,
            max_input_tokens=max_input_tokens,
        )

    @property
    def digit_ids(self) -> tuple[int, ...]:
        """Token ids of ``0`` ... ``9``."""
        return self.readout.digit_ids

    def full_ids(self, question: str, answer: str) -> list[int]:
        """The whole scoring input, ending with the readout ``0.`` (no length limit)."""
        return self.prompt.full_ids(question, answer)

    def ids(self, question: str, answer: str, stream: str | None = None) -> list[int]:
        """The scoring input within ``max_input_tokens``, ending with the readout ``0.``.

        The same ids as the in-process scorer's
        (:meth:`~guardrail.scorers.prompt.TokenizedPrompt.bounded_ids`). With a ``stream`` id,
        only the text appended since that stream's last checkpoint is tokenized.
        """
        if stream is None:
            return self.prompt.bounded_ids(question, answer, self.max_input_tokens)[0]
        return self.streams.input_ids(self.prompt, stream, question, answer, self.max_input_tokens)

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
