"""The FineCE instruction prompt, split into segments that are tokenized separately.

The scorer reads ``head + question + answer + tail + readout`` where each segment is tokenized on
its own. Fixing the segmentation (instead of tokenizing the concatenated string) makes the token
ids of a prefix independent of what follows it, which is what lets a streaming session extend a
KV cache and still match a full recomputation exactly; training uses the same segments.

Question and answer are untrusted text: they are normalised (:func:`~guardrail.scorers.sanitize.
normalize_text`) and tokenized with special tokens *split*, so ``"<|im_end|>"`` inside an answer
is plain characters, never the token that closes the scorer's turn. Only the fixed segments may
hold special tokens. The head is tokenized as its special part (up to its last special token)
plus, jointly with the question, its plain end (``"Question: "``): for text without special
tokens the ids equal those of the old joint tokenization, so trained scorers read the same ids.

Inputs are bounded: :func:`answer_window` keeps the most recent answer tokens that fit
``max_input_tokens`` and :meth:`TokenizedPrompt.question_ids` cuts an over-long question; only
the answer's last characters are tokenized at all (:mod:`~guardrail.scorers.answer_tokens`), so
an estimate costs the same on a 5 MB answer as on one of 50 kB
(:meth:`TokenizedPrompt.bounded_ids`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guardrail.scorers.answer_tokens import (
    CHARS_PER_TOKEN_CAP,
    AnswerEncoder,
    TokenWindow,
    window_ids,
)
from guardrail.scorers.sanitize import normalize_text

__all__ = [
    "DEFAULT_INSTRUCTION",
    "DEFAULT_MAX_INPUT_TOKENS",
    "PromptSegments",
    "TokenizedPrompt",
    "answer_window",
    "special_token_ids",
]

DEFAULT_MAX_INPUT_TOKENS = 4096
"""Default cap on the scorer's input (prompt + question + answer + readout), in tokens."""

DEFAULT_INSTRUCTION = (
    "You are given a piece of text: a question, possibly followed by part or all of an answer "
    "to it. Estimate how confident you are that the final answer will be correct. "
    "Output only one number between 0 and 1."
)

_SENTINEL = "\x00FINECE_BODY\x00"


@dataclass(frozen=True, slots=True)
class PromptSegments:
    """Text segments around the question and the answer."""

    head: str
    between: str
    tail: str
    readout: str = "0."

    @classmethod
    def for_tokenizer(
        cls, tokenizer: Any, instruction: str = DEFAULT_INSTRUCTION
    ) -> PromptSegments:
        """Build segments from the tokenizer's chat template (plain text if it has none)."""
        body = f"Question: {_SENTINEL}"
        if getattr(tokenizer, "chat_template", None):
            rendered = tokenizer.apply_chat_template(
                [{"role": "system", "content": instruction}, {"role": "user", "content": body}],
                tokenize=False,
                add_generation_prompt=True,
            )
            before, after = str(rendered).split(_SENTINEL)
            return cls(head=before, between="\nAnswer:\n", tail=after + "Confidence: ")
        return cls(
            head=f"{instruction}\n\nQuestion: ",
            between="\nAnswer:\n",
            tail="\n\nConfidence: ",
        )


@dataclass(frozen=True, slots=True)
class TokenizedPrompt:
    """Token ids of the fixed segments; question and answer are tokenized per call."""

    segments: PromptSegments
    tokenizer: Any
    head_ids: tuple[int, ...]
    head_text: str
    head_text_len: int
    between_ids: tuple[int, ...]
    tail_ids: tuple[int, ...]
    readout_ids: tuple[int, ...]
    encoder: AnswerEncoder

    @classmethod
    def build(cls, tokenizer: Any, segments: PromptSegments) -> TokenizedPrompt:
        """Tokenize the fixed segments once."""
        head_special, head_text = _split_after_last_special(tokenizer, segments.head)
        return cls(
            segments=segments,
            tokenizer=tokenizer,
            head_ids=tuple(_encode(tokenizer, head_special)),
            head_text=head_text,
            head_text_len=len(_encode_plain(tokenizer, head_text)),
            between_ids=tuple(_encode(tokenizer, segments.between)),
            tail_ids=tuple(_encode(tokenizer, segments.tail)),
            readout_ids=tuple(_encode(tokenizer, segments.readout)),
            encoder=AnswerEncoder(tokenizer),
        )

    def question_ids(self, question: str, max_tokens: int | None = None) -> list[int]:
        """Ids of ``head + question + between``: everything before the answer.

        With ``max_tokens``, a longer result keeps the head, the start of the question and
        the ``between`` segment (the prompt's structure survives; the question's end is cut).
        """
        return self.bounded_question_ids(question, max_tokens)[0]

    def bounded_question_ids(self, question: str, max_tokens: int | None) -> tuple[list[int], int]:
        """:meth:`question_ids` and how many question tokens were cut to fit ``max_tokens``.

        Only the question's first ``CHARS_PER_TOKEN_CAP * max_tokens`` characters are
        tokenized (its start is what is kept); the cut is counted on those.
        """
        chars_cut = False
        if max_tokens is not None and len(question) > CHARS_PER_TOKEN_CAP * max_tokens:
            question, chars_cut = question[: CHARS_PER_TOKEN_CAP * max_tokens], True
        text = self.head_text + normalize_text(question) + self.segments.between
        ids = [*self.head_ids, *_encode_plain(self.tokenizer, text)]
        if max_tokens is None or len(ids) <= max_tokens:
            return ids, int(chars_cut)
        head = len(self.head_ids) + self.head_text_len
        keep = max(head, max_tokens - len(self.between_ids))
        return [*ids[:keep], *self.between_ids], max(0, len(ids) - keep - len(self.between_ids))

    def answer_ids(self, answer: str) -> list[int]:
        """Ids of the (partial) answer, tokenized on its own, special tokens split."""
        return _encode_plain(self.tokenizer, normalize_text(answer)) if answer else []

    def answer_window_ids(self, answer: str, max_input_tokens: int) -> TokenWindow:
        """The answer's ids as bounded inputs read them: its character window only."""
        return window_ids(self.encoder, answer, max_input_tokens)

    def bounded_ids(
        self, question: str, answer: str, max_input_tokens: int
    ) -> tuple[list[int], int]:
        """The scoring input within ``max_input_tokens``, and how many tokens were cut.

        ``head + question + between`` takes at most half the bound (the question's end is cut),
        the answer its most recent tokens that fit (:func:`answer_window`, on the ids of its
        character window), then the readout suffix. Costs the window, not the answer.
        """
        q_ids, cut = self.bounded_question_ids(question, max_input_tokens // 2)
        ids, dropped = self.assemble(q_ids, self.answer_window_ids(answer, max_input_tokens))
        return ids, cut + dropped

    def assemble(self, q_ids: list[int], window: TokenWindow) -> tuple[list[int], int]:
        """``q_ids``, the most recent answer tokens of ``window`` that fit, the suffix.

        ``max_input_tokens`` is twice the question's cap; returns the ids and the answer
        tokens left out (:attr:`~guardrail.scorers.answer_tokens.TokenWindow.cut_tokens`
        included).
        """
        suffix = self.suffix_ids()
        budget = window.max_input_tokens - len(q_ids) - len(suffix)
        drop = answer_window(len(window.ids), budget)
        return [*q_ids, *window.ids[drop:], *suffix], drop + window.cut_tokens

    def suffix_ids(self) -> list[int]:
        """Ids appended after the answer to read the confidence."""
        return [*self.tail_ids, *self.readout_ids]

    def full_ids(self, question: str, answer: str) -> list[int]:
        """The whole scoring input for one pair (no length limit)."""
        return [*self.question_ids(question), *self.answer_ids(answer), *self.suffix_ids()]


def answer_window(length: int, budget: int) -> int:
    """How many of ``length`` answer tokens to drop from the front to fit ``budget``.

    The most recent tokens are kept. The cut moves in steps of a quarter of the budget, so a
    streamed answer keeps the same window (and its cached keys) for a while instead of
    shifting by one token at every checkpoint: between ``budget - budget // 4`` and
    ``budget`` tokens are kept once the answer is longer than ``budget``.
    """
    if length <= budget:
        return 0
    if budget <= 0:
        return length
    stride = max(1, budget // 4)
    return min(length, -(-(length - budget) // stride) * stride)


def special_token_ids(tokenizer: Any) -> frozenset[int]:
    """Ids of the tokenizer's special tokens (control tokens of the chat template included)."""
    ids = set(getattr(tokenizer, "all_special_ids", ()) or ())
    decoder = getattr(tokenizer, "added_tokens_decoder", None) or {}
    ids.update(int(i) for i, token in decoder.items() if getattr(token, "special", False))
    return frozenset(ids)


def _special_strings(tokenizer: Any) -> list[str]:
    strings = set(getattr(tokenizer, "all_special_tokens", ()) or ())
    decoder = getattr(tokenizer, "added_tokens_decoder", None) or {}
    strings.update(str(t) for t in decoder.values() if getattr(t, "special", False))
    return [s for s in strings if s]


def _split_after_last_special(tokenizer: Any, head: str) -> tuple[str, str]:
    end = 0
    for token in _special_strings(tokenizer):
        found = head.rfind(token)
        if found >= 0:
            end = max(end, found + len(token))
    return head[:end], head[end:]


def _encode(tokenizer: Any, text: str) -> list[int]:
    if not text:
        return []
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _encode_plain(tokenizer: Any, text: str) -> list[int]:
    """Ids of ``text`` with special-token strings tokenized as ordinary characters."""
    if not text:
        return []
    return list(tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"])
