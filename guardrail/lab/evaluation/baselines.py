"""Baseline confidences computed on the same answers as FineCE.

From the generator's per-token logprobs, recorded while the answer was generated (the math
lives in :mod:`guardrail.token_signals`, shared with the ``logprob:`` scorers):

* ``mean_logprob``: ``exp`` of the mean token log-probability (geometric-mean probability);
* ``min_window``: DeepConf-style lowest group confidence, ``exp`` of the smallest mean
  log-probability over sliding windows of ``window`` tokens (one window if the answer is shorter);
* ``mean_entropy``: ``exp(-H)`` for the mean truncated top-k entropy ``H`` (nats) of the tokens
  (:mod:`guardrail.entropy`);
* ``first_token``: the probability of the answer's first generated token.

By asking the generator itself: ``p_true`` (one forward pass on "Is the proposed answer
correct? Answer True or False", ``p(True) / (p(True) + p(False))`` over the first token of each
word) and ``verbalized`` (the model's reply is started with ``Confidence (0-100):`` and must go on
with a number; ``None`` when it does not, counted as missing). From sampled answers:
``self_consistency``, the share of ``m`` answers sampled at a high temperature whose final answer
agrees with the evaluated one (checked with the task's checker).

An answer with no tokens has no logprob baselines (``None``: counted as missing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Protocol

from guardrail.entropy import TokenLogprobs
from guardrail.generation import PromptFormatChoice, continue_prompt, render_prompt
from guardrail.lab.tasks import (
    GSM8KTask,
    MultipleChoiceTask,
    ShortAnswerTask,
    SyntheticArithmeticTask,
    Task,
    extract_choice,
    extract_numeric_answer,
    extract_short_answer,
)
from guardrail.lab.tasks.facts import FactChoiceTask, FactsTask
from guardrail.lab.tasks.table import TableLookupTask
from guardrail.lab.tasks.units import UnitConversionTask
from guardrail.token_signals import (
    first_token_probability,
    mean_logprob_confidence,
    min_window_confidence,
)
from guardrail.token_signals import mean_entropy_confidence as _mean_entropy

__all__ = [
    "BASELINE_NAMES",
    "P_TRUE_PROMPT",
    "TOKEN_BASELINES",
    "VERBALIZED_PREFIX",
    "VERBALIZED_PROMPT",
    "LoggedToken",
    "final_answer",
    "first_token_probability",
    "mean_entropy_confidence",
    "mean_logprob_confidence",
    "min_window_confidence",
    "p_true",
    "parse_verbalized",
    "self_consistency",
    "token_baselines",
    "verbalized_confidence",
]

TOKEN_BASELINES: tuple[str, ...] = ("mean_logprob", "min_window", "mean_entropy", "first_token")
BASELINE_NAMES: tuple[str, ...] = (*TOKEN_BASELINES, "p_true", "verbalized", "self_consistency")
"""Every baseline, in report order."""

P_TRUE_PROMPT = (
    "Question: {question}\nProposed answer: {answer}\n"
    "Is the proposed answer correct? Answer True or False."
)
VERBALIZED_PROMPT = (
    "Question: {question}\nProposed answer: {answer}\n"
    "How confident are you that the proposed answer is correct? "
    "Reply with one number from 0 to 100."
)
VERBALIZED_PREFIX = "Confidence (0-100): "
"""Start of the assistant's reply to :data:`VERBALIZED_PROMPT`: the model continues with it."""


class LoggedToken(Protocol):
    """One generated token with its logprobs (:class:`guardrail.generation.TokenStep`)."""

    @property
    def token(self) -> str:
        """The token's text."""
        ...

    @property
    def logprob(self) -> float:
        """Its log-probability under the generator."""
        ...

    @property
    def top_logprobs(self) -> tuple[tuple[str, float], ...]:
        """The most likely alternatives ``(token, logprob)``."""
        ...


# ----------------------------------------------------------------- token-level
def mean_entropy_confidence(tokens: Sequence[LoggedToken]) -> float | None:
    """``exp(-mean truncated top-k entropy)`` of the tokens; ``None`` for no tokens."""
    return _mean_entropy([TokenLogprobs(t.token, t.logprob, tuple(t.top_logprobs)) for t in tokens])


def token_baselines(tokens: Sequence[LoggedToken], window: int = 16) -> dict[str, float | None]:
    """Every logprob baseline of :data:`TOKEN_BASELINES` for one answer."""
    logprobs = [float(t.logprob) for t in tokens]
    return {
        "mean_logprob": mean_logprob_confidence(logprobs),
        "min_window": min_window_confidence(logprobs, window),
        "mean_entropy": mean_entropy_confidence(tokens),
        "first_token": first_token_probability(logprobs),
    }


# -------------------------------------------------------------- asking the model
def _first_token_ids(tokenizer: Any, words: Sequence[str]) -> set[int]:
    ids = set()
    for word in words:
        encoded = tokenizer(word, add_special_tokens=False)["input_ids"]
        if encoded:
            ids.add(int(encoded[0]))
    return ids


def p_true(
    model: Any,
    tokenizer: Any,
    question: str,
    answer: str,
    *,
    prompt_format: PromptFormatChoice = "chat",
) -> float | None:
    """``p(True) / (p(True) + p(False))`` for the next token after the P(True) prompt.

    Tokens that start both words (a shared leading space in a character tokenizer) count for
    neither; ``None`` if that leaves a word without a token. ``prompt_format`` renders the
    prompt (:func:`guardrail.generation.render_prompt`; ``plain`` for a base model).
    """
    import torch

    prompt = render_prompt(
        tokenizer,
        [{"role": "user", "content": P_TRUE_PROMPT.format(question=question, answer=answer)}],
        prompt_format,
    )
    true_ids = _first_token_ids(tokenizer, ("True", " True"))
    false_ids = _first_token_ids(tokenizer, ("False", " False"))
    true_ids, false_ids = true_ids - false_ids, false_ids - true_ids
    if not true_ids or not false_ids:
        return None
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    device = next(model.parameters()).device
    with torch.inference_mode():
        logits = model(input_ids=ids.to(device), logits_to_keep=1).logits[0, -1].float().cpu()
    probs = torch.softmax(logits, dim=-1)
    yes = float(probs[sorted(true_ids)].sum())
    no = float(probs[sorted(false_ids)].sum())
    return yes / (yes + no) if yes + no > 0.0 else None


_LEADING_NUMBER_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(%?)")


def parse_verbalized(text: str) -> float | None:
    """The number ``text`` starts with, as a probability; ``None`` if it starts otherwise.

    ``80``, ``80%`` and ``80.5`` are read on the 0-100 scale that was asked for; a number with a
    decimal point and at most 1 (``0.8``) as a probability. Above 100: ``None``. Only a leading
    number counts, so a reply that restates the answer ("The answer is 2.") is not read as 2%.
    """
    match = _LEADING_NUMBER_RE.match(text)
    if match is None:
        return None
    number, percent = match.group(1), match.group(2)
    value = float(number)
    if "." in number and value <= 1.0 and not percent:
        return value
    return value / 100.0 if value <= 100.0 else None


def verbalized_confidence(
    generator: Any,
    question: str,
    answer: str,
    max_new_tokens: int = 8,
    *,
    prompt_format: PromptFormatChoice = "chat",
) -> float | None:
    """Ask ``generator`` for a 0-100 confidence, greedily, its reply started for it.

    ``generator`` has a ``tokenizer`` (for the chat template) and ``generate(prompt, **options)``
    taking a raw prompt string (:class:`~guardrail.generation.LocalGenerator`);
    ``prompt_format`` renders the question (``plain`` for a base model).
    """
    content = VERBALIZED_PROMPT.format(question=question, answer=answer)
    chat = render_prompt(generator.tokenizer, [{"role": "user", "content": content}], prompt_format)
    text = generator.generate(
        continue_prompt(chat, VERBALIZED_PREFIX), max_new_tokens=max_new_tokens, temperature=0.0
    )
    return parse_verbalized(str(text))


# ------------------------------------------------------------- self-consistency
def _numeric_key(completion: str) -> str | None:
    value = extract_numeric_answer(completion)
    return None if value is None else format(value.normalize() + Decimal(0), "f")


def _short_key(completion: str) -> str | None:
    return extract_short_answer(completion) or None


_ANSWER_KEYS: Mapping[type, Callable[[str], str | None]] = {
    GSM8KTask: _numeric_key,
    SyntheticArithmeticTask: _numeric_key,
    UnitConversionTask: _numeric_key,
    MultipleChoiceTask: extract_choice,
    FactChoiceTask: extract_choice,
    ShortAnswerTask: _short_key,
    FactsTask: _short_key,
    TableLookupTask: _short_key,
}


def final_answer(task: Task, completion: str) -> str | None:
    """The final answer stated in ``completion`` (``None`` if none), as a reference string.

    Uses ``task.extract_answer`` when the task has one, else the extractor of its built-in
    type; a task of another type raises :class:`TypeError`.
    """
    extract = getattr(task, "extract_answer", None)
    if callable(extract):
        value = extract(completion)
        return None if value is None else str(value)
    for cls in type(task).__mro__:
        if cls in _ANSWER_KEYS:
            return _ANSWER_KEYS[cls](completion)
    raise TypeError(f"no final-answer extractor for task type {type(task).__name__}")


def self_consistency(task: Task, completion: str, samples: Sequence[str]) -> float | None:
    """Share of ``samples`` whose final answer passes ``task.check`` against ``completion``'s.

    ``None`` without samples; 0.0 when ``completion`` states no final answer.
    """
    if not samples:
        return None
    key = final_answer(task, completion)
    if key is None:
        return 0.0
    return sum(bool(task.check(sample, key)) for sample in samples) / len(samples)
