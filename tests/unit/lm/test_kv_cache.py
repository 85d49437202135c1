"""The reserved KV cache (`workbench.lm.kv_cache`) holds what transformers' DynamicLayer holds, step
for step and through every batch operation; caches of row groups join into the [prefix | pads |
rest] layout; `length_groups` finds the cheapest grouping; and a prompt pass run in length groups
gives full recomputation's tokens on every attention architecture whose cache allows it."""

from __future__ import annotations

import itertools

import pytest
import torch
from transformers.cache_utils import DynamicCache, DynamicLayer

from workbench.lm import boot, torch_threads
from workbench.lm.batched import setting_edits
from workbench.lm.generate import batches, generate_ids
from workbench.lm.grouping import contiguous_groups, length_groups
from workbench.lm.kv_cache import ReservedLayer, joined, plain_layers, prefix_copy, reserve
from workbench.lm.prefill import groupable, shared_prefill
from workbench.lm.random_folder import RANDOM_ARCHS, random_causal_lm_folder
from workbench.tensor.steering import make_edit

ATTENTION_ARCHS = [a for a in RANDOM_ARCHS if a not in ("rwkv", "mamba")]


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


def _kv(b: int, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, 2, n, 4, generator=g), torch.randn(b, 2, n, 3, generator=g)


def _same(a, b) -> None:
    assert torch.equal(a.keys, b.keys) and torch.equal(a.values, b.values)


def test_reserved_layer_holds_what_dynamic_layer_holds():
    plain = DynamicLayer()
    keys, values = _kv(3, 5, 0)
    plain.update(keys, values)
    reserved = ReservedLayer(plain.keys, plain.values, capacity=7)
    for step in range(6):  # past the capacity of 7: the buffers grow
        k, v = _kv(3, 1, step + 1)
        got, want = reserved.update(k, v), plain.update(k, v)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    assert reserved.capacity >= 11 and reserved.get_seq_length() == 11
    index = torch.tensor([2, 0, 2])
    reserved.batch_select_indices(index)
    plain.batch_select_indices(index)
    _same(reserved, plain)
    reserved.batch_repeat_interleave(2)
    plain.batch_repeat_interleave(2)
    _same(reserved, plain)
    reserved.crop(-3)
    plain.crop(-3)
    _same(reserved, plain)
    k, v = _kv(6, 2, 9)
    reserved.update(k, v)
    plain.update(k, v)
    _same(reserved, plain)
    with pytest.raises(ValueError, match="negative"):
        reserved.crop(2)


def test_reserve_keeps_a_models_logits(tmp_path):
    model = boot(random_causal_lm_folder("llama", tmp_path / "llama"))
    hf = model.original_model
    ids = torch.randint(3, 200, (2, 6), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out = hf(input_ids=ids[:, :5], use_cache=True)
        plain = hf(input_ids=ids[:, 5:], cache=out.cache, use_cache=True).logits
        out = hf(input_ids=ids[:, :5], use_cache=True)
        cache = reserve({"cache": out.cache}, 4)["cache"]
        assert all(isinstance(layer, ReservedLayer) and layer.capacity == 9 for layer in cache.layers)
        reserved = hf(input_ids=ids[:, 5:], cache=cache, use_cache=True).logits
    assert torch.equal(plain, reserved) and plain_layers(cache)


def test_joined_puts_each_row_right_aligned():
    first, second = DynamicCache(), DynamicCache()
    first.layers = [ReservedLayer(*_kv(2, 2 + 3, 1), 5)]   # k = 2 prefix positions, then w = 3: rests 3 and 1
    second.layers = [ReservedLayer(*_kv(1, 2 + 6, 2), 8)]  # then w = 6: rest 6
    out = joined([(torch.tensor([0, 2]), first, 2, [3, 1], 3), (torch.tensor([1]), second, 2, [6], 6)],
                 batch=3, width=8, room=5)
    assert out.layers[0].capacity == 13 and out.layers[0].get_seq_length() == 8
    keys, src = out.layers[0].keys, first.layers[0].keys
    assert keys.shape == (3, 2, 8, 4)
    assert torch.equal(keys[0, :, 3:], src[0]) and not keys[0, :, :3].any()  # [pads | prefix 2 | rest 3]
    assert torch.equal(keys[2, :, 5:7], src[1, :, :2]) and torch.equal(keys[2, :, 7:], src[1, :, 4:5])
    assert not keys[2, :, :5].any()  # its group's pads (columns 2-3 of its forward) are dropped
    assert torch.equal(keys[1], second.layers[0].keys[0])
    assert torch.equal(out.layers[0].values[2, :, 7:], first.layers[0].values[1, :, 4:5])
    copy = prefix_copy(first, torch.tensor([1, 1]), extra=4)
    assert copy.layers[0].capacity == 9 and torch.equal(copy.layers[0].keys[0], first.layers[0].keys[1])


def _cost(widths, groups, overhead):
    return sum(len(g) * max(widths[i] for i in g) + overhead for g in groups)


@pytest.mark.parametrize("seed", range(5))
def test_length_groups_is_the_cheapest_contiguous_grouping(seed):
    g = torch.Generator().manual_seed(seed)
    widths = torch.randint(1, 60, (7,), generator=g).tolist()
    groups = length_groups(widths, overhead=20)
    assert sorted(i for grp in groups for i in grp) == list(range(7))
    order = sorted(range(7), key=lambda i: widths[i])
    best = min(_cost(widths, [order[a:b] for a, b in zip((0, *cuts), (*cuts, 7))], 20)
               for r in range(7) for cuts in itertools.combinations(range(1, 7), r))
    assert _cost(widths, groups, 20) == best
    assert len(length_groups(widths, overhead=10 ** 6)) == 1
    runs = contiguous_groups(widths, overhead=20)  # in the given order: the cheapest split into runs
    best_runs = min(_cost(widths, [range(a, b) for a, b in zip((0, *cuts), (*cuts, 7))], 20)
                    for r in range(7) for cuts in itertools.combinations(range(1, 7), r))
    assert _cost(widths, [range(a, b) for a, b in runs], 20) == best_runs


def test_sliding_window_and_state_models_are_not_grouped(tmp_path):
    assert groupable(boot(random_causal_lm_folder("llama", tmp_path / "llama")))
    assert not groupable(boot(random_causal_lm_folder("mistral", tmp_path / "mistral")))


@pytest.mark.parametrize("arch", ATTENTION_ARCHS)
@pytest.mark.parametrize("positions", ["all", "prompt"])
def test_a_prompt_pass_in_length_groups_gives_full_recomputations_tokens(arch, positions, tmp_path):
    model = boot(random_causal_lm_folder(arch, tmp_path / arch))
    header = "System: answer briefly.\nUser: "
    texts = [header + "Hi"] * 3 + [header + "Tell me a long story about a rainbow, a cake and a river " * 3] * 3
    texts = [t + f" {i}" for i, t in enumerate(texts)]
    _rows, ids, mask = next(batches(model.tokenizer, texts, len(texts)))
    d = int(model.cfg.d_model)
    vector, mean = 4.0 * torch.randn(d, generator=torch.Generator().manual_seed(3)), torch.zeros(d)
    settings = [{"blocks.0.hook_resid_post": make_edit("ace", vector, mean, 1.0)}, {}]
    edits = {n: e.take(torch.arange(len(texts)) % 2) for n, e in setting_edits(settings, 1).items()}
    forwards: list[int] = []
    handle = model.original_model.register_forward_pre_hook(
        lambda _m, args, kwargs: forwards.append(int(kwargs["input_ids"].shape[0])), with_kwargs=True)
    try:
        cached = generate_ids(model, ids, mask, 5, None, edits=edits, positions=positions, use_cache=True)
    finally:
        handle.remove()
    full = generate_ids(model, ids, mask, 5, None, edits=edits, positions=positions, use_cache=False)
    assert torch.equal(cached, full), (arch, positions)
    prompt_forwards = len(forwards) - 4  # the 4 decoding steps after the prompt pass
    assert prompt_forwards >= (3 if groupable(model) else 2)  # prefix, then 1 or 2+ groups


def test_logits_only_prompt_pass_skips_the_cache(tmp_path):
    model = boot(random_causal_lm_folder("llama", tmp_path / "llama"))
    texts = ["Hi"] * 4 + ["Tell me a long story about a rainbow, a cake and a river " * 3] * 2
    texts = [t + f" {i}" for i, t in enumerate(texts)]
    _rows, ids, mask = next(batches(model.tokenizer, texts, len(texts)))
    logits, cache, _mask = shared_prefill(model, ids, mask, None)
    only, empty, _ = shared_prefill(model, ids, mask, None, keep_cache=False)
    assert torch.equal(logits, only) and empty == {} and plain_layers(cache["cache"])
