"""A fake generator for the lab: samples graded short answers and gives their token logprobs.

:class:`FakeAnswerGenerator` stands in for a local model wherever the lab samples answers
(:class:`guardrail.lab.data.Generator`: the data builder, ``guardrail adapt``) and recomputes an
answer's logprobs by a forward pass (``token_logprobs``). It knows each question's right answer
and a per-question skill (the chance that a sample is right, seeded from the question's text);
a right answer's tokens get higher logprobs than a wrong one's, so the logprob signals carry
real information, as they do for a real model. Milliseconds, no torch.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from guardrail.entropy import TokenLogprobs

__all__ = ["FakeAnswerGenerator"]


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:7], "big")


class FakeAnswerGenerator:
    """Samples two-line answers ending ``The answer is X.`` (module documentation).

    ``answers`` maps each question text to its right answer; ``skill`` (optional) fixes a
    question's chance of a right sample, else it is drawn from the question's text.
    ``calls`` counts sampling calls.
    """

    def __init__(
        self,
        answers: Mapping[str, str],
        *,
        skill: Mapping[str, float] | None = None,
        name: str = "fake-generator",
    ) -> None:
        self.answers = dict(answers)
        self.skill = dict(skill or {})
        self.name = name
        self.calls = 0

    def _question(self, messages: Sequence[Mapping[str, str]] | str) -> str:
        text = messages if isinstance(messages, str) else messages[-1]["content"]
        return text.removeprefix("Question: ")

    def chance(self, question: str) -> float:
        """The chance that a sampled answer to ``question`` is right."""
        if question in self.skill:
            return self.skill[question]
        return random.Random(_seed("skill", question)).random()

    def sample(
        self,
        prompts: Sequence[Any],
        n: int,
        *,
        temperature: float = 1.0,
        max_new_tokens: int = 256,
        seed: int | None = None,
        stop: Sequence[str] = (),
    ) -> list[list[Any]]:
        """``n`` answers per prompt (a lab ``Prompt``); greedy (temperature 0) is the likelier."""
        from guardrail.lab.data.generator import Completion

        self.calls += 1
        out = []
        for prompt in prompts:
            question = self._question(prompt.messages)
            right = self.answers.get(question, "")
            chance = self.chance(question)
            own = []
            for index in range(n):
                if temperature == 0:
                    ok = chance >= 0.5
                else:
                    rng = random.Random(_seed(question, prompt.prefix, index, seed))
                    ok = rng.random() < chance
                answer = right if ok else f"not {right}".strip()
                text = f"Thinking about it.\nThe answer is {answer}."
                own.append(Completion(text, len(text.split())))
            out.append(own)
        return out

    def token_logprobs(
        self, messages: Sequence[Mapping[str, str]] | str, answer: str
    ) -> list[TokenLogprobs]:
        """One token per word; a right answer's words are likelier (with seeded noise)."""
        question = self._question(messages)
        right = self.answers.get(question)
        ok = right is not None and answer.rstrip(".").endswith(f"is {right}")
        rng = random.Random(_seed("logprobs", question, answer))
        tokens = []
        for word in answer.split():
            p = min(0.99, max(0.02, (0.8 if ok else 0.45) + rng.gauss(0.0, 0.15)))
            other = (1.0 - p) / 2
            top = ((word, math.log(p)), ("x", math.log(other)), ("y", math.log(other)))
            tokens.append(TokenLogprobs(word, math.log(p), top))
        return tokens
