"""Deterministic train/test splits of finite tasks by a hash of the item id."""

from __future__ import annotations

import hashlib
from typing import Literal

from guardrail.errors import GuardrailConfigError

__all__ = ["SPLITS", "Split", "in_split", "validate_split"]

Split = Literal["all", "train", "test"]
SPLITS: tuple[Split, ...] = ("all", "train", "test")
TEST_SHARE = 5
"""One item in ``TEST_SHARE`` (by id hash) is held out as ``test``."""


def validate_split(split: str) -> Split:
    """``split`` itself, or a :class:`GuardrailConfigError` listing the valid names."""
    for name in SPLITS:
        if split == name:
            return name
    raise GuardrailConfigError(f"unknown split {split!r}: expected one of {', '.join(SPLITS)}")


def in_split(item_id: str, split: Split) -> bool:
    """Whether the item ``item_id`` belongs to ``split`` (the same answer on every machine)."""
    if split == "all":
        return True
    held_out = int(hashlib.sha256(item_id.encode("utf-8")).hexdigest()[:8], 16) % TEST_SHARE == 0
    return held_out if split == "test" else not held_out
