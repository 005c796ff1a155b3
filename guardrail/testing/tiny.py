"""A tiny random Llama and a character-level tokenizer, built in-process in milliseconds.

For unit tests of anything that runs a causal LM: no files, no downloads. The weights are random
(seeded), so scores are meaningless but deterministic, and every code path (KV caches, padding,
readout, generation, training) runs exactly as it does on a real model.
"""

from __future__ import annotations

import string
from typing import Any

__all__ = ["TINY_CHAT_TEMPLATE", "tiny_llama", "tiny_scorer", "tiny_tokenizer"]

TINY_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def tiny_tokenizer() -> Any:
    """A character-level fast tokenizer with ChatML special tokens and a chat template."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<|im_start|>", "<|im_end|>"]
    chars = sorted(set(string.printable) - {"\x0b", "\x0c", "\r"})
    vocab = {token: i for i, token in enumerate([*specials, *chars])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer_class: Any = PreTrainedTokenizerFast
    tokenizer = tokenizer_class(
        tokenizer_object=core,
        unk_token="<unk>",
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
    )
    tokenizer.chat_template = TINY_CHAT_TEMPLATE
    return tokenizer


def tiny_llama(seed: int = 0, *, hidden_size: int = 32, layers: int = 2) -> tuple[Any, Any]:
    """``(model, tokenizer)``: a randomly initialised LlamaForCausalLM in eval mode, fp32, CPU."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model: Any = LlamaForCausalLM(config)
    model.eval()
    model.requires_grad_(False)
    return model, tokenizer


def tiny_scorer() -> Any:
    """A :class:`~guardrail.scorers.finece.FineCEScorer` named ``tiny`` on :func:`tiny_llama`.

    Every process that calls it builds the same weights (seeded), so a scorer service built
    from ``guardrail.testing.tiny:tiny_scorer`` scores exactly as one in the test process.
    """
    from guardrail.scorers.finece import FineCEScorer

    model, tokenizer = tiny_llama()
    return FineCEScorer(model, tokenizer, name="tiny")
