"""Which runnable runs an attempt: the wrapped one, or a rebuilt one for escalation or retries.

Escalation targets are model *names* (the policy's ``targets``). A name resolves through the
``models`` registry given to :func:`~guardrail.integrations.langchain.guard` (a mapping
``name -> BaseChatModel`` or a callable ``name -> BaseChatModel | None``) and, failing that, to a
litellm model through ``langchain_litellm.ChatLiteLLM`` (the ``litellm`` extra). The wrapped
runnable is then rebuilt around that model by the user's ``runnable_factory`` (``model ->
runnable``) or, when the wrapped runnable is itself a chat model, replaced by it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable

from guardrail._optional import require
from guardrail.errors import GuardrailConfigError, MissingExtraError, ModelUnavailableError
from guardrail.runtime import AttemptPlan

__all__ = ["ModelRegistry", "RunnableBuilder", "model_name_of"]

ModelRegistry = Mapping[str, BaseChatModel] | Callable[[str], BaseChatModel | None]
"""Chat models by name, or a callable that builds one from a name (``None``: not known)."""


def model_name_of(runnable: object) -> str:
    """The model name of a chat model (``model_name``, ``model``, ``model_id``), else ``""``."""
    for attribute in ("model_name", "model", "model_id"):
        value = getattr(runnable, attribute, None)
        if isinstance(value, str) and value:
            return value
    return ""


class RunnableBuilder:
    """Resolves attempt plans to runnables, caching resolved models by name."""

    def __init__(
        self,
        runnable: Runnable[Any, Any],
        *,
        model_name: str,
        models: ModelRegistry | None = None,
        runnable_factory: Callable[[BaseChatModel], Runnable[Any, Any]] | None = None,
    ) -> None:
        self.runnable = runnable
        self.model_name = model_name
        self.models = models
        self.runnable_factory = runnable_factory
        self._cache: dict[str, BaseChatModel] = {}
        self._lock = threading.Lock()

    def for_plan(self, plan: AttemptPlan) -> Runnable[Any, Any]:
        """The runnable that runs ``plan`` (its model, at its temperature)."""
        same_model = plan.model in ("", self.model_name)
        if same_model and plan.temperature is None:
            return self.runnable
        if same_model:
            registered = self._registered(self.model_name)
            if isinstance(self.runnable, BaseChatModel):
                model: BaseChatModel = self.runnable
            elif registered is not None and self.runnable_factory is not None:
                model = registered  # a chain rebuilt around its registered model
            else:
                return self.runnable  # a chain we cannot rebuild: the temperature is not applied
        else:
            model = self.resolve(plan.model)
        if plan.temperature is not None and "temperature" in type(model).model_fields:
            model = model.model_copy(update={"temperature": plan.temperature})
        if self.runnable_factory is not None:
            return self.runnable_factory(model)
        if isinstance(self.runnable, BaseChatModel):
            return model
        raise GuardrailConfigError(
            f"cannot run {plan.kind} attempt {plan.attempt} on model {plan.model!r}: the guarded "
            "runnable is not a chat model, so pass runnable_factory= (model -> runnable)"
        )

    def resolve(self, name: str) -> BaseChatModel:
        """The chat model called ``name`` (registry first, then litellm)."""
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None:
            return cached
        model = self._lookup(name)
        with self._lock:
            return self._cache.setdefault(name, model)

    def _registered(self, name: str) -> BaseChatModel | None:
        """The model registered as ``name``, or ``None`` (no litellm fallback)."""
        registry = self.models
        if isinstance(registry, Mapping):
            return registry.get(name)
        return registry(name) if registry is not None else None

    def _lookup(self, name: str) -> BaseChatModel:
        found = self._registered(name)
        if found is not None:
            return found
        try:
            module = require("langchain_litellm", "litellm")
        except MissingExtraError as exc:
            exc.add_note(
                f"escalation target {name!r} is not in the models registry, so it was taken "
                "for a litellm model name, which needs langchain_litellm.ChatLiteLLM"
            )
            raise
        model = module.ChatLiteLLM(model=name)
        if not isinstance(model, BaseChatModel):
            raise ModelUnavailableError(f"ChatLiteLLM({name!r}) is not a chat model")
        return model
