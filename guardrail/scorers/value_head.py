"""The value-head scorer (the paper's ablation): a linear head on the last hidden state.

Loaded from an artifact written by ``guardrail train --method value_head``. Sessions recompute
the whole prompt at every score (no KV-cache reuse): this backend exists to compare against
the instruction-tuned scorer, not to run in production.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from guardrail.calibration import PlattMap
from guardrail.errors import ModelUnavailableError
from guardrail.scorers.card import ScorerCard
from guardrail.scorers.card_refs import card_for_ref
from guardrail.scorers.padding import forward_left_padded, truncate_answer
from guardrail.scorers.prompt import DEFAULT_INSTRUCTION, PromptSegments, TokenizedPrompt

__all__ = ["ValueHeadScorer"]

HEAD_FILE = "value_head.safetensors"


class ValueHeadScorer:
    """Scores with ``sigmoid(w . h_last + b)`` over the FineCE prompt without the readout."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        head: Any,
        *,
        name: str = "value-head",
        max_length: int = 2048,
        calibration: PlattMap | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.head = head
        self._name = name
        self.max_length = max_length
        self.calibration = calibration
        self.card: ScorerCard | None = None  # set by from_ref (guardrail.scorers.card)
        self.prompt = TokenizedPrompt.build(
            tokenizer, PromptSegments.for_tokenizer(tokenizer, DEFAULT_INSTRUCTION)
        )
        pad = tokenizer.pad_token_id
        self.pad_token_id = int(pad if pad is not None else tokenizer.eos_token_id)

    @classmethod
    def from_ref(
        cls,
        ref: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        calibrated: bool = True,
        max_input_tokens: int = 2048,
    ) -> ValueHeadScorer:
        """Load a value-head artifact directory (with its calibration map unless told not to)."""
        import torch
        from safetensors.torch import load_file

        from guardrail.models.loader import load_model, resolve_model_path
        from guardrail.scorers.finece import artifact_calibration

        location = resolve_model_path(ref)
        head_path = Path(location) / HEAD_FILE if isinstance(location, Path) else None
        if head_path is None or not head_path.is_file():
            raise ModelUnavailableError(f"{ref} is not a value-head artifact (no {HEAD_FILE})")
        loaded = load_model(ref, device=device, dtype=dtype)
        weights = load_file(str(head_path))
        head = torch.nn.Linear(weights["weight"].shape[1], 1)
        head.load_state_dict(weights)
        head.to(next(loaded.model.parameters()).device).eval()
        calibration = artifact_calibration(ref) if calibrated else None
        scorer = cls(
            loaded.model,
            loaded.tokenizer,
            head,
            name=ref,
            max_length=max_input_tokens,
            calibration=calibration,
        )
        scorer.card = card_for_ref(ref)
        return scorer

    @property
    def name(self) -> str:
        """Identifier used in events."""
        return self._name

    def score(self, question: str, answer: str = "") -> float:
        """Confidence for one pair."""
        return self.score_batch([(question, answer)])[0]

    def score_batch(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Confidences for many pairs in one left-padded batch."""
        import torch

        rows = [
            truncate_answer(
                self.prompt.question_ids(q),
                self.prompt.answer_window_ids(a, self.max_length).ids,  # only its last chars
                self.prompt.tail_ids,
                self.max_length,
            )
            for q, a in pairs
        ]
        with torch.inference_mode():
            out = forward_left_padded(
                self.model, rows, pad_token_id=self.pad_token_id, backbone=True
            )
            logits = self.head(out.last_hidden_state[:, -1].float()).squeeze(-1)
        values = [float(v) for v in torch.sigmoid(logits)]
        return self.calibration.apply_list(values) if self.calibration is not None else values

    def open_session(self, question: str) -> _RecomputeSession:
        """A session that recomputes the prompt at each score."""
        return _RecomputeSession(self, question)


class _RecomputeSession:
    def __init__(self, scorer: ValueHeadScorer, question: str) -> None:
        self._scorer = scorer
        self._question = question
        self._parts: list[str] = []

    def append(self, text: str) -> None:
        self._parts.append(text)

    def score(self) -> float:
        if len(self._parts) > 1:
            self._parts[:] = ["".join(self._parts)]
        return self._scorer.score(self._question, self._parts[0] if self._parts else "")

    def entropy(self) -> float | None:
        return None

    def close(self) -> None:
        self._parts.clear()
