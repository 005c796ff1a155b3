"""Property tests of checkpoint placement."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from guardrail.triggers import (
    AnswerText,
    CheckpointSettings,
    CheckpointTrigger,
    ParagraphTrigger,
    ParagraphTriggerSpec,
    PeriodicTrigger,
    PeriodicTriggerSpec,
    build_trigger,
)

FAST = settings(deadline=None, max_examples=150)

tokens_st = st.lists(
    st.sampled_from(["a", "bc", " ", "\t", "\n", "\n\n", "x\ny", ".\nThe", " \n", "ab\ncd\n", ""])
    | st.text(alphabet="ab \n", max_size=6),
    max_size=80,
)


def fire_indices(trigger: CheckpointTrigger | ParagraphTrigger, tokens: list[str]) -> list[int]:
    answer = AnswerText()
    fired = []
    for index, token in enumerate(tokens):
        answer.append(token)
        if trigger.observe(token, index, answer, None) is not None:
            fired.append(index)
    return fired


def reference_paragraph(tokens: list[str], min_chars: int) -> list[int]:
    """Rescan the whole text: a token fires when a newline inside it closes a long line."""
    fired = []
    text = ""
    for index, token in enumerate(tokens):
        start = len(text)
        text += token
        for position in range(start, len(text)):
            if text[position] != "\n":
                continue
            line_start = text.rfind("\n", 0, position) + 1
            line = text[line_start:position]
            if sum(not ch.isspace() for ch in line) >= min_chars:
                fired.append(index)
                break
    return fired


@FAST
@given(tokens=tokens_st, min_chars=st.integers(1, 4))
def test_paragraph_matches_full_rescan(tokens: list[str], min_chars: int) -> None:
    assert fire_indices(ParagraphTrigger(min_chars), tokens) == reference_paragraph(
        tokens, min_chars
    )


@FAST
@given(
    tokens=tokens_st,
    min_chars=st.integers(1, 4),
    min_gap=st.integers(0, 10),
    max_per_answer=st.integers(1, 6),
)
def test_paragraph_checkpoint_placement(
    tokens: list[str], min_chars: int, min_gap: int, max_per_answer: int
) -> None:
    settings_ = CheckpointSettings(
        strategies=[ParagraphTriggerSpec(min_chars=min_chars)],
        min_gap=min_gap,
        max_per_answer=max_per_answer,
    )
    fired = fire_indices(build_trigger(settings_), tokens)
    assert len(fired) <= max_per_answer
    assert all(later - earlier >= min_gap for earlier, later in itertools.pairwise(fired))
    assert all("\n" in tokens[index] for index in fired)
    assert set(fired) <= set(reference_paragraph(tokens, min_chars))


@FAST
@given(
    every=st.integers(1, 12),
    n_tokens=st.integers(0, 200),
    data=st.data(),
)
def test_periodic_exactly_every_n_when_gap_fits(
    every: int, n_tokens: int, data: st.DataObject
) -> None:
    min_gap = data.draw(st.integers(0, every))
    settings_ = CheckpointSettings(
        strategies=[PeriodicTriggerSpec(every=every)], min_gap=min_gap, max_per_answer=1000
    )
    fired = fire_indices(build_trigger(settings_), ["t"] * n_tokens)
    assert fired == list(range(every - 1, n_tokens, every))


class SetTrigger:
    entropy_source = None

    def __init__(self, at: frozenset[int]) -> None:
        self.at = at

    def observe(
        self, token: str, index: int, answer: AnswerText, entropy: float | None
    ) -> str | None:
        return "s" if index in self.at else None

    def reset(self) -> None:
        pass


@FAST
@given(
    firings=st.lists(st.frozensets(st.integers(0, 60)), min_size=1, max_size=3),
    combine=st.sampled_from(["any", "all"]),
    min_gap=st.integers(0, 10),
    max_per_answer=st.integers(1, 8),
)
def test_combined_placement(
    firings: list[frozenset[int]], combine: str, min_gap: int, max_per_answer: int
) -> None:
    trigger = CheckpointTrigger(
        [SetTrigger(at) for at in firings],
        combine="all" if combine == "all" else "any",
        min_gap=min_gap,
        max_per_answer=max_per_answer,
    )
    fired = fire_indices(trigger, ["t"] * 61)
    assert len(fired) <= max_per_answer
    assert all(later - earlier >= min_gap for earlier, later in itertools.pairwise(fired))
    # a checkpoint only where some strategy fired
    assert set(fired) <= frozenset().union(*firings)
    if combine == "any" and min_gap <= 1:
        assert fired == sorted(frozenset().union(*firings))[:max_per_answer]


@FAST
@given(every=st.integers(1, 8), tokens=tokens_st)
def test_any_of_paragraph_and_periodic_is_the_union(every: int, tokens: list[str]) -> None:
    union = CheckpointTrigger([ParagraphTrigger(), PeriodicTrigger(every)], max_per_answer=1000)
    expected = sorted(
        set(reference_paragraph(tokens, 1)) | set(range(every - 1, len(tokens), every))
    )
    assert fire_indices(union, tokens) == expected
