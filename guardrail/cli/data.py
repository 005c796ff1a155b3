"""``guardrail data``: build FineCE confidence training data, and summarise it.

* ``guardrail data build --task synthetic --difficulty 1,2 --limit 200 --k 8 --levels 1
  --generator builtin:smollm2-135m-instruct --out data/finece/train.jsonl``: Algorithm 1 of
  FINECE.md. Killing it and re-running the same command continues where it stopped. The
  generator is a local model reference (batched sampling) or ``litellm:MODEL`` (any model
  litellm reaches; ``--litellm-options '{"api_base": "http://127.0.0.1:8000/v1"}'``).
* ``guardrail data summary FILE``: label counts, histograms and the share of questions whose
  fraction correct is strictly between 0 and 1.

Also runnable as ``python -m guardrail.cli.data build ...``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["main", "register"]

_LITELLM_PREFIX = "litellm:"
_DEFAULT_GENERATOR = "builtin:smollm2-135m-instruct"
_ENDLESS = ("synthetic", "table-lookup", "unit-conversion")


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 1,2; got {text!r}") from None


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def _make_generator(args: argparse.Namespace) -> Any:
    ref: str = args.generator
    if ref.startswith(_LITELLM_PREFIX):
        from guardrail.lab.data.remote import LiteLLMGenerator

        return LiteLLMGenerator(
            ref.removeprefix(_LITELLM_PREFIX),
            max_workers=args.workers,
            options=args.litellm_options,
        )
    from guardrail.lab.data.local import LocalBatchGenerator

    return LocalBatchGenerator.from_ref(ref, device=args.device, max_batch=args.max_batch)


def _build(args: argparse.Namespace) -> int:
    from guardrail.errors import GuardrailConfigError
    from guardrail.lab.data import BuildConfig, LabelStore, build, read_records, summarize
    from guardrail.lab.tasks import TaskOptions, get_task

    options = TaskOptions(
        data=args.data, difficulties=args.difficulty, seed=args.task_seed, split=args.split
    )
    task = get_task(args.task, options)
    if args.limit is None and args.task in _ENDLESS:
        raise GuardrailConfigError(f"the {args.task} task is endless: give --limit N")
    config = BuildConfig(
        k=args.k,
        levels=args.levels,
        cluster_threshold=args.cluster_threshold,
        max_clusters=args.max_clusters,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        batch_questions=args.batch_questions,
    )
    items = itertools.islice(task.items(), args.limit)
    settings = {
        "task": args.task,
        "data": None if args.data is None else str(args.data),
        "difficulty": list(args.difficulty) if args.task in _ENDLESS else None,
        "task_seed": args.task_seed,
        **({"split": args.split} if args.split != "all" else {}),
        "generator": args.generator,
        **config.resume_key(),
    }
    with LabelStore(args.out, settings) as store:
        generator = _make_generator(args)
        report = build(task, generator, items, store, config, progress=not args.no_progress)
    summary = summarize(read_records(args.out))
    run = {
        "built": report.built,
        "skipped": report.skipped,
        "labels": report.labels,
        "generations": report.generations,
        "tokens": report.tokens,
        "generation_seconds": round(report.generation_seconds, 3),
        "tokens_per_second": round(report.tokens_per_second, 2),
    }
    if args.json:
        print(json.dumps({"out": str(args.out), "run": run, "summary": summary.as_dict()}))
        return 0
    print(f"{args.out}: built {report.built} question(s), skipped {report.skipped} already built")
    print(
        f"generator {args.generator}: {report.tokens} tokens in "
        f"{report.generation_seconds:.1f} s = {report.tokens_per_second:.1f} tokens/s"
    )
    print(summary.format())
    return 0


def _summary(args: argparse.Namespace) -> int:
    from guardrail.errors import GuardrailConfigError
    from guardrail.lab.data import read_records, summarize

    records = read_records(args.file)
    if not records:
        raise GuardrailConfigError(f"{args.file}: no label file there")
    summary = summarize(records)
    print(json.dumps(summary.as_dict()) if args.json else summary.format())
    return 0


def _add_build(commands: Any) -> None:
    build = commands.add_parser(
        "build",
        help="sample answers and label questions, partial and full answers (resumable)",
        description="FineCE Algorithm 1: Monte Carlo confidence labels, appended to a JSONL "
        "file; re-running the same command resumes.",
    )
    build.add_argument(
        "--task",
        default="synthetic",
        help="synthetic, table-lookup, unit-conversion, facts, fact-choice (built in); "
        "gsm8k, multiple-choice, short-answer (with --data)",
    )
    build.add_argument("--data", help="JSONL file of a file-based task")
    build.add_argument(
        "--difficulty", type=_int_list, default=(1, 2), help="generated tasks: levels, e.g. 1,2"
    )
    build.add_argument("--task-seed", type=int, default=0, help="generated tasks: question seed")
    build.add_argument(
        "--split", choices=("all", "train", "test"), default="all", help="facts, fact-choice"
    )
    build.add_argument("--limit", type=int, help="number of questions (required for synthetic)")
    build.add_argument("--k", type=int, default=8, help="samples per state (paper: 30)")
    build.add_argument("--levels", type=int, default=1, help="process levels T")
    build.add_argument("--cluster-threshold", type=float, default=0.7, help="cosine distance")
    build.add_argument(
        "--max-clusters", type=int, help="representatives per question (default all)"
    )
    build.add_argument(
        "--temperature", type=float, default=0.7, help="sampling temperature (paper: high)"
    )
    build.add_argument("--max-new-tokens", type=int, default=160)
    build.add_argument("--seed", type=int, default=0, help="sampling and truncation seed")
    build.add_argument(
        "--generator", default=_DEFAULT_GENERATOR, help="model reference or litellm:MODEL"
    )
    build.add_argument("--device", default="auto", help="local generator device")
    build.add_argument("--max-batch", type=int, default=64, help="local generator: rows per batch")
    build.add_argument(
        "--batch-questions", type=int, default=8, help="questions per generator call"
    )
    build.add_argument("--workers", type=int, default=8, help="litellm: concurrent requests")
    build.add_argument(
        "--litellm-options",
        type=_json_object,
        default={},
        help="JSON object passed to litellm.completion",
    )
    build.add_argument("--out", required=True, help="JSONL file to append to")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    build.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    build.set_defaults(func=_build)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``data`` command and its ``build`` and ``summary`` sub-commands."""
    parser = subparsers.add_parser(
        "data",
        help="build confidence training data (FineCE Algorithm 1)",
        description="Build and inspect FineCE confidence training data.",
    )
    commands = parser.add_subparsers(dest="data_command", required=True)
    _add_build(commands)
    summary = commands.add_parser("summary", help="summarise a label file")
    summary.add_argument("file", help="a JSONL file written by `guardrail data build`")
    summary.add_argument("--json", action="store_true", help="print one JSON object")
    summary.set_defaults(func=_summary)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m guardrail.cli.data``: the ``data`` command on its own."""
    from guardrail.cli import dispatch

    parser = argparse.ArgumentParser(prog="guardrail")
    register(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser.parse_args(["data", *(sys.argv[1:] if argv is None else argv)]))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
