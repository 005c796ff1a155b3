"""Teacher-forced token logprobs of many answers to prompts that share a long prefix.

``guardrail adapt`` recomputes the logprobs of every labelled answer (thousands of texts), and
every prompt of a task starts with the same system message and few-shot turns. A full forward
pass per text spends most of its time on that shared prefix; :class:`SharedPrefixLogprobs`
computes the prefix's KV cache once and runs only the question and the answer per text, giving
the same logprobs as :meth:`guardrail.generation.LocalGenerator.token_logprobs` (up to float
rounding). A prompt that does not start with the cached prefix gets a full forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from guardrail.entropy import TokenLogprobs, parse_logprobs

__all__ = ["SharedPrefixLogprobs"]

Messages = Sequence[dict[str, str]]


class SharedPrefixLogprobs:
    """``token_logprobs(messages, answer)`` of a local generator, its shared prefix cached.

    ``generator`` is a :class:`~guardrail.generation.LocalGenerator` (its ``model``,
    ``tokenizer``, ``render`` and ``token_logprobs``).
    """

    def __init__(self, generator: Any, *, top_logprobs: int = 5) -> None:
        self.generator = generator
        self.top_logprobs = top_logprobs
        self._prefix: list[int] | None = None
        self._cache: Any = None
        self.cached_calls = 0

    def _ids(self, text: str) -> list[int]:
        return list(self.generator.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _shared_prefix(self, messages: Messages) -> list[int]:
        """The tokens every prompt with these earlier turns starts with."""
        head = list(messages[:-1])
        first = self._ids(self.generator.render([*head, {"role": "user", "content": "A"}]))
        second = self._ids(self.generator.render([*head, {"role": "user", "content": "Z"}]))
        n = 0
        while n < min(len(first), len(second)) and first[n] == second[n]:
            n += 1
        return first[:n]

    def _prefill(self, prefix: list[int]) -> None:
        import torch
        from transformers import DynamicCache

        model = self.generator.model
        cache = DynamicCache(config=model.config)
        device = next(model.parameters()).device
        with torch.inference_mode():
            model(
                input_ids=torch.tensor([prefix], device=device),
                cache=cache,
                use_cache=True,
            )
        self._prefix, self._cache = prefix, cache

    def _full(self, messages: Messages, answer: str) -> list[TokenLogprobs]:
        """A full forward pass (a prompt that does not start with the cached prefix)."""
        return list(self.generator.token_logprobs(messages, answer, top_logprobs=self.top_logprobs))

    def token_logprobs(self, messages: Messages, answer: str) -> list[TokenLogprobs]:
        """The answer's tokens with their logprobs and top alternatives after ``messages``."""
        import torch

        if isinstance(messages, str) or len(messages) < 2:
            return self._full(messages, answer)
        if self._prefix is None:
            self._prefill(self._shared_prefix(messages))
        assert self._prefix is not None
        prompt = self._ids(self.generator.render(messages))
        answer_ids = self._ids(answer)
        n = len(self._prefix)
        if not answer_ids or prompt[:n] != self._prefix or len(prompt) <= n:
            return self._full(messages, answer)
        model = self.generator.model
        device = next(model.parameters()).device
        rest = prompt[n:] + answer_ids
        try:
            with torch.inference_mode():
                out = model(
                    input_ids=torch.tensor([rest], device=device),
                    cache=self._cache,
                    use_cache=True,
                )
        finally:  # back to the prefix alone for the next text
            extra = int(self._cache.get_seq_length()) - n
            if extra > 0:
                self._cache.crop(-extra)
        start = len(prompt) - n - 1
        logits = out.logits[0, start : start + len(answer_ids)].float().cpu()
        logp = torch.log_softmax(logits, dim=-1)
        self.cached_calls += 1
        records = []
        for position, token_id in enumerate(answer_ids):
            values, indices = torch.topk(logp[position], self.top_logprobs)
            top = [
                {"token": self.generator.tokenizer.decode([int(i)]), "logprob": float(v)}
                for v, i in zip(values, indices, strict=True)
            ]
            token = self.generator.tokenizer.decode([token_id])
            records.append(
                {"token": token, "logprob": float(logp[position, token_id]), "top_logprobs": top}
            )
        return parse_logprobs(records)
