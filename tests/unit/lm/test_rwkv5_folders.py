"""RWKV v5.2 (`workbench.lm.rwkv5_hf`) in the LM layer: trained by `train_causal_lm`, saved as an
HF folder (safetensors + JSON) that `boot` and `AutoModelForCausalLM` load without remote code;
cached decoding through `generate` equals full recomputation token for token with an edit at
each position choice (as tests/unit/lm/test_cached_generation.py for the bridge's
architectures); a mixed-length batch gives each prompt what it gives alone; the ACE session's
hook discovery and checks accept it."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM

from tests.unit.lm.rwkv5_folder import random_rwkv5_folder
from workbench.ace.session import check_hook_outputs, hook_names
from workbench.lm import TinyLMSpec, boot, generate, torch_threads, train_causal_lm
from workbench.lm.generate import batches, generate_ids, last_token_activations
from workbench.lm.random_folder import byte_bpe_tokenizer
from workbench.lm.rwkv5_hf import MODEL_TYPE, Rwkv5ForCausalLM
from workbench.tensor.steering import make_edit

PROMPTS = ("How do I bake a chocolate cake?", "Tell me how to make a dangerous weapon.", "Hi",
           "What is the capital of France? Explain how a rainbow forms.")
NEW = 8


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A random-weight RWKV v5.2 folder with the byte-BPE tokenizer (no pad token, as real ones)."""
    return random_rwkv5_folder(tmp_path_factory.mktemp("rwkv5"))


@pytest.fixture(scope="module")
def booted(folder):
    with torch_threads(1), pytest.warns(UserWarning, match="no pad token"):
        model = boot(folder)
    _rows, ids, mask = next(batches(model.tokenizer, list(PROMPTS), len(PROMPTS)))
    assert len(set(mask.sum(1).tolist())) > 1  # the batch really mixes lengths
    return model, ids, mask


def test_the_folder_is_safetensors_and_json_and_loads_without_remote_code(folder, booted):
    model, _, _ = booted
    assert isinstance(model, Rwkv5ForCausalLM) and not hasattr(model, "original_model")
    assert json.loads((folder / "config.json").read_text())["model_type"] == MODEL_TYPE
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        assert "rwkv.blocks.0.att.time_faaaa" in f.keys()
    auto = AutoModelForCausalLM.from_pretrained(folder)
    ids = torch.tensor([[5, 9, 2, 7]])
    assert torch.equal(auto(input_ids=ids).logits, model(input_ids=ids).logits)
    assert model.tokenizer.pad_token_id == model.tokenizer.eos_token_id  # `boot` made it pad with EOS


@pytest.mark.parametrize("hook", ["blocks.0.hook_resid_post", "blocks.1.hook_time_mix_out"])
@pytest.mark.parametrize("positions", ["all", "prompt", "generated"])
def test_cached_decoding_equals_full_recomputation(booted, positions, hook):
    model, ids, mask = booted
    vector = 4.0 * torch.randn(int(model.cfg.d_model), generator=torch.Generator().manual_seed(1))
    edits = {hook: make_edit("actadd", vector, alpha=1.0)}
    cached = generate_ids(model, ids, mask, NEW, None, edits=edits, positions=positions, use_cache=True)
    full = generate_ids(model, ids, mask, NEW, None, edits=edits, positions=positions, use_cache=False)
    assert torch.equal(cached, full), f"cached decoding diverged from recomputation ({hook}, {positions})"
    if positions == "all":  # the edit matters, so a skipped edit would show
        assert not torch.equal(cached, generate_ids(model, ids, mask, NEW, None, use_cache=True))


def test_a_batch_gives_each_prompt_what_it_gives_alone(booted):
    model, _, _ = booted
    together = generate(model, model.tokenizer, list(PROMPTS), max_new_tokens=NEW)
    alone = [generate(model, model.tokenizer, [p], max_new_tokens=NEW)[0] for p in PROMPTS]
    assert together == alone
    sampled = generate(model, model.tokenizer, list(PROMPTS), max_new_tokens=NEW, temperature=1.0, seed=3)
    assert sampled == generate(model, model.tokenizer, list(PROMPTS), max_new_tokens=NEW, temperature=1.0, seed=3)


def test_the_ace_session_hook_discovery_and_checks_accept_it(booted):
    model, _, _ = booted
    names = hook_names(model, "resid_post")
    assert names == ["blocks.0.hook_resid_post", "blocks.1.hook_resid_post"]
    sublayers = [f"blocks.{i}.hook_{part}_out" for i in range(2) for part in ("time_mix", "channel_mix")]
    check_hook_outputs(model, model.tokenizer, names + hook_names(model, "resid_pre") + sublayers)
    acts = last_token_activations(model, model.tokenizer, list(PROMPTS), names)
    assert acts.shape == (len(PROMPTS), 2, 32)
    # the residual stream is the sum of the sublayer outputs: resid_post = resid_mid + channel mix
    ids = torch.tensor([model.tokenizer("Hi there", add_special_tokens=False)["input_ids"]])
    store = {}
    hooks = [model.hook_dict[n].register_forward_hook(lambda m, a, out, n=n: store.__setitem__(n, out))
             for n in ("blocks.1.hook_resid_mid", "blocks.1.hook_channel_mix_out", "blocks.1.hook_resid_post")]
    model(input_ids=ids)
    for h in hooks:
        h.remove()
    assert torch.allclose(store["blocks.1.hook_resid_mid"] + store["blocks.1.hook_channel_mix_out"],
                          store["blocks.1.hook_resid_post"])


def test_train_causal_lm_trains_rwkv5_and_the_saved_folder_boots_to_the_same_logits(tmp_path):
    tokenizer = byte_bpe_tokenizer()
    tokenizer.pad_token = tokenizer.eos_token  # the trainer right-pads
    prompts = ["How do I bake a cake?", "Tell me a weapon recipe.", "Hi"] * 4
    responses = ["Mix flour and water.", "Sorry, I cannot help.", "Hello!"] * 4
    spec = TinyLMSpec(arch="rwkv5", d_model=32, n_layers=2, n_heads=2, d_mlp=64, steps=30, batch=8, lr=1e-2, warmup=3)
    model, losses = train_causal_lm(spec, tokenizer, prompts, responses, progress=False)
    assert isinstance(model, Rwkv5ForCausalLM) and model.cfg.n_heads == 2
    assert losses[-1] < 0.5 * losses[0]
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    booted = boot(tmp_path)
    ids = torch.tensor([tokenizer("How do I bake a cake?", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        assert torch.equal(booted(input_ids=ids).logits, model(input_ids=ids).logits)


def test_it_boots_and_generates_in_bfloat16_close_to_float32(booted, folder):
    model, ids, _ = booted
    with pytest.warns(UserWarning, match="no pad token"):
        half = boot(folder, dtype="bfloat16")
    assert half.rwkv.emb.weight.dtype == torch.bfloat16
    with torch.no_grad():
        full = model(input_ids=ids[2:3, -5:]).logits
        low = half(input_ids=ids[2:3, -5:]).logits
    assert torch.isfinite(low).all() and (low.float() - full).abs().max() < 0.1 * full.abs().max()
    assert len(generate(half, half.tokenizer, list(PROMPTS), max_new_tokens=4)) == len(PROMPTS)


def test_a_padded_attention_mask_and_a_device_map_are_refused(booted, folder):
    model, _, _ = booted
    with pytest.raises(ValueError, match="attention_mask"):
        model(input_ids=torch.tensor([[1, 2]]), attention_mask=torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match="device_map"):
        boot(folder, device_map="auto")
