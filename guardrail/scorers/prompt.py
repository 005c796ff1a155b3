"""The FineCE instruction prompt, split into segments that are tokenized separately.

The scorer reads ``head + question + answer + tail + readout`` where each segment is tokenized on
its own. Fixing the segmentation (instead of tokenizing the concatenated string) makes the token
ids of a prefix independent of what follows it, which is what lets a streaming session extend a
KV cache and still match a full recomputation exactly; training uses the same segments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_INSTRUCTION", "PromptSegments", "TokenizedPrompt"]

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
    """Token ids of the fixed segments; the answer is tokenized per call."""

    segments: PromptSegments
    tokenizer: Any
    tail_ids: tuple[int, ...]
    readout_ids: tuple[int, ...]

    @classmethod
    def build(cls, tokenizer: Any, segments: PromptSegments) -> TokenizedPrompt:
        """Tokenize the fixed segments once."""
        return cls(
            segments=segments,
            tokenizer=tokenizer,
            tail_ids=tuple(_encode(tokenizer, segments.tail)),
            readout_ids=tuple(_encode(tokenizer, segments.readout)),
        )

    def question_ids(self, question: str) -> list[int]:
        """Ids of ``head + question + between``: everything before the answer."""
        text = self.segments.head + question + self.segments.between
        return _encode(self.tokenizer, text)

    def answer_ids(self, answer: str) -> list[int]:
        """Ids of the (partial) answer, tokenized on its own."""
        return _encode(self.tokenizer, answer) if answer else []

    def suffix_ids(self) -> list[int]:
        """Ids appended after the answer to read the confidence."""
        return [*self.tail_ids, *self.readout_ids]

    def full_ids(self, question: str, answer: str) -> list[int]:
        """The whole scoring input for one pair."""
        return [*self.question_ids(question), *self.answer_ids(answer), *self.suffix_ids()]


def _encode(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])
