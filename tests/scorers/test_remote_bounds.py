"""SGLang and vLLM clients bound ids to max_input_tokens and tokenize streams incrementally."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from guardrail.scorers.answer_tokens import AnswerEncoder
from guardrail.scorers.finece import FineCEScorer
from guardrail.scorers.remote import RemoteScorer
from guardrail.scorers.remote.engines import Checkpoint, SGLangClient, VLLMClient
from guardrail.scorers.remote.tokens import PromptTokens
from guardrail.testing.engines import FakeSGLang, FakeVLLM

BOUND = 700  # tokens, i.e. characters for the tiny tokenizer
QUESTION = "What is the running total after every step?"
LINE = "step: add 7 to the running total.\n"


@pytest.fixture(scope="module")
def bounded(tiny: Any) -> tuple[FineCEScorer, PromptTokens]:
    model, tokenizer = tiny
    scorer = FineCEScorer(model, tokenizer, max_input_tokens=BOUND)
    return scorer, PromptTokens.for_tokenizer(tokenizer, max_input_tokens=BOUND)


def test_requests_carry_the_bounded_ids_of_the_in_process_scorer(
    bounded: tuple[FineCEScorer, PromptTokens],
) -> None:
    scorer, tokens = bounded
    answer = LINE * 400  # far beyond the bound
    expected, cut = scorer.input_ids(QUESTION, answer)
    assert cut > 0
    assert len(expected) <= BOUND
    sglang = SGLangClient(tokens).request([Checkpoint(QUESTION, answer)])
    assert sglang["input_ids"] == [expected]
    assert sglang["logprob_start_len"] == [len(expected) - 3]
    vllm = VLLMClient(tokens).request([Checkpoint(QUESTION, answer, "stream-1")])
    assert vllm["prompt"] == [expected[:-2], expected]


@pytest.mark.parametrize("engine", ["sglang", "vllm"])
def test_a_long_stream_scores_as_in_process_and_tokenizes_only_new_text(
    engine: str,
    bounded: tuple[FineCEScorer, PromptTokens],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scorer, _ = bounded
    tokens = PromptTokens.for_tokenizer(scorer.tokenizer, max_input_tokens=BOUND)
    fake = (FakeSGLang if engine == "sglang" else FakeVLLM)(scorer.model)
    remote = RemoteScorer(
        "http://engine.test:8000",
        engine,  # type: ignore[arg-type]
        tokens=tokens,
        transport=httpx.MockTransport(fake),
        latency_budget_s=30.0,
    )
    seen: list[int] = []
    encode = AnswerEncoder.encode

    def counting(self: AnswerEncoder, text: str) -> Any:
        seen.append(len(text))
        return encode(self, text)

    monkeypatch.setattr(AnswerEncoder, "encode", counting)
    session = remote.open_session(QUESTION)
    values = []
    for _ in range(60):
        session.append(LINE)
        values.append(session.score())
    session.close()
    remote.close()
    assert max(seen[4:]) <= len(LINE) + 64  # a checkpoint reads its new line and a seam
    assert len(tokens.streams) == 1
    monkeypatch.undo()
    for lines in (20, 40, 60):
        expected = scorer.score(QUESTION, LINE * lines)
        assert values[lines - 1] == pytest.approx(expected, abs=1e-3)


def test_a_rewritten_stream_starts_afresh(bounded: tuple[FineCEScorer, PromptTokens]) -> None:
    scorer, _ = bounded
    tokens = PromptTokens.for_tokenizer(scorer.tokenizer, max_input_tokens=BOUND)
    first = tokens.ids(QUESTION, LINE * 3, "s")
    assert first == scorer.input_ids(QUESTION, LINE * 3)[0]
    rewritten = "another answer entirely\n" * 3
    assert tokens.ids(QUESTION, rewritten, "s") == scorer.input_ids(QUESTION, rewritten)[0]
    assert tokens.ids("Other?", rewritten, "s") == scorer.input_ids("Other?", rewritten)[0]


@pytest.mark.parametrize("engine", ["sglang", "vllm"])
def test_the_policy_bound_reaches_the_engine_client(
    engine: str, tiny: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from guardrail.policy import Policy
    from guardrail.scorers import scorer_for_settings

    _, tokenizer = tiny
    monkeypatch.setattr("guardrail.scorers.remote.tokens.load_tokenizer", lambda ref: tokenizer)
    scorer_section = {"url": "http://engine.test:8000", "engine": engine, "max_input_tokens": 1024}
    policy = Policy.from_dict({"scorer": scorer_section})
    scorer = scorer_for_settings(policy.scorer)
    assert isinstance(scorer, RemoteScorer)
    client = scorer.client
    assert isinstance(client, SGLangClient | VLLMClient)
    assert client.tokens.max_input_tokens == 1024
    scorer.close()
