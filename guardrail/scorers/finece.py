"""The FineCE confidence scorer on any transformers causal LM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from guardrail.calibration import PlattMap, StageCalibration
from guardrail.errors import ScorerUnavailableError
from guardrail.scorers.card import ScorerCard
from guardrail.scorers.card_refs import card_for_ref
from guardrail.scorers.padding import forward_left_padded
from guardrail.scorers.pool import StreamPool
from guardrail.scorers.prompt import (
    DEFAULT_INSTRUCTION,
    DEFAULT_MAX_INPUT_TOKENS,
    PromptSegments,
    TokenizedPrompt,
)
from guardrail.scorers.readout import DigitReadout, parse_confidence
from guardrail.scorers.streams import FineCESession, StreamBatch

if TYPE_CHECKING:
    import torch

    from guardrail.models.loader import LoadedModel

__all__ = ["FineCEScorer", "artifact_calibration", "artifact_stage_calibration"]


class FineCEScorer:
    """Estimates ``p(final answer correct | question, answer so far)`` with an instruction prompt.

    The model reads the FineCE instruction, the question and the (partial) answer, and the
    confidence is the expected value of the number it would write (see
    :mod:`guardrail.scorers.readout`): one forward pass, no sampling, deterministic. Pass a base
    model, a fine-tuned one, or a scorer artifact directory (adapter + ``finece.json``) through
    :meth:`from_ref`.

    ``calibration`` (a :class:`~guardrail.calibration.PlattMap`, read from the artifact's
    ``finece.json`` by :meth:`from_ref`) maps every estimate, in :meth:`score_batch` and in
    sessions alike; it is monotone, so rankings (AUROC) do not change. ``stage_maps`` (the
    artifact's ``calibration_by_stage``) are applied by :meth:`for_stage` when the caller knows
    an estimate's stage (the monitor and the evaluation do).

    ``max_input_tokens`` bounds what the model reads per estimate: a question longer than half
    of it is cut at its end, and of the answer only the most recent tokens that fit are kept
    (:func:`~guardrail.scorers.prompt.answer_window`); sessions report what they dropped in
    ``truncated_tokens``.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "finece",
        instruction: str = DEFAULT_INSTRUCTION,
        batch_size: int = 8,
        calibration: PlattMap | None = None,
        stage_maps: dict[str, PlattMap] | None = None,
        max_input_tokens: int = DEFAULT_MAX_INPUT_TOKENS,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if max_input_tokens < 64:
            raise ValueError(f"max_input_tokens must be at least 64, got {max_input_tokens}")
        self.max_input_tokens = max_input_tokens
        self.model = model
        self.tokenizer = tokenizer
        self._name = name
        self.batch_size = batch_size
        self.calibration = calibration
        self.stage_calibration = StageCalibration(calibration, dict(stage_maps or {}))
        self.card: ScorerCard | None = None  # set by from_ref (guardrail.scorers.card)
        segments = PromptSegments.for_tokenizer(tokenizer, instruction)
        self.readout = DigitReadout.for_tokenizer(tokenizer, segments.readout)
        self.prompt = TokenizedPrompt.build(tokenizer, segments)
        pad = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
        if pad is None:
            raise ScorerUnavailableError("the tokenizer has neither a pad nor an eos token")
        self.pad_token_id: int = int(pad)

    @classmethod
    def from_ref(
        cls,
        ref: str,
        *,
        device: str = "auto",
        dtype: str = "auto",
        calibrated: bool = True,
        **kwargs: Any,
    ) -> FineCEScorer:
        """Load the model named by ``ref`` (see :func:`guardrail.models.load_model`).

        A scorer artifact's calibration map is applied unless ``calibrated`` is false.
        """
        from guardrail.models.loader import load_model

        loaded: LoadedModel = load_model(ref, device=device, dtype=dtype)
        kwargs.setdefault("name", ref)
        if calibrated and "calibration" not in kwargs:
            kwargs["calibration"] = artifact_calibration(ref)
            kwargs.setdefault("stage_maps", artifact_stage_calibration(ref))
        scorer = cls(loaded.model, loaded.tokenizer, **kwargs)
        scorer.card = card_for_ref(ref)
        return scorer

    @property
    def name(self) -> str:
        """Identifier used in events and audit records."""
        return self._name

    @property
    def device(self) -> Any:
        """The torch device the model runs on."""
        return next(self.model.parameters()).device

    # ------------------------------------------------------------------ scoring
    def score(self, question: str, answer: str = "") -> float:
        """Confidence in [0, 1] for ``question`` plus the (partial or complete) ``answer``."""
        return self.score_batch([(question, answer)])[0]

    def score_batch(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Score many pairs, ``batch_size`` at a time, left-padded; equal to one-by-one."""
        results: list[float] = []
        for start in range(0, len(pairs), self.batch_size):
            chunk = pairs[start : start + self.batch_size]
            rows = [self.input_ids(q, a)[0] for q, a in chunk]
            logits = self._forward_padded(rows, keep=self.readout.logits_needed)
            results.extend(self.confidences(logits))
        return results

    def confidences(self, logits: torch.Tensor) -> list[float]:
        """The readout of ``logits`` (one row per estimate), calibrated if a map is set."""
        values = [float(v) for v in self.readout.confidence(logits)]
        return self.calibration.apply_list(values) if self.calibration is not None else values

    def for_stage(self, confidence: float, stage: str) -> float:
        """``confidence`` with the map of ``stage`` (question, process, outcome) if it has one."""
        return self.stage_calibration.restage(confidence, stage)

    def greedy_confidence(
        self, question: str, answer: str = "", max_new_tokens: int = 6
    ) -> float | None:
        """Cross-check: let the model write its number greedily and parse it (None if no number)."""
        import torch

        ids, _ = self.input_ids(question, answer)
        ids = ids[: len(ids) - len(self.prompt.readout_ids)]
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=torch.tensor([ids], device=self.device),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=self.device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=self.pad_token_id,
            )
        text = self.tokenizer.decode(out[0, len(ids) :], skip_special_tokens=True)
        return parse_confidence(text)

    def open_session(self, question: str) -> FineCESession:
        """Incremental session for one streamed answer (KV cache reused between checkpoints)."""
        return FineCESession(self, question)

    def open_batch(self, questions: Sequence[str]) -> StreamBatch:
        """Incremental sessions for several concurrent streams, scored in one forward pass."""
        return StreamBatch(self, questions)

    def open_pool(self) -> StreamPool:
        """An empty pool that streams join and leave (the scoring worker batches on it)."""
        return StreamPool(self)

    # ------------------------------------------------------------------- inputs
    @property
    def question_cap(self) -> int:
        """Most tokens ``head + question + between`` may take (half of ``max_input_tokens``)."""
        return self.max_input_tokens // 2

    def answer_budget(self, question_len: int) -> int:
        """Answer tokens that fit beside ``question_len`` prompt tokens and the readout suffix."""
        return self.max_input_tokens - question_len - len(self.prompt.suffix_ids())

    def input_ids(self, question: str, answer: str) -> tuple[list[int], int]:
        """The bounded scoring input for one pair, and how many tokens were cut to bound it.

        Only the answer's last characters are tokenized
        (:meth:`~guardrail.scorers.prompt.TokenizedPrompt.bounded_ids`): bounded work per
        estimate, whatever the answer's length.
        """
        return self.prompt.bounded_ids(question, answer, self.max_input_tokens)

    # ---------------------------------------------------------------- internals
    def _forward_padded(self, rows: list[list[int]], keep: int) -> torch.Tensor:
        import torch

        with torch.inference_mode():
            out = forward_left_padded(self.model, rows, pad_token_id=self.pad_token_id, keep=keep)
        return out.logits  # type: ignore[no-any-return]


def _artifact_entry(ref: str, key: str) -> tuple[Any, str]:
    """``finece.json[key]`` of the artifact ``ref`` names (None if absent), and where it is."""
    from pathlib import Path

    from guardrail.models.loader import resolve_model_path
    from guardrail.scorers.artifact import read_metadata

    location = resolve_model_path(ref)
    if not isinstance(location, Path) or not (location / "finece.json").is_file():
        return None, ""
    return read_metadata(location).get(key), f"{location / 'finece.json'}: {key}"


def artifact_calibration(ref: str) -> PlattMap | None:
    """The calibration map in the ``finece.json`` of the artifact ``ref`` names, if any."""
    data, where = _artifact_entry(ref, "calibration")
    return None if data is None else PlattMap.from_dict(data, where=where)


def artifact_stage_calibration(ref: str) -> dict[str, PlattMap]:
    """The per-stage maps (``calibration_by_stage``) of the artifact ``ref`` names, if any."""
    data, where = _artifact_entry(ref, "calibration_by_stage")
    if data is None:
        return {}
    return dict(StageCalibration.from_dict(None, data, where=where).by_stage)
