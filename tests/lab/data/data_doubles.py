"""Test doubles for the data builder: a scripted generator and a saved tiny model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from guardrail.lab.data import Completion, Prompt


class ScriptedGenerator:
    """Answers ``script(prompt, sample_index)``; records every call."""

    name = "scripted"

    def __init__(self, script: Callable[[Prompt, int], str]) -> None:
        self.script = script
        self.calls: list[tuple[int, int]] = []  # (prompts, n) per call

    def sample(
        self,
        prompts: Sequence[Prompt],
        n: int,
        *,
        temperature: float = 1.0,
        max_new_tokens: int = 256,
        seed: int | None = None,
        stop: Sequence[str] = (),
    ) -> list[list[Completion]]:
        self.calls.append((len(prompts), n))
        return [
            [Completion(text, len(text.split())) for text in (self.script(p, i) for i in range(n))]
            for p in prompts
        ]


def save_tiny_model(directory: Path) -> Path:
    """Write the seeded tiny Llama and its tokenizer as a transformers checkpoint."""
    from guardrail.testing.tiny import tiny_llama

    model, tokenizer = tiny_llama()
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
