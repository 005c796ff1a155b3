"""Tasks for building confidence data: questions, few-shot prompts and answer checkers.

Light to import: no torch, transformers or scikit-learn.
"""

from guardrail.lab.tasks.base import (
    ANSWER_PREFIX,
    Reference,
    Shot,
    Task,
    TaskItem,
    few_shot_messages,
)
from guardrail.lab.tasks.choice import MultipleChoiceTask, check_choice, extract_choice
from guardrail.lab.tasks.gsm8k import GSM8KTask
from guardrail.lab.tasks.numeric import (
    check_numeric,
    extract_numeric_answer,
    numbers_equal,
    parse_number,
)
from guardrail.lab.tasks.registry import (
    CHECKERS,
    TASKS,
    Checker,
    TaskOptions,
    get_checker,
    get_task,
)
from guardrail.lab.tasks.short_answer import (
    ShortAnswerTask,
    check_short_answer,
    extract_short_answer,
    normalize_answer,
)
from guardrail.lab.tasks.synthetic import MAX_DIFFICULTY, SyntheticArithmeticTask, synthetic_problem

__all__ = [
    "ANSWER_PREFIX",
    "CHECKERS",
    "MAX_DIFFICULTY",
    "TASKS",
    "Checker",
    "GSM8KTask",
    "MultipleChoiceTask",
    "Reference",
    "ShortAnswerTask",
    "Shot",
    "SyntheticArithmeticTask",
    "Task",
    "TaskItem",
    "TaskOptions",
    "check_choice",
    "check_numeric",
    "check_short_answer",
    "extract_choice",
    "extract_numeric_answer",
    "extract_short_answer",
    "few_shot_messages",
    "get_checker",
    "get_task",
    "normalize_answer",
    "numbers_equal",
    "parse_number",
    "synthetic_problem",
]
