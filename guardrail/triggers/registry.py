"""The explicit registry of trigger strategies and :func:`build_trigger`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from guardrail.errors import ConfigIssue, GuardrailConfigError
from guardrail.triggers.base import SpecTrigger
from guardrail.triggers.combine import CheckpointTrigger
from guardrail.triggers.config import CheckpointSettings, TriggerSpec
from guardrail.triggers.entropy import EntropyTrigger
from guardrail.triggers.paragraph import ParagraphTrigger
from guardrail.triggers.periodic import PeriodicTrigger

__all__ = ["TRIGGER_TYPES", "build_trigger", "create_trigger", "trigger_class"]

TRIGGER_TYPES: Mapping[str, type[SpecTrigger]] = MappingProxyType(
    {cls.type: cls for cls in (ParagraphTrigger, PeriodicTrigger, EntropyTrigger)}
)
"""Spec ``type`` -> trigger class, for every strategy ``checkpoints.strategies`` accepts."""


def trigger_class(name: str) -> type[SpecTrigger]:
    """The trigger class registered as ``name``; an unknown name lists the valid ones."""
    try:
        return TRIGGER_TYPES[name]
    except KeyError:
        valid = ", ".join(sorted(TRIGGER_TYPES))
        raise GuardrailConfigError(
            [
                ConfigIssue(
                    f"unknown trigger type {name!r}",
                    key_path="checkpoints.strategies.type",
                    expected=f"one of {valid}",
                )
            ]
        ) from None


def create_trigger(spec: TriggerSpec) -> SpecTrigger:
    """Build one strategy from its spec."""
    return trigger_class(spec.type).from_spec(spec)


def build_trigger(settings: CheckpointSettings) -> CheckpointTrigger:
    """Build the combined, gated trigger described by ``settings`` (fresh state)."""
    return CheckpointTrigger(
        [create_trigger(spec) for spec in settings.strategies],
        combine=settings.combine,
        min_gap=settings.min_gap,
        max_per_answer=settings.max_per_answer,
    )
