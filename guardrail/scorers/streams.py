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
from guardrail.scorers.answer_tokens import AnswerTokens
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
    max_input_tokens: int

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


_EAGER_COMPACTION = 64
"""Stale cache slots tolerated before a chunk of at least this many tokens is fed."""


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

        if not questions:
            raise ValueError("StreamBatch needs at least one question")
        self._scorer = scorer
        self._torch = torch
        self._device = scorer.device
        self._answers = [self._new_answer() for _ in questions]
        self._fed: list[list[int]] = [[] for _ in questions]  # answer ids in the cache, per row
        self._closed = False
        bounded = [scorer.prompt.bounded_question_ids(q, scorer.question_cap) for q in questions]
        prefixes = [ids for ids, _ in bounded]
        self._question_cut = [cut for _, cut in bounded]
        self._budget = [scorer.answer_budget(len(ids)) for ids in prefixes]
        self._dropped = [0 for _ in questions]
        # Prefill rows one at a time (no fully masked padded rows), then left-pad into a batch.
        caches, last_logits = [], []
        for ids in prefixes:
            cache, logits = self._prefill(ids)
            caches.append(cache)
            last_logits.append(logits)
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
        return len(self._answers)

    def append(self, row: int, text: str) -> None:
        """Add streamed answer text to stream ``row`` (no model call)."""
        self._check_open()
        self._answers[row].append(text)

    def text(self, row: int) -> str:
        """The answer text of stream ``row`` so far."""
        return self._answers[row].text

    def truncated(self, row: int) -> int:
        """Tokens of stream ``row`` left out of its last estimate to fit ``max_input_tokens``."""
        return self._question_cut[row] + self._dropped[row]

    def score(self) -> list[float]:
        """Bring every row up to date and read each row's confidence, in one forward pass."""
        self._check_open()
        suffix = self._scorer.prompt.suffix_ids()
        logits = self._step(suffix)
        return self._scorer.confidences(logits)

    def score_rows(self, rows: Sequence[int]) -> list[float]:
        """The confidences of ``rows`` only: the other rows take no part in the forward pass.

        Their cached state is untouched (their new slots are masked out), so a step costs what
        its rows cost, whatever the number of open streams.
        """
        self._check_open()
        if list(rows) == list(range(self.size)):
            return self.score()
        suffix = self._scorer.prompt.suffix_ids()
        return self._scorer.confidences(self._step(suffix, list(rows)))

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

    def add(self, question: str) -> int:
        """Add a stream for ``question`` (prefilled alone, left-padded in); return its row."""
        self._check_open()
        torch = self._torch
        ids, cut = self._scorer.prompt.bounded_question_ids(question, self._scorer.question_cap)
        cache, logits = self._prefill(ids)
        width = int(self._mask.shape[1])
        if len(ids) > width:  # the new row is wider than the batch: pad every row on the left
            grow = len(ids) - width
            for layer in self._cache.layers:
                layer.keys = _left_pad(torch, layer.keys, grow)
                layer.values = _left_pad(torch, layer.values, grow)
            self._mask = torch.cat([self._mask.new_zeros(self.size, grow), self._mask], dim=1)
            width = len(ids)
        pad = width - len(ids)
        for mine, theirs in zip(self._cache.layers, cache.layers, strict=True):
            mine.keys = torch.cat([mine.keys, _left_pad(torch, theirs.keys, pad)])
            mine.values = torch.cat([mine.values, _left_pad(torch, theirs.values, pad)])
        row_mask = self._mask.new_zeros(1, width)
        row_mask[0, pad:] = 1
        self._mask = torch.cat([self._mask, row_mask])
        self._answers.append(self._new_answer())
        self._fed.append([])
        self._question_cut.append(cut)
        self._budget.append(self._scorer.answer_budget(len(ids)))
        self._dropped.append(0)
        self._row_len.append(len(ids))
        self._prefix_logits.append(logits)
        self._last_logits.append(logits)
        return self.size - 1

    def remove(self, row: int) -> None:
        """Drop stream ``row``; the rows after it move up by one. The last row cannot go."""
        self._check_open()
        if self.size == 1:
            raise ValueError("a StreamBatch keeps at least one row; close it instead")
        torch = self._torch
        keep = [index for index in range(self.size) if index != row]
        self._cache.batch_select_indices(torch.tensor(keep, device=self._device))
        self._mask = self._mask[keep]
        used = self._mask.any(dim=0).nonzero().flatten()
        first = int(used[0]) if len(used) else 0
        if first:  # columns no row uses any more: drop them
            self._mask = self._mask[:, first:]
            for layer in self._cache.layers:
                layer.keys = layer.keys[:, :, first:]
                layer.values = layer.values[:, :, first:]
        for values in (self._answers, self._fed, self._row_len, self._prefix_logits):
            del values[row]
        for numbers in (self._question_cut, self._budget, self._dropped):
            del numbers[row]
        del self._last_logits[row]

    # ----------------------------------------------------------------- internals
    def _new_answer(self) -> AnswerTokens:
        return AnswerTokens(self._scorer.prompt.encoder, self._scorer.max_input_tokens)

    def _check_open(self) -> None:
        if self._closed:
            raise ScorerUnavailableError("this scoring session is closed")

    def _prefill(self, ids: Sequence[int]) -> tuple[Any, torch.Tensor]:
        """One row's prompt alone through the model: its cache and last logits."""
        from transformers import DynamicCache

        torch = self._torch
        model = self._scorer.model
        cache = DynamicCache(config=model.config)
        with torch.inference_mode():
            out = model(
                input_ids=torch.tensor([list(ids)], device=self._device),
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
            )
        return cache, out.logits[0, -1].float()

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

    def _pending(self, rows: Sequence[int]) -> list[list[int]]:
        """Per row of ``rows``, the answer ids to feed; stale cached slots are masked out.

        Only the text appended since the row's last step is tokenized (:class:`AnswerTokens`).
        """
        pending: list[list[int]] = []
        for row in rows:
            window = self._answers[row].window()
            drop = answer_window(len(window.ids), self._budget[row])
            self._dropped[row] = drop + window.cut_tokens
            ids = list(window.ids[drop:])
            fed = self._fed[row]
            keep = len(fed) if ids[: len(fed)] == fed else _common_prefix(ids, fed)
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

    def _step(self, suffix: Sequence[int], subset: list[int] | None = None) -> torch.Tensor:
        """Feed pending answer tokens plus ``suffix``; keep the answer tokens, drop the suffix.

        ``subset``: only these rows run (on a copy of their cache rows); the others get masked
        slots, so every row keeps the same cache width.
        """
        torch: Any = self._torch
        rows = list(range(self.size)) if subset is None else subset
        pending = self._pending(rows)
        longest = max(len(ids) for ids in pending)
        # a long chunk (a moved window) attends to every slot: drop the stale ones first
        self._compact(eager=longest >= _EAGER_COMPACTION)
        if longest == 0 and not suffix:
            return torch.empty(0)  # type: ignore[no-any-return]
        width = longest + len(suffix)
        pad_id = self._scorer.pad_token_id
        input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        chunk_mask = torch.zeros(len(rows), width, dtype=torch.long)
        positions = torch.zeros(len(rows), width, dtype=torch.long)
        for index, (row, ids) in enumerate(zip(rows, pending, strict=True)):
            tokens = [*ids, *suffix]
            start = width - len(tokens)
            input_ids[index, start:] = torch.tensor(tokens, dtype=torch.long)
            chunk_mask[index, start:] = 1
            first = self._row_len[row]
            positions[index, start:] = torch.arange(first, first + len(tokens))
        chunk_mask = chunk_mask.to(self._device)
        if subset is None:
            cache, mask = self._cache, self._mask
        else:
            cache, mask = self._select(subset), self._mask[subset]
        with torch.inference_mode():
            out = self._scorer.model(
                input_ids=input_ids.to(self._device),
                attention_mask=torch.cat([mask, chunk_mask], dim=1),
                position_ids=positions.to(self._device),
                cache=cache,
                use_cache=True,
                logits_to_keep=len(suffix) + 1,
            )
        if suffix:
            cache.crop(-len(suffix))
        if subset is None:
            self._mask = torch.cat([self._mask, chunk_mask[:, :longest]], dim=1)
        else:
            self._scatter(subset, cache, chunk_mask[:, :longest], longest)
        for index, (row, ids) in enumerate(zip(rows, pending, strict=True)):
            self._row_len[row] += len(ids)
            if ids:
                self._last_logits[row] = out.logits[index, 0].float()
        self._compact()
        return out.logits  # type: ignore[no-any-return]

    def _compact(self, *, eager: bool = False) -> None:
        """Drop masked cache slots once they outnumber the live ones (bounded memory).

        ``eager``: once there are more than ``_EAGER_COMPACTION`` of them (before a long chunk,
        whose every token would attend to them).
        """
        torch: Any = self._torch
        counts = self._mask.sum(dim=1)
        width = int(counts.max())
        excess = int(self._mask.shape[1]) - width
        if excess <= (_EAGER_COMPACTION if eager else width + 64):
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

    def _select(self, rows: list[int]) -> Any:
        """A cache holding a copy of ``rows``' cached slots."""
        from transformers import DynamicCache

        index = self._torch.tensor(rows, device=self._device)
        subset = DynamicCache(config=self._scorer.model.config)
        for layer, cached in enumerate(self._cache.layers):
            subset.update(cached.keys[index], cached.values[index], layer)
        return subset

    def _scatter(self, rows: list[int], subset: Any, chunk_mask: Any, added: int) -> None:
        """Append ``added`` slots to every row: ``rows``' from ``subset``, masked elsewhere."""
        torch: Any = self._torch
        index = torch.tensor(rows, device=self._device)
        for mine, theirs in zip(self._cache.layers, subset.layers, strict=True):
            for name in ("keys", "values"):
                full = getattr(mine, name)
                new = full.new_zeros((*full.shape[:2], added, full.shape[-1]))
                if added:
                    new[index] = getattr(theirs, name)[:, :, -added:]
                setattr(mine, name, torch.cat([full, new], dim=2))
        mask = self._mask.new_zeros(self.size, added)
        mask[index] = chunk_mask
        self._mask = torch.cat([self._mask, mask], dim=1)


def _left_pad(torch: Any, tensor: Any, count: int) -> Any:
    """``tensor`` (batch, heads, slots, dim) with ``count`` zero slots in front."""
    if count <= 0:
        return tensor
    shape = (*tensor.shape[:2], count, tensor.shape[-1])
    return torch.cat([tensor.new_zeros(shape), tensor], dim=2)


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
