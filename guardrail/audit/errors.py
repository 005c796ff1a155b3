"""Failures of the audit log."""

from __future__ import annotations

from guardrail.errors import GuardrailRuntimeError

__all__ = ["AuditWriteError"]


class AuditWriteError(GuardrailRuntimeError):
    """A record could not be kept: locked for too long (retryable), disk full, permissions."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.is_retryable = retryable
