"""What ``POST /score`` lets in: a token, a bounded body read within a deadline, few items.

The scorer service treats its clients as untrusted peers. Before a request reaches the model,
:meth:`Admission.admit`:

1. checks the shared secret, when one is set: ``Authorization: Bearer TOKEN``, compared in
   constant time (``hmac.compare_digest`` on SHA-256 digests, so neither the token's length
   nor its content shows in the timing); a missing or wrong token is a 401;
2. refuses a declared ``Content-Length`` over ``max_body_bytes`` at once (413), and reads the
   body chunk by chunk, stopping at ``max_body_bytes`` (413) or when ``body_timeout_s``
   passes (408: a client that declares a large body and never sends it is not held);
3. parses the JSON into a :class:`~guardrail.serving.service.ScoreRequest` (400 with the
   field that is wrong, never the input) and refuses more than ``max_items`` checkpoints
   (413).

The replica gets the token's digest, never the token (:func:`token_digest`). Free of Ray and
Starlette: ``request`` is anything with ``headers`` and an async ``stream()`` of bytes, as a
Starlette request is.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guardrail.errors import GuardrailConfigError
from guardrail.redaction import bounded, printable
from guardrail.serving.service import ScoreRequest

__all__ = [
    "DEFAULT_TOKEN_ENV",
    "Admission",
    "Refusal",
    "ServeLimits",
    "is_loopback",
    "token_digest",
    "token_from_env",
]

DEFAULT_TOKEN_ENV = "GUARDRAIL_SERVE_TOKEN"
"""The environment variable ``guardrail serve`` reads its shared secret from by default."""


class ServeLimits(BaseModel):
    """Bounds of one ``POST /score``: body bytes, checkpoints, and the time to read the body."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    max_items: int = Field(default=256, ge=1, le=1024)
    body_timeout_s: float = Field(default=10.0, gt=0.0, le=3600.0, allow_inf_nan=False)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request turned away: the HTTP status, a message for the client, and extra headers."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()

    def body(self) -> dict[str, str]:
        """The JSON body of the answer."""
        return {"error": self.message}


class _Request(Protocol):
    """What :meth:`Admission.admit` reads of a request (a Starlette request has both)."""

    @property
    def headers(self) -> Mapping[str, str]:
        """Request headers (case-insensitive lookup)."""
        ...

    def stream(self) -> AsyncIterator[bytes]:
        """The body, chunk by chunk."""
        ...


def token_digest(token: str) -> bytes:
    """The SHA-256 digest a replica compares against (it never holds the token itself)."""
    return hashlib.sha256(token.encode("utf-8")).digest()


def token_from_env(variable: str = DEFAULT_TOKEN_ENV) -> str | None:
    """The shared secret in ``variable`` (``None`` when unset or empty).

    A token shorter than 16 characters is a configuration error: it could be guessed.
    """
    token = os.environ.get(variable, "").strip()
    if not token:
        return None
    if len(token) < 16 or any(ord(c) < 0x21 or ord(c) > 0x7E for c in token):
        raise GuardrailConfigError(
            f"the token in {variable} must be at least 16 printable ASCII characters "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
        )
    return token


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the service on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Admission:
    """Admits or refuses ``POST /score`` requests (see the module documentation).

    ``digest`` is :func:`token_digest` of the shared secret (``None``: no authentication).
    """

    def __init__(self, limits: ServeLimits | None = None, digest: bytes | None = None) -> None:
        self.limits = limits or ServeLimits()
        self._digest = digest

    @property
    def authenticates(self) -> bool:
        """Whether requests must carry the token."""
        return self._digest is not None

    async def admit(self, request: _Request) -> ScoreRequest | Refusal:
        """The parsed request, or why it is refused."""
        refusal = self._check_token(request.headers.get("authorization"))
        if refusal is None:
            refusal = self._check_length(request.headers.get("content-length"))
        if refusal is not None:
            return refusal
        body = await self._read(request)
        if isinstance(body, Refusal):
            return body
        return self._parse(body)

    def _check_token(self, header: str | None) -> Refusal | None:
        if self._digest is None:
            return None
        scheme, _, token = (header or "").partition(" ")
        given = token_digest(token.strip() if scheme.lower() == "bearer" else "")
        if hmac.compare_digest(given, self._digest):  # a real token is never empty
            return None
        return Refusal(
            401,
            "missing or wrong token: send Authorization: Bearer TOKEN",
            (("WWW-Authenticate", "Bearer"),),
        )

    def _check_length(self, declared: str | None) -> Refusal | None:
        if declared is None:
            return None
        if not declared.strip().isdigit():
            return Refusal(400, "Content-Length is not a number")
        if int(declared) > self.limits.max_body_bytes:
            return self._too_large(f"a body of {int(declared)} bytes")
        return None

    async def _read(self, request: _Request) -> bytes | Refusal:
        limit = self.limits.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.limits.body_timeout_s):
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        return self._too_large(f"more than {limit} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            return Refusal(
                408, f"the request body was not received within {self.limits.body_timeout_s:g}s"
            )
        return b"".join(chunks)

    def _parse(self, body: bytes) -> ScoreRequest | Refusal:
        try:
            request = ScoreRequest.model_validate_json(body)
        except ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            if any(e["type"] == "too_long" and tuple(e["loc"]) == ("items",) for e in errors):
                return self._too_large(f"more than {self.limits.max_items} checkpoints")
            problems = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
                for error in errors[:5]
            )
            return Refusal(400, bounded(printable(f"bad /score request: {problems}"), 1000))
        if len(request.items) > self.limits.max_items:
            return self._too_large(
                f"{len(request.items)} checkpoints (at most {self.limits.max_items} per request)"
            )
        return request

    def _too_large(self, what: str) -> Refusal:
        return Refusal(
            413,
            f"request too large: {what}; this service takes at most "
            f"{self.limits.max_body_bytes} bytes and {self.limits.max_items} checkpoints",
        )
