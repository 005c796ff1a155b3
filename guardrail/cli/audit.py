"""``guardrail audit``: read the audit trail (``tail`` the latest records, ``show`` one run)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

from guardrail.cli._terminal import json_safe, terminal_safe
from guardrail.errors import GuardrailConfigError

if TYPE_CHECKING:
    from guardrail.audit import AuditLog, AuditRecord

__all__ = ["register"]

_LOG_HELP = (
    "audit log: a .jsonl file, a .db/.sqlite file, sqlite:///PATH or postgresql://user@host/db "
    "(default: $GUARDRAIL_AUDIT_LOG, else ~/.cache/guardrail/audit.jsonl)"
)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``audit`` and its actions to the ``guardrail`` parser."""
    parser = subparsers.add_parser(
        "audit",
        help="read the audit trail of guarded runs",
        description="Read the audit trail: checkpoints, decisions and actions of guarded runs.",
    )
    actions = parser.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--log", metavar="URL", help=_LOG_HELP)
    common.add_argument("--json", action="store_true", help="print one JSON record per line")

    p = actions.add_parser("tail", parents=[common], help="the latest records")
    p.add_argument("-n", type=_count, default=20, metavar="N", help="how many (default 20)")
    p.set_defaults(func=_tail)

    p = actions.add_parser("show", parents=[common], help="every record of one run")
    p.add_argument("run", metavar="RUN", help="run id")
    p.set_defaults(func=_show)


def _open(args: argparse.Namespace) -> AuditLog:
    from guardrail.audit import default_audit_log_path, open_audit_log
    from guardrail.storage import parse_database_url

    target = args.log or os.environ.get("GUARDRAIL_AUDIT_LOG", "").strip() or None
    if target is None:
        target = str(default_audit_log_path())
    location = parse_database_url(target, what="audit log")
    path = location.path
    if path is not None and not path.exists() and not path.with_name(path.name + ".1").exists():
        raise GuardrailConfigError(
            f"no audit log at {path} (pass --log or set GUARDRAIL_AUDIT_LOG)"
        )
    return open_audit_log(target)


def _format(record: AuditRecord) -> str:
    policy = record.policy or "-"
    if record.policy_version is not None:
        policy += f"@{record.policy_version}"
    timing = "" if record.duration_s is None else f" {record.duration_s * 1000:.1f}ms"
    payload = json.dumps(record.payload, ensure_ascii=False, sort_keys=True)
    if len(payload) > 160:
        payload = payload[:159] + "…"
    when = record.ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return f"{when}  {record.run_id}  {record.kind.value:10}  {policy}{timing}  {payload}"


def _print(records: list[AuditRecord], as_json: bool) -> None:
    for record in records:
        if as_json:
            print(json_safe(record.model_dump(mode="json")))
        else:
            print(terminal_safe(_format(record)))


def _tail(args: argparse.Namespace) -> int:
    log = _open(args)
    try:
        _print(log.tail(args.n), args.json)
    finally:
        log.close()
    return 0


def _show(args: argparse.Namespace) -> int:
    log = _open(args)
    try:
        records = log.read_run(args.run)
    finally:
        log.close()
    if not records:
        print(f"error: no audit records for run {args.run!r}", file=sys.stderr)
        return 1
    _print(records, args.json)
    return 0
