"""The public API of ``guardrail.lab.data`` and ``guardrail.lab.tasks``; importing them is light."""

from __future__ import annotations

import subprocess
import sys

import guardrail.lab.data
import guardrail.lab.tasks

DATA_API = {
    "BuildConfig",
    "BuildReport",
    "Cluster",
    "Completion",
    "GenerationError",
    "Generator",
    "LabelStore",
    "LabelSummary",
    "LiteLLMGenerator",
    "LocalBatchGenerator",
    "Prompt",
    "build",
    "cluster_texts",
    "paragraph_cuts",
    "read_labels",
    "read_records",
    "summarize",
    "truncate_at_paragraph",
}
TASKS_API = {
    "ANSWER_PREFIX",
    "CHECKERS",
    "MAX_DIFFICULTY",
    "TASKS",
    "Checker",
    "GSM8KTask",
    "MultipleChoiceTask",
    "Reference",
    "Shot",
    "ShortAnswerTask",
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
}


def test_public_api_is_pinned() -> None:
    assert set(guardrail.lab.data.__all__) == DATA_API
    assert set(guardrail.lab.tasks.__all__) == TASKS_API
    for module in (guardrail.lab.data, guardrail.lab.tasks):
        for name in module.__all__:
            assert getattr(module, name) is not None


def test_importing_does_not_load_heavy_dependencies() -> None:
    code = (
        "import sys, guardrail.lab.data, guardrail.lab.tasks, guardrail.cli.data\n"
        "heavy = ['torch', 'transformers', 'sklearn', 'litellm', 'numpy']\n"
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
