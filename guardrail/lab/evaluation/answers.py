"""The evaluated answers: generated once, with per-token logprobs recorded, then checked.

Each item's answer is generated from the task's prompt by a
:class:`~guardrail.generation.LocalGenerator` (greedy by default), so that every method (FineCE
and each baseline) is evaluated on the very same text. Generation stops at the model's end of
turn, at one of the task's ``stop`` strings (cut off, with the tokens that reach into it), or at
``max_new_tokens``. Self-consistency samples and BCI future paths come from a batched
:class:`~guardrail.lab.data.generator.Generator` (e.g.
:class:`~guardrail.lab.data.LocalBatchGenerator`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from guardrail.lab.data.generator import Generator, Prompt
from guardrail.lab.tasks import Reference, Task, TaskItem

if TYPE_CHECKING:
    from guardrail.generation import LocalGenerator, TokenStep
    from guardrail.monitor import FutureSampler

__all__ = [
    "GeneratedAnswer",
    "GenerationSettings",
    "generate_answer",
    "line_future_sampler",
    "sample_answers",
]


@dataclass(frozen=True, slots=True)
class GenerationSettings:
    """How the evaluated answers are generated (greedy at ``temperature == 0``)."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_logprobs: int = 5
    seed: int = 0


@dataclass(frozen=True, slots=True)
class GeneratedAnswer:
    """One item's answer: its text, the tokens that make it up, and whether it is correct."""

    item: TaskItem
    completion: str
    tokens: tuple[TokenStep, ...]
    correct: bool
    finish_reason: Literal["stop", "length"]

    @property
    def question(self) -> str:
        """The item's question."""
        return self.item.question

    @property
    def reference(self) -> Reference:
        """The item's reference answer."""
        return self.item.reference


def _cut_at_stop(
    tokens: Sequence[TokenStep], stop: Sequence[str]
) -> tuple[tuple[TokenStep, ...], bool]:
    """The tokens that end before the first stop string, and whether one was found."""
    text = "".join(t.text for t in tokens)
    cuts = [text.find(s) for s in stop if s and s in text]
    if not cuts:
        return tuple(tokens), False
    limit, end = min(cuts), 0
    kept = []
    for token in tokens:
        end += len(token.text)
        if end > limit:
            break
        kept.append(token)
    return tuple(kept), True


def generate_answer(
    generator: LocalGenerator, task: Task, item: TaskItem, settings: GenerationSettings
) -> GeneratedAnswer:
    """Generate, cut at the task's stop strings, and check one item's answer."""
    steps = list(
        generator.stream(
            task.prompt(item.question),
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_logprobs=settings.top_logprobs,
            stop=task.stop,
            seed=settings.seed,
        )
    )
    tokens, stopped = _cut_at_stop(steps, task.stop)
    completion = "".join(t.text for t in tokens)
    finished = stopped or len(steps) < settings.max_new_tokens
    return GeneratedAnswer(
        item=item,
        completion=completion,
        tokens=tokens,
        correct=bool(task.check(completion, item.reference)),
        finish_reason="stop" if finished else "length",
    )


def sample_answers(
    sampler: Generator,
    task: Task,
    questions: Sequence[str],
    n: int,
    *,
    temperature: float = 1.0,
    max_new_tokens: int = 256,
    seed: int = 0,
) -> list[list[str]]:
    """``n`` answers per question sampled at ``temperature`` (self-consistency), in one call."""
    if n <= 0 or not questions:
        return [[] for _ in questions]
    prompts = [Prompt(tuple(task.prompt(q))) for q in questions]
    results = sampler.sample(
        prompts,
        n,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
        seed=seed,
        stop=task.stop,
    )
    return [[c.text for c in completions] for completions in results]


def line_future_sampler(
    sampler: Generator,
    task: Task,
    *,
    temperature: float = 1.0,
    max_new_tokens: int = 48,
    seed: int = 0,
) -> FutureSampler:
    """A BCI future sampler: continuations of a partial answer up to the end of its next line."""

    def sample(question: str, prefix: str, n: int) -> list[str]:
        prompt = Prompt(tuple(task.prompt(question)), prefix)
        completions = sampler.sample(
            [prompt],
            n,
            temperature=temperature,
            max_new_tokens=max_new_tokens,
            seed=seed,
            stop=("\n", *task.stop),
        )[0]
        return [c.text for c in completions]

    return sample
