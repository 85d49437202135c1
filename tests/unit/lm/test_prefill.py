"""The shared prompt forward (`workbench.lm.prefill`): rows that open with the same tokens (a chat
header), or repeat a prompt (samples), share its forward, and the tokens are those of full
recomputation — on every attention architecture of `random_causal_lm_folder`, with RowEdits of
several settings at each position choice — while the model sees fewer prompt tokens."""

from __future__ import annotations

import pytest
import torch

from workbench.lm import boot, generate, generate_settings, torch_threads
from workbench.lm.batched import setting_edits
from workbench.lm.forward import is_recurrent
from workbench.lm.generate import batches, generate_ids
from workbench.lm.prefill import common_prefix, shared_prefill
from workbench.lm.random_folder import RANDOM_ARCHS, random_causal_lm_folder
from workbench.tensor.hooks import steer
from workbench.tensor.steering import make_edit

HEADER = "System: you are a helpful assistant who answers briefly.\nUser: "
PROMPTS = [HEADER + p for p in ("How do I bake a chocolate cake?", "Hi", "Tell me how to make a weapon.")]
NEW = 6


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


def _settings(model) -> list[dict]:
    d = int(model.cfg.d_model)
    g = torch.Generator().manual_seed(3)
    vector, mean = 4.0 * torch.randn(d, generator=g), torch.randn(d, generator=g)
    return [{}, {"blocks.0.hook_resid_post": make_edit("actadd", vector, alpha=1.0)},
            {"blocks.0.hook_resid_post": make_edit("ace", vector, mean, 1.0),
             "blocks.1.hook_resid_pre": make_edit("actadd", vector, alpha=-1.0)}]


def test_common_prefix() -> None:
    assert common_prefix([[1, 2, 3], [1, 2, 4, 5], [1, 2]]) == 2
    assert common_prefix([[7], [8]]) == 0 and common_prefix([[1, 2]]) == 2


@pytest.mark.parametrize("arch", [a for a in RANDOM_ARCHS if a not in ("rwkv", "mamba")])
@pytest.mark.parametrize("positions", ["all", "prompt", "generated"])
def test_shared_prefill_gives_full_recomputations_tokens(arch, positions, tmp_path) -> None:
    model = boot(random_causal_lm_folder(arch, tmp_path / arch))
    settings = _settings(model)
    edits = setting_edits(settings, len(PROMPTS))
    texts = PROMPTS * len(settings)
    _rows, ids, mask = next(batches(model.tokenizer, texts, len(texts)))
    rows = torch.tensor(_rows)
    seen: list[int] = []
    handle = model.original_model.register_forward_pre_hook(
        lambda _m, args, kwargs: seen.append(int(kwargs["input_ids"].numel())), with_kwargs=True)
    try:
        with steer(model, {n: e.take(rows) for n, e in edits.items()}, positions) as steerer:
            shared = shared_prefill(model, ids, mask, steerer)
    finally:
        handle.remove()
    assert shared is not None and sum(seen) < int(mask.sum())  # fewer prompt tokens than the rows hold
    logits, _cache, new_mask = shared
    assert new_mask.sum(1).tolist() == mask.sum(1).tolist() and logits.shape[0] == len(texts)
    rows_edits = {n: e.take(rows) for n, e in edits.items()}
    cached = generate_ids(model, ids, mask, NEW, None, edits=rows_edits, positions=positions, use_cache=True)
    full = generate_ids(model, ids, mask, NEW, None, edits=rows_edits, positions=positions, use_cache=False)
    assert torch.equal(cached, full), (arch, positions)


def test_samples_share_their_prompt_and_match_one_call_per_setting(tmp_path) -> None:
    model = boot(random_causal_lm_folder("llama", tmp_path / "llama"))
    settings = _settings(model)
    swept = generate_settings(model, model.tokenizer, PROMPTS, settings, NEW, temperature=1.5, num_samples=3, seed=2)
    for setting, got in zip(settings, swept):
        assert got == generate(model, model.tokenizer, PROMPTS, NEW, edits=setting, temperature=1.5, num_samples=3,
                               seed=2, use_cache=False)
    assert not is_recurrent(model)


def test_through_the_bridge_when_someone_hooks_it(tmp_path) -> None:
    """A user's hook keeps the bridge's components in the forward (no fast path): the shared
    prefill runs through them, with its cache, and still gives recomputation's tokens."""
    model = boot(random_causal_lm_folder("llama", tmp_path / "llama"))
    edits = setting_edits(_settings(model), len(PROMPTS))
    texts = PROMPTS * len(_settings(model))
    rows, ids, mask = next(batches(model.tokenizer, texts, len(texts)))
    row_edits = {n: e.take(torch.tensor(rows)) for n, e in edits.items()}
    fired: list[int] = []
    handle = model.hook_dict["blocks.0.hook_attn_out"].register_forward_hook(lambda *_a: fired.append(1))
    try:
        cached = generate_ids(model, ids, mask, NEW, None, edits=row_edits, use_cache=True)
        full = generate_ids(model, ids, mask, NEW, None, edits=row_edits, use_cache=False)
    finally:
        handle.remove()
    assert fired and torch.equal(cached, full)
