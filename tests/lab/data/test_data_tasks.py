"""Tasks: the seeded synthetic generator, file-based tasks and the registry."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.lab.tasks import (
    CHECKERS,
    MAX_DIFFICULTY,
    TASKS,
    GSM8KTask,
    MultipleChoiceTask,
    ShortAnswerTask,
    SyntheticArithmeticTask,
    Task,
    TaskOptions,
    get_checker,
    get_task,
    synthetic_problem,
)

GSM8K_TEST = Path(__file__).resolve().parents[4] / "shared" / "data" / "gsm8k_test.jsonl"


def test_synthetic_items_are_reproducible_and_independent_of_the_mix() -> None:
    first = list(itertools.islice(SyntheticArithmeticTask((1, 2), seed=3).items(), 6))
    again = list(itertools.islice(SyntheticArithmeticTask((1, 2), seed=3).items(), 6))
    assert first == again
    assert [item.id for item in first[:2]] == ["synthetic-d1-s3-0", "synthetic-d2-s3-0"]
    only_two = list(itertools.islice(SyntheticArithmeticTask((2,), seed=3).items(), 3))
    assert only_two == [item for item in first if item.metadata["difficulty"] == 2]
    other_seed = list(itertools.islice(SyntheticArithmeticTask((1, 2), seed=4).items(), 6))
    assert [i.question for i in other_seed] != [i.question for i in first]


@pytest.mark.parametrize("difficulty", range(1, MAX_DIFFICULTY + 1))
def test_synthetic_solutions_are_correct_and_one_step_per_line(difficulty: int) -> None:
    task = SyntheticArithmeticTask((difficulty,), seed=11)
    for item in itertools.islice(task.items(), 40):
        solution = item.metadata["solution"]
        assert int(item.reference) > 0
        assert task.check(solution, item.reference)
        lines = solution.splitlines()
        assert len(lines) == difficulty + 2  # start, one line per step, the answer
        for line in lines[1:-1]:  # every step line's arithmetic is right
            left, right = re.search(r"(\d+ [-+*] \d+) = (\d+)", line).groups()  # type: ignore[union-attr]
            assert eval(left) == int(right)


def test_synthetic_prompt_is_few_shot_chat_with_a_shared_prefix() -> None:
    task = SyntheticArithmeticTask()
    first, second = (task.prompt(q) for q in ("Q one?", "Q two?"))
    assert first[:-1] == second[:-1]
    assert [m["role"] for m in first] == ["system"] + ["user", "assistant"] * 4 + ["user"]
    assert first[-1]["content"] == "Question: Q one?"
    assert all(m["content"].endswith(".") for m in first[2:-1:2])  # "The answer is N."


@pytest.mark.parametrize("difficulty", [0, MAX_DIFFICULTY + 1])
def test_synthetic_difficulty_out_of_range(difficulty: int) -> None:
    with pytest.raises(GuardrailConfigError, match="difficulty"):
        synthetic_problem(0, difficulty, 0)


def test_registry_builds_every_task_and_rejects_unknown_names(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text(
        json.dumps({"id": "x", "question": "q", "answer": "A", "choices": ["a", "b"]}) + "\n"
    )
    for name in TASKS:
        task = get_task(name, TaskOptions(data=data))
        assert isinstance(task, Task)
        assert task.name == name
    with pytest.raises(GuardrailConfigError) as caught:
        get_task("gsm9k")
    assert "gsm8k" in str(caught.value)
    assert "synthetic" in str(caught.value)
    with pytest.raises(GuardrailConfigError, match="numeric"):
        get_checker("regex")
    assert get_checker("numeric") is CHECKERS["numeric"]


def test_file_tasks_need_a_data_file() -> None:
    with pytest.raises(GuardrailConfigError, match="--data"):
        get_task("gsm8k")
    with pytest.raises(GuardrailConfigError, match="not found"):
        list(GSM8KTask("/nonexistent/gsm8k.jsonl").items())


def test_bad_rows_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "q", "answer": "1"}\n{"question": "no answer"}\n')
    with pytest.raises(GuardrailConfigError, match=r"bad.jsonl:2"):
        list(GSM8KTask(path).items())
    path.write_text("not json\n")
    with pytest.raises(GuardrailConfigError, match=r"bad.jsonl:1: not JSON"):
        list(GSM8KTask(path).items())


def test_multiple_choice_rows(tmp_path: Path) -> None:
    path = tmp_path / "mc.jsonl"
    rows = [
        {"id": "m1", "question": "Pick b", "choices": ["a", "b", "c"], "answer": "B"},
        {"id": "m2", "question": "Pick a", "choices": {"A": "x", "B": "y"}, "answer": "(a)"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    task = MultipleChoiceTask(path)
    items = list(task.items())
    assert items[0].question == "Pick b\nA. a\nB. b\nC. c"
    assert [i.reference for i in items] == ["B", "A"]
    assert task.check("so\nThe answer is (B).", items[0].reference)
    path.write_text(
        json.dumps({"id": "m3", "question": "q", "choices": ["a", "b"], "answer": "E"}) + "\n"
    )
    with pytest.raises(GuardrailConfigError, match="not a choice letter"):
        list(task.items())


def test_short_answer_rows_keep_aliases(tmp_path: Path) -> None:
    path = tmp_path / "sa.jsonl"
    path.write_text(
        json.dumps({"question": "Capital?", "answer": "Paris", "aliases": ["City of Paris"]}) + "\n"
    )
    task = ShortAnswerTask(path)
    (item,) = task.items()
    assert item.id == "sa-1"
    assert item.reference == ("Paris", "City of Paris")
    assert task.check("The answer is city of Paris.", item.reference)


@pytest.mark.skipif(not GSM8K_TEST.is_file(), reason="GSM8K data not present")
def test_gsm8k_reference_solutions_pass_the_checker() -> None:
    task = GSM8KTask(GSM8K_TEST)
    items = list(itertools.islice(task.items(), 50))
    assert items[0].id == "gsm8k-test-0"
    assert all(task.check(str(item.metadata["solution"]), item.reference) for item in items)
