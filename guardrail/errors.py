"""The three error families of the guard.

* :class:`GuardSignal` and its subclasses are control-flow signals: the guard decided to abort,
  retry, escalate, ask for a self-correction or route to human review. They carry the decision.
* :class:`GuardrailConfigError` is raised for a bad policy or bad settings, and points at the
  file, line, column and key path of the problem.
* :class:`GuardrailRuntimeError` and its subclasses are failures (scorer unavailable, timeout,
  model that cannot be had); each says whether retrying can help (``is_retryable``).

None of these is named ``ValidationError``, so they never shadow pydantic's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # a record type only: this module imports nothing at run time
    from guardrail.events import CheckpointEvent
    from guardrail.policy.decision import Decision

__all__ = [
    "ConfigIssue",
    "GuardSignal",
    "GuardrailConfigError",
    "GuardrailError",
    "GuardrailRuntimeError",
    "MissingExtraError",
    "ModelUnavailableError",
    "ScorerOverloadedError",
    "ScorerTimeoutError",
    "ScorerUnavailableError",
]


class GuardrailError(Exception):
    """Base class of every exception this package raises on purpose."""


# --------------------------------------------------------------------------- signals
class GuardSignal(GuardrailError):
    """The guard decided to interrupt a generation.

    ``decision`` is the policy decision that caused it (a :class:`guardrail.policy.Decision`),
    ``events`` the checkpoint events seen so far and ``partial_answer`` the text generated up to
    the checkpoint that fired. ``result`` is filled in by the guard that carried the run (the
    attempts and actions so far) when the signal leaves it.
    """

    result: Any = None

    def __init__(
        self,
        message: str,
        *,
        decision: Decision | None = None,
        events: Sequence[CheckpointEvent] = (),
        partial_answer: str = "",
    ) -> None:
        super().__init__(message)
        self.decision: Decision | None = decision
        self.events: tuple[CheckpointEvent, ...] = tuple(events)
        self.partial_answer = partial_answer


# ---------------------------------------------------------------------------- config
@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in a policy or settings document."""

    message: str
    key_path: str = ""
    source: str | None = None
    line: int | None = None
    column: int | None = None
    expected: str | None = None
    suggestion: str | None = None

    def format(self) -> str:
        """Render as ``file:line:col: key.path: message (expected ...; did you mean ...?)``.

        A line in a document without a file name is ``<policy>:LINE``; without a file or a
        line, the key path (a setting, a flag) says where.
        """
        located = self.source is not None or self.line is not None
        where = self.source or "<policy>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: " if located else ""
        if self.key_path:
            text += f"{self.key_path}: "
        text += self.message
        extras = []
        if self.expected:
            extras.append(f"expected {self.expected}")
        if self.suggestion:
            extras.append(f"did you mean {self.suggestion!r}?")
        if extras:
            text += " (" + "; ".join(extras) + ")"
        return text


class GuardrailConfigError(GuardrailError, ValueError):
    """A policy or setting is invalid. ``issues`` lists every problem found, with locations."""

    def __init__(self, issues: Sequence[ConfigIssue] | str) -> None:
        if isinstance(issues, str):
            issues = [ConfigIssue(issues)]
        self.issues: tuple[ConfigIssue, ...] = tuple(issues)
        super().__init__("\n".join(issue.format() for issue in self.issues))


# --------------------------------------------------------------------------- runtime
class GuardrailRuntimeError(GuardrailError, RuntimeError):
    """A failure while guarding. ``is_retryable`` says whether the same call may succeed later."""

    is_retryable: bool = False


class ScorerUnavailableError(GuardrailRuntimeError):
    """The confidence scorer could not produce a score (load failure, crash, bad output)."""


class ScorerTimeoutError(GuardrailRuntimeError):
    """The scorer did not answer within its latency budget."""

    is_retryable = True


class ScorerOverloadedError(GuardrailRuntimeError):
    """The scorer fell behind the stream (queue too deep, or a checkpoint over its budget).

    The policy's ``overload`` setting decides what gives: ``skip_process`` drops process
    checkpoints (never raised then), ``fail_open`` stops checking, ``fail_closed`` aborts.
    """

    is_retryable = True


class ModelUnavailableError(GuardrailRuntimeError):
    """A model reference could not be resolved to weights on this machine."""


class MissingExtraError(GuardrailError, ImportError):
    """An optional dependency is missing; the message names the ``pip install`` extra to add."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package!r} is not installed; install it with "
            f"`pip install 'finece-guardrail[{extra}]'`"
        )
        self.package = package
        self.extra = extra
