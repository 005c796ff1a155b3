"""Incremental scoring of streamed answers on a shared, batched KV cache.

Each stream (one question, one answer being written) is a row of one batched cache. The
instruction and question are prefilled once; streamed answer tokens are appended; a score
appends the fixed readout suffix, reads the logits and crops the suffix off again. Rows advance
by different numbers of tokens, so a step left-pads each row's new tokens inside the chunk and
masks the pads; a row whose re-tokenized answer no longer matches what is cached masks the stale
slots out instead of cropping (the cache is shared). Masked slots never take part in attention,
so every row's scores equal a full recomputation of that row alone (up to float rounding).

Inputs are bounded by the scorer's ``max_input_tokens``: a row keeps the most recent answer
tokens that fit (:func:`~guardrail.scorers.prompt.answer_window`, which moves in steps so the
cache is reused between moves); when the window moves, the row's answer slots are masked and the
window is fed again, and the cache is compacted once masked slots outnumber live ones.

One stream is a batch of one (:class:`FineCESession`); :class:`StreamBatch` scores many
concurrent streams in one forward pass, which is where the throughput comes from: a checkpoint
step is a few dozen tokens per stream, dominated by reading the weights, not by arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from guardrail.errors import ScorerUnavailableError
from guardrail.scorers.prompt import TokenizedPrompt, answer_window

if TYPE_CHECKING:
    import torch

__all__ = ["FineCESession", "StreamBatch", "StreamScorer"]


class StreamScorer(Protocol):
    """What a stream needs of its scorer (:class:`~guardrail.scorers.finece.FineCEScorer`).

    A protocol rather than the class, so that this module sits below :mod:`.finece`, which
    builds its sessions from it.
    """

    model: Any
    prompt: TokenizedPrompt
    pad_token_id: int

    @property
    def device(self) -> Any:
        """Where the model's weights live."""
        ...

    def confidences(self, logits: torch.Tensor) -> list[float]:
        """The confidence each row of readout ``logits`` expresses."""
        ...

    @property
    def question_cap(self) -> int:
        """Most tokens the prompt before the answer may take."""
        ...

    def answer_budget(self, question_len: int) -> int:
        """Answer tokens that fit beside ``question_len`` prompt tokens and the readout."""
        ...


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class StreamBatch:
    """Several streamed answers scored together on one batched KV cache."""

    def __init__(self, scorer: StreamScorer, questions: Sequence[str]) -> None:
        import torch
        from transformers import DynamicCache

        if not questions:
            raise ValueError("StreamBatch needs at least one question")
        self._scorer = scorer
        self._torch = torch
        model = scorer.model
        self._device = scorer.device
        self._texts = ["" for _ in questions]
        self._fed: list[list[int]] = [[] for _ in questions]  # answer ids in the cache, per row
        self._closed = False
        bounded = [scorer.prompt.bounded_question_ids(q, scorer.question_cap) for q in questions]
        prefixes = [ids for ids, _ in bounded]
        self._question_cut = [cut for _, cut in bounded]
        self._budget = [scorer.answer_budget(len(ids)) for ids in prefixes]
        self._dropped = [0 for _ in questions]
        # Prefill rows one at a time (no fully masked padded rows), then left-pad into a batch.
        caches, last_logits = [], []
        with torch.inference_mode():
            for ids in prefixes:
                cache = DynamicCache(config=model.config)
                out = model(
                    input_ids=torch.tensor([ids], device=self._device),
                    cache=cache,
                    use_cache=True,
                    logits_to_keep=1,
                )
                caches.append(cache)
                last_logits.append(out.logits[0, -1].float())
        width = max(len(ids) for ids in prefixes)
        self._mask = torch.zeros(len(prefixes), width, dtype=torch.long, device=self._device)
        for row, ids in enumerate(prefixes):
            self._mask[row, width - len(ids) :] = 1
        self._cache = self._merge(caches, [width - len(ids) for ids in prefixes])
        self._row_len = [len(ids) for ids in prefixes]  # next position id, per row
        self._prefix_logits = last_logits
        self._last_logits = list(last_logits)

    # ------------------------------------------------------------------ public
    @property
    def size(self) -> int:
        """Number of streams (rows)."""
        return len(self._texts)

    def append(self, row: int, text: str) -> None:
        """Add streamed answer text to stream ``row`` (no model call)."""
        self._check_open()
        self._texts[row] += text

    def text(self, row: int) -> str:
        """The answer text of stream ``row`` so far."""
        return self._texts[row]

    def truncated(self, row: int) -> int:
        """Tokens of stream ``row`` left out of its last estimate to fit ``max_input_tokens``."""
        return self._question_cut[row] + self._dropped[row]

    def score(self) -> list[float]:
        """Bring every row up to date and read each row's confidence, in one forward pass."""
        self._check_open()
        suffix = self._scorer.prompt.suffix_ids()
        logits = self._step(suffix)
        return self._scorer.confidences(logits)

    def entropy(self) -> list[float]:
        """Next-token entropy (nats) of the scorer LM after each row's current text."""
        self._check_open()
        self._step([])
        torch = self._torch
        values = []
        for logits in self._last_logits:
            logp = torch.log_softmax(logits, dim=-1)
            values.append(float(-(logp.exp() * logp).sum()))
        return values

    def close(self) -> None:
        """Drop the cache."""
        self._closed = True
        self._cache = None

    # ----------------------------------------------------------------- internals
    def _check_open(self) -> None:
        if self._closed:
            raise ScorerUnavailableError("this scoring session is closed")

    def _merge(self, caches: list[Any], pads: list[int]) -> Any:
        from transformers import DynamicCache

        torch = self._torch
        merged = DynamicCache(config=self._scorer.model.config)
        for layer in range(len(caches[0].layers)):
            keys, values = [], []
            for cache, pad in zip(caches, pads, strict=True):
                k, v = cache.layers[layer].keys, cache.layers[layer].values
                if pad:
                    shape = (*k.shape[:2], pad, k.shape[-1])
                    k = torch.cat([k.new_zeros(shape), k], dim=2)
                    v = torch.cat([v.new_zeros(shape), v], dim=2)
                keys.append(k)
                values.append(v)
            merged.update(torch.cat(keys), torch.cat(values), layer)
        return merged

    def _pending(self) -> list[list[int]]:
        """Per row, the answer ids to feed; stale cached slots are masked out on the way."""
        pending: list[list[int]] = []
        for row, text in enumerate(self._texts):
            ids = self._scorer.prompt.answer_ids(text)
            self._dropped[row] = answer_window(len(ids), self._budget[row])
            ids = ids[self._dropped[row] :]
            fed = self._fed[row]
            keep = _common_prefix(ids, fed)
            if 0 < keep == len(ids) < len(fed):
                keep -= 1  # re-feed one token so the row's last logits are fresh
            drop = len(fed) - keep
            if drop > 0:
                self._mask_out_last(row, drop)
                self._row_len[row] -= drop
                if keep == 0:
                    self._last_logits[row] = self._prefix_logits[row]
            self._fed[row] = ids
            pending.append(ids[keep:])
        return pending

    def _mask_out_last(self, row: int, count: int) -> None:
        valid = self._mask[row].nonzero().flatten()
        self._mask[row, valid[-count:]] = 0

    def _step(self, suffix: Sequence[int]) -> torch.Tensor:
        """Feed pending answer tokens plus ``suffix``; keep the answer tokens, drop the suffix."""
        torch: Any = self._torch
        pending = self._pending()
        longest = max(len(ids) for ids in pending)
        if longest == 0 and not suffix:
            return torch.empty(0)  # type: ignore[no-any-return]
        width = longest + len(suffix)
        pad_id = self._scorer.pad_token_id
        rows = len(pending)
        input_ids = torch.full((rows, width), pad_id, dtype=torch.long)
        chunk_mask = torch.zeros(rows, width, dtype=torch.long)
        positions = torch.zeros(rows, width, dtype=torch.long)
        for row, ids in enumerate(pending):
            tokens = [*ids, *suffix]
            start = width - len(tokens)
            input_ids[row, start:] = torch.tensor(tokens, dtype=torch.long)
            chunk_mask[row, start:] = 1
            first = self._row_len[row]
            positions[row, start:] = torch.arange(first, first + len(tokens))
        chunk_mask = chunk_mask.to(self._device)
        keep_logits = len(suffix) + 1
        with torch.inference_mode():
            out = self._scorer.model(
                input_ids=input_ids.to(self._device),
                attention_mask=torch.cat([self._mask, chunk_mask], dim=1),
                position_ids=positions.to(self._device),
                cache=self._cache,
                use_cache=True,
                logits_to_keep=keep_logits,
            )
        if suffix:
            self._cache.crop(-len(suffix))
        self._mask = torch.cat([self._mask, chunk_mask[:, :longest]], dim=1)
        for row, ids in enumerate(pending):
            self._row_len[row] += len(ids)
            if ids:
                self._last_logits[row] = out.logits[row, 0].float()
        self._compact()
        return out.logits  # type: ignore[no-any-return]

    def _compact(self) -> None:
        """Drop masked cache slots once they outnumber the live ones (bounded memory)."""
        torch: Any = self._torch
        counts = self._mask.sum(dim=1)
        width = int(counts.max())
        if self._mask.shape[1] <= 2 * width + 64:
            return
        rows = self._mask.shape[0]
        index = torch.zeros(rows, width, dtype=torch.long, device=self._device)
        mask = torch.zeros(rows, width, dtype=torch.long, device=self._device)
        for row in range(rows):
            valid = self._mask[row].nonzero().flatten()
            index[row, width - len(valid) :] = valid
            mask[row, width - len(valid) :] = 1
        for layer in self._cache.layers:
            gather = index[:, None, :, None].expand(
                rows, layer.keys.shape[1], width, layer.keys.shape[-1]
            )
            layer.keys = torch.gather(layer.keys, 2, gather)
            layer.values = torch.gather(layer.values, 2, gather)
        self._mask = mask


class FineCESession:
    """A :class:`~guardrail.scorers.base.ScoringSession` for one streamed answer."""

    def __init__(self, scorer: StreamScorer, question: str) -> None:
        self._batch = StreamBatch(scorer, [question])

    def append(self, text: str) -> None:
        """Add streamed answer text (no model call)."""
        self._batch.append(0, text)

    @property
    def answer(self) -> str:
        """The answer text so far."""
        return self._batch.text(0)

    def score(self) -> float:
        """Confidence for the question plus the answer so far."""
        return self._batch.score()[0]

    def entropy(self) -> float | None:
        """The scorer LM's next-token entropy after the current text, in nats."""
        return self._batch.entropy()[0]

    @property
    def truncated_tokens(self) -> int:
        """Tokens left out of the last estimate to fit the scorer's ``max_input_tokens``."""
        return self._batch.truncated(0)

    def close(self) -> None:
        """Release the KV cache."""
        self._batch.close()
