"""Attention over one shared prompt prefix plus each row's own tokens, without copying the prefix.

A batch of rows that all start with the same prefix (the few-shot prompt) normally needs that
prefix's keys and values copied into every row of the KV cache, and every decoding step then
reads all the copies: with a 400-token prefix, attention dominates the step at 32 rows. Here the
prefix's keys and values are stored once (batch 1), the cache holds only each row's own tokens,
and the attention of all rows' queries to the prefix is one matrix product per key/value head;
the two parts share one softmax, so the result equals ordinary attention over
``prefix + own tokens`` (up to float rounding).

Used through :func:`shared_prefix_attention`, which points the model's config at the attention
function registered here for the duration of a ``with`` block (and restores it after). The
function falls back to the model's own implementation when a call carries no prefix, and the
mask function of that implementation is registered too, so other calls on the same model during
the block behave as before. Works for models that dispatch attention through transformers'
``AttentionInterface`` with the standard signature (Llama, Mistral, Qwen2, SmolLM, ...).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["SharedPrefix", "own_tokens_mask", "shared_prefix_attention"]

_NAME = "guardrail_shared_prefix"
_originals: dict[int, str | None] = {}  # id(config) -> its implementation, inside a block


@dataclass(frozen=True, slots=True)
class SharedPrefix:
    """Keys and values of the prefix for each layer, each ``(kv_heads, length, head_dim)``."""

    keys: tuple[Any, ...]
    values: tuple[Any, ...]
    length: int

    @classmethod
    def from_cache(cls, cache: Any, length: int) -> SharedPrefix:
        """Take the (batch-1) prefix out of a ``DynamicCache`` filled by a forward pass."""
        layers = cache.layers
        return cls(
            keys=tuple(layer.keys[0] for layer in layers),
            values=tuple(layer.values[0] for layer in layers),
            length=length,
        )


def own_tokens_mask(own: Any, query_length: int, dtype: Any) -> Any:
    """The additive 4D mask ``(batch, 1, query_length, own_length)`` over the rows' own tokens.

    ``own`` is the 0/1 mask of the rows' own tokens so far (padding 0), the last
    ``query_length`` of which are being fed; those attend causally among themselves.
    """
    import torch

    batch, length = own.shape
    visible = own.bool()[:, None, None, :].expand(batch, 1, query_length, length)
    query_pos = torch.arange(length - query_length, length)[:, None]
    causal = torch.arange(length)[None, :] <= query_pos
    allowed = visible & causal[None, None]
    mask = torch.zeros((batch, 1, query_length, length), dtype=dtype)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)


def _attention(
    module: Any,
    query: Any,
    key: Any,
    value: Any,
    attention_mask: Any,
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[Any, Any]:
    prefix: SharedPrefix | None = kwargs.pop("shared_prefix", None)
    if prefix is None:
        result: tuple[Any, Any] = _fallback(module)(
            module, query, key, value, attention_mask, scaling=scaling, dropout=dropout, **kwargs
        )
        return result
    import torch

    batch, heads, q_len, dim = query.shape
    kv_heads = key.shape[1]
    group = heads // kv_heads
    prefix_keys = prefix.keys[module.layer_idx]  # (kv_heads, P, dim)
    prefix_values = prefix.values[module.layer_idx]
    # All rows' queries against the single copy of the prefix: one bmm per kv head.
    grouped = query.reshape(batch, kv_heads, group, q_len, dim).permute(1, 0, 2, 3, 4)
    grouped = grouped.reshape(kv_heads, batch * group * q_len, dim)
    prefix_scores = torch.bmm(grouped, prefix_keys.transpose(1, 2)) * scaling
    prefix_scores = prefix_scores.reshape(kv_heads, batch, group, q_len, -1).permute(1, 0, 2, 3, 4)
    prefix_scores = prefix_scores.reshape(batch, heads, q_len, -1)
    own_keys = key.repeat_interleave(group, dim=1) if group > 1 else key
    own_values = value.repeat_interleave(group, dim=1) if group > 1 else value
    own_scores = torch.matmul(query, own_keys.transpose(2, 3)) * scaling
    if attention_mask is not None:
        own_scores = own_scores + attention_mask[:, :, :, : own_keys.shape[-2]]
    weights = torch.softmax(torch.cat([prefix_scores, own_scores], dim=-1).float(), dim=-1)
    weights = weights.to(query.dtype)
    prefix_weights = weights[..., : prefix.length]
    prefix_weights = prefix_weights.reshape(batch, kv_heads, group, q_len, -1).permute(
        1, 0, 2, 3, 4
    )
    prefix_out = torch.bmm(
        prefix_weights.reshape(kv_heads, batch * group * q_len, -1), prefix_values
    )
    prefix_out = prefix_out.reshape(kv_heads, batch, group, q_len, dim).permute(1, 0, 2, 3, 4)
    out = prefix_out.reshape(batch, heads, q_len, dim) + torch.matmul(
        weights[..., prefix.length :], own_values
    )
    return out.transpose(1, 2).contiguous(), None


def _fallback(module: Any) -> Any:
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

    original = _originals.get(id(module.config)) or "sdpa"
    if original == _NAME or original not in ALL_ATTENTION_FUNCTIONS:
        original = "sdpa"  # "eager" is per-model code; sdpa computes the same
    return ALL_ATTENTION_FUNCTIONS[original]


def _register() -> None:
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface
    from transformers.modeling_utils import AttentionInterface

    AttentionInterface.register(_NAME, _attention)
    if _NAME not in ALL_MASK_ATTENTION_FUNCTIONS:
        AttentionMaskInterface.register(_NAME, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])


@contextlib.contextmanager
def shared_prefix_attention(model: Any) -> Iterator[None]:
    """Route ``model``'s attention through the shared-prefix function inside the block.

    Calls that pass ``shared_prefix=SharedPrefix(...)`` (and a 4D additive mask over the rows'
    own tokens, see :func:`own_tokens_mask`) attend to the prefix; other calls are unchanged.
    """
    _register()
    config = model.config
    original = config._attn_implementation
    if original == _NAME:  # nested block: already routed
        yield
        return
    _originals[id(config)] = original
    config._attn_implementation = _NAME
    try:
        yield
    finally:
        config._attn_implementation = original
        _originals.pop(id(config), None)
