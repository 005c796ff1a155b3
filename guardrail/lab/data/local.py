"""Batched sampling from a local transformers causal LM, with a cached shared prompt prefix.

All ``len(prompts) * n`` sequences of a call are decoded together, ``max_batch`` rows at a time.
The prompts of one task share a long prefix (system message and few-shot examples): its KV
cache is computed once, kept between calls, and copied into every row, so each row only pays for
its own question (and partial answer). Rows are laid out as ``prefix | padding | suffix`` with an
attention mask and explicit position ids, so padding never shifts a row's positions. Finished
rows are dropped from the batch as it thins out.
"""

from __future__ import annotations

import contextlib
import copy
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from guardrail.generation import PromptFormatChoice, continue_prompt, render_prompt
from guardrail.lab.data.generator import Completion, Prompt

__all__ = ["LocalBatchGenerator"]

_PRUNE_RATIO = 0.75  # compact the batch once at most this share of its rows is still running


@dataclass(slots=True)
class _Row:
    prompt_index: int
    ids: list[int]
    out: list[int] = field(default_factory=list)
    tail: str = ""
    done: bool = False
    finish: str = "length"


class LocalBatchGenerator:
    """Samples many completions at once from ``model`` (see the module docstring)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "local",
        max_batch: int = 64,
        prefix_cache_size: int = 4,
        share_prefix: bool = True,
        prompt_format: PromptFormatChoice = "auto",
    ) -> None:
        self.model = model
        self.prompt_format: PromptFormatChoice = prompt_format
        self.tokenizer = tokenizer
        self.name = name
        self.max_batch = max(1, max_batch)
        self._prefix_cache: OrderedDict[tuple[int, ...], Any] = OrderedDict()
        self._prefix_cache_size = prefix_cache_size
        self.share_prefix = share_prefix
        self._eos = _eos_ids(model, tokenizer)
        self._pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    @classmethod
    def from_ref(
        cls, ref: str, *, device: str = "auto", dtype: str = "auto", max_batch: int = 64
    ) -> LocalBatchGenerator:
        """Load the model named by ``ref`` (shared with any scorer on the same reference)."""
        from guardrail.models.loader import load_model

        loaded = load_model(ref, device=device, dtype=dtype)
        return cls(
            loaded.model,
            loaded.tokenizer,
            name=ref,
            max_batch=max_batch,
            prompt_format=loaded.prompt_format,
        )

    def render(self, prompt: Prompt) -> str:
        """The exact text the model continues: the rendered chat, then the prefix.

        The chat is rendered in :attr:`prompt_format` (:func:`guardrail.generation.render_prompt`:
        the chat template, or few-shot ``Question:/Answer:`` text for a base model).
        """
        rendered = render_prompt(self.tokenizer, prompt.messages, self.prompt_format)
        return continue_prompt(rendered, prompt.prefix)

    def sample(
        self,
        prompts: Sequence[Prompt],
        n: int,
        *,
        temperature: float = 1.0,
        max_new_tokens: int = 256,
        seed: int | None = None,
        stop: Sequence[str] = (),
    ) -> list[list[Completion]]:
        """``n`` completions per prompt (see :class:`guardrail.lab.data.generator.Generator`)."""
        import torch

        encoded = [
            list(self.tokenizer(self.render(p), add_special_tokens=False)["input_ids"])
            for p in prompts
        ]
        rows = [_Row(i, ids) for i, ids in enumerate(encoded) for _ in range(n)]
        if not rows:
            return [[] for _ in prompts]
        generator = torch.Generator(device="cpu")
        generator.manual_seed(seed if seed is not None else int(torch.seed() % 2**63))
        # Never cache a whole row: its last token must be fed to get the first logits.
        shared = _common_prefix(encoded, min(len(ids) for ids in encoded) - 1)
        for start in range(0, len(rows), self.max_batch):
            chunk = rows[start : start + self.max_batch]
            self._decode(chunk, shared, temperature, max_new_tokens, generator, tuple(stop))
        results: list[list[Completion]] = [[] for _ in prompts]
        for row in rows:
            text = self.tokenizer.decode(row.out, skip_special_tokens=True)
            if row.finish == "stop" and stop:
                text = _cut_at_stop(text, stop)
            finish: Literal["stop", "length"] = "stop" if row.finish == "stop" else "length"
            results[row.prompt_index].append(Completion(text, len(row.out), finish))
        return results

    # ------------------------------------------------------------------ decoding
    def _decode(
        self,
        rows: list[_Row],
        shared: list[int],
        temperature: float,
        max_new_tokens: int,
        generator: Any,
        stop: tuple[str, ...],
    ) -> None:
        import torch

        prefix_cache = self._prefix_kv(tuple(shared)) if shared else None
        step = _Step(self.model, len(shared), prefix_cache, len(rows), self.share_prefix)
        suffixes = [row.ids[len(shared) :] for row in rows]
        width = max(len(s) for s in suffixes)
        input_ids = torch.full((len(rows), width), self._pad, dtype=torch.long)
        own = torch.zeros((len(rows), width), dtype=torch.long)
        for r, suffix in enumerate(suffixes):
            input_ids[r, width - len(suffix) :] = torch.tensor(suffix)
            own[r, width - len(suffix) :] = 1
        active = list(range(len(rows)))  # row index of each batch line
        with step.context():
            for _ in range(max_new_tokens):
                logits = step.forward(input_ids, own)
                tokens = _pick(logits, temperature, generator)
                still = self._advance([rows[i] for i in active], tokens, max_new_tokens, stop)
                if not any(still):
                    return
                keep = [line for line, running in enumerate(still) if running]
                if len(keep) <= _PRUNE_RATIO * len(active):
                    index = torch.tensor(keep, dtype=torch.long)
                    step.select(index)
                    active = [active[line] for line in keep]
                    tokens, own = tokens[index], own[index]
                input_ids = tokens.unsqueeze(-1)
                own = torch.cat([own, torch.ones((len(active), 1), dtype=torch.long)], dim=-1)

    def _advance(
        self, rows: list[_Row], tokens: Any, max_new_tokens: int, stop: tuple[str, ...]
    ) -> list[bool]:
        """Record each line's new token; return which lines are still running."""
        running = []
        for row, token in zip(rows, tokens.tolist(), strict=True):
            if row.done:
                running.append(False)
                continue
            if token in self._eos:
                row.done, row.finish = True, "stop"
            else:
                row.out.append(token)
                if stop:
                    piece = self.tokenizer.decode([token], skip_special_tokens=True)
                    row.tail = (row.tail + piece)[-256:]
                    if any(s in row.tail for s in stop):
                        row.done, row.finish = True, "stop"
                if not row.done and len(row.out) >= max_new_tokens:
                    row.done = True
            running.append(not row.done)
        return running

    # ------------------------------------------------------------ prefix cache
    def _prefix_kv(self, key: tuple[int, ...]) -> Any:
        """The batch-1 ``DynamicCache`` of ``key`` (kept for the next calls, LRU)."""
        import torch
        from transformers import DynamicCache

        if key in self._prefix_cache:
            self._prefix_cache.move_to_end(key)
            return self._prefix_cache[key]
        # Extend the longest cached prefix of ``key`` instead of starting from scratch.
        start, cache = 0, DynamicCache(config=self.model.config)
        for known, known_cache in self._prefix_cache.items():
            if len(known) > start and key[: len(known)] == known:
                start, cache = len(known), copy.deepcopy(known_cache)
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            self.model(
                input_ids=torch.tensor([key[start:]], device=device),
                attention_mask=torch.ones((1, len(key)), dtype=torch.long, device=device),
                position_ids=torch.arange(start, len(key), device=device).unsqueeze(0),
                cache=cache,
                use_cache=True,
                logits_to_keep=1,
            )
        self._prefix_cache[key] = cache
        while len(self._prefix_cache) > self._prefix_cache_size:
            self._prefix_cache.popitem(last=False)
        return cache


class _Step:
    """One forward pass of the batch, over a shared prefix (see the module docstring).

    With ``share`` the cache holds the rows' own tokens only and attention reads the single
    prefix copy (:mod:`guardrail.lab.data.prefix_attention`); without, the prefix is copied into
    every row of the cache and an ordinary 2D padding mask covers ``prefix | own tokens``.
    """

    def __init__(
        self, model: Any, prefix_length: int, prefix_cache: Any, rows: int, share: bool
    ) -> None:
        from transformers import DynamicCache

        from guardrail.lab.data.prefix_attention import SharedPrefix

        self.model = model
        self.prefix_length = prefix_length
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.shared: SharedPrefix | None = None
        if prefix_cache is None:
            self.cache = DynamicCache(config=model.config)
        elif share:
            self.shared = SharedPrefix.from_cache(prefix_cache, prefix_length)
            self.cache = DynamicCache(config=model.config)
        else:
            self.cache = copy.deepcopy(prefix_cache)
            self.cache.batch_repeat_interleave(rows)

    def context(self) -> contextlib.AbstractContextManager[None]:
        """Routes attention through the shared prefix while decoding (if sharing)."""
        from guardrail.lab.data.prefix_attention import shared_prefix_attention

        return shared_prefix_attention(self.model) if self.shared else contextlib.nullcontext()

    def forward(self, input_ids: Any, own: Any) -> Any:
        """Feed ``input_ids`` (the last columns of ``own``); the next-token logits per row."""
        import torch

        from guardrail.lab.data.prefix_attention import own_tokens_mask

        length = input_ids.shape[1]
        positions = (self.prefix_length + own.cumsum(-1)[:, -length:] - 1).clamp(min=0)
        extra: dict[str, Any]
        if self.shared is not None:
            mask = own_tokens_mask(own, length, self.dtype)
            extra = {"attention_mask": mask.to(self.device), "shared_prefix": self.shared}
        else:
            ones = torch.ones((own.shape[0], self.prefix_length), dtype=own.dtype)
            extra = {"attention_mask": torch.cat([ones, own], dim=-1).to(self.device)}
        with torch.inference_mode():
            out = self.model(
                input_ids=input_ids.to(self.device),
                position_ids=positions.to(self.device),
                cache=self.cache,
                use_cache=True,
                logits_to_keep=1,
                **extra,
            )
        return out.logits[:, -1].float().cpu()

    def select(self, index: Any) -> None:
        """Keep only the batch lines in ``index``."""
        self.cache.batch_select_indices(index.to(self.device))


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    ids: set[int] = set()
    for value in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list):
            ids.update(v for v in value if isinstance(v, int))
    return frozenset(ids)


def _common_prefix(sequences: list[list[int]], limit: int) -> list[int]:
    first = sequences[0]
    length = max(0, min(limit, len(first)))
    for other in sequences[1:]:
        i = 0
        while i < length and other[i] == first[i]:
            i += 1
        length = i
    return first[:length]


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    cuts = [text.find(s) for s in stop if s in text]
    return text[: min(cuts)] if cuts else text


def _pick(logits: Any, temperature: float, generator: Any) -> Any:
    """One token id per row: argmax at temperature 0, else a sample of softmax(logits / T)."""
    import torch

    if temperature <= 0.0:
        return torch.argmax(logits, dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
