"""The ``guardrail`` command line.

Each sub-command lives in its own module exposing ``register(subparsers)``; the module adds its
parser and sets ``func`` (``Callable[[argparse.Namespace], int]``) as the handler. Heavy imports
happen inside handlers, so ``guardrail --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from guardrail.cli._terminal import terminal_safe
from guardrail.errors import GuardrailConfigError, GuardrailRuntimeError, MissingExtraError
from guardrail.redaction import install_log_redaction, redact_text

__all__ = ["BROKEN_PIPE_STATUS", "build_parser", "dispatch", "main"]

BROKEN_PIPE_STATUS = 141
"""Exit status when the reader of standard output went away (``| head``): 128 + SIGPIPE, what
a shell reports for a process that the signal ended."""

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
    "guardrail.cli.serve",
    "guardrail.cli.scorer",
    "guardrail.cli.calibrate",
    "guardrail.cli.adapt",
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
    """Entry point of the console script; returns the process exit status.

    Log records of the HTTP and database clients and of our own loggers are redacted
    (:func:`~guardrail.redaction.install_log_redaction`), and so is every error printed.
    """
    install_log_redaction()
    return dispatch(build_parser().parse_args(argv))


def dispatch(args: argparse.Namespace) -> int:
    """Run a parsed command; configuration errors exit 2, runtime errors and missing extras 1.

    A closed standard output (``guardrail review list --json | head``) ends the command quietly
    with :data:`BROKEN_PIPE_STATUS`, as it would any Unix filter, instead of a traceback.
    """
    try:
        status: int = args.func(args)
        sys.stdout.flush()  # a closed pipe fails here, not in the interpreter's final flush
    except BrokenPipeError:
        _silence_stdout()
        return BROKEN_PIPE_STATUS
    except GuardrailConfigError as exc:
        print(terminal_safe(redact_text(f"error: {exc}")), file=sys.stderr)
        return 2
    except (GuardrailRuntimeError, MissingExtraError) as exc:
        print(terminal_safe(redact_text(f"error: {exc}")), file=sys.stderr)
        return 1
    return status


def _silence_stdout() -> None:
    """Point standard output at ``/dev/null`` so that the exit-time flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file descriptor (captured output): nothing to flush
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
