"""AuditSink: what the runtime needs of the record of one guarded run.

The runtime (:mod:`guardrail.runtime`) writes a run's checkpoints, decisions, actions and errors
through this protocol; :class:`guardrail.audit.AuditRun` implements it over an
:class:`~guardrail.audit.AuditLog`. A protocol rather than the class, so that the runtime can
type its ``audit`` parameters without importing a backend, and tests can pass a recorder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

__all__ = ["AuditSink", "CheckpointLike"]


class CheckpointLike(Protocol):
    """A checkpoint event as the audit sees it (:class:`guardrail.events.CheckpointEvent`)."""

    @property
    def latency_s(self) -> float:
        """Seconds the checkpoint took to score."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping of the event."""
        ...


@runtime_checkable
class AuditSink(Protocol):
    """Records one guarded run: its start, checkpoints, decisions, actions, errors and end.

    Return values are the records written (ignored by the runtime). A sink that cannot keep a
    record raises (:class:`~guardrail.audit.errors.AuditWriteError`): an audit that drops
    records silently would make the trail lie.
    """

    def start(self, payload: Mapping[str, Any] | None = None) -> object:
        """The run starts (``run_start``)."""
        ...

    def checkpoint(self, event: CheckpointLike, **extra: Any) -> object:
        """A checkpoint was scored (its dict plus ``extra``: model, attempt, text)."""
        ...

    def decision(self, payload: Mapping[str, Any]) -> object:
        """The policy (or a human) decided."""
        ...

    def action(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        duration_s: float | None = None,
    ) -> object:
        """The guard carried out an action (``retry``, ``abort``, ``human_review``, ...)."""
        ...

    def error(self, exc: BaseException, payload: Mapping[str, Any] | None = None) -> object:
        """Something failed (the scorer, the generation)."""
        ...

    def end(self, status: str = "ok", payload: Mapping[str, Any] | None = None) -> object:
        """The run ended with ``status``."""
        ...
