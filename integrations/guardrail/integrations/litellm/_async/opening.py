"""Opening one attempt's stream (async): the attempt's model, else each fallback in turn.

The async module is the one written by hand; ``scripts/unasync.py`` generates the sync one
(``tests/runtime/test_unasync.py`` fails when that one is stale). See
:mod:`guardrail.integrations.litellm._request` for why the guard runs fallbacks and asks for
logprobs itself.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from litellm.exceptions import BadRequestError

from guardrail.runtime import AttemptPlan

__all__ = ["aopen_stream"]

_logger = logging.getLogger("guardrail.integrations.litellm._request")

_END = object()


class CompletionRequest(Protocol):
    """What opening a stream reads of the request (``_request.CompletionRequest``)."""

    opened: str | None

    def messages_for(self, plan: AttemptPlan) -> list[dict[str, Any]]:
        """The messages of one attempt."""
        ...

    def candidates(self, plan: AttemptPlan) -> list[tuple[str, dict[str, Any]]]:
        """``(model, litellm arguments)`` to try in order."""
        ...

    def logprob_params(self, model: str, params: dict[str, Any]) -> dict[str, Any]:
        """The logprob arguments to ask ``model`` for."""
        ...

    def refused(self, model: str) -> None:
        """Log that ``model`` refused the logprob arguments."""
        ...


async def aopen_stream(
    request: CompletionRequest, plan: AttemptPlan, acompletion: Callable[..., Awaitable[Any]]
) -> AsyncGenerator[Any, None]:
    """The attempt's stream, from its model or the first fallback that yields a chunk.

    Sets ``request.opened`` to the model whose stream opened.
    """
    request.opened = None
    messages = request.messages_for(plan)
    candidates = request.candidates(plan)
    for position, (model, params) in enumerate(candidates):
        try:
            stream = await _aopen(request, acompletion, model, messages, params)
        except Exception as exc:
            if position + 1 == len(candidates):
                raise
            _logger.warning("guardrail: %s failed (%s); trying its fallback", model, exc)
        else:
            request.opened = model
            return stream
    raise AssertionError("unreachable: at least one candidate model")


async def _aopen(
    request: CompletionRequest,
    acompletion: Callable[..., Awaitable[Any]],
    model: str,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
) -> AsyncGenerator[Any, None]:
    wanted = request.logprob_params(model, params)
    try:
        return await _apeeked(
            await acompletion(model=model, messages=messages, stream=True, **params, **wanted)
        )
    except BadRequestError as exc:
        if not wanted or "logprobs" not in str(exc):
            raise
    request.refused(model)
    return await _apeeked(await acompletion(model=model, messages=messages, stream=True, **params))


async def _apeeked(stream: Any) -> AsyncGenerator[Any, None]:
    """``stream`` with its first chunk already read (so that opening errors surface now)."""
    iterator = aiter(stream)
    first = await anext(iterator, _END)
    return _achained(first, iterator, stream)


async def _achained(
    first: object, rest: AsyncIterator[Any], stream: Any
) -> AsyncGenerator[Any, None]:
    try:
        if first is not _END:
            yield first
            async for chunk in rest:
                yield chunk
    finally:
        await _aclose(stream)


async def _aclose(stream: object) -> None:
    close = getattr(stream, "aclose", None)
    if callable(close):
        await close()
