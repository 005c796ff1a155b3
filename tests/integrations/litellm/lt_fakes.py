"""Helpers for the litellm adapter tests: scripted policies, answers, a call recorder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import litellm

FIRST = "Step one.\nStep two.\nStep three.\nAnswer: 41"
SECOND = "Let me redo it.\nCarefully now.\nAnswer: 42"
NO_WAIT = {"initial_s": 0.0, "max_s": 0.0}
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 6 * 7?"},
]


def scripted_policy(
    action: dict[str, Any] | str,
    *,
    below: float = 0.5,
    stage: str = "process",
    score_question: bool = False,
    strategies: Sequence[dict[str, Any]] = ({"type": "paragraph"},),
    default_action: dict[str, Any] | str = "continue",
) -> dict[str, Any]:
    """A policy mapping: paragraph checkpoints, one rule ``stage & confidence < below``."""
    return {
        "name": "test",
        "checkpoints": {
            "strategies": list(strategies),
            "min_gap": 0,
            "score_question": score_question,
            "score_outcome": True,
        },
        "on_error": "fail_closed",
        "rules": [
            {"name": "low", "when": {"stage": stage, "confidence_below": below}, "action": action}
        ],
        "default_action": default_action,
    }


def low_on(word: str, low: float = 0.2, high: float = 0.9) -> Any:
    """A scorer script: ``low`` once the answer so far contains ``word``, else ``high``."""
    return lambda question, answer: low if word in answer else high


@dataclass
class Recorder:
    """Wraps ``litellm.completion``/``acompletion`` and keeps the arguments of every call."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def completion(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return _real_completion(**kwargs)

    async def acompletion(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return await _real_acompletion(**kwargs)

    @property
    def models(self) -> list[str]:
        return [call["model"] for call in self.calls]


_real_completion = litellm.completion
_real_acompletion = litellm.acompletion


def text_of(chunks: Sequence[Any]) -> str:
    """The answer text of streamed chunks (frames carry none)."""
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def markers(chunks: Sequence[Any]) -> list[str]:
    """The guard frames' markers, in order."""
    return [c.guardrail["marker"] for c in chunks if getattr(c, "guardrail", None)]


def drain(chunks: Any, into: list[Any]) -> None:
    """Collect a stream's chunks into ``into`` (kept when the stream raises)."""
    for chunk in chunks:
        into.append(chunk)
