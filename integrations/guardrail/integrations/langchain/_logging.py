"""Keep LangChain from logging every guard signal as a callback failure.

A handler with ``raise_error=True`` is LangChain's only way to stop a stream, and
``langchain_core.callbacks.manager`` logs *every* exception such a handler raises at WARNING
(``Error in GuardrailCallbackHandler.on_llm_new_token callback: RetryRequested(...)``) before it
re-raises it. A guard signal is the handler doing its job, not a failure: the filter installed
here drops those records (the signal still propagates, and the guard logs it at DEBUG). Errors
of other handlers, and other errors of ours, are logged as before.
"""

from __future__ import annotations

import logging

from guardrail.errors import GuardSignal

__all__ = ["GuardSignalLogFilter", "install_log_filter"]

_LOGGER = "langchain_core.callbacks.manager"
_MESSAGE = "Error in %s.%s callback: %s"
_logger = logging.getLogger("guardrail.integrations.langchain")


def _names(cls: type) -> set[str]:
    found = {cls.__name__}
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        found |= _names(sub)
    return found


class GuardSignalLogFilter(logging.Filter):
    """Drops LangChain's WARNING for a guard signal raised by a guardrail callback handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False (drop) for ``Error in <guard handler>.<event> callback: <GuardSignal>(...)``."""
        args = record.args
        if record.msg != _MESSAGE or not isinstance(args, tuple) or len(args) != 3:
            return True
        handler, event, error = args
        from .handler import GuardrailCallbackHandler

        if str(handler) not in _names(GuardrailCallbackHandler):
            return True
        if str(error).partition("(")[0] not in _names(GuardSignal):
            return True
        _logger.debug("guard signal raised in %s.%s: %s", handler, event, error)
        return False


def install_log_filter() -> None:
    """Add :class:`GuardSignalLogFilter` to LangChain's callback manager logger (once)."""
    logger = logging.getLogger(_LOGGER)
    if not any(isinstance(f, GuardSignalLogFilter) for f in logger.filters):
        logger.addFilter(GuardSignalLogFilter())
