"""Compatibility shims between transformers and TransformerLens's `TransformerBridge`.

KV cache keyword. transformers 5.x decoder layers (Llama, Qwen2/3, Gemma/Gemma2, Mistral, Phi …)
hand the cache to their attention module as the keyword ``cache``. TransformerLens 4.3's
`AttentionBridge._update_kv_cache(k, v, **kwargs)` reads only ``past_key_values`` or
``layer_past``, finds neither, and skips the update: every cached decode step then attends to
itself alone (on a trained tiny Llama, cached and full logits differ by 3.9 after six steps).

RWKV one-token decoding. transformers' RWKV (5.24) takes a shortcut when it continues from a state
with one token: ``shifted = state[i][:, :, layer]`` is [batch, d] where the general branch has
[batch, 1, d], so with batch > 1 it broadcasts against the hidden state [batch, 1, d] into
[batch, batch, d]: every row mixes in the LAST row's previous token (logits come back [b, b,
vocab]; cached and full logits differed by 1.2 on a random 2-row batch; batch 1 is exact). HF's
own `generate` inherits this. `patch_rwkv_single_token(model)` routes that case through the
general branch instead — the previous token (which the state holds) goes in front as a 2-token
input and only the last position is kept, so no HF math is rewritten — when
`rwkv_single_token_broken()` finds the bug in the installed transformers.

`patch_kv_cache_keyword(bridge)` wraps that method on the bridge's own attention modules (an
instance attribute, so no other bridge and no class is touched) to pass ``cache`` on as
``past_key_values``. `kv_cache_keyword_ignored()` probes the installed TransformerLens once: if its
`_update_kv_cache` already honours ``cache`` the shim is not installed, so a fixed release
switches it off by itself.
"""

from __future__ import annotations

import functools
from types import SimpleNamespace
from typing import Any

import torch
from torch import nn


class _ProbeCache:
    """Records whether `update` was called (stands in for a transformers `Cache`)."""

    def __init__(self) -> None:
        self.called = False

    def update(
        self, k: torch.Tensor, v: torch.Tensor, *_args: Any, **_kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.called = True
        return k, v


def _attention_bridge_class() -> type | None:
    try:
        from transformer_lens.model_bridge.generalized_components.attention import AttentionBridge
    except ImportError:  # a TransformerLens without the bridge: nothing to patch
        return None
    return AttentionBridge


@functools.lru_cache(maxsize=1)
def kv_cache_keyword_ignored() -> bool:
    """True when the installed `AttentionBridge._update_kv_cache` ignores a cache passed as
    ``cache=`` (TransformerLens 4.3 with transformers 5.x): the shim is needed."""
    return ignores_cache_keyword(_attention_bridge_class())


def ignores_cache_keyword(cls: type | None) -> bool:
    """Whether `cls._update_kv_cache(k, v, cache=c)` leaves `c` untouched (probed, not read off a
    version number, so a TransformerLens that fixes it switches the shim off by itself)."""
    if cls is None or not hasattr(cls, "_update_kv_cache"):
        return False
    probe = _ProbeCache()
    k = v = torch.zeros(1, 1, 1, 1)
    try:
        cls._update_kv_cache(SimpleNamespace(_layer_idx=0, name="probe"), k, v, cache=probe)
    except Exception:  # noqa: BLE001 - a changed internal API: patching blind could be wrong, the full
        return False   # recomputation fallback in `generate` stays exact either way
    return not probe.called


def _with_cache_keyword(update):
    @functools.wraps(update)
    def wrapped(k: torch.Tensor, v: torch.Tensor, **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if (
            kwargs.get("past_key_values") is None
            and kwargs.get("layer_past") is None
            and kwargs.get("cache") is not None
        ):
            kwargs["past_key_values"] = kwargs["cache"]
        return update(k, v, **kwargs)

    wrapped.workbench_kv_shim = True  # type: ignore[attr-defined]
    return wrapped


def patch_kv_cache_keyword(bridge: nn.Module) -> int:
    """Make the bridge's attention modules honour ``cache=`` (see module docstring). Returns how
    many modules were patched (0 when TransformerLens needs no shim or has no attention bridges).
    Idempotent."""
    cls = _attention_bridge_class()
    if cls is None or not kv_cache_keyword_ignored():
        return 0
    patched = 0
    for module in bridge.modules():
        if isinstance(module, cls) and not getattr(module._update_kv_cache, "workbench_kv_shim", False):
            module._update_kv_cache = _with_cache_keyword(module._update_kv_cache)
            patched += 1
    return patched


def _tiny_rwkv_mismatch(model: nn.Module | None = None) -> float:
    """Largest |cached − full| logit of a random 2-row RWKV after 5 + 1 tokens (patched if given)."""
    from transformers import RwkvConfig, RwkvForCausalLM

    if model is None:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = RwkvForCausalLM(RwkvConfig(vocab_size=16, hidden_size=8, num_hidden_layers=2,
                                               attention_hidden_size=8, intermediate_size=16, context_length=8)).eval()
    ids = torch.arange(12).reshape(2, 6)
    with torch.no_grad():
        full = model(ids).logits[:, -1]
        state = model(ids[:, :5], use_cache=True).state
        step = model(ids[:, 5:], state=state, use_cache=True).logits
    if step.shape != (2, 1, 16):
        return float("inf")
    return float((step[:, -1] - full).abs().max())


@functools.lru_cache(maxsize=1)
def rwkv_single_token_broken() -> bool:
    """True when the installed transformers' RWKV gets batched one-token decoding wrong."""
    try:
        return _tiny_rwkv_mismatch() > 1e-4
    except ImportError:
        return False


def _single_token_safe(method, slot: int, layer: int):
    """`method(hidden, state, …)` with the one-token case sent through the general branch: the
    previous token (`state[slot][:, :, layer]`) in front, only the last position kept."""

    @functools.wraps(method)
    def wrapped(hidden: torch.Tensor, state=None, *args: Any, **kwargs: Any):
        if state is None or hidden.size(1) != 1:
            return method(hidden, state, *args, **kwargs)
        previous = state[slot][:, :, layer].unsqueeze(1).to(hidden.dtype).clone()
        out = method(torch.cat([previous, hidden], 1), state, *args, **kwargs)
        return (*(t[:, -1:] for t in out[:-1]), out[-1])  # every tensor but the state: last position

    wrapped.workbench_rwkv_shim = True  # type: ignore[attr-defined]
    return wrapped


def patch_rwkv_single_token(model: nn.Module) -> int:
    """Fix batched one-token RWKV decoding on `model` (an HF RWKV model or anything containing one)
    where `rwkv_single_token_broken()`; returns the number of modules patched. Idempotent."""
    try:
        from transformers.models.rwkv.modeling_rwkv import RwkvFeedForward, RwkvSelfAttention
    except ImportError:
        return 0
    targets = [m for m in model.modules() if isinstance(m, (RwkvSelfAttention, RwkvFeedForward))]
    if not targets or not rwkv_single_token_broken():
        return 0
    patched = 0
    for module in targets:
        # the attention's token shift reads state slot 1 in extract_key_value; the feed-forward's slot 0 in forward
        name, slot = ("extract_key_value", 1) if isinstance(module, RwkvSelfAttention) else ("forward", 0)
        method = getattr(module, name)
        if not getattr(method, "workbench_rwkv_shim", False):
            setattr(module, name, _single_token_safe(method, slot, module.layer_id))
            patched += 1
    return patched


def prepare_cached_decoding(model: nn.Module) -> int:
    """Apply every shim `model` needs for exact cached decoding (a bridge or a plain HF model);
    returns the number of modules patched. Idempotent, and cheap after the first call."""
    if getattr(model, "_workbench_cache_ready", False):
        return 0
    patched = patch_kv_cache_keyword(model) + patch_rwkv_single_token(model)
    model._workbench_cache_ready = True
    return patched
