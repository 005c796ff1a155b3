"""The ``calibration_drift`` condition: the live calibration error has left its noise band.

::

    when:
      calibration_drift: 0.02          # or {margin: 0.02, min_items: 50}

holds when the run context carries a calibration reading
(:class:`~guardrail.reliability.CalibrationReading`, put there by the runtime's drift monitor
over the review store: the live confidences of the last decided review items against the
reviewers' verdicts) over at least ``min_items`` items, and its calibration error (ECE-15)
exceeds the 95th percentile of a perfectly calibrated scorer's ECE at the same confidences by
more than ``margin``. ``margin: 0`` fires as soon as the error is outside its noise. Without a
reading (no monitor, no decided items yet, the store unreadable) or with too few items the
condition does not hold, and its reason says why. The engine stays pure: the reading is data
in :class:`~guardrail.policy.RunContext`.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from pydantic import Field

from guardrail.policy.fields import PolicyModel, Probability, before, fmt, is_number, shorthand

__all__ = [
    "CalibrationDrift",
    "CalibrationDriftField",
    "LiveCalibration",
    "check_calibration_drift",
]


class LiveCalibration(Protocol):
    """What ``calibration_drift`` reads from the run context.

    :class:`guardrail.reliability.CalibrationReading` is the implementation the runtime's drift
    monitor makes; the policy layer only needs these four members.
    """

    @property
    def items(self) -> int:
        """How many decided review items the figure is measured on."""
        ...

    @property
    def excess(self) -> float:
        """The calibration error minus its noise band (> 0: outside it)."""
        ...

    def describe(self) -> str:
        """One line for a decision's reasons."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping for audit records."""
        ...


class CalibrationDrift(PolicyModel):
    """The live calibration error lies more than ``margin`` beyond its noise band.

    The band is the 95th percentile of a perfectly calibrated scorer's ECE at the same
    confidences; at least ``min_items`` decided review items must back the reading.
    """

    margin: float = Field(default=0.0, ge=0.0, le=1.0, allow_inf_nan=False)
    min_items: int = Field(default=30, ge=2, le=100_000)


_EXPECTED = "a margin in [0, 1] or {margin, min_items}"
CalibrationDriftField = Annotated[
    CalibrationDrift | None,
    before(
        shorthand("calibration_drift", "margin", is_number, _EXPECTED),
        Probability | CalibrationDrift,
    ),
]


def check_calibration_drift(
    atom: CalibrationDrift, reading: LiveCalibration | None
) -> tuple[bool, str]:
    """Whether ``atom`` holds for ``reading`` (the run context's), and the reason."""
    if reading is None:
        return False, "live calibration unknown (no drift reading from decided review items)"
    if reading.items < atom.min_items:
        return False, (
            f"live calibration over {reading.items} decided review item(s) only "
            f"(calibration_drift needs {atom.min_items})"
        )
    excess = reading.excess
    holds = excess > atom.margin
    relation = "more than" if holds else "not more than"
    return holds, (
        f"{reading.describe()}: {fmt(excess)} beyond its noise band, {relation} the margin "
        f"{fmt(atom.margin)}"
    )
