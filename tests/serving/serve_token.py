"""The shared secret of the test scorer service (its conftest starts it, its tests send it)."""

from __future__ import annotations

import secrets

SERVE_TOKEN_ENV = "GUARDRAIL_TEST_SERVE_TOKEN"
"""The variable holding the test service's token (clients: ``api_key_env``)."""
SERVE_TOKEN = "test-token-" + secrets.token_urlsafe(24)
