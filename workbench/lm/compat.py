"""Compatibility shims between transformers and TransformerLens's `TransformerBridge`.

KV cache keyword. transformers 5.x decoder layers (Llama, Qwen2/3, Gemma/Gemma2, Mistral, Phi …)
hand the cache to their attention module as the keyword ``cache``. TransformerLens 4.3's
`AttentionBridge._update_kv_cache(k, v, **kwargs)` reads only ``past_key_values`` or
``layer_past``, finds neither, and skips the update: every cached decode step then attends to
itself alone (on a trained tiny Llama, cached and full logits differ by 3.9 after six steps).

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

    def update(self, k: torch.Tensor, v: torch.Tensor, *_args: Any, **_kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
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
    cls = _attention_bridge_class()
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
        if kwargs.get("past_key_values") is None and kwargs.get("layer_past") is None and kwargs.get("cache") is not None:
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
