"""litellm integration: guarded completions, a LiteLLM proxy guardrail, the embedded model.

* :func:`guarded_completion` / :func:`aguarded_completion`: ``litellm.completion`` /
  ``acompletion`` under a guardrail policy (retry, escalate, self-correct, review, abort).
* :class:`FineCEGuardrail`: a LiteLLM proxy guardrail (``guardrails:`` in the proxy's
  ``config.yaml``) that cuts a low-confidence stream with a content-filter block frame.
* :func:`register_local_provider`: the embedded model as the ``guardrail-local/...`` provider.

Needs the ``litellm`` extra (``pip install 'finece-guardrail[litellm]'``).
"""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch at import

from guardrail._optional import require

require("litellm", "litellm")

from ._request import DEFAULT_TOP_LOGPROBS, Reask, supported_logprob_params  # noqa: E402
from .completion import aguarded_completion, guarded_completion  # noqa: E402
from .provider import (  # noqa: E402
    DEFAULT_MODEL_REF,
    MODEL_ALIASES,
    PROVIDER,
    LocalModelProvider,
    register_local_provider,
)
from .proxy import FineCEGuardrail  # noqa: E402

__all__ = [
    "DEFAULT_MODEL_REF",
    "DEFAULT_TOP_LOGPROBS",
    "MODEL_ALIASES",
    "PROVIDER",
    "FineCEGuardrail",
    "LocalModelProvider",
    "Reask",
    "aguarded_completion",
    "guarded_completion",
    "register_local_provider",
    "supported_logprob_params",
]
