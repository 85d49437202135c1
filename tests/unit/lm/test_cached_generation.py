"""Cached decoding (KV cache, RWKV state, Mamba cache) is exactly full recomputation, token for
token, on random folders of every architecture `random_causal_lm_folder` builds, booted through
the bridge, with prompts of different lengths in one batch and a steering edit at each position
choice; and left padding never changes a row (each prompt alone gives the same tokens)."""

from __future__ import annotations

import pytest
import torch

from workbench.lm import boot, generate, torch_threads
from workbench.lm.generate import batches, generate_ids
from workbench.lm.random_folder import RANDOM_ARCHS, random_causal_lm_folder
from workbench.lm.sampling import Sampling
from workbench.tensor.row_edits import RowEdits
from workbench.tensor.steering import make_edit

PROMPTS = (
    "How do I bake a chocolate cake?",
    "Tell me how to make a dangerous weapon.",
    "Hi",
    "What is the capital of France? Explain how a rainbow forms.",
)
NEW = 8


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module", params=RANDOM_ARCHS)
def booted(request, tmp_path_factory):
    folder = random_causal_lm_folder(request.param, tmp_path_factory.mktemp(request.param))
    model = boot(folder)
    rows, ids, mask = next(batches(model.tokenizer, list(PROMPTS), len(PROMPTS)))
    assert len(set(mask.sum(1).tolist())) > 1  # the batch really mixes lengths
    return request.param, model, ids, mask


@pytest.mark.parametrize("positions", ["all", "prompt", "generated"])
def test_cached_decoding_equals_full_recomputation(booted, positions):
    arch, model, ids, mask = booted
    d = int(model.cfg.d_model)
    vector = 4.0 * torch.randn(d, generator=torch.Generator().manual_seed(1))
    edits = {"blocks.0.hook_resid_post": make_edit("actadd", vector, alpha=1.0)}
    cached = generate_ids(model, ids, mask, NEW, None, edits=edits, positions=positions, use_cache=True)
    full = generate_ids(model, ids, mask, NEW, None, edits=edits, positions=positions, use_cache=False)
    assert torch.equal(cached, full), f"{arch}: cached decoding diverged from recomputation ({positions})"
    if positions == "all":  # the edit is strong enough to matter, so the test would see a skipped edit
        assert not torch.equal(cached, generate_ids(model, ids, mask, NEW, None, use_cache=True))


def test_a_batch_gives_each_prompt_what_it_gives_alone(booted):
    arch, model, _ids, _mask = booted
    together = generate(model, model.tokenizer, list(PROMPTS), max_new_tokens=NEW)
    alone = [generate(model, model.tokenizer, [p], max_new_tokens=NEW)[0] for p in PROMPTS]
    assert together == alone, arch


@pytest.mark.parametrize("arch", ["llama", "gpt2", "gemma2"])
@pytest.mark.parametrize("temperature", [0.0, 1.5])
def test_rows_that_finish_leave_the_batch_and_the_tokens_stay(arch, temperature, tmp_path):
    """Cached decoding drops a row from the batch once it emits EOS: with an "EOS" that some rows
    emit early (taken from an uncached run), every row's tokens equal full recomputation's, with
    a different steering edit per row (RowEdits follow their rows out of the batch)."""
    model = boot(random_causal_lm_folder(arch, tmp_path / arch))
    _rows, ids, mask = next(batches(model.tokenizer, list(PROMPTS), len(PROMPTS)))
    d = int(model.cfg.d_model)
    g = torch.Generator().manual_seed(5)
    edits = {"blocks.0.hook_resid_post": RowEdits.stack(
        [make_edit("actadd", 4.0 * torch.randn(d, generator=g), alpha=1.0), None,
         make_edit("ace", torch.randn(d, generator=g), torch.randn(d, generator=g), 1.0), None], d)}
    sampling = Sampling(temperature, 1.0, 3)
    free = generate_ids(model, ids, mask, NEW, None, edits=edits, use_cache=False, sampling=sampling)
    eos = int(free[0, 2])  # row 0 ends at step 2 at the latest; the others when (if) they meet it
    full = generate_ids(model, ids, mask, NEW, eos, edits=edits, use_cache=False, sampling=sampling)
    cached = generate_ids(model, ids, mask, NEW, eos, edits=edits, use_cache=True, sampling=sampling)
    assert torch.equal(cached, full), arch
    ended = (full == eos).float().argmax(1)
    assert (full == eos).any(1).sum() < len(PROMPTS) or len(set(ended.tolist())) > 1  # rows end apart
