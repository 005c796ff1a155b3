r"""``guardrail eval``: generate answers to a labelled task, score them, write the report.

Example::

    guardrail eval --scorer SCORER --generator builtin:smollm2-135m-instruct \\
        --task numeric --data questions.jsonl --limit 200 --json out/eval.json

writes ``out/eval.json``, ``out/eval.md``, ``out/eval.reliability.png`` and
``out/eval.positions.png`` (see :mod:`guardrail.lab.evaluation.analysis` for the JSON layout) and
prints the summary.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from guardrail.errors import ConfigIssue, GuardrailConfigError
from guardrail.models import DEFAULT_GENERATOR

__all__ = ["MAX_ITEMS", "TASK_ALIASES", "register", "run"]

TASK_ALIASES: Mapping[str, str] = {"numeric": "gsm8k", "choice": "multiple-choice"}
"""Checker names accepted as ``--task``: the file-based task that uses that checker."""

DEFAULT_SCORER = "builtin:finece-smollm2"
"""The shipped, trained scorer (``--scorer``'s default)."""

MAX_ITEMS = 10_000
"""Items read without ``--limit``; a task with more (or an endless one) needs ``--limit``."""


def register(sub: Any) -> None:
    """Add the ``eval`` sub-command."""
    parser = sub.add_parser(
        "eval",
        help="evaluate FineCE and baselines on a labelled task (JSON, markdown, figures)",
        description=(
            "Generate answers with --generator, score them with FineCE (--scorer) and every "
            "baseline, and write the evaluation report."
        ),
    )
    parser.add_argument("--scorer", default=DEFAULT_SCORER, help="FineCE scorer reference")
    parser.add_argument("--generator", default=DEFAULT_GENERATOR, help="generator model reference")
    parser.add_argument(
        "--task", default="numeric", help="task name (numeric = gsm8k, choice = multiple-choice)"
    )
    parser.add_argument("--data", help="JSONL file with question and answer fields")
    parser.add_argument("--limit", type=int, help="evaluate the first N items")
    parser.add_argument(
        "--json", metavar="OUT", help="report JSON path (default: eval-TASK.json in this folder)"
    )
    parser.add_argument("--markdown", metavar="PATH", help="markdown path (default OUT.md)")
    parser.add_argument("--figures-dir", metavar="DIR", help="PNG folder (default: OUT's)")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument(
        "--self-consistency", type=int, default=4, metavar="M", help="samples per question"
    )
    parser.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="0: no CIs")
    parser.add_argument("--dev-fraction", type=float, default=0.5)
    parser.add_argument(
        "--strategies",
        nargs="+",
        default=["paragraph", "periodic", "entropy"],
        metavar="NAME",
        help="checkpoint strategies to compare (paragraph, periodic, entropy)",
    )
    parser.add_argument("--periodic-every", type=int, default=32)
    parser.add_argument("--entropy-threshold", type=float, default=1.0)
    parser.add_argument(
        "--bci-widths", type=int, nargs="+", default=[0], metavar="W", help="e.g. 0 2 4"
    )
    parser.add_argument("--no-p-true", action="store_true", help="skip the P(True) baseline")
    parser.add_argument(
        "--no-verbalized", action="store_true", help="skip the verbalized-confidence baseline"
    )
    parser.add_argument("--difficulties", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--split",
        choices=("all", "train", "test"),
        default="all",
        help="facts, fact-choice: the held-out fifth is test",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--answers",
        type=Path,
        metavar="FILE",
        help="reuse the generated answers in FILE (written by an earlier run with the same "
        "generator, task, items and settings) or write them there: several scorers judged "
        "on the same answers, one generation",
    )
    parser.add_argument(
        "--adversarial",
        action="store_true",
        help="run the adversarial-suffix suite instead: how far text aimed at the scorer "
        "moves it (report JSON at OUT)",
    )
    parser.set_defaults(func=run)


def _task(args: argparse.Namespace) -> Any:
    from guardrail.lab.tasks import TASKS, TaskOptions, get_task

    name = TASK_ALIASES.get(args.task, args.task)
    if name not in TASKS:
        valid = sorted([*TASKS, *TASK_ALIASES])
        raise GuardrailConfigError(
            [
                ConfigIssue(
                    f"unknown task {args.task!r}",
                    key_path="--task",
                    expected=f"one of {', '.join(valid)}",
                )
            ]
        )
    options = TaskOptions(
        data=args.data, difficulties=tuple(args.difficulties), seed=args.seed, split=args.split
    )
    return get_task(name, options)


def _items(task: Any, limit: int | None) -> list[Any]:
    if limit is not None and limit < 1:
        raise GuardrailConfigError(f"--limit must be >= 1, got {limit}")
    items = list(itertools.islice(task.items(), limit if limit is not None else MAX_ITEMS + 1))
    if limit is None and len(items) > MAX_ITEMS:
        raise GuardrailConfigError(f"task {task.name!r} has over {MAX_ITEMS} items: pass --limit")
    if not items:
        where = f" (--data {task.path} holds no rows)" if getattr(task, "path", None) else ""
        raise GuardrailConfigError(f"task {task.name!r} has no items{where}")
    return items


def _config(args: argparse.Namespace) -> Any:
    from guardrail.lab.evaluation import BCIGrid, EvalConfig, GenerationSettings

    return EvalConfig(
        generation=GenerationSettings(max_new_tokens=args.max_new_tokens, seed=args.seed),
        self_consistency=args.self_consistency,
        p_true=not args.no_p_true,
        verbalized=not args.no_verbalized,
        strategies=tuple(args.strategies),
        periodic_every=args.periodic_every,
        entropy_threshold=args.entropy_threshold,
        bci=BCIGrid(widths=tuple(args.bci_widths)),
        dev_fraction=args.dev_fraction,
        n_bootstrap=args.bootstrap,
        seed=args.seed,
    )


def run(args: argparse.Namespace) -> int:
    """Load the models, run the evaluation and write the report."""
    from guardrail.generation import LocalGenerator
    from guardrail.lab.data.local import LocalBatchGenerator
    from guardrail.lab.evaluation import evaluate, write_report
    from guardrail.scorers import create_text_scorer

    config = _config(args)
    task = _task(args)
    items = _items(task, args.limit)
    args.json = args.json or f"eval-{task.name}.json"
    generator = LocalGenerator.from_ref(args.generator, device=args.device)
    scorer = create_text_scorer(  # value-head artifacts too; logprob:/hybrid: bound to the model
        args.scorer,
        generator=args.generator,
        load_generator=lambda: generator,
        prompt=task.prompt,
        device=args.device,
    )
    if args.adversarial:
        return _adversarial(args, scorer, generator, task, items, config)
    sampler = None
    if config.self_consistency > 0 or any(w > 0 for w in config.bci.widths):
        sampler = LocalBatchGenerator(
            generator.model,
            generator.tokenizer,
            name=args.generator,
            prompt_format=generator.prompt_format,
        )

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"[eval] {message}", file=sys.stderr)

    meta = {"data": args.data, "limit": args.limit}
    result = evaluate(
        scorer,
        generator,
        task,
        items,
        config,
        sampler=sampler,
        progress=progress,
        meta=meta,
        answers_file=args.answers,
    )
    files = write_report(
        result.report, args.json, markdown_path=args.markdown, figures_dir=args.figures_dir
    )
    from guardrail.lab.evaluation import jsonable

    print(json.dumps({"summary": jsonable(result.report["summary"]), "files": files}, indent=2))
    return 0


def _adversarial(
    args: argparse.Namespace, scorer: Any, generator: Any, task: Any, items: list[Any], config: Any
) -> int:
    from pathlib import Path

    from guardrail.lab.evaluation.adversarial import evaluate_adversarial

    def progress(message: str) -> None:
        if not args.quiet:
            print(f"[adversarial] {message}", file=sys.stderr)

    report = evaluate_adversarial(
        scorer, generator, task, items, config, progress=progress, answers_file=args.answers
    )
    report["meta"] = {
        "scorer": args.scorer,
        "generator": args.generator,
        "task": args.task,
        "limit": args.limit,
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    summary = {
        k: v for k, v in report.items() if k not in ("cases", "groups", "suffixes", "generated")
    }
    print(json.dumps({"summary": summary, "files": {"json": str(out)}}, indent=2))
    return 0
