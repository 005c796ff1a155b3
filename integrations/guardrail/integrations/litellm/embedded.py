"""The embedded model for the LiteLLM proxy, by module path (``custom_provider_map``).

Name :data:`provider` in the proxy's ``config.yaml`` and serve ``guardrail-local/<name>``
models (``smollm2`` is the embedded SmolLM2-135M-Instruct; any ``load_model`` reference works)::

    model_list:
      - model_name: smollm2
        litellm_params:
          model: guardrail-local/smollm2
    litellm_settings:
      custom_provider_map:
        - provider: guardrail-local
          custom_handler: guardrail.integrations.litellm.embedded.provider

Importing this module registers the provider with litellm (as
:func:`~guardrail.integrations.litellm.register_local_provider` does); the model is loaded on
the first request, not at import.
"""

from __future__ import annotations

from .provider import LocalModelProvider, register_local_provider

__all__ = ["provider"]

provider: LocalModelProvider = register_local_provider()
"""The registered ``guardrail-local`` provider (the same object on every import)."""
