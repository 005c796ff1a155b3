"""``guardrail policy``: validate, explain and publish the schema of policy files.

* ``guardrail policy validate FILE...``: exit 0 when every file is valid, 2 otherwise; each
  problem is printed as ``file:line:col: key.path: message (expected ...; did you mean ...?)``.
* ``guardrail policy explain FILE``: a plain-English summary of what the policy will do.
* ``guardrail policy schema``: the JSON Schema of policy files on stdout.

``FILE`` may also be ``preset:NAME`` for a shipped preset (``preset:default``).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from guardrail.policy import Policy

__all__ = ["register"]

_PRESET_PREFIX = "preset:"


def _load(reference: str) -> Policy:
    from guardrail.policy import Policy, load_preset

    if reference.startswith(_PRESET_PREFIX):
        return load_preset(reference[len(_PRESET_PREFIX) :])
    return Policy.from_file(reference)


def _validate(args: argparse.Namespace) -> int:
    from guardrail.errors import GuardrailConfigError

    status = 0
    for reference in args.files:
        try:
            policy = _load(reference)
        except GuardrailConfigError as exc:
            status = 2
            print(f"INVALID {reference}", file=sys.stderr)
            for issue in exc.issues:
                print(f"  {issue.format()}", file=sys.stderr)
            continue
        print(f"OK {reference}: policy {policy.name!r}, {len(policy.rules)} rule(s)")
    return status


def _explain(args: argparse.Namespace) -> int:
    from guardrail.policy import explain

    print(explain(_load(args.file)))
    return 0


def _schema(args: argparse.Namespace) -> int:
    from guardrail.policy import schema_json

    sys.stdout.write(schema_json())
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``policy`` command and its ``validate``, ``explain`` and ``schema`` sub-commands."""
    parser = subparsers.add_parser(
        "policy",
        help="validate and explain guardrail policies",
        description="Validate and explain guardrail policy files (YAML).",
    )
    commands = parser.add_subparsers(dest="policy_command", required=True)

    validate = commands.add_parser(
        "validate",
        help="check policy files (exit 0 valid, 2 invalid)",
        description="Check policy files; errors name file, line, column and key.",
    )
    validate.add_argument("files", nargs="+", metavar="FILE", help="a policy file or preset:NAME")
    validate.set_defaults(func=_validate)

    explain = commands.add_parser(
        "explain",
        help="describe in plain English what a policy does",
        description="Describe in plain English what a policy will do.",
    )
    explain.add_argument("file", metavar="FILE", help="a policy file or preset:NAME")
    explain.set_defaults(func=_explain)

    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of policy files",
        description="Print the JSON Schema of policy files to stdout.",
    )
    schema.set_defaults(func=_schema)
