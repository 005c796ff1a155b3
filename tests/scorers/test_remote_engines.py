"""RemoteScorer on SGLang and vLLM: request mapping, recorded responses, in-process equality."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.errors import GuardrailConfigError
from guardrail.scorers.base import Scorer, ScoringSession
from guardrail.scorers.readout import DigitReadout
from guardrail.scorers.remote import RemoteScorer, RemoteScorerError
from guardrail.scorers.remote.engines import Checkpoint, SGLangClient, VLLMClient
from guardrail.scorers.remote.tokens import PromptTokens, digit_confidence
from guardrail.testing.engines import FakeSGLang, FakeVLLM

RECORDED = Path(__file__).parent / "recorded"
QUESTION = "Tom has 3 apples and buys 5 more. How many apples?"
ANSWER = "Tom starts with 3.\nHe buys 5 more, so 3 + 5 = 8.\n\nThe answer is 8."
PAIRS = [(QUESTION, ""), (QUESTION, ANSWER[:20]), ("What is 2 + 2?", "4"), (QUESTION, ANSWER)]


@pytest.fixture(scope="module")
def tokens(tiny_scorer: Any) -> PromptTokens:
    return PromptTokens.for_tokenizer(tiny_scorer.tokenizer)


def remote(engine: str, fake: Any, tokens: PromptTokens) -> RemoteScorer:
    return RemoteScorer(
        "http://engine.test:8000",
        engine,  # type: ignore[arg-type]
        tokens=tokens,
        transport=httpx.MockTransport(fake),
        latency_budget_s=30.0,
    )


@pytest.mark.parametrize("engine", ["sglang", "vllm"])
def test_equals_the_in_process_scorer(engine: str, tiny_scorer: Any, tokens: PromptTokens) -> None:
    fake = (FakeSGLang if engine == "sglang" else FakeVLLM)(tiny_scorer.model)
    scorer = remote(engine, fake, tokens)
    assert isinstance(scorer, Scorer)
    expected = tiny_scorer.score_batch(PAIRS)
    assert scorer.score_batch(PAIRS) == pytest.approx(expected, abs=1e-3)
    assert len(fake.requests) == 1  # one HTTP call for the batch
    session = scorer.open_session(QUESTION)
    assert isinstance(session, ScoringSession)
    session.append(ANSWER[:20])
    assert session.score() == pytest.approx(tiny_scorer.score(QUESTION, ANSWER[:20]), abs=1e-3)
    assert session.entropy() is None  # top-k log-probabilities carry no entropy


def test_sglang_request_reads_both_positions_in_one_call(tokens: PromptTokens) -> None:
    body = SGLangClient(tokens, adapter="finece").request([Checkpoint(QUESTION, ANSWER)])
    ids = tokens.full_ids(QUESTION, ANSWER)
    assert body["input_ids"] == [ids]
    assert ids[-2:] == list(tokens.prompt.readout_ids)  # ends with the readout "0."
    assert body["logprob_start_len"] == [len(ids) - 3]
    assert body["token_ids_logprob"] == [list(tokens.digit_ids)]
    assert body["return_logprob"] is True
    assert body["sampling_params"]["max_new_tokens"] == 1
    assert body["lora_path"] == ["finece"]


def test_vllm_request_avoids_prompt_logprobs(tokens: PromptTokens) -> None:
    body = VLLMClient(tokens, adapter="finece").request([Checkpoint(QUESTION, ANSWER)])
    ids = tokens.full_ids(QUESTION, ANSWER)
    assert body["prompt"] == [ids[:-2], ids]  # before the readout, and through "0."
    assert "prompt_logprobs" not in body
    assert "echo" not in body
    assert body["max_tokens"] == 1
    assert body["logprob_token_ids"] == list(tokens.digit_ids)
    assert body["return_tokens_as_token_ids"] is True
    assert body["model"] == "finece"


RECORDED_DIGITS = PromptTokens(
    prompt=None,  # type: ignore[arg-type]  # parsing never builds prompts
    readout=DigitReadout(digit_ids=tuple(range(20, 30)), readout_ids=(20, 13)),
)
# first digit: p(1) = 0.2; tenths: 0.1 at 5, 0.5 at 7, 0.3 at 8 (renormalised over those)
RECORDED_VALUE = 0.2 + 0.8 * (0.5 * 0.1 + 3.5 * 0.1 + 2.4 * 0.1) / 0.9


@pytest.mark.parametrize(
    ("client", "file"),
    [
        (SGLangClient(RECORDED_DIGITS), "sglang_generate.json"),
        (VLLMClient(RECORDED_DIGITS), "vllm_completions.json"),
    ],
)
def test_recorded_engine_responses(client: Any, file: str) -> None:
    data = json.loads((RECORDED / file).read_text())
    assert client.parse(data, 1) == pytest.approx([RECORDED_VALUE], abs=1e-3)


def test_malformed_responses_name_the_missing_field() -> None:
    client = SGLangClient(RECORDED_DIGITS)
    with pytest.raises(RemoteScorerError, match="meta_info"):
        client.parse([{"text": ""}], 1)
    with pytest.raises(RemoteScorerError, match="2 results for 1"):
        client.parse([{}, {}], 1)
    vllm = VLLMClient(RECORDED_DIGITS)
    with pytest.raises(RemoteScorerError, match="choices"):
        vllm.parse({"object": "error"}, 1)
    bad = json.loads((RECORDED / "vllm_completions.json").read_text())
    bad["choices"][0]["logprobs"]["top_logprobs"] = [{"Ġ0": -0.1, "x": -2.0}]
    with pytest.raises(RemoteScorerError, match="return_tokens_as_token_ids"):
        vllm.parse(bad, 1)


def test_digit_confidence_matches_the_readout_formula() -> None:
    ids = list(range(10))
    first = {0: math.log(0.75), 1: math.log(0.25)}
    tenths = {d: math.log(0.1) for d in ids}
    assert digit_confidence(first, tenths, ids) == pytest.approx(0.25 + 0.75 * 0.45)
    with pytest.raises(RemoteScorerError, match="digit ids 0 and 1"):
        digit_confidence({0: -1.0}, tenths, ids)


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(GuardrailConfigError, match="http"):
        RemoteScorer("engine.test:8000")
    with pytest.raises(GuardrailConfigError, match="valid: ray, sglang, vllm"):
        RemoteScorer("http://x", "triton")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    first=st.lists(st.floats(-30, 30), min_size=12, max_size=12),
    tenths=st.lists(st.floats(-30, 30), min_size=12, max_size=12),
)
def test_digit_confidence_equals_the_torch_readout(first: list[float], tenths: list[float]) -> None:
    import torch

    digit_ids = tuple(range(2, 12))  # ids 0 and 1 are other tokens of a 12-token vocabulary
    readout = DigitReadout(digit_ids=digit_ids, readout_ids=(2, 0))
    logits = torch.tensor([[first, [0.0] * 12, tenths]])
    expected = float(readout.confidence(logits)[0])
    logp_first = torch.log_softmax(torch.tensor(first), -1)
    logp_tenths = torch.log_softmax(torch.tensor(tenths), -1)
    got = digit_confidence(
        {i: float(logp_first[i]) for i in digit_ids},
        {i: float(logp_tenths[i]) for i in digit_ids},
        digit_ids,
    )
    assert got == pytest.approx(expected, abs=1e-5)


@pytest.mark.slow
def test_the_default_scorer_through_vllm_equals_in_process() -> None:
    """The shipped adapter: the client's tokenizer and calibration map match the scorer's."""
    from guardrail.scorers import create_scorer

    local = create_scorer("builtin:finece-smollm2")
    fake = FakeVLLM(local.model)  # type: ignore[attr-defined]
    remote = RemoteScorer(
        "http://engine.test:8000",
        "vllm",
        model="builtin:finece-smollm2",
        transport=httpx.MockTransport(fake),
        latency_budget_s=60.0,
    )
    pairs = [(QUESTION, ""), (QUESTION, ANSWER)]
    assert remote.score_batch(pairs) == pytest.approx(local.score_batch(pairs), abs=1e-3)
    assert remote.client.tokens.calibration is not None  # type: ignore[attr-defined]
