"""Token-by-token generation from a local causal LM, with OpenAI-shaped logprobs.

The embedded model's chat model (LangChain), litellm provider and data builder all stream from
here. Each step yields the new text (decoded so that multi-token characters are never split),
the sampled token's log-probability and the top alternatives, in the shape OpenAI's
``logprobs.content[i]`` uses.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from guardrail.entropy import TokenLogprobs

__all__ = [
    "PLAIN_ANSWER",
    "PLAIN_QUESTION",
    "LocalGenerator",
    "PromptFormatChoice",
    "PromptTooLongError",
    "TokenStep",
    "continue_prompt",
    "render_chat",
    "render_plain",
    "render_prompt",
]

PromptFormatChoice = Literal["auto", "chat", "plain"]
"""How a chat becomes the text a model continues: its chat template (``chat``), few-shot text
(``plain``, for base models), or ``auto``: ``chat`` when the tokenizer has a template."""

PLAIN_QUESTION = "Question:"
PLAIN_ANSWER = "Answer:"


@dataclass(frozen=True, slots=True)
class TokenStep:
    """One generated token."""

    text: str
    token_id: int
    token: str
    logprob: float
    top_logprobs: tuple[tuple[str, float], ...] = field(default_factory=tuple)

    def openai_logprob(self) -> dict[str, Any]:
        """``{"token", "logprob", "bytes", "top_logprobs": [...]}`` as in OpenAI responses."""
        return {
            "token": self.token,
            "logprob": self.logprob,
            "bytes": list(self.token.encode("utf-8")),
            "top_logprobs": [
                {"token": tok, "logprob": lp, "bytes": list(tok.encode("utf-8"))}
                for tok, lp in self.top_logprobs
            ],
        }


def render_chat(tokenizer: Any, messages: Sequence[dict[str, str]]) -> str:
    """Render chat messages with the tokenizer's template (plain ``role: content`` if none)."""
    if getattr(tokenizer, "chat_template", None):
        return str(
            tokenizer.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=True
            )
        )
    lines = [f"{m['role']}: {m['content']}" for m in messages]
    return "\n".join([*lines, "assistant: "])


def render_plain(messages: Sequence[dict[str, str]]) -> str:
    """A chat as few-shot text for a base model (no chat template).

    The system message opens the text; each user turn becomes ``Question: ...`` (unless it
    already starts so) and each assistant turn ``Answer: ...`` followed by a blank line; the
    text ends with ``Answer:`` for the model to continue, so a generation stops at the next
    ``Question:`` (or blank line) that it writes.
    """
    parts: list[str] = []
    for message in messages:
        role, content = message["role"], message["content"].strip()
        if role == "system":
            parts.append(f"{content}\n\n")
        elif role == "assistant":
            parts.append(f"{PLAIN_ANSWER} {content}\n\n")
        else:
            question = (
                content if content.startswith(PLAIN_QUESTION) else f"{PLAIN_QUESTION} {content}"
            )
            parts.append(f"{question}\n")
    return "".join(parts) + PLAIN_ANSWER


def render_prompt(
    tokenizer: Any, messages: Sequence[dict[str, str]], prompt_format: PromptFormatChoice = "auto"
) -> str:
    """The text a model continues for ``messages`` in ``prompt_format`` (see the type).

    Plain text starts with the tokenizer's BOS token, as a chat template would: prompts are
    tokenized without special tokens, and a base model such as Gemma degenerates without it.
    """
    match prompt_format:
        case "chat":
            return render_chat(tokenizer, messages)
        case "plain":
            return _bos(tokenizer) + render_plain(messages)
        case "auto":
            if getattr(tokenizer, "chat_template", None):
                return render_chat(tokenizer, messages)
            return _bos(tokenizer) + render_plain(messages)
        case _:
            raise ValueError(f"unknown prompt format {prompt_format!r}; expected auto, chat, plain")


def _bos(tokenizer: Any) -> str:
    bos = getattr(tokenizer, "bos_token", None)
    return bos if isinstance(bos, str) else ""


def continue_prompt(rendered: str, prefix: str) -> str:
    """``rendered`` then a partial answer ``prefix``, with a space after a plain ``Answer:``."""
    if prefix and rendered.endswith(PLAIN_ANSWER) and not prefix[0].isspace():
        return f"{rendered} {prefix}"
    return rendered + prefix


class PromptTooLongError(ValueError):
    """The prompt leaves no room for an answer in the model's context window.

    ``prompt_tokens`` is the prompt's length in tokens and ``context_window`` the model's (its
    ``max_position_embeddings``). Raised before any forward pass, so it costs milliseconds.
    """

    def __init__(self, model: str, prompt_tokens: int, context_window: int) -> None:
        super().__init__(
            f"{model}: the prompt is {prompt_tokens} tokens, and the model's context window is "
            f"{context_window} tokens (prompt and answer together); shorten the messages"
        )
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.context_window = context_window


class LocalGenerator:
    """Streams tokens from a transformers causal LM with a KV cache (greedy or sampled).

    ``prompt_format`` says how chat messages are rendered (:func:`render_prompt`); a base model
    (``plain``) is given few-shot text instead of a chat template.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "local",
        prompt_format: PromptFormatChoice = "auto",
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.prompt_format: PromptFormatChoice = prompt_format

    @classmethod
    def from_ref(cls, ref: str, *, device: str = "auto", dtype: str = "auto") -> LocalGenerator:
        """Load the model named by ``ref`` (shared with any scorer on the same reference)."""
        from guardrail.models.loader import load_model

        loaded = load_model(ref, device=device, dtype=dtype)
        return cls(loaded.model, loaded.tokenizer, name=ref, prompt_format=loaded.prompt_format)

    @property
    def context_window(self) -> int | None:
        """The most tokens (prompt and answer) the model reads: its position limit, if known."""
        config = getattr(self.model, "config", None)
        for attribute in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            value = getattr(config, attribute, None)
            if isinstance(value, int) and value > 0:
                return value
        value = getattr(self.tokenizer, "model_max_length", None)
        return value if isinstance(value, int) and 0 < value < 10**7 else None

    def room(self, prompt_tokens: int, max_new_tokens: int) -> int:
        """How many tokens may follow a prompt of ``prompt_tokens`` (at most ``max_new_tokens``).

        Raises :class:`PromptTooLongError` when the prompt fills the context window.
        """
        window = self.context_window
        if window is None:
            return max_new_tokens
        if prompt_tokens >= window:
            raise PromptTooLongError(self.name, prompt_tokens, window)
        return min(max_new_tokens, window - prompt_tokens)

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        """The text the model continues for ``messages`` (its :attr:`prompt_format`)."""
        return render_prompt(self.tokenizer, messages, self.prompt_format)

    def stream(
        self,
        messages: Sequence[dict[str, str]] | str,
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        top_logprobs: int = 5,
        stop: Sequence[str] = (),
        seed: int | None = None,
    ) -> Iterator[TokenStep]:
        """Yield generated tokens until EOS, a stop string, or ``max_new_tokens``.

        ``temperature == 0`` is greedy. ``messages`` is a chat (rendered in the
        :attr:`prompt_format`) or a raw prompt string. Logprobs are of the model's distribution
        before temperature. The answer stops where the context window ends; a prompt that
        fills it raises :class:`PromptTooLongError` before the model runs.
        """
        import torch
        from transformers import DynamicCache

        prompt = messages if isinstance(messages, str) else self.render(messages)
        ids = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        max_new_tokens = self.room(int(ids.shape[-1]), max_new_tokens)
        device = next(self.model.parameters()).device
        generator = torch.Generator(device="cpu")
        if seed is not None:
            generator.manual_seed(seed)
        cache = DynamicCache(config=self.model.config)
        eos = set(_as_list(self.tokenizer.eos_token_id))
        produced: list[int] = []
        emitted = ""
        step_input = ids.to(device)
        for _ in range(max_new_tokens):
            with torch.inference_mode():
                out = self.model(
                    input_ids=step_input, cache=cache, use_cache=True, logits_to_keep=1
                )
            logits = out.logits[0, -1].float().cpu()
            logp = torch.log_softmax(logits, dim=-1)
            token_id = _pick(logits, temperature, top_p, generator)
            if token_id in eos:
                return
            produced.append(token_id)
            text = self.tokenizer.decode(produced, skip_special_tokens=True)
            delta = "" if text.endswith("\ufffd") else text[len(emitted) :]
            emitted += delta
            yield TokenStep(
                text=delta,
                token_id=token_id,
                token=self.tokenizer.decode([token_id]),
                logprob=float(logp[token_id]),
                top_logprobs=self._top(logp, top_logprobs),
            )
            if stop and any(s in emitted for s in stop):
                return
            step_input = torch.tensor([[token_id]], device=device)

    def score_tokens(
        self, messages: Sequence[dict[str, str]] | str, answer: str, *, top_logprobs: int = 5
    ) -> list[TokenStep]:
        """The tokens of a given ``answer`` with their logprobs under the model (teacher forcing).

        One forward pass over prompt plus answer: the logprobs the model would have returned had
        it generated ``answer`` itself (e.g. to calibrate a ``logprob:`` scorer on graded answers).
        """
        import torch

        prompt = messages if isinstance(messages, str) else self.render(messages)
        prompt_ids = list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        answer_ids = list(self.tokenizer(answer, add_special_tokens=False)["input_ids"])
        if not prompt_ids:
            raise ValueError("score_tokens needs a non-empty prompt")
        if not answer_ids:
            return []
        device = next(self.model.parameters()).device
        ids = torch.tensor([prompt_ids + answer_ids], device=device)
        with torch.inference_mode():
            logits = self.model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].float().cpu()
        logp = torch.log_softmax(logits, dim=-1)
        steps = []
        for position, token_id in enumerate(answer_ids):
            steps.append(
                TokenStep(
                    text=self.tokenizer.decode([token_id]),
                    token_id=token_id,
                    token=self.tokenizer.decode([token_id]),
                    logprob=float(logp[position, token_id]),
                    top_logprobs=self._top(logp[position], top_logprobs),
                )
            )
        return steps

    def token_logprobs(
        self, messages: Sequence[dict[str, str]] | str, answer: str, *, top_logprobs: int = 5
    ) -> list[TokenLogprobs]:
        """:meth:`score_tokens` as the logprob records a ``logprob:``/``hybrid:`` scorer reads."""
        from guardrail.entropy import parse_logprobs

        steps = self.score_tokens(messages, answer, top_logprobs=top_logprobs)
        return parse_logprobs([step.openai_logprob() for step in steps])

    def generate(self, messages: Sequence[dict[str, str]] | str, **options: Any) -> str:
        """The whole completion as one string (same options as :meth:`stream`)."""
        return "".join(step.text for step in self.stream(messages, **options))

    def _top(self, logp: Any, k: int) -> tuple[tuple[str, float], ...]:
        if k <= 0:
            return ()
        import torch

        values, indices = torch.topk(logp, k)
        return tuple(
            (self.tokenizer.decode([int(i)]), float(v))
            for v, i in zip(values.tolist(), indices.tolist(), strict=True)
        )


def _as_list(value: int | list[int] | None) -> list[int]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _pick(logits: Any, temperature: float, top_p: float, generator: Any) -> int:
    import torch

    if temperature <= 0.0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        keep = sorted_probs.cumsum(-1) - sorted_probs < top_p
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
        probs = probs / probs.sum()
    return int(torch.multinomial(probs, 1, generator=generator))
