"""The LangChain calls of one guarded attempt (async): a runnable's stream, a model call.

The async module is the one written by hand; ``scripts/unasync.py`` generates the sync one
(``tests/runtime/test_unasync.py`` fails when that one is stale).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol, TypeVar

from langchain_core.callbacks import AsyncCallbackManagerForChainRun
from langchain_core.runnables import Runnable, RunnableConfig

from .._attempt import child_config

__all__ = ["acall_once", "adispatch", "arunnable_stream"]

R = TypeVar("R")
T = TypeVar("T")


class Events(Protocol):
    """Queued guard events (``(name, payload)``), taken all at once."""

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        """Take every queued event."""
        ...


async def adispatch(events: Events, run_manager: AsyncCallbackManagerForChainRun) -> None:
    """Send the queued guard events as custom callback events of the guarded run."""
    items = events.drain()
    if items:
        child = run_manager.get_child()
        for name, data in items:
            await child.on_custom_event(name, data, run_id=run_manager.run_id)


async def arunnable_stream(
    runnable: Runnable[Any, Any],
    value: object,
    config: RunnableConfig,
    kwargs: Mapping[str, Any],
    events: Events,
    run_manager: AsyncCallbackManagerForChainRun,
) -> AsyncIterator[Any]:
    """The runnable's stream; the guard's events are dispatched after each chunk."""
    async for chunk in runnable.astream(value, config, **kwargs):
        yield chunk
        await adispatch(events, run_manager)


async def acall_once(
    handler: Callable[[R], Awaitable[T]], request: R, config: RunnableConfig
) -> AsyncIterator[T]:
    """Call ``handler(request)`` under ``config``; its result is the stream's one item."""
    with child_config(config):
        response = await handler(request)
    yield response
