"""The explicit registries of tasks and answer checkers; unknown names list the valid ones."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from guardrail.errors import ConfigIssue, GuardrailConfigError
from guardrail.lab.tasks.base import Reference, Task
from guardrail.lab.tasks.choice import MultipleChoiceTask, check_choice
from guardrail.lab.tasks.facts import FactChoiceTask, FactsTask
from guardrail.lab.tasks.gsm8k import GSM8KTask
from guardrail.lab.tasks.numeric import check_numeric
from guardrail.lab.tasks.short_answer import ShortAnswerTask, check_short_answer
from guardrail.lab.tasks.splits import Split
from guardrail.lab.tasks.synthetic import SyntheticArithmeticTask
from guardrail.lab.tasks.table import TableLookupTask
from guardrail.lab.tasks.units import UnitConversionTask

__all__ = ["CHECKERS", "TASKS", "Checker", "TaskOptions", "get_checker", "get_task"]

Checker = Callable[[str, Reference], bool]


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """Settings a task may need: a data file (file-based tasks), difficulties, seed, split.

    ``split`` applies to the finite built-in tasks (``facts``, ``fact-choice``): a fixed fifth
    of their questions is ``test``; generated tasks hold questions out with another ``seed``.
    """

    data: str | Path | None = None
    difficulties: Sequence[int] = (1, 2)
    seed: int = 0
    split: Split = "all"


def _needs_data(name: str, options: TaskOptions) -> Path:
    if options.data is None:
        raise GuardrailConfigError(
            [
                ConfigIssue(
                    f"task {name!r} reads its questions from a file",
                    key_path="data",
                    expected="a JSONL file (--data PATH)",
                )
            ]
        )
    return Path(options.data)


TASKS: Mapping[str, Callable[[TaskOptions], Task]] = MappingProxyType(
    {
        "synthetic": lambda o: SyntheticArithmeticTask(o.difficulties, seed=o.seed),
        "table-lookup": lambda o: TableLookupTask(o.difficulties, seed=o.seed),
        "unit-conversion": lambda o: UnitConversionTask(o.difficulties, seed=o.seed),
        "facts": lambda o: FactsTask(seed=o.seed, split=o.split),
        "fact-choice": lambda o: FactChoiceTask(seed=o.seed, split=o.split),
        "gsm8k": lambda o: GSM8KTask(_needs_data("gsm8k", o)),
        "multiple-choice": lambda o: MultipleChoiceTask(_needs_data("multiple-choice", o)),
        "short-answer": lambda o: ShortAnswerTask(_needs_data("short-answer", o)),
    }
)
"""Task name -> factory."""

CHECKERS: Mapping[str, Checker] = MappingProxyType(
    {"numeric": check_numeric, "choice": check_choice, "short-answer": check_short_answer}
)
"""Checker name -> ``check(completion, reference) -> bool``."""


def _unknown(kind: str, name: str, valid: Sequence[str]) -> GuardrailConfigError:
    return GuardrailConfigError(
        [
            ConfigIssue(
                f"unknown {kind} {name!r}", key_path=kind, expected=f"one of {', '.join(valid)}"
            )
        ]
    )


def get_task(name: str, options: TaskOptions | None = None) -> Task:
    """Build the task registered as ``name``."""
    try:
        factory = TASKS[name]
    except KeyError:
        raise _unknown("task", name, sorted(TASKS)) from None
    return factory(options or TaskOptions())


def get_checker(name: str) -> Checker:
    """The answer checker registered as ``name``."""
    try:
        return CHECKERS[name]
    except KeyError:
        raise _unknown("checker", name, sorted(CHECKERS)) from None
