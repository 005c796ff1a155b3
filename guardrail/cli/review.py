"""``guardrail review``: list, show, decide and export items of the human review queue."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from guardrail.cli._terminal import json_safe, terminal_safe
from guardrail.errors import GuardrailConfigError

if TYPE_CHECKING:
    from guardrail.review import ReviewItem, ReviewStore
    from guardrail.review.errors import InvalidRowError

__all__ = ["register"]

_STATUSES = ("pending", "approved", "edited", "rejected")
_DB_HELP = (
    "review database: a file, sqlite:///PATH or postgresql://user@host/db "
    "(default: $GUARDRAIL_REVIEW_DB, else ~/.cache/guardrail/review.db)"
)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date/time: {text!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``review`` and its actions to the ``guardrail`` parser."""
    parser = subparsers.add_parser(
        "review",
        help="human review queue: list, show, approve, reject, edit, export",
        description="Inspect and decide the answers held for human review.",
    )
    actions = parser.add_subparsers(dest="review_action", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", help=_DB_HELP)
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument(
        "--status", action="append", choices=_STATUSES, help="only this status (repeatable)"
    )
    filters.add_argument("--queue", help="only this queue")
    filters.add_argument("--since", type=_timestamp, help="only items created at/after (ISO)")

    p = actions.add_parser("list", parents=[common, filters], help="list items, oldest first")
    p.add_argument("--limit", type=_positive_int, default=None, help="at most N items")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.set_defaults(func=_list)

    p = actions.add_parser("show", parents=[common], help="show one item in full")
    p.add_argument("id", metavar="ID", help="review item id")
    p.add_argument("--json", action="store_true", help="print the item as JSON")
    p.set_defaults(func=_show)

    deciding = argparse.ArgumentParser(add_help=False)
    deciding.add_argument("id", metavar="ID", help="review item id")
    deciding.add_argument("--reviewer", required=True, help="who decides")
    deciding.add_argument("--note", help="why")
    deciding.add_argument(
        "--force",
        action="store_true",
        help="decide although another reviewer holds a live claim (admin reviewers only: "
        "$GUARDRAIL_REVIEW_ADMINS); the override is recorded and audited",
    )
    for name, verdict in (("approve", "approve"), ("reject", "reject")):
        p = actions.add_parser(name, parents=[common, deciding], help=f"{name} a pending item")
        p.set_defaults(func=_decide, verdict=verdict)

    p = actions.add_parser(
        "claim", parents=[common], help="claim the oldest pending item nobody holds"
    )
    p.add_argument("--reviewer", required=True, help="who claims it")
    p.add_argument("--queue", help="only from this queue")
    p.add_argument("--lease", type=float, default=900.0, metavar="S", help="hold it S seconds")
    p.add_argument("--wait", type=float, default=0.0, metavar="S", help="wait up to S seconds")
    p.add_argument("--json", action="store_true", help="print the item as JSON")
    p.set_defaults(func=_claim)

    p = actions.add_parser(
        "edit", parents=[common, deciding], help="replace a pending item's answer"
    )
    answer = p.add_mutually_exclusive_group(required=True)
    answer.add_argument("--answer", help="the corrected answer")
    answer.add_argument(
        "--answer-file", metavar="FILE", help="read the answer from FILE (- = stdin)"
    )
    p.set_defaults(func=_decide, verdict="edit")

    p = actions.add_parser(
        "notify",
        parents=[common, filters],
        help="send matching items to a webhook (re-delivery after an outage)",
        description="POST a signed review.enqueued (pending) or review.decided notification "
        "for each matching item, as the queue's WebhookSink does when items change.",
    )
    p.add_argument("--url", required=True, help="the webhook URL")
    p.add_argument(
        "--secret-env", required=True, metavar="VAR", help="environment variable with the secret"
    )
    p.add_argument("--dead-letter", metavar="FILE", help="JSONL file for undeliverable ones")
    p.set_defaults(func=_notify)

    p = actions.add_parser("export", parents=[common, filters], help="export items")
    p.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE (default: stdout)")
    p.set_defaults(func=_export)


@contextmanager
def _open(args: argparse.Namespace) -> Iterator[ReviewStore]:
    from guardrail.review import open_review_store

    store = open_review_store(args.db, create=False)
    try:
        yield store
    finally:
        store.close()


def _one_line(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _report_invalid(error: InvalidRowError) -> None:
    print(terminal_safe(f"warning: skipped: {error}"), file=sys.stderr)


def _list(args: argparse.Namespace) -> int:
    with _open(args) as store:
        items = store.list(
            status=args.status,
            queue=args.queue,
            since=args.since,
            limit=args.limit,
            on_invalid=_report_invalid,
        )
    if args.json:
        print(json_safe([item.model_dump(mode="json") for item in items], indent=2))
        return 0
    if not items:
        print("no matching review items", file=sys.stderr)
        return 0
    print(
        f"{'ID':32}  {'CREATED (UTC)':19}  {'STATUS':8}  {'QUEUE':10}  CONF  {'RULE':14}  QUESTION"
    )
    for item in items:
        conf = f"{item.confidence:.2f}" if item.confidence is not None else "   -"
        print(
            terminal_safe(
                f"{item.id:32}  {_when(item.created_at)}  {item.status.value:8}  "
                f"{_one_line(item.queue, 10):10}  {conf}  {_one_line(item.rule or '-', 14):14}  "
                f"{_one_line(item.question, 60)}"
            )
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    with _open(args) as store:
        item = store.get(args.id)
    if args.json:
        print(json_safe(item.model_dump(mode="json"), indent=2))
    else:
        print(terminal_safe(_describe(item)))
    return 0


def _describe(item: ReviewItem) -> str:
    lines = [
        f"id:          {item.id}",
        f"status:      {item.status.value}",
        f"queue:       {item.queue}",
        f"created:     {_when(item.created_at)} UTC",
        f"run:         {item.run_id or '-'}",
        f"model:       {item.model or '-'}",
        f"rule:        {item.rule or '-'}",
        f"confidence:  {'-' if item.confidence is None else f'{item.confidence:.3f}'}",
        f"dedupe key:  {item.dedupe_key or '-'}",
        "",
        "question:",
        f"  {item.question}",
        f"answer{' (partial)' if item.partial else ''}:",
        f"  {item.answer}",
    ]
    if item.events:
        lines += ["", f"checkpoints ({len(item.events)}):"]
        for event in item.events:
            lines.append(
                f"  #{event.get('index', '?')} {event.get('stage', '?')}: "
                f"confidence={event.get('confidence', '?')} revised={event.get('revised', '?')} "
                f"({event.get('reason', '')})"
            )
    for attempt in item.attempts:
        conf = "-" if attempt.confidence is None else f"{attempt.confidence:.3f}"
        lines.append(
            f"attempt {attempt.attempt}: model={attempt.model or '-'} confidence={conf} "
            f"action={attempt.action or '-'} rule={attempt.rule or '-'}"
        )
    if item.metadata:
        lines += ["", "metadata:", f"  {json.dumps(item.metadata, sort_keys=True)}"]
    if item.decision is not None:
        decision = item.decision
        lines += [
            "",
            f"decision:    {decision.verdict.value} by {decision.reviewer} "
            f"at {_when(decision.decided_at)} UTC",
        ]
        if decision.note:
            lines.append(f"note:        {decision.note}")
        if decision.edited_answer is not None:
            lines += ["edited answer:", f"  {decision.edited_answer}"]
    return "\n".join(lines)


def _claim(args: argparse.Namespace) -> int:
    with _open(args) as store:
        item = store.claim(args.reviewer, queue=args.queue, lease_s=args.lease, wait_s=args.wait)
    if item is None:
        print("nothing to claim", file=sys.stderr)
        return 3
    print(
        json_safe(item.model_dump(mode="json"), indent=2)
        if args.json
        else terminal_safe(_describe(item))
    )
    return 0


def _notify(args: argparse.Namespace) -> int:
    from guardrail.review import WebhookSink

    secret = os.environ.get(args.secret_env, "")
    if not secret:
        raise GuardrailConfigError(
            f"--secret-env {args.secret_env}: the variable is unset or empty"
        )
    # Synchronous: a re-delivery reports its failures here, not in a background thread.
    sink = WebhookSink(args.url, secret, dead_letter_path=args.dead_letter, background=False)
    with _open(args) as store:
        items = store.list(
            status=args.status, queue=args.queue, since=args.since, on_invalid=_report_invalid
        )
    for item in items:
        sink.notify("review.enqueued" if item.decision is None else "review.decided", item)
    print(f"sent {len(items)} notification(s)", file=sys.stderr)
    return 0


def _edited_answer(args: argparse.Namespace) -> str | None:
    """The edited answer; a file or stdin is read only up to one character past the limit."""
    from guardrail.review.models import MAX_ANSWER_CHARS

    if args.verdict != "edit":
        return None
    if args.answer is not None:
        return str(args.answer)
    if args.answer_file == "-":
        text = sys.stdin.read(MAX_ANSWER_CHARS + 1)
    else:
        try:
            with open(args.answer_file, encoding="utf-8") as fh:
                text = fh.read(MAX_ANSWER_CHARS + 1)
        except (OSError, UnicodeDecodeError) as exc:
            raise GuardrailConfigError(
                f"cannot read --answer-file {args.answer_file}: {exc}"
            ) from exc
    if len(text) > MAX_ANSWER_CHARS:
        raise GuardrailConfigError(
            f"--answer-file {args.answer_file}: the answer is longer than the limit of "
            f"{MAX_ANSWER_CHARS:,} characters (MAX_ANSWER_CHARS)"
        )
    return text


def _decide(args: argparse.Namespace) -> int:
    from guardrail.review import ReviewQueue

    edited = _edited_answer(args)
    with _open(args) as store:
        item = ReviewQueue(store).decide(
            args.id, args.verdict, args.reviewer, edited, args.note, force=args.force
        )
    line = f"{item.id}: {item.status.value} by {args.reviewer}"
    if item.decision is not None and item.decision.overrode_claim is not None:
        line += f" (forced over {item.decision.overrode_claim}'s claim)"
    print(terminal_safe(line))
    return 0


def _export(args: argparse.Namespace) -> int:
    with _open(args) as store:
        if args.output is None:
            count = store.export(
                sys.stdout,
                format=args.format,
                status=args.status,
                queue=args.queue,
                since=args.since,
                on_invalid=_report_invalid,
            )
        else:
            try:
                with open(args.output, "w", encoding="utf-8", newline="") as out:
                    count = store.export(
                        out,
                        format=args.format,
                        status=args.status,
                        queue=args.queue,
                        since=args.since,
                        on_invalid=_report_invalid,
                    )
            except OSError as exc:
                raise GuardrailConfigError(f"cannot write {args.output}: {exc}") from exc
    print(f"exported {count} item(s)", file=sys.stderr)
    return 0
