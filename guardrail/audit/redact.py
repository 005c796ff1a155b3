"""Make payloads safe for the audit trail (see :mod:`guardrail.redaction`, re-exported here)."""

from __future__ import annotations

from guardrail.redaction import REDACTED, is_secret_key, redact, redact_text

__all__ = ["REDACTED", "is_secret_key", "redact", "redact_text"]
