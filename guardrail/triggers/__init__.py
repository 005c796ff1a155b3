"""Checkpoint triggers: where, while an answer streams, confidence is estimated.

Each strategy lives in its own module and is registered by its spec ``type`` in
:data:`TRIGGER_TYPES`; :func:`build_trigger` turns :class:`CheckpointSettings` into the combined,
gated :class:`CheckpointTrigger` a monitor runs.
"""

from guardrail.triggers.base import AnswerText, EntropySource, SpecTrigger, Trigger
from guardrail.triggers.combine import CheckpointTrigger
from guardrail.triggers.config import (
    BCISettings,
    CheckpointSettings,
    EntropyTriggerSpec,
    ParagraphTriggerSpec,
    PeriodicTriggerSpec,
    TriggerSpec,
)
from guardrail.triggers.entropy import EntropyTrigger
from guardrail.triggers.paragraph import ParagraphTrigger
from guardrail.triggers.periodic import PeriodicTrigger
from guardrail.triggers.registry import TRIGGER_TYPES, build_trigger, create_trigger, trigger_class

__all__ = [
    "TRIGGER_TYPES",
    "AnswerText",
    "BCISettings",
    "CheckpointSettings",
    "CheckpointTrigger",
    "EntropySource",
    "EntropyTrigger",
    "EntropyTriggerSpec",
    "ParagraphTrigger",
    "ParagraphTriggerSpec",
    "PeriodicTrigger",
    "PeriodicTriggerSpec",
    "SpecTrigger",
    "Trigger",
    "TriggerSpec",
    "build_trigger",
    "create_trigger",
    "trigger_class",
]
