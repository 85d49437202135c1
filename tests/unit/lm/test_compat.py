"""The compatibility shims: each probes for the bug it fixes, switches itself off where the
installed library is right, fixes it where not, and patches a model at most once."""

from __future__ import annotations

import torch
from transformers import RwkvConfig, RwkvForCausalLM

from workbench.lm import boot, torch_threads
from workbench.lm.compat import (
    _tiny_rwkv_mismatch,
    ignores_cache_keyword,
    kv_cache_keyword_ignored,
    patch_kv_cache_keyword,
    patch_rwkv_single_token,
    prepare_cached_decoding,
    rwkv_single_token_broken,
)
from workbench.lm.random_folder import random_causal_lm_folder


class _Honours:
    """An attention whose `_update_kv_cache` reads ``cache=`` (a fixed TransformerLens)."""

    def _update_kv_cache(self, k, v, **kwargs):
        cache = kwargs.get("cache") or kwargs.get("past_key_values")
        return cache.update(k, v, 0) if cache is not None else (k, v)


class _Ignores:
    """TransformerLens 4.3's behaviour: only ``past_key_values`` / ``layer_past`` are read."""

    def _update_kv_cache(self, k, v, **kwargs):
        cache = kwargs.get("past_key_values") or kwargs.get("layer_past")
        return cache.update(k, v, 0) if cache is not None else (k, v)


def test_the_kv_probe_tells_a_fixed_attention_from_a_broken_one():
    assert not ignores_cache_keyword(_Honours)
    assert ignores_cache_keyword(_Ignores)
    assert not ignores_cache_keyword(None)


def test_the_kv_shim_patches_a_bridge_once(tmp_path):
    model = boot(random_causal_lm_folder("llama", tmp_path / "llama"))  # boot already prepared it
    assert patch_kv_cache_keyword(model) == 0  # idempotent
    shimmed = [m for m in model.modules() if getattr(getattr(m, "_update_kv_cache", None), "workbench_kv_shim", False)]
    assert len(shimmed) == (2 if kv_cache_keyword_ignored() else 0)  # one per layer, where needed


def _tiny_rwkv() -> RwkvForCausalLM:
    torch.manual_seed(0)
    config = RwkvConfig(vocab_size=16, hidden_size=8, num_hidden_layers=2, attention_hidden_size=8,
                        intermediate_size=16, context_length=8)
    return RwkvForCausalLM(config).eval()


def test_the_rwkv_shim_makes_batched_one_token_steps_exact():
    with torch_threads(1):
        model = _tiny_rwkv()
        before = _tiny_rwkv_mismatch(model)
        assert rwkv_single_token_broken() == (before > 1e-4)  # the probe sees what this model shows
        patched = patch_rwkv_single_token(model)
        assert patched == (4 if rwkv_single_token_broken() else 0)  # attention + feed-forward per layer
        assert _tiny_rwkv_mismatch(model) < 1e-5
        assert patch_rwkv_single_token(model) == 0 and prepare_cached_decoding(model) == 0
