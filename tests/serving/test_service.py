"""The scorer service's core without Ray: stream slots, the LRU, batched stream-less items."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from guardrail.errors import GuardrailConfigError
from guardrail.policy import Policy, explain
from guardrail.serving.service import (
    ScoreItem,
    ScoreRequest,
    ScorerService,
    ScorerSpec,
    SessionLRU,
)

QUESTION = "Tom has 3 apples and buys 5 more. How many apples?"
ANSWER = "Tom starts with 3.\nHe buys 5 more, so 3 + 5 = 8.\n\nThe answer is 8."


def request(*items: tuple[str, str, str | None], kind: str = "confidence") -> ScoreRequest:
    return ScoreRequest(
        kind=kind,  # type: ignore[arg-type]
        items=[ScoreItem(question=q, answer=a, stream=s) for q, a, s in items],
    )


def test_a_stream_slot_extends_its_session_and_recomputes_on_a_miss(tiny_scorer: Any) -> None:
    service = ScorerService(tiny_scorer)
    slots = SessionLRU(capacity=2)
    slot = slots.get("s1")
    for end in (0, 12, 30, len(ANSWER)):
        [value] = service.run(request((QUESTION, ANSWER[:end], "s1")), [slot])
        assert value == pytest.approx(tiny_scorer.score(QUESTION, ANSWER[:end]), abs=1e-4)
    assert (slot.hits, slot.misses) == (3, 1)
    # a rewritten answer (not an extension) is a miss that recomputes, still correct
    [value] = service.run(request((QUESTION, "Different.", "s1")), [slot])
    assert value == pytest.approx(tiny_scorer.score(QUESTION, "Different."), abs=1e-4)
    assert slot.misses == 2


def test_the_lru_evicts_the_least_recent_stream(tiny_scorer: Any) -> None:
    service = ScorerService(tiny_scorer)
    slots = SessionLRU(capacity=2)
    for stream in ("a", "b", "c"):
        service.run(request((QUESTION, "x", stream)), [slots.get(stream)])
    assert len(slots) == 2
    fresh = slots.get("a")  # evicted: an empty slot, its next checkpoint recomputes
    assert fresh.session is None


def test_stream_less_items_are_scored_in_one_batch(tiny_scorer: Any) -> None:
    service = ScorerService(tiny_scorer)
    jobs = [
        (request((QUESTION, "", None), (QUESTION, ANSWER[:20], None)), [None, None]),
        (request(("What is 2 + 2?", "4", None)), [None]),
    ]
    results = service.run_many(jobs)
    expected = tiny_scorer.score_batch(
        [(QUESTION, ""), (QUESTION, ANSWER[:20]), ("What is 2 + 2?", "4")]
    )
    assert [v for r in results for v in r] == pytest.approx(expected, abs=1e-4)
    [entropy] = service.run(request((QUESTION, ANSWER, None), kind="entropy"), [None])
    assert entropy is not None
    assert entropy > 0


def test_requests_are_strict() -> None:
    with pytest.raises(ValidationError, match="items"):
        ScoreRequest.model_validate({"kind": "confidence", "items": []})
    with pytest.raises(ValidationError, match="extra"):
        ScoreRequest.model_validate({"items": [{"question": "q", "answr": "a"}]})


def test_a_factory_that_is_not_a_scorer_is_a_config_error() -> None:
    with pytest.raises(GuardrailConfigError, match="not a Scorer"):
        ScorerSpec(factory="guardrail.testing.tiny:tiny_tokenizer").build()
    with pytest.raises(GuardrailConfigError, match="no_such_module"):
        ScorerSpec(factory="no_such_module:thing").build()


def test_policy_scorer_section_takes_a_service() -> None:
    policy = Policy.from_dict(
        {"scorer": {"url": "http://scorer:8000", "engine": "sglang", "adapter": "finece"}}
    )
    assert (policy.scorer.url, policy.scorer.engine) == ("http://scorer:8000", "sglang")
    assert "served by sglang at http://scorer:8000" in explain(policy)
    with pytest.raises(GuardrailConfigError, match="engine"):
        Policy.from_dict({"scorer": {"url": "http://scorer:8000", "engine": "triton"}})
    with pytest.raises(GuardrailConfigError, match="url"):
        Policy.from_dict({"scorer": {"url": "scorer:8000"}})
