"""Test doubles shipped with the package: scripted scorers, fake chat models, a tiny Llama.

``FakeStreamingChatModel`` needs the ``langchain`` extra and ``tiny_llama`` needs torch; both
are imported on first use, so ``import guardrail.testing`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guardrail.testing.scorers import ScoreCall, ScriptedScorer, ScriptedSession

if TYPE_CHECKING:
    from guardrail.testing.engines import FakeSGLang, FakeVLLM
    from guardrail.testing.fake_chat import FakeStreamingChatModel, ScriptedToolCallingChat
    from guardrail.testing.generators import FakeAnswerGenerator
    from guardrail.testing.tiny import tiny_llama, tiny_scorer, tiny_tokenizer

__all__ = [
    "FakeAnswerGenerator",
    "FakeSGLang",
    "FakeStreamingChatModel",
    "FakeVLLM",
    "ScoreCall",
    "ScriptedScorer",
    "ScriptedSession",
    "ScriptedToolCallingChat",
    "tiny_llama",
    "tiny_scorer",
    "tiny_tokenizer",
]

_LAZY = {
    "FakeAnswerGenerator": "guardrail.testing.generators",
    "FakeSGLang": "guardrail.testing.engines",
    "FakeVLLM": "guardrail.testing.engines",
    "FakeStreamingChatModel": "guardrail.testing.fake_chat",
    "ScriptedToolCallingChat": "guardrail.testing.fake_chat",
    "tiny_llama": "guardrail.testing.tiny",
    "tiny_scorer": "guardrail.testing.tiny",
    "tiny_tokenizer": "guardrail.testing.tiny",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'guardrail.testing' has no attribute {name!r}")
