import itertools

import pytest

from guardrail.errors import GuardrailConfigError
from guardrail.lab.tasks import TASKS, TaskOptions, get_task
from guardrail.lab.tasks.facts import FACT_RELATIONS, FactChoiceTask, FactsTask, facts
from guardrail.lab.tasks.splits import in_split, validate_split
from guardrail.lab.tasks.table import TableLookupTask, table_question
from guardrail.lab.tasks.units import UnitConversionTask, unit_question

NEW = ("facts", "fact-choice", "table-lookup", "unit-conversion")


@pytest.mark.parametrize("name", NEW)
def test_registered_and_protocol_shaped(name):
    assert name in TASKS
    task = get_task(name)
    item = next(iter(task.items()))
    messages = task.prompt(item.question)
    assert messages[0]["role"] == "system"
    assert messages[-1]["content"].endswith(item.question)
    assert task.stop


@pytest.mark.parametrize("name", NEW)
def test_items_are_deterministic_and_ids_unique(name):
    first = [i.id for i in itertools.islice(get_task(name).items(), 60)]
    again = [i.id for i in itertools.islice(get_task(name).items(), 60)]
    assert first == again
    assert len(set(first)) == len(first)


@pytest.mark.parametrize("name", NEW)
def test_reference_solution_passes_its_own_checker(name):
    task = get_task(name)
    for item in itertools.islice(task.items(), 40):
        reference = item.reference if isinstance(item.reference, str) else item.reference[0]
        if name == "fact-choice":
            assert task.check(f"I think so.\nThe answer is ({reference}).", item.reference)
        else:
            assert task.check(f"Because.\nThe answer is {reference}.", item.reference), item
        assert not task.check("The answer is zzz-not-it.", item.reference)


def test_facts_cover_every_relation_and_accept_aliases():
    relations = {f.relation for f in facts()}
    assert relations == set(FACT_RELATIONS)
    tin = next(f for f in facts() if f.id == "symbol-tin")
    task = FactsTask()
    assert task.check("Tin is Sn.\nThe answer is Sn.", tin.answers)
    assert task.check("The answer is sn", tin.answers)  # normalised
    assert not task.check("The answer is Tin.", tin.answers)


def test_fact_split_is_disjoint_and_complete():
    train = {i.id for i in FactsTask(split="train").items()}
    test = {i.id for i in FactsTask(split="test").items()}
    every = {i.id for i in FactsTask().items()}
    assert train.isdisjoint(test)
    assert train | test == every
    assert 0.1 < len(test) / len(every) < 0.3
    choice_test = {i.id.removeprefix("fact-choice-") for i in FactChoiceTask(split="test").items()}
    assert choice_test == {i.id.removeprefix("facts-") for i in FactsTask(split="test").items()}


def test_split_seed_changes_order_not_membership():
    a = [i.id for i in FactsTask(seed=0, split="test").items()]
    b = [i.id for i in FactsTask(seed=1, split="test").items()]
    assert a != b
    assert sorted(a) == sorted(b)


def test_fact_choice_has_the_answer_once_among_distinct_options():
    letters = []
    for item in itertools.islice(FactChoiceTask(choices=4).items(), 200):
        options = item.question.splitlines()[1:]
        assert len(options) == 4
        texts = [o.split(". ", 1)[1] for o in options]
        assert len(set(texts)) == 4
        letters.append(item.reference)
    assert set(letters) == {"A", "B", "C", "D"}


def test_table_question_answer_is_in_the_table():
    for index in range(30):
        q = table_question(0, 2, index)
        table = q.question.rsplit("\n", 1)[0]
        assert q.answers[0] in table


def test_unit_answers_follow_from_the_factor():
    for index in range(30):
        c = unit_question(0, 1, index)
        assert c.answer % 10 == 0


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: TableLookupTask((9,)), "between 1 and"),
        (lambda: UnitConversionTask((0,)), "between 1 and"),
        (lambda: UnitConversionTask(()), "at least one"),
        (lambda: FactsTask(split="dev"), "unknown split"),
        (lambda: FactsTask(relations=("capital", "flag")), "flag"),
        (lambda: FactChoiceTask(choices=1), "choices"),
    ],
)
def test_bad_settings_are_located_errors(factory, message):
    with pytest.raises(GuardrailConfigError, match=message):
        factory()


def test_in_split_is_stable():
    assert validate_split("test") == "test"
    ids = [f"q-{n}" for n in range(500)]
    assert [in_split(i, "test") for i in ids] == [in_split(i, "test") for i in ids]
    assert all(in_split(i, "all") for i in ids)


def test_options_pass_split_through_the_registry():
    task = get_task("facts", TaskOptions(split="test"))
    assert all(in_split(i.id.removeprefix("facts-"), "test") for i in task.items())


@pytest.mark.parametrize("name", NEW)
def test_self_consistency_reads_every_family_s_final_answer(name):
    from guardrail.lab.evaluation.baselines import final_answer, self_consistency

    task = get_task(name)
    item = next(iter(task.items()))
    reference = item.reference if isinstance(item.reference, str) else item.reference[0]
    said = f"({reference})" if name == "fact-choice" else reference
    completion = f"Because.\nThe answer is {said}."
    assert final_answer(task, completion) is not None
    assert self_consistency(task, completion, [completion, "The answer is zzz."]) == 0.5
