"""What guarded calls send to litellm: fallbacks, logprobs, routers; the litellm gaps."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import litellm
import pytest
from litellm.llms.custom_llm import CustomLLMError
from litellm.types.utils import ModelResponseStream, StreamingChoices
from lt_fakes import FIRST, MESSAGES, SECOND, Recorder, low_on, scripted_policy, text_of

import guardrail.integrations.litellm as guardrail_litellm
from guardrail.generation import LocalGenerator
from guardrail.integrations.litellm import (
    LocalModelProvider,
    aguarded_completion,
    guarded_completion,
    register_local_provider,
    supported_logprob_params,
)
from guardrail.integrations.litellm._chunks import build_response
from guardrail.scoring_worker import ScoringWorker
from guardrail.testing.scorers import ScriptedScorer

PASSING = scripted_policy("abort")
ENTROPY = scripted_policy(
    "continue", strategies=[{"type": "entropy", "threshold": 0.01, "source": "auto"}]
)
SAMPLED: dict[str, Any] = {"temperature": 1.0, "seed": 3, "max_tokens": 12}


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(litellm, "completion", recorder.completion)
    monkeypatch.setattr(litellm, "acompletion", recorder.acompletion)
    return recorder


def test_public_api_is_pinned() -> None:
    assert sorted(guardrail_litellm.__all__) == [
        "DEFAULT_MODEL_REF",
        "DEFAULT_TOP_LOGPROBS",
        "FineCEGuardrail",
        "LocalModelProvider",
        "MODEL_ALIASES",
        "PROVIDER",
        "Reask",
        "aguarded_completion",
        "guarded_completion",
        "register_local_provider",
        "supported_logprob_params",
    ]


# --------------------------------------------------------------------------- fallbacks
FALLBACKS: dict[str, Any] = {
    "model_params": {"openai/primary": {"mock_response": "litellm.InternalServerError"}},
    "fallbacks": [{"model": "openai/backup", "mock_response": FIRST}],
}


def test_litellm_sync_stream_with_fallbacks_is_broken() -> None:
    """The litellm gap: a sync stream with fallbacks fails on its first read."""
    stream = litellm.completion(
        model="openai/primary",
        messages=MESSAGES,
        stream=True,
        mock_response="litellm.InternalServerError",
        fallbacks=[{"model": "openai/backup", "mock_response": FIRST}],
    )
    with pytest.raises(Exception, match="async_generator"):
        list(stream)


def test_sync_stream_falls_back_to_the_next_model(recorder: Recorder) -> None:
    chunks = list(
        guarded_completion(
            model="openai/primary",
            messages=MESSAGES,
            policy=PASSING,
            scorer=ScriptedScorer(low_on("never")),
            stream=True,
            **FALLBACKS,
        )
    )
    assert text_of(chunks) == FIRST
    assert chunks[-1].guardrail["status"] == "ok"
    assert recorder.models == ["openai/primary", "openai/backup"]
    assert not any("fallbacks" in c for c in recorder.calls)


def test_the_attempt_records_the_fallback_that_answered(recorder: Recorder) -> None:
    result = guarded_completion(
        model="openai/primary",
        messages=MESSAGES,
        policy=PASSING,
        scorer=ScriptedScorer(low_on("never")),
        **FALLBACKS,
    )
    assert [a.model for a in result.attempts] == ["openai/backup"]
    assert result.to_dict()["attempts"][0]["model"] == "openai/backup"
    chunks = list(
        guarded_completion(
            model="openai/primary",
            messages=MESSAGES,
            policy=PASSING,
            scorer=ScriptedScorer(low_on("never")),
            stream=True,
            **FALLBACKS,
        )
    )
    assert [a["model"] for a in chunks[-1].guardrail["attempts"]] == ["openai/backup"]


@pytest.mark.parametrize("stream", [False, True])
async def test_async_calls_fall_back_too(recorder: Recorder, stream: bool) -> None:
    result = await aguarded_completion(
        model="openai/primary",
        messages=MESSAGES,
        policy=PASSING,
        scorer=ScriptedScorer(low_on("never")),
        stream=stream,
        **FALLBACKS,
    )
    if stream:
        chunks = [chunk async for chunk in result]
        assert text_of(chunks) == FIRST
        assert chunks[-1].guardrail["attempts"][0]["model"] == "openai/backup"
    else:
        assert result.output.choices[0].message.content == FIRST
        assert result.attempts[0].model == "openai/backup"
    assert recorder.models == ["openai/primary", "openai/backup"]


def test_the_last_models_error_propagates_and_releases_the_scorer() -> None:
    scorer = ScriptedScorer(low_on("never"))
    with pytest.raises(litellm.RateLimitError):
        guarded_completion(
            model="openai/primary",
            messages=MESSAGES,
            policy=PASSING,
            scorer=scorer,
            mock_response="litellm.RateLimitError",
        )
    assert ScoringWorker.for_scorer(scorer).wait_idle(30)  # sessions close on the worker
    assert all(session.closed for session in scorer.sessions)


def test_a_retry_after_a_low_answer_falls_back_per_attempt(recorder: Recorder) -> None:
    retry = scripted_policy({"type": "retry", "backoff": {"initial_s": 0.0, "max_s": 0.0}})
    result = guarded_completion(
        model="openai/primary",
        messages=MESSAGES,
        policy=retry,
        scorer=ScriptedScorer([0.9, 0.2] + [0.9] * 4),
        **FALLBACKS,
    )
    assert result.status == "ok"
    assert recorder.models == ["openai/primary", "openai/backup"] * 2


# ---------------------------------------------------------------------------- logprobs
def test_supported_logprob_params(tiny_generator: LocalGenerator) -> None:
    register_local_provider({"tiny": tiny_generator})
    both = frozenset({"logprobs", "top_logprobs"})
    assert supported_logprob_params("openai/gpt-4o-mini") == both
    assert supported_logprob_params("guardrail-local/tiny") == both
    assert supported_logprob_params("anthropic/claude-3-5-sonnet-20240620") == frozenset()
    assert supported_logprob_params("no-such-provider-model") is None


def test_litellm_stream_chunk_builder_drops_logprobs() -> None:
    """The litellm gap: the rebuilt response has no logprobs; build_response restores them."""
    entry = {"token": "a", "logprob": -0.1, "bytes": [97], "top_logprobs": []}
    chunks = [
        ModelResponseStream(
            id="x",
            model="m",
            choices=[
                StreamingChoices(
                    index=0,
                    delta={"content": token, "role": "assistant"},
                    logprobs={"content": [{**entry, "token": token}]},
                )
            ],
        )
        for token in ("a", "b")
    ]
    assert getattr(litellm.stream_chunk_builder(chunks).choices[0], "logprobs", None) is None
    rebuilt = build_response(chunks)
    assert rebuilt is not None
    assert [e.token for e in rebuilt.choices[0].logprobs.content] == ["a", "b"]


def test_rebuilding_a_custom_providers_response_prints_no_provider_banner(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """litellm prices the rebuilt response and prints its provider list for an unknown model."""
    monkeypatch.setattr(litellm, "suppress_debug_info", False)  # as a user has it (conftest: on)
    deltas = [({"content": "a", "role": "assistant"}, None), ({}, "stop")]
    chunks = [
        ModelResponseStream(
            id="x",
            model="smollm2",  # what guardrail-local streams carry: a name no provider claims
            choices=[StreamingChoices(index=0, delta=delta, finish_reason=finish)],
        )
        for delta, finish in deltas
    ]
    asked = [{"role": "user", "content": "hi"}]
    litellm.stream_chunk_builder(chunks, messages=asked)
    assert "Provider List" in capsys.readouterr().out  # the banner this guards against
    assert build_response(chunks, asked) is not None
    assert "Provider List" not in capsys.readouterr().out
    assert litellm.suppress_debug_info is False  # put back


def test_local_provider_logprobs_reach_the_watch_and_the_response(
    tiny_generator: LocalGenerator, recorder: Recorder
) -> None:
    register_local_provider({"tiny": tiny_generator})
    scorer = ScriptedScorer(low_on("never"), entropy=lambda q, a: 0.0)
    result = guarded_completion(
        model="guardrail-local/tiny", messages=MESSAGES, policy=ENTROPY, scorer=scorer, **SAMPLED
    )
    assert recorder.calls[0]["logprobs"] is True
    assert recorder.calls[0]["top_logprobs"] == 5
    direct = litellm.completion(
        model="guardrail-local/tiny", messages=MESSAGES, logprobs=True, top_logprobs=5, **SAMPLED
    )
    choice = result.output.choices[0]
    assert choice.message.content == direct.choices[0].message.content
    assert (
        choice.logprobs.model_dump()["content"]
        == direct.choices[0].logprobs.model_dump()["content"]
    )
    assert any(event.reason == "entropy" for event in result.events)  # from the logprobs
    assert not any(c.kind == "session.entropy" for c in scorer.calls)


def test_without_provider_logprobs_the_scorer_gives_the_entropy(recorder: Recorder) -> None:
    scorer = ScriptedScorer(low_on("never"), entropy=lambda q, a: 3.0)
    result = guarded_completion(
        model="anthropic/claude-3-5-sonnet-20240620",
        messages=MESSAGES,
        policy=ENTROPY,
        scorer=scorer,
        mock_response=SECOND,
    )
    assert "logprobs" not in recorder.calls[0]
    assert result.output.choices[0].message.content == SECOND
    assert any(c.kind == "session.entropy" for c in scorer.calls)
    assert any(event.reason == "entropy" for event in result.events)


class _RefusesLogprobs(LocalModelProvider):
    """A provider litellm knows nothing about, which rejects logprobs like some servers do."""

    def streaming(self, *args: Any, **kwargs: Any) -> Iterator[ModelResponseStream]:  # type: ignore[override]
        if kwargs.get("optional_params", {}).get("logprobs"):
            raise CustomLLMError(status_code=400, message="this server has no logprobs")  # type: ignore[no-untyped-call]
        return super().streaming(*args, **kwargs)


def test_an_unknown_provider_that_refuses_logprobs_is_asked_again_without(
    monkeypatch: pytest.MonkeyPatch, tiny_generator: LocalGenerator, recorder: Recorder
) -> None:
    provider = _RefusesLogprobs()
    provider.add_model("tiny", tiny_generator)
    entry = {"provider": "refuses-logprobs", "custom_handler": provider}
    monkeypatch.setattr(litellm, "custom_provider_map", [*litellm.custom_provider_map, entry])
    assert supported_logprob_params("refuses-logprobs/tiny") is None
    result = guarded_completion(
        model="refuses-logprobs/tiny",
        messages=MESSAGES,
        policy=PASSING,
        scorer=ScriptedScorer(low_on("never")),
        **SAMPLED,
    )
    assert [c.get("logprobs") for c in recorder.calls] == [True, None]
    assert result.status == "ok"
    assert result.output.choices[0].message.content


def test_callers_logprob_settings_are_kept(recorder: Recorder) -> None:
    guarded_completion(
        model="openai/small",
        messages=MESSAGES,
        policy=PASSING,
        scorer=ScriptedScorer(low_on("never")),
        mock_response=SECOND,
        logprobs=False,
    )
    assert recorder.calls[0]["logprobs"] is False
    assert "top_logprobs" not in recorder.calls[0]


# ------------------------------------------------------------------------------ router
def test_a_router_serves_the_attempts_and_escalation_targets() -> None:
    router = litellm.Router(
        model_list=[
            {
                "model_name": "small",
                "litellm_params": {"model": "openai/s", "mock_response": FIRST},
            },
            {
                "model_name": "large",
                "litellm_params": {"model": "openai/l", "mock_response": SECOND},
            },
        ]
    )
    policy = scripted_policy({"type": "escalate", "targets": ["large"]})
    result = guarded_completion(
        model="small",
        messages=MESSAGES,
        policy=policy,
        scorer=ScriptedScorer(low_on("Step two")),
        router=router,
    )
    assert result.status == "ok"
    assert [a.model for a in result.attempts] == ["small", "large"]
    assert result.output.choices[0].message.content == SECOND
