"""The ``guardrail`` command line.

Each sub-command lives in its own module exposing ``register(subparsers)``; the module adds its
parser and sets ``func`` (``Callable[[argparse.Namespace], int]``) as the handler. Heavy imports
happen inside handlers, so ``guardrail --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from guardrail.cli._terminal import terminal_safe
from guardrail.errors import GuardrailConfigError, GuardrailRuntimeError, MissingExtraError

__all__ = ["build_parser", "dispatch", "main"]

# Sub-command modules, in the order they appear in --help.
_COMMAND_MODULES = (
    "guardrail.cli.demo",
    "guardrail.cli.score",
    "guardrail.cli.policy",
    "guardrail.cli.review",
    "guardrail.cli.audit",
    "guardrail.cli.report",
    "guardrail.cli.data",
    "guardrail.cli.train",
    "guardrail.cli.eval",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="guardrail",
        description="FineCE Guardrail: confidence-guarded LLM generation.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    return dispatch(build_parser().parse_args(argv))


def dispatch(args: argparse.Namespace) -> int:
    """Run a parsed command; configuration errors exit 2, runtime errors and missing extras 1."""
    try:
        status: int = args.func(args)
    except GuardrailConfigError as exc:
        print(terminal_safe(f"error: {exc}"), file=sys.stderr)
        return 2
    except (GuardrailRuntimeError, MissingExtraError) as exc:
        print(terminal_safe(f"error: {exc}"), file=sys.stderr)
        return 1
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
