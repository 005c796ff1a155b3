"""``guardrail report`` and ``guardrail inspect``: self-contained HTML confidence reports.

* ``guardrail report RUN|--last [--log PATH] [--policy P] [-o FILE]``: the page of one guarded
  run from the audit log.
* ``guardrail report --calibration [--review-db DB] [--generator NAME] [--window N] [-o FILE]
  [--json PATH]``: the live confidences of the last N decided review items against the
  reviewers' verdicts (reliability diagram, mean confidence minus accuracy, the calibration
  error beside its noise floor); the figures are also printed.
* ``guardrail inspect --question Q --answer A [--model REF] [--policy P] [-o FILE]``: score any
  answer checkpoint by checkpoint and show what the policy would decide.

Both print the path of the page they wrote.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from guardrail.errors import GuardrailConfigError

if TYPE_CHECKING:
    from guardrail.audit import AuditLog
    from guardrail.policy import Policy

__all__ = ["register"]

_PRESET_PREFIX = "preset:"
_LOG_HELP = (
    "audit log: a .jsonl file, a .db/.sqlite file, sqlite:///PATH or postgresql://user@host/db "
    "(default: $GUARDRAIL_AUDIT_LOG, else ~/.cache/guardrail/audit.jsonl)"
)
_POLICY_HELP = "a policy file or preset:NAME"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` and ``inspect`` sub-commands to the ``guardrail`` parser."""
    parser = subparsers.add_parser(
        "report",
        help="write an HTML report of a guarded run",
        description="Write a self-contained HTML page for one guarded run of the audit log: "
        "the answer shaded by confidence, a confidence chart with checkpoints and decisions, "
        "the policy and the attempts.",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("run", nargs="?", metavar="RUN", help="run id")
    target.add_argument("--last", action="store_true", help="the most recent run in the log")
    target.add_argument(
        "--calibration",
        action="store_true",
        help="instead: the live confidences of the last decided review items against the "
        "reviewers' verdicts (reliability diagram, calibration error and its noise floor)",
    )
    parser.add_argument(
        "--review-db",
        metavar="URL",
        help="--calibration: the review database (a path, sqlite:///PATH or postgresql://...; "
        "default: $GUARDRAIL_REVIEW_DB, else ~/.cache/guardrail/review.db)",
    )
    parser.add_argument(
        "--generator", metavar="NAME", help="--calibration: only this model's items"
    )
    parser.add_argument(
        "--window",
        type=int,
        default=200,
        metavar="N",
        help="--calibration: the last N decided items (default 200)",
    )
    parser.add_argument("--queue", metavar="NAME", help="--calibration: only this review queue")
    parser.add_argument("--json", metavar="PATH", help="--calibration: also write the figures")
    parser.add_argument("--log", metavar="URL", help=_LOG_HELP)
    parser.add_argument(
        "--policy",
        metavar="POLICY",
        help=_POLICY_HELP + " the run applied (default: the shipped preset of the recorded "
        "policy name, when there is one)",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="HTML file (default: guardrail-report-RUN.html)"
    )
    parser.set_defaults(func=_report)

    parser = subparsers.add_parser(
        "inspect",
        help="score a given answer and write an HTML report",
        description="Score an answer as if it streamed, checkpoint by checkpoint, show what "
        "the policy would decide at each one, and write the same HTML page as `report`.",
    )
    parser.add_argument("--question", required=True, help="the question")
    answer = parser.add_mutually_exclusive_group(required=True)
    answer.add_argument("--answer", help="the answer text")
    answer.add_argument("--answer-file", metavar="FILE", help="read the answer from FILE")
    parser.add_argument(
        "--model", metavar="REF", help="scorer model reference (default: the policy's scorer)"
    )
    parser.add_argument("--device", help="scorer device (default: the policy's scorer device)")
    parser.add_argument("--policy", metavar="POLICY", default="preset:default", help=_POLICY_HELP)
    parser.add_argument(
        "--generator",
        default="",
        metavar="NAME",
        help="the model that wrote the answer (for rules with model: conditions)",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        default="guardrail-inspect.html",
        help="HTML file (default: guardrail-inspect.html)",
    )
    parser.set_defaults(func=_inspect)


def _load_policy(reference: str) -> Policy:
    from guardrail.policy import Policy, load_preset

    if reference.startswith(_PRESET_PREFIX):
        return load_preset(reference[len(_PRESET_PREFIX) :])
    return Policy.from_file(reference)


def _open_log(path_text: str | None) -> AuditLog:
    from guardrail.audit import default_audit_log_path, open_audit_log
    from guardrail.storage import parse_database_url

    target = path_text or os.environ.get("GUARDRAIL_AUDIT_LOG", "").strip() or None
    if target is None:
        target = str(default_audit_log_path())
    location = parse_database_url(target, what="audit log")
    path = location.path
    if path is not None and not path.exists() and not path.with_name(path.name + ".1").exists():
        raise GuardrailConfigError(
            f"no audit log at {path} (pass --log or set GUARDRAIL_AUDIT_LOG)"
        )
    return open_audit_log(target)


def _calibration(args: argparse.Namespace) -> int:
    import json

    from guardrail.report.calibration import (
        calibration_text,
        review_calibration,
        write_calibration_html,
    )

    calibration = review_calibration(
        args.review_db, generator=args.generator, window=args.window, queue=args.queue
    )
    print(calibration_text(calibration))
    if args.json:
        target = Path(args.json)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(calibration.to_dict(), indent=2, allow_nan=False)
        target.write_text(text + "\n", encoding="utf-8")
    print(write_calibration_html(calibration, args.output or "guardrail-calibration.html"))
    return 0


def _report(args: argparse.Namespace) -> int:
    from guardrail.report import last_run_id, load_run_report, write_html

    if args.calibration:
        return _calibration(args)
    policy = None if args.policy is None else _load_policy(args.policy)
    log = _open_log(args.log)
    try:
        run_id = last_run_id(log) if args.last else args.run
        if run_id is None:
            print("error: the audit log has no runs", file=sys.stderr)
            return 1
        report = load_run_report(log, run_id, policy=policy, policy_source=args.policy)
    finally:
        log.close()
    if report is None:
        print(f"error: no audit records for run {run_id!r}", file=sys.stderr)
        return 1
    output = args.output or f"guardrail-report-{_UNSAFE.sub('_', run_id)[:64]}.html"
    print(write_html(report, output))
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from guardrail.report import inspect_answer, write_html
    from guardrail.scorers.finece import FineCEScorer

    policy = _load_policy(args.policy)
    if args.answer_file is not None:
        try:
            answer = Path(args.answer_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise GuardrailConfigError(f"cannot read --answer-file: {exc}") from None
    else:
        answer = args.answer
    scorer = FineCEScorer.from_ref(
        args.model or policy.scorer.model, device=args.device or policy.scorer.device
    )
    report = inspect_answer(
        args.question,
        answer,
        scorer,
        policy=policy,
        policy_source=args.policy,
        generator=args.generator,
    )
    print(write_html(report, args.output))
    return 0
