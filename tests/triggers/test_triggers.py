"""Table-driven tests of each trigger, the combinator and the registry."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.triggers import (
    TRIGGER_TYPES,
    AnswerText,
    CheckpointSettings,
    CheckpointTrigger,
    EntropyTrigger,
    EntropyTriggerSpec,
    ParagraphTrigger,
    ParagraphTriggerSpec,
    PeriodicTrigger,
    PeriodicTriggerSpec,
    Trigger,
    build_trigger,
    create_trigger,
    trigger_class,
)


def run(
    trigger: Trigger,
    tokens: Sequence[str],
    entropies: Sequence[float | None] | None = None,
) -> list[tuple[int, str]]:
    """Feed tokens; return ``(index, reason)`` of every firing."""
    answer = AnswerText()
    fired = []
    for index, token in enumerate(tokens):
        answer.append(token)
        entropy = None if entropies is None else entropies[index]
        reason = trigger.observe(token, index, answer, entropy)
        if reason is not None:
            fired.append((index, reason))
    return fired


class StubTrigger:
    """Fires at fixed indices with a fixed reason."""

    entropy_source = None

    def __init__(self, name: str, at: set[int]) -> None:
        self.name = name
        self.at = at
        self.resets = 0

    def observe(
        self, token: str, index: int, answer: AnswerText, entropy: float | None
    ) -> str | None:
        return self.name if index in self.at else None

    def reset(self) -> None:
        self.resets += 1


# ---------------------------------------------------------------------- paragraph
PARAGRAPH_CASES = [
    # (id, tokens, min_chars, indices that fire)
    ("newline-token", ["Hello", " world", "\n"], 1, [2]),
    ("newline-at-token-end", ["a\n"], 1, [0]),
    ("leading-newline-is-empty-line", ["\n", "a", "\n"], 1, [2]),
    ("double-newline-token", ["ab", "\n\n", "cd", "\n"], 1, [1, 3]),
    ("second-newline-closes-empty-line", ["ab\n", "\n", "\n"], 1, [0]),
    ("text-after-newline-starts-next-line", ["ab.\nThe", " end", "\n"], 1, [0, 2]),
    ("several-newlines-one-token-fires-once", ["x\ny\nz\n"], 1, [0]),
    ("whitespace-only-line", ["   ", "\t", "\n"], 1, []),
    ("min-chars-short-line-skipped", ["abc", "\n", "abcdef", "\n"], 5, [3]),
    ("min-chars-spaces-do-not-count", ["a b c d", "\n", "abcde", "\n"], 5, [3]),
    ("inner-line-of-token-qualifies", ["ab\nabc\n"], 3, [0]),
    ("inner-line-too-short", ["ab\nab"], 3, []),
    ("line-spans-tokens-after-newline", ["ab\nab", "c\n"], 3, [1]),
    ("crlf", ["line", "\r\n", "next\r\n"], 1, [1, 2]),
    ("no-newline-never-fires", ["a", "b", "c"], 1, []),
    ("empty-token", ["a", "", "\n"], 1, [2]),
    ("unicode-text", ["Schritt ①", "\n", "ü", "\n"], 1, [1, 3]),
]


@pytest.mark.parametrize(
    ("tokens", "min_chars", "expected"),
    [case[1:] for case in PARAGRAPH_CASES],
    ids=[case[0] for case in PARAGRAPH_CASES],
)
def test_paragraph_trigger(tokens: list[str], min_chars: int, expected: list[int]) -> None:
    fired = run(ParagraphTrigger(min_chars=min_chars), tokens)
    assert fired == [(index, "paragraph") for index in expected]


def test_paragraph_reset_starts_on_an_empty_line() -> None:
    trigger = ParagraphTrigger(min_chars=3)
    assert run(trigger, ["abc"]) == []
    trigger.reset()
    assert run(trigger, ["\n"]) == []


def test_paragraph_rejects_min_chars_below_one() -> None:
    with pytest.raises(GuardrailConfigError, match="min_chars"):
        ParagraphTrigger(min_chars=0)


# ----------------------------------------------------------------------- periodic
@pytest.mark.parametrize(
    ("every", "n_tokens", "expected"),
    [
        (3, 10, [2, 5, 8]),
        (1, 4, [0, 1, 2, 3]),
        (5, 4, []),
        (4, 8, [3, 7]),
    ],
)
def test_periodic_trigger(every: int, n_tokens: int, expected: list[int]) -> None:
    fired = run(PeriodicTrigger(every=every), ["t"] * n_tokens)
    assert fired == [(index, "periodic") for index in expected]


def test_periodic_rejects_every_below_one() -> None:
    with pytest.raises(GuardrailConfigError, match="every"):
        PeriodicTrigger(every=0)


# ------------------------------------------------------------------------ entropy
@pytest.mark.parametrize(
    ("threshold", "entropies", "expected"),
    [
        (1.0, [None, 0.5, 2.0, 1.0, 1.0001], [2, 4]),
        (0.1, [None, None], []),
        (3.0, [0.0, 2.9, 3.5], [2]),
    ],
    ids=["strictly-above", "unknown-never-fires", "one-high"],
)
def test_entropy_trigger(
    threshold: float, entropies: list[float | None], expected: list[int]
) -> None:
    fired = run(EntropyTrigger(threshold), ["t"] * len(entropies), entropies)
    assert fired == [(index, "entropy") for index in expected]


@pytest.mark.parametrize("threshold", [0.0, -1.0, float("nan"), float("inf")])
def test_entropy_rejects_bad_threshold(threshold: float) -> None:
    with pytest.raises(GuardrailConfigError, match="threshold"):
        EntropyTrigger(threshold)


# -------------------------------------------------------------------- combination
COMBINE_CASES = [
    # (id, combine, firing sets per stub, min_gap, max_per_answer, expected (index, reason))
    ("any-union", "any", [{1, 5}, {3, 5}], 0, 16, [(1, "a"), (3, "b"), (5, "a+b")]),
    ("any-min-gap-drops", "any", [{1, 2, 3, 10}], 2, 16, [(1, "a"), (3, "a"), (10, "a")]),
    ("any-min-gap-equal-ok", "any", [{0, 4, 8}], 4, 16, [(0, "a"), (4, "a"), (8, "a")]),
    ("any-max-per-answer", "any", [{1, 2, 3}, {4}], 0, 2, [(1, "a"), (2, "a")]),
    ("any-first-not-gated", "any", [{0}], 50, 16, [(0, "a")]),
    ("all-needs-each", "all", [{1, 5, 7}, {3, 8}], 0, 16, [(3, "a+b"), (8, "a+b")]),
    ("all-same-token", "all", [{2}, {2}], 0, 16, [(2, "a+b")]),
    ("all-gap-keeps-latches", "all", [{0, 2, 9}, {1, 3, 4}], 3, 16, [(1, "a+b"), (4, "a+b")]),
    ("all-max", "all", [{0, 1, 2}, {0, 1, 2}], 0, 1, [(0, "a+b")]),
    ("all-never-complete", "all", [{0, 1}, set()], 0, 16, []),
]


@pytest.mark.parametrize(
    ("combine", "firings", "min_gap", "max_per_answer", "expected"),
    [case[1:] for case in COMBINE_CASES],
    ids=[case[0] for case in COMBINE_CASES],
)
def test_checkpoint_trigger_combination(
    combine: str,
    firings: list[set[int]],
    min_gap: int,
    max_per_answer: int,
    expected: list[tuple[int, str]],
) -> None:
    stubs = [StubTrigger(name, at) for name, at in zip("abc", firings, strict=False)]
    trigger = CheckpointTrigger(
        stubs,
        combine="all" if combine == "all" else "any",
        min_gap=min_gap,
        max_per_answer=max_per_answer,
    )
    assert run(trigger, ["t"] * 12) == expected
    assert trigger.checkpoints_taken == len(expected)


def test_checkpoint_trigger_reset_resets_strategies_and_gate() -> None:
    stub = StubTrigger("a", {0, 1})
    trigger = CheckpointTrigger([stub], min_gap=5, max_per_answer=1)
    assert run(trigger, ["t", "t"]) == [(0, "a")]
    trigger.reset()
    assert stub.resets == 1
    assert run(trigger, ["t", "t"]) == [(0, "a")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_gap": -1}, "min_gap"),
        ({"max_per_answer": 0}, "max_per_answer"),
        ({"combine": "most"}, "combine"),
    ],
)
def test_checkpoint_trigger_rejects_bad_settings(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(GuardrailConfigError, match=message):
        CheckpointTrigger([StubTrigger("a", set())], **kwargs)  # type: ignore[arg-type]


def test_checkpoint_trigger_needs_a_strategy() -> None:
    with pytest.raises(GuardrailConfigError, match="at least one"):
        CheckpointTrigger([])


# ----------------------------------------------------------------------- registry
def test_registry_maps_every_spec_type() -> None:
    assert dict(TRIGGER_TYPES) == {
        "paragraph": ParagraphTrigger,
        "periodic": PeriodicTrigger,
        "entropy": EntropyTrigger,
    }
    assert trigger_class("periodic") is PeriodicTrigger


def test_registry_unknown_name_lists_valid_names() -> None:
    with pytest.raises(GuardrailConfigError) as info:
        trigger_class("sentence")
    message = str(info.value)
    assert "'sentence'" in message
    assert "entropy, paragraph, periodic" in message


def test_registry_is_read_only() -> None:
    with pytest.raises(TypeError):
        TRIGGER_TYPES["x"] = ParagraphTrigger  # type: ignore[index]


def test_create_trigger_from_specs() -> None:
    paragraph = create_trigger(ParagraphTriggerSpec(min_chars=4))
    assert isinstance(paragraph, ParagraphTrigger)
    assert paragraph.min_chars == 4
    periodic = create_trigger(PeriodicTriggerSpec(every=7))
    assert isinstance(periodic, PeriodicTrigger)
    assert periodic.every == 7
    entropy = create_trigger(EntropyTriggerSpec(threshold=1.5, source="scorer"))
    assert isinstance(entropy, EntropyTrigger)
    assert (entropy.threshold, entropy.entropy_source) == (1.5, "scorer")


def test_from_spec_rejects_the_wrong_spec() -> None:
    with pytest.raises(GuardrailConfigError, match="ParagraphTriggerSpec"):
        ParagraphTrigger.from_spec(PeriodicTriggerSpec())


def test_build_trigger_from_settings() -> None:
    settings = CheckpointSettings(
        strategies=[ParagraphTriggerSpec(), EntropyTriggerSpec(threshold=2.0, source="logprobs")],
        combine="all",
        min_gap=3,
        max_per_answer=5,
    )
    trigger = build_trigger(settings)
    assert [type(t) for t in trigger.triggers] == [ParagraphTrigger, EntropyTrigger]
    assert (trigger.combine, trigger.min_gap, trigger.max_per_answer) == ("all", 3, 5)
    assert trigger.entropy_source == "logprobs"
    assert build_trigger(CheckpointSettings()).entropy_source is None


def test_build_trigger_from_policy_shaped_dict() -> None:
    settings = CheckpointSettings.model_validate(
        {"strategies": [{"type": "periodic", "every": 2}], "min_gap": 0}
    )
    assert run(build_trigger(settings), ["t"] * 5) == [(1, "periodic"), (3, "periodic")]


def test_build_trigger_rejects_mixed_entropy_sources() -> None:
    settings = CheckpointSettings(
        strategies=[
            EntropyTriggerSpec(threshold=1.0, source="logprobs"),
            EntropyTriggerSpec(threshold=2.0, source="scorer"),
        ]
    )
    with pytest.raises(GuardrailConfigError, match="same source"):
        build_trigger(settings)


# ---------------------------------------------------------------------- AnswerText
def test_answer_text_appends_and_reads() -> None:
    answer = AnswerText("ab")
    for piece in ["cd", "", "efg"]:
        answer.append(piece)
    assert len(answer) == 7
    assert answer.text == str(answer) == "abcdefg"
    answer.append("h")
    assert answer.text == "abcdefgh"
    assert [answer.tail(n) for n in (0, 1, 3, 8, 20)] == ["", "h", "fgh", "abcdefgh", "abcdefgh"]
    assert AnswerText().text == ""
    assert AnswerText().tail(3) == ""
