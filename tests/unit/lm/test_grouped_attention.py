"""Decoding attention per run of rows (`workbench.lm.grouped_attention`) equals sdpa over every
column up to float rounding, its runs cover the batch and skip only pads, it is undone after every
block, and greedy decoding through it gives full recomputation's tokens."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from workbench.lm import boot, torch_threads
from workbench.lm import grouped_attention as ga
from workbench.lm.generate import batches, generate_ids
from workbench.lm.grouped_attention import (
    NAME,
    RUNS,
    DecodeGroups,
    grouped_attention,
    grouped_decoding,
    runs_of,
    set_runs,
)
from workbench.lm.random_folder import random_causal_lm_folder


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


def _left_padded(lengths: list[int], width: int) -> torch.Tensor:
    mask = torch.zeros(len(lengths), width, dtype=torch.long)
    for i, n in enumerate(lengths):
        mask[i, width - n:] = 1
    return mask


@pytest.mark.parametrize("groups", [1, 3])  # key/value heads shared by 1 or 3 query heads
def test_runs_give_sdpas_output(groups):
    g = torch.Generator().manual_seed(0)
    b, hk, n, d = 6, 2, 12, 8
    query, key, value = (torch.randn(b, hk * groups, 1, d, generator=g), torch.randn(b, hk, n, d, generator=g),
                         torch.randn(b, hk, n, d, generator=g))
    mask = _left_padded([2, 3, 5, 6, 11, 12], n).bool()[:, None, None, :]
    config = SimpleNamespace()
    module = SimpleNamespace(config=config, num_key_value_groups=groups, is_causal=True)
    want, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=d ** -0.5)
    set_runs(config, [(0, 2, 9), (2, 4, 6), (4, 6, 0)])
    got, _ = grouped_attention(module, query, key, value, mask, scaling=d ** -0.5)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    other = threading.Thread(target=lambda: seen.append(grouped_attention(module, query, key, value, mask,
                                                                          scaling=d ** -0.5)[0]))
    seen: list[torch.Tensor] = []
    other.start()
    other.join()
    assert torch.equal(seen[0], want)  # another thread has no runs: plain sdpa
    set_runs(config, [(0, 3, 9)])  # runs of another batch: plain sdpa
    assert torch.equal(grouped_attention(module, query, key, value, mask, scaling=d ** -0.5)[0], want)


def test_runs_cover_the_batch_and_skip_only_pads():
    config = SimpleNamespace()
    lengths = [2] * 6 + [3] * 4 + [60] * 2  # 10 short rows: attending to the 60 columns costs more than a call
    runs = DecodeGroups(config).update(_left_padded(lengths, 60), steps=8)
    assert runs is not None and runs[0][0] == 0 and runs[-1][1] == len(lengths) and len(runs) >= 2
    assert all(a == previous_end for (a, _b, _c), (_a, previous_end, _c2) in zip(runs[1:], runs))
    starts = [60 - n for n in lengths]
    assert all(col == min(starts[a:b]) for a, b, col in runs) and runs_of(config) == runs
    assert runs[0][2] >= 57  # the short rows skip the long rows' columns
    assert DecodeGroups(config).update(_left_padded([5, 5], 5), steps=8) is None  # no pads
    holes = torch.tensor([[1, 0, 1, 1], [0, 0, 1, 1]])  # a row whose real tokens are not contiguous
    assert DecodeGroups(config).update(holes, steps=8) is None and runs_of(config) is None


def test_grouped_decoding_is_undone_and_needs_sdpa(tmp_path):
    model = boot(random_causal_lm_folder("llama", tmp_path / "llama"))
    config = model.original_model.config
    before = config._attn_implementation
    with grouped_decoding(model) as runs:  # the bridge runs eager attention: nothing to switch
        assert runs is None and config._attn_implementation == before
    config._attn_implementation = "sdpa"
    try:
        with pytest.raises(RuntimeError, match="boom"), grouped_decoding(model) as runs:
            assert runs is not None and config._attn_implementation == NAME
            runs.update(_left_padded([1, 4], 4), steps=2)
            raise RuntimeError("boom")
        assert config._attn_implementation == "sdpa" and not hasattr(config, RUNS)
    finally:
        config._attn_implementation = before


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gpt_neox"])
def test_decoding_through_runs_gives_full_recomputations_tokens(arch, tmp_path, monkeypatch):
    monkeypatch.setattr(ga, "CALL_COST_PAIRS", 0)  # a run wherever rows differ: many runs
    used: list[list] = []
    update = DecodeGroups.update
    monkeypatch.setattr(DecodeGroups, "update", lambda self, mask, steps: used.append(update(self, mask, steps))
                        or used[-1])
    model = boot(random_causal_lm_folder(arch, tmp_path / arch))
    texts = ["Hi", "Tell me", "Tell me a long story about a river and a cake", "A rainbow forms when light bends " * 3]
    _rows, ids, mask = next(batches(model.tokenizer, texts, len(texts)))
    cached = generate_ids(model, ids, mask, 6, None, use_cache=True)  # a bridge nobody hooks: the fast path, sdpa
    full = generate_ids(model, ids, mask, 6, None, use_cache=False)
    assert torch.equal(cached, full), arch
    eos = generate_ids(model, ids, mask, 6, model.tokenizer.eos_token_id, use_cache=True)
    assert used and used[-1] is not None and len(used[-1]) >= 2, arch  # decoding did run in runs
    assert torch.equal(eos, generate_ids(model, ids, mask, 6, model.tokenizer.eos_token_id, use_cache=False))
