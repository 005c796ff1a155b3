"""ConfidenceMonitor end to end with the ScriptedScorer."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.bci import integrate
from guardrail.errors import (
    GuardrailConfigError,
    ScorerTimeoutError,
    ScorerUnavailableError,
)
from guardrail.events import CheckpointEvent, Stage
from guardrail.monitor import ConfidenceMonitor, MonitorStateError
from guardrail.scorers.base import Scorer, ScoringSession
from guardrail.testing.scorers import ScriptedScorer
from guardrail.triggers import (
    BCISettings,
    CheckpointSettings,
    ParagraphTriggerSpec,
    PeriodicTriggerSpec,
)

QUESTION = "What is 2 + 3 * 4?"
TOKENS = [
    "First",
    " multiply",
    ":",
    " 3*4=12",
    ".\n",
    "Then",
    " add",
    ": 2+12=14",
    ".\n",
    "#### 14",
]
ANSWER = "".join(TOKENS)
NO_GAP = CheckpointSettings(min_gap=0)


def by_length(question: str, answer: str) -> float:
    """A deterministic confidence that grows with the answer."""
    return min(1.0, len(answer) / 50)


def feed_all(monitor: ConfidenceMonitor, tokens: Sequence[str]) -> list[CheckpointEvent]:
    return [event for token in tokens if (event := monitor.feed(token)) is not None]


def ticking_clock(step: float = 0.25) -> Iterator[float]:
    return (step * i for i in itertools.count())


# -------------------------------------------------------------------- end to end
def test_end_to_end_paragraph_checkpoints() -> None:
    scorer = ScriptedScorer(by_length)
    ticks = ticking_clock()
    monitor = ConfidenceMonitor(scorer, QUESTION, NO_GAP, clock=lambda: next(ticks))
    question_event = monitor.start()
    process = feed_all(monitor, TOKENS)
    outcome = monitor.finish()

    assert question_event is not None
    assert outcome is not None
    events = monitor.events
    assert events == (question_event, *process, outcome)
    assert [e.index for e in events] == [0, 1, 2, 3]
    assert [e.stage for e in events] == [
        Stage.QUESTION,
        Stage.PROCESS,
        Stage.PROCESS,
        Stage.OUTCOME,
    ]
    assert [e.reason for e in events] == ["question", "paragraph", "paragraph", "outcome"]
    assert [e.token_index for e in events] == [0, 5, 9, 10]
    first_line = ANSWER.index("\n") + 1
    second_line = ANSWER.index("\n", first_line) + 1
    assert [(e.char_start, e.char_end) for e in events] == [
        (0, 0),
        (0, first_line),
        (first_line, second_line),
        (second_line, len(ANSWER)),
    ]
    assert [e.confidence for e in events] == [
        by_length(QUESTION, ANSWER[:end]) for end in (0, first_line, second_line, len(ANSWER))
    ]
    assert all(e.revised == e.confidence and e.revisions == (e.confidence,) for e in events)
    assert all(e.latency_s == 0.25 for e in events)
    assert all(e.entropy is None for e in events)
    assert monitor.answer == ANSWER
    assert monitor.token_count == len(TOKENS)
    assert monitor.finished


def test_one_session_appending_every_token_scored_only_at_checkpoints() -> None:
    scorer = ScriptedScorer(by_length)
    monitor = ConfidenceMonitor(scorer, QUESTION, NO_GAP)
    feed_all(monitor, TOKENS)
    monitor.finish()
    assert len(scorer.sessions) == 1
    session = scorer.sessions[0]
    assert session.question == QUESTION
    assert session.text == ANSWER
    assert session.appends == len(TOKENS)
    assert session.closed
    assert [(c.kind, c.answer) for c in scorer.calls] == [
        ("session.score", ""),
        ("session.score", ANSWER[: ANSWER.index("\n") + 1]),
        ("session.score", ANSWER[: ANSWER.rindex("\n") + 1]),
        ("session.score", ANSWER),
    ]


def test_first_feed_starts_implicitly() -> None:
    monitor = ConfidenceMonitor(ScriptedScorer([0.5, 0.6]), QUESTION)
    assert monitor.feed("Hi") is None
    assert [e.stage for e in monitor.events] == [Stage.QUESTION]
    assert monitor.start() is None  # already started: no second question event
    outcome = monitor.finish()
    assert outcome is not None
    assert outcome.confidence == 0.6


def test_question_and_outcome_can_be_off() -> None:
    settings = CheckpointSettings(min_gap=0, score_question=False, score_outcome=False)
    scorer = ScriptedScorer(by_length)
    monitor = ConfidenceMonitor(scorer, QUESTION, settings)
    assert monitor.start() is None
    process = feed_all(monitor, TOKENS)
    assert monitor.finish() is None
    assert [e.index for e in process] == [0, 1]
    assert monitor.events == tuple(process)
    assert scorer.sessions[0].closed


def test_empty_tokens_are_ignored() -> None:
    monitor = ConfidenceMonitor(ScriptedScorer(by_length), QUESTION, NO_GAP)
    assert monitor.feed("") is None
    monitor.feed("a")
    monitor.feed("")
    event = monitor.feed("\n")
    assert event is not None
    assert event.token_index == 2
    assert monitor.token_count == 2


def test_finish_without_tokens_scores_the_empty_answer() -> None:
    scorer = ScriptedScorer([0.3, 0.4])
    monitor = ConfidenceMonitor(scorer, QUESTION)
    outcome = monitor.finish()
    assert outcome is not None
    assert (outcome.index, outcome.stage, outcome.token_index, outcome.confidence) == (
        1,
        Stage.OUTCOME,
        0,
        0.4,
    )


def test_min_gap_and_max_per_answer() -> None:
    settings = CheckpointSettings(
        strategies=[PeriodicTriggerSpec(every=2)], min_gap=4, max_per_answer=3
    )
    monitor = ConfidenceMonitor(ScriptedScorer(by_length), QUESTION, settings)
    process = feed_all(monitor, ["t"] * 30)
    assert [e.token_index for e in process] == [2, 6, 10]


def test_any_combination_reports_every_reason() -> None:
    settings = CheckpointSettings(
        strategies=[ParagraphTriggerSpec(), PeriodicTriggerSpec(every=5)], min_gap=0
    )
    monitor = ConfidenceMonitor(ScriptedScorer(by_length), QUESTION, settings)
    process = feed_all(monitor, TOKENS)
    assert [(e.token_index, e.reason) for e in process] == [
        (5, "paragraph+periodic"),
        (9, "paragraph"),
        (10, "periodic"),
    ]


# ------------------------------------------------------------------------------ BCI
def test_bci_revises_earlier_events_as_checkpoints_arrive() -> None:
    scorer = ScriptedScorer([0.2, 0.6, 1.0, 0.0])
    monitor = ConfidenceMonitor(scorer, QUESTION, NO_GAP, BCISettings(alpha=0.5, depth=1))
    monitor.start()
    assert [e.revised for e in monitor.events] == [0.2]
    feed_all(monitor, TOKENS[:5])
    assert [e.revised for e in monitor.events] == pytest.approx([0.4, 0.6])
    feed_all(monitor, TOKENS[5:])
    assert [e.revised for e in monitor.events] == pytest.approx([0.4, 0.8, 1.0])
    monitor.finish()
    events = monitor.events
    assert [e.confidence for e in events] == [0.2, 0.6, 1.0, 0.0]
    assert [e.revised for e in events] == pytest.approx([0.4, 0.8, 0.5, 0.0])
    assert monitor.revision_history == tuple(e.revisions for e in events)
    expected = [[0.2, 0.4], [0.6, 0.8], [1.0, 0.5], [0.0]]
    for history, values in zip(monitor.revision_history, expected, strict=True):
        assert list(history) == pytest.approx(values)


def test_bci_depth_two_matches_the_batch_formula() -> None:
    confidences = [0.1, 0.9, 0.3, 0.7]
    monitor = ConfidenceMonitor(
        ScriptedScorer(confidences), QUESTION, NO_GAP, BCISettings(alpha=0.25, depth=2)
    )
    feed_all(monitor, TOKENS)
    monitor.finish()

    def revised(j: int, d: int) -> float:
        if d == 0 or j == len(confidences) - 1:
            return confidences[j]
        return 0.25 * confidences[j] + 0.75 * revised(j + 1, d - 1)

    assert [e.revised for e in monitor.events] == pytest.approx([revised(j, 2) for j in range(4)])
    # the question event changed twice (after events 1 and 2), never after event 3
    assert len(monitor.events[0].revisions) == 3


class Sampler:
    def __init__(self, continuations: list[str]) -> None:
        self.continuations = continuations
        self.calls: list[tuple[str, str, int]] = []

    def __call__(self, question: str, prefix: str, n: int) -> list[str]:
        self.calls.append((question, prefix, n))
        return self.continuations[:n]


def test_width_averages_sampled_futures_with_the_observed_path() -> None:
    def score(question: str, answer: str) -> float:
        if answer.endswith("GOOD"):
            return 1.0
        if answer.endswith("BAD"):
            return 0.0
        return 0.5

    sampler = Sampler(["GOOD", "BAD"])
    scorer = ScriptedScorer(score)
    monitor = ConfidenceMonitor(
        scorer, QUESTION, NO_GAP, BCISettings(alpha=0.5, depth=1, width=2), future_sampler=sampler
    )
    question_event = monitor.start()
    assert question_event is not None
    # only sampled futures so far: 0.5*0.5 + 0.5*mean(1.0, 0.0) = 0.5
    assert question_event.revised == pytest.approx(0.5)
    feed_all(monitor, TOKENS[:5])
    first_line = ANSWER[: ANSWER.index("\n") + 1]
    assert sampler.calls == [(QUESTION, "", 2), (QUESTION, first_line, 2)]
    batch = [c.answer for c in scorer.calls if c.kind == "score_batch"]
    assert batch == ["GOOD", "BAD", first_line + "GOOD", first_line + "BAD"]
    outcome = monitor.finish()
    assert outcome is not None
    assert outcome.revised == outcome.confidence == 0.5  # no futures after the answer
    assert len(sampler.calls) == 2  # the outcome samples nothing


def test_width_needs_a_sampler() -> None:
    with pytest.raises(GuardrailConfigError, match="future_sampler"):
        ConfidenceMonitor(ScriptedScorer(by_length), QUESTION, bci=BCISettings(depth=1, width=2))


def test_width_without_depth_samples_nothing() -> None:
    sampler = Sampler(["x"])
    monitor = ConfidenceMonitor(
        ScriptedScorer(by_length), QUESTION, NO_GAP, BCISettings(width=1), future_sampler=sampler
    )
    feed_all(monitor, TOKENS)
    monitor.finish()
    assert sampler.calls == []
    assert all(e.revised == e.confidence for e in monitor.events)


# -------------------------------------------------------------------------- entropy
def logprobs_for(probability: float) -> list[dict[str, object]]:
    """One token whose top-2 are ``probability`` and ``1 - probability``."""
    return [
        {
            "token": "t",
            "logprob": math.log(probability),
            "top_logprobs": [
                {"token": "t", "logprob": math.log(probability)},
                {"token": "u", "logprob": math.log(1 - probability)},
            ],
        }
    ]


def binary_entropy(p: float) -> float:
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def entropy_settings(source: str = "auto", threshold: float = 0.5) -> CheckpointSettings:
    return CheckpointSettings.model_validate(
        {
            "strategies": [{"type": "entropy", "threshold": threshold, "source": source}],
            "min_gap": 0,
            "score_question": False,
        }
    )


def test_entropy_trigger_from_stream_logprobs() -> None:
    scorer = ScriptedScorer(by_length, entropy=lambda q, a: 9.9)
    monitor = ConfidenceMonitor(scorer, QUESTION, entropy_settings("auto"))
    probabilities = [0.99, 0.6, 0.95, 0.5]
    events = [monitor.feed(f"w{i} ", logprobs_for(p)) for i, p in enumerate(probabilities)]
    fired = [(e.token_index, e.entropy) for e in events if e is not None]
    assert fired == [(2, pytest.approx(binary_entropy(0.6))), (4, pytest.approx(math.log(2)))]
    assert all(e.reason == "entropy" for e in monitor.events)
    assert not any(c.kind == "session.entropy" for c in scorer.calls)  # logprobs were there


def test_entropy_from_scorer_is_asked_before_the_token_is_appended() -> None:
    entropies = {"": 0.1, "a": 2.0, "ab": 0.2}
    scorer = ScriptedScorer(by_length, entropy=lambda q, a: entropies[a])
    monitor = ConfidenceMonitor(scorer, QUESTION, entropy_settings("scorer"))
    events = [monitor.feed(token, logprobs_for(0.5)) for token in "abc"]
    # token "b" is fired by the entropy the scorer gave *before* "b" was appended
    assert [e is not None for e in events] == [False, True, False]
    assert events[1] is not None
    assert events[1].entropy == 2.0
    assert [c.answer for c in scorer.calls if c.kind == "session.entropy"] == ["", "a", "ab"]


def test_entropy_none_from_scorer_means_no_entropy_checkpoint() -> None:
    scorer = ScriptedScorer(by_length, entropy=lambda q, a: None)
    monitor = ConfidenceMonitor(scorer, QUESTION, entropy_settings("auto"))
    assert feed_all(monitor, TOKENS) == []


def test_logprobs_source_without_logprobs_never_fires() -> None:
    scorer = ScriptedScorer(by_length, entropy=lambda q, a: 9.9)
    monitor = ConfidenceMonitor(scorer, QUESTION, entropy_settings("logprobs"))
    assert feed_all(monitor, TOKENS) == []
    assert not any(c.kind == "session.entropy" for c in scorer.calls)


def test_auto_sticks_to_logprobs_once_the_stream_carried_them() -> None:
    scorer = ScriptedScorer(by_length, entropy=lambda q, a: 9.9)
    monitor = ConfidenceMonitor(scorer, QUESTION, entropy_settings("auto"))
    assert monitor.feed("a") is not None  # no logprobs yet: the scorer (9.9) fires
    assert monitor.feed("b", logprobs_for(0.99)) is None
    assert monitor.feed("c") is None  # logprobs seen: no fallback to the scorer
    assert [c.answer for c in scorer.calls if c.kind == "session.entropy"] == [""]


def test_events_record_logprobs_entropy_without_entropy_trigger() -> None:
    monitor = ConfidenceMonitor(ScriptedScorer(by_length), QUESTION, NO_GAP)
    monitor.feed("a")
    event = monitor.feed("\n", logprobs_for(0.5))
    assert event is not None
    assert event.entropy == pytest.approx(math.log(2))


# --------------------------------------------------------------------------- errors
def test_scorer_error_is_wrapped_and_ends_the_monitor() -> None:
    scorer = ScriptedScorer(by_length, fail_on=2)
    monitor = ConfidenceMonitor(scorer, QUESTION, NO_GAP)
    monitor.start()
    feed_all(monitor, TOKENS[:4])
    with pytest.raises(ScorerUnavailableError, match=r"session\.score\(\)") as info:
        monitor.feed(TOKENS[4])
    assert isinstance(info.value.__cause__, RuntimeError)
    assert scorer.sessions[0].closed
    assert monitor.finished
    with pytest.raises(MonitorStateError, match="failed") as after:
        monitor.feed("more")
    assert after.value.__cause__ is info.value
    with pytest.raises(MonitorStateError):
        monitor.finish()


def test_guardrail_runtime_errors_pass_unchanged() -> None:
    timeout = ScorerTimeoutError("too slow")
    monitor = ConfidenceMonitor(ScriptedScorer(by_length, fail_on=1, error=timeout), QUESTION)
    with pytest.raises(ScorerTimeoutError) as info:
        monitor.start()
    assert info.value is timeout
    assert info.value.is_retryable


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), "0.5", None, True])
def test_invalid_confidence_is_a_scorer_error(bad: object) -> None:
    monitor = ConfidenceMonitor(ScriptedScorer([bad]), QUESTION)  # type: ignore[list-item]
    with pytest.raises(ScorerUnavailableError, match="confidence"):
        monitor.start()


@pytest.mark.parametrize("bad", [-1.0, float("inf"), "high"])
def test_invalid_scorer_entropy_is_a_scorer_error(bad: object) -> None:
    scorer = ScriptedScorer(by_length, entropy=lambda q, a: bad)  # type: ignore[arg-type,return-value]
    monitor = ConfidenceMonitor(scorer, QUESTION, entropy_settings("scorer"))
    with pytest.raises(ScorerUnavailableError, match="entropy"):
        monitor.feed("a")


def test_exhausted_script_surfaces_as_scorer_unavailable() -> None:
    monitor = ConfidenceMonitor(ScriptedScorer([]), QUESTION)
    with pytest.raises(ScorerUnavailableError) as info:
        monitor.start()
    assert isinstance(info.value.__cause__, LookupError)


class BrokenSession:
    def __init__(self, fail_in: str) -> None:
        self.fail_in = fail_in

    def _maybe_fail(self, where: str) -> None:
        if where == self.fail_in:
            raise OSError(f"{where} broke")

    def append(self, text: str) -> None:
        self._maybe_fail("append")

    def score(self) -> float:
        return 0.5

    def entropy(self) -> float | None:
        return None

    def close(self) -> None:
        self._maybe_fail("close")


class BrokenScorer:
    name = "broken"

    def __init__(self, fail_in: str) -> None:
        self.fail_in = fail_in

    def score(self, question: str, answer: str = "") -> float:
        return 0.5

    def score_batch(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        return [0.5] * len(pairs)

    def open_session(self, question: str) -> ScoringSession:
        if self.fail_in == "open":
            raise ValueError("cannot open")
        return BrokenSession(self.fail_in)


@pytest.mark.parametrize(
    ("fail_in", "match"),
    [("open", "open_session"), ("append", "append"), ("close", "session.close")],
)
def test_session_failures_are_wrapped(fail_in: str, match: str) -> None:
    scorer: Scorer = BrokenScorer(fail_in)
    monitor = ConfidenceMonitor(scorer, QUESTION)
    if fail_in == "close":
        monitor.feed("a")
    step = monitor.finish if fail_in == "close" else lambda: monitor.feed("a")
    with pytest.raises(ScorerUnavailableError, match=match) as info:
        step()
    assert "'broken'" in str(info.value)
    assert info.value.__cause__ is not None
    with pytest.raises(MonitorStateError):
        monitor.feed("b")


@pytest.mark.parametrize(
    ("sampler", "match"),
    [
        (lambda q, p, n: ["only one"], "must return 2 strings"),
        (lambda q, p, n: [1, 2], "must return 2 strings"),
        (lambda q, p, n: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_future_sampler_failures(sampler: object, match: str) -> None:
    monitor = ConfidenceMonitor(
        ScriptedScorer(by_length),
        QUESTION,
        bci=BCISettings(depth=1, width=2),
        future_sampler=sampler,  # type: ignore[arg-type]
    )
    with pytest.raises(ScorerUnavailableError, match=match):
        monitor.start()


def test_finish_twice_and_feed_after_finish() -> None:
    monitor = ConfidenceMonitor(ScriptedScorer(by_length), QUESTION)
    monitor.feed("a")
    monitor.finish()
    with pytest.raises(MonitorStateError, match=r"finish\(\) after finish\(\)"):
        monitor.finish()
    with pytest.raises(MonitorStateError, match=r"feed\(\) after finish\(\)"):
        monitor.feed("b")
    with pytest.raises(MonitorStateError):
        monitor.start()


def test_close_releases_the_session_and_is_idempotent() -> None:
    scorer = ScriptedScorer(by_length)
    monitor = ConfidenceMonitor(scorer, QUESTION)
    monitor.feed("a")
    monitor.close()
    monitor.close()
    assert scorer.sessions[0].closed
    with pytest.raises(MonitorStateError, match=r"after close\(\)"):
        monitor.feed("b")
    assert [e.stage for e in monitor.events] == [Stage.QUESTION]


def test_no_heavy_imports() -> None:
    code = (
        "import sys, guardrail.monitor, guardrail.triggers, guardrail.bci, guardrail.entropy,"
        " guardrail.testing.scorers;"
        " heavy = [m for m in ('torch', 'transformers', 'langchain_core', 'litellm')"
        " if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ----------------------------------------------------------------------- properties
@settings(deadline=None, max_examples=60)
@given(
    tokens=st.lists(st.sampled_from(["a", " b", "\n", "c.\n", "\n\n", "", "d\ne"]), max_size=60),
    every=st.integers(1, 9),
    min_gap=st.integers(0, 6),
    max_per_answer=st.integers(1, 5),
    alpha=st.floats(0.0, 1.0),
    depth=st.integers(0, 4),
)
def test_monitor_invariants(
    tokens: list[str], every: int, min_gap: int, max_per_answer: int, alpha: float, depth: int
) -> None:
    checkpoints = CheckpointSettings(
        strategies=[ParagraphTriggerSpec(), PeriodicTriggerSpec(every=every)],
        min_gap=min_gap,
        max_per_answer=max_per_answer,
    )
    scorer = ScriptedScorer(lambda q, a: (len(a) * 7919 % 101) / 100)
    bci = BCISettings(alpha=alpha, depth=depth)
    monitor = ConfidenceMonitor(scorer, QUESTION, checkpoints, bci)
    for token in tokens:
        monitor.feed(token)
    monitor.finish()
    events = monitor.events
    answer = "".join(tokens)
    assert monitor.answer == answer
    assert [e.index for e in events] == list(range(len(events)))
    assert events[0].stage is Stage.QUESTION
    assert events[-1].stage is Stage.OUTCOME
    process = [e for e in events if e.stage is Stage.PROCESS]
    assert len(process) <= max_per_answer
    gaps = [b.token_index - a.token_index for a, b in itertools.pairwise(process)]
    assert all(gap >= min_gap for gap in gaps)
    # spans are contiguous and cover the answer
    assert [e.char_start for e in events[1:]] == [e.char_end for e in events[:-1]]
    assert (events[0].char_start, events[-1].char_end) == (0, len(answer))
    for event in events:
        assert event.confidence == scorer.score(QUESTION, answer[: event.char_end])
        assert event.revisions[-1] == event.revised
    assert [e.revised for e in events] == integrate([e.confidence for e in events], alpha, depth)


class _StagedScorer(ScriptedScorer):
    """A scripted scorer with a map per stage: question x0.5, process x0.8, outcome unchanged."""

    def for_stage(self, confidence: float, stage: str) -> float:
        return confidence * {"question": 0.5, "process": 0.8}.get(stage, 1.0)


def test_stage_calibration_is_applied_by_stage() -> None:
    monitor = ConfidenceMonitor(_StagedScorer(lambda q, a: 0.6), QUESTION, NO_GAP)
    monitor.start()
    feed_all(monitor, TOKENS)
    monitor.finish()
    by_stage = {(e.stage, round(e.confidence, 9)) for e in monitor.events}
    assert by_stage == {(Stage.QUESTION, 0.3), (Stage.PROCESS, 0.48), (Stage.OUTCOME, 0.6)}
