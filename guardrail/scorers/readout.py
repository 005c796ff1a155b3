"""Turn next-token logits into a confidence in [0, 1].

The scorer is taught to answer with one decimal (``0.0`` ... ``0.9`` or ``1.0``). Teacher-forcing
the readout ``"0."`` after the prompt gives, in one forward pass, the distribution over the first
digit (at the last prompt token) and over the tenths digit (at the ``.``). The confidence is the
expected value ``p(1) * 1.0 + p(0) * sum_d p(d | "0.") * d / 10`` with both distributions
renormalised over the digit tokens only. Hundredths (``0.75``) are not read: the expectation over
tenths is already continuous, and the training targets have one decimal.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from guardrail.errors import ScorerUnavailableError

if TYPE_CHECKING:
    import torch

__all__ = ["DigitReadout", "parse_confidence"]

_NUMBER = re.compile(r"(?<![\d.])(1(?:\.0+)?|0?\.\d+|0)(?![\d.])")


@dataclass(frozen=True, slots=True)
class DigitReadout:
    """Token ids needed for the expected-value readout."""

    digit_ids: tuple[int, ...]
    readout_ids: tuple[int, ...]

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, readout: str = "0.") -> DigitReadout:
        """Check that digits are single tokens and ``readout`` tokenizes as ``0`` then ``.``."""

        def enc(text: str) -> list[int]:
            return list(tokenizer(text, add_special_tokens=False)["input_ids"])

        readout_ids = enc(readout)
        digit_ids: list[int] = []
        for digit in range(10):
            ids = enc(f"{readout}{digit}")
            if len(ids) != len(readout_ids) + 1 or ids[:-1] != readout_ids:
                raise ScorerUnavailableError(
                    f"the tokenizer does not split {readout}{digit!s} into {readout!r} + one digit "
                    "token; the expected-value readout needs single-token digits"
                )
            digit_ids.append(ids[-1])
        if readout_ids[0] != digit_ids[0]:
            raise ScorerUnavailableError(f"readout {readout!r} must start with the digit token 0")
        return cls(digit_ids=tuple(digit_ids), readout_ids=tuple(readout_ids))

    @property
    def logits_needed(self) -> int:
        """How many final positions' logits the readout uses."""
        return len(self.readout_ids) + 1

    def confidence(self, logits: torch.Tensor) -> torch.Tensor:
        """Expected confidence from ``logits[..., -logits_needed:, vocab]`` (one per row)."""
        import torch

        first = logits[..., -self.logits_needed, :].float()
        tenths = logits[..., -1, :].float()
        ids = torch.tensor(self.digit_ids, device=logits.device)
        p_first = torch.softmax(first[..., ids[:2]], dim=-1)  # over "0" and "1"
        p_tenths = torch.softmax(tenths[..., ids], dim=-1)
        values = torch.arange(10, device=logits.device, dtype=torch.float32) / 10.0
        below_one = (p_tenths * values).sum(dim=-1)
        return (p_first[..., 1] + p_first[..., 0] * below_one).clamp(0.0, 1.0)


def parse_confidence(text: str) -> float | None:
    """The first number in [0, 1] in ``text`` (``"0.7"``, ``".7"``, ``"1"``), else ``None``."""
    match = _NUMBER.search(text)
    if match is None:
        return None
    value = float(match.group(1))
    return value if 0.0 <= value <= 1.0 and math.isfinite(value) else None
