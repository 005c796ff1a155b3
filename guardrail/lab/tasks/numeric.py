"""GSM8K-style numeric answers: ``#### N``, else ``The answer is N``, else the last number.

Numbers are compared as values: ``"1,000"``, ``"1000"``, ``"1000.0"`` and ``"$1,000.00"`` are
equal; ``"-3"`` and ``"3"`` are not.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["check_numeric", "extract_numeric_answer", "numbers_equal", "parse_number"]

# A minus sign only counts where it cannot be a subtraction ("10-3" is 10 and 3, not -3).
_NUMBER = r"(?:(?<![\w)\]])-)?\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_NUMBER_RE = re.compile(_NUMBER)
_HASHES_RE = re.compile(r"####\s*(" + _NUMBER + ")")
_ANSWER_IS_RE = re.compile(r"answer is\s*:?\s*\(?\s*(" + _NUMBER + ")", re.IGNORECASE)


def parse_number(text: str) -> Decimal | None:
    """The value of ``text`` (commas, ``$``, spaces and a trailing ``.`` ignored), or None."""
    cleaned = text.strip().replace(",", "").replace("$", "").replace(" ", "").rstrip(".")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def extract_numeric_answer(completion: str) -> Decimal | None:
    """The final answer of ``completion`` as a number, or None when it states none.

    Priority: the last ``#### N``, then the last ``answer is N``, then the last number.
    """
    for pattern in (_HASHES_RE, _ANSWER_IS_RE):
        matches = pattern.findall(completion)
        if matches:
            return parse_number(matches[-1])
    numbers = _NUMBER_RE.findall(completion)
    return parse_number(numbers[-1]) if numbers else None


def numbers_equal(left: str, right: str) -> bool:
    """Whether two number strings have the same value (False if either is not a number)."""
    a, b = parse_number(left), parse_number(right)
    return a is not None and b is not None and a == b


def check_numeric(completion: str, reference: str | tuple[str, ...]) -> bool:
    """Whether the final number of ``completion`` equals (one of) the reference number(s)."""
    answer = extract_numeric_answer(completion)
    if answer is None:
        return False
    references = (reference,) if isinstance(reference, str) else reference
    return any(parse_number(ref) == answer for ref in references)
