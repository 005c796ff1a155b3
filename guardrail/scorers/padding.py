"""Left-padded batched forward passes (shared by scoring and training)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["forward_left_padded", "truncate_answer"]


def forward_left_padded(
    model: Any,
    rows: Sequence[Sequence[int]],
    *,
    pad_token_id: int,
    keep: int = 0,
    backbone: bool = False,
) -> Any:
    """Run ``rows`` as one left-padded batch with matching attention mask and position ids.

    Left padding keeps every row's last token in the last column, so ``keep`` final positions
    line up across rows. Returns the model output (``logits`` for the last ``keep`` positions),
    or with ``backbone=True`` the decoder's output (``last_hidden_state``). The caller chooses
    the grad mode.
    """
    import torch

    device = next(model.parameters()).device
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_token_id, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, width - len(row) :] = torch.tensor(list(row), dtype=torch.long)
        mask[i, width - len(row) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    inputs = {
        "input_ids": input_ids.to(device),
        "attention_mask": mask.to(device),
        "position_ids": positions.to(device),
        "use_cache": False,
    }
    if backbone:
        return model.get_decoder()(**inputs)
    return model(**inputs, logits_to_keep=keep)


def truncate_answer(
    question_ids: Sequence[int],
    answer_ids: Sequence[int],
    suffix_ids: Sequence[int],
    max_length: int,
) -> list[int]:
    """``question + answer + suffix``, dropping the answer's oldest tokens beyond ``max_length``."""
    budget = max(0, max_length - len(question_ids) - len(suffix_ids))
    kept = list(answer_ids)[-budget:] if budget else []
    return [*question_ids, *kept, *suffix_ids]
