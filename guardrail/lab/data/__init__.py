"""Confidence training data by Monte Carlo sampling (FineCE Algorithm 1).

Generators (:class:`LocalBatchGenerator`, :class:`LiteLLMGenerator`), the builder
(:func:`build`), and the resumable label store (:class:`LabelStore`). Heavy dependencies (torch,
scikit-learn, litellm) are imported only when used.
"""

from guardrail.lab.data.builder import BuildConfig, BuildReport, build
from guardrail.lab.data.clustering import (
    Cluster,
    cluster_texts,
    paragraph_cuts,
    truncate_at_paragraph,
)
from guardrail.lab.data.generator import Completion, GenerationError, Generator, Prompt
from guardrail.lab.data.local import LocalBatchGenerator
from guardrail.lab.data.remote import LiteLLMGenerator
from guardrail.lab.data.store import LabelStore, read_labels, read_records
from guardrail.lab.data.summary import LabelSummary, summarize

__all__ = [
    "BuildConfig",
    "BuildReport",
    "Cluster",
    "Completion",
    "GenerationError",
    "Generator",
    "LabelStore",
    "LabelSummary",
    "LiteLLMGenerator",
    "LocalBatchGenerator",
    "Prompt",
    "build",
    "cluster_texts",
    "paragraph_cuts",
    "read_labels",
    "read_records",
    "summarize",
    "truncate_at_paragraph",
]
