"""Random-weight HF folders of every RANDOM_ARCHS architecture boot through the bridge with
residual hooks, a chat template and EOS padding; which folders count as causal LMs; pad fixing."""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from workbench.lm import (
    RANDOM_ARCHS,
    boot,
    byte_bpe_tokenizer,
    check_causal_lm_folder,
    fix_pad_token,
    random_causal_lm_folder,
)
from workbench.tensor.hooks import hook_points

N_LAYERS = 2


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models: one torch thread is fastest and leaves the shared cores alone."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module", params=RANDOM_ARCHS)
def booted(request, tmp_path_factory):
    """(arch, folder, bridge), each architecture's folder built and booted once for the module."""
    arch = request.param
    folder = random_causal_lm_folder(arch, tmp_path_factory.mktemp(arch), n_layers=N_LAYERS)
    return arch, folder, boot(folder)


def test_folder_boots_with_resid_hooks_for_every_layer(booted):
    arch, folder, bridge = booted
    names = hook_points(bridge)
    for i in range(N_LAYERS):
        assert f"blocks.{i}.hook_resid_pre" in names and f"blocks.{i}.hook_resid_post" in names, arch
    [name] = json.loads((folder / "config.json").read_text())["architectures"]
    assert name == "GPT2LMHeadModel" if arch == "gpt2" else name.endswith("ForCausalLM")


def test_tokenizer_has_a_chat_template_no_saved_pad_and_pads_with_eos_after_boot(booted):
    arch, folder, bridge = booted
    saved = json.loads((folder / "tokenizer_config.json").read_text())
    # no pad token in the files, like many real tokenizers (transformers 5 still loads a qwen2
    # folder's as Qwen2Tokenizer, whose default pad is <|endoftext|>)
    assert "pad_token" not in saved and saved["eos_token"] == "<|endoftext|>"
    tok = bridge.tokenizer
    assert tok.chat_template
    chat = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert chat.endswith("<|assistant|>\n") and "Hi" in chat
    plain = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=False)
    assert "<|assistant|>" not in plain
    assert tok.pad_token_id == tok.eos_token_id is not None, arch


def test_one_forward_of_a_left_padded_batch_is_finite(booted):
    arch, _, bridge = booted
    tok = bridge.tokenizer
    tok.padding_side = "left"
    enc = tok(["I'm sorry, but I cannot help with that.", "Sure!"], return_tensors="pt", padding=True)
    assert enc["attention_mask"][1, 0] == 0  # the short row is padded on the left
    with torch.no_grad():
        logits = bridge(enc["input_ids"], attention_mask=enc["attention_mask"])
    T = enc["input_ids"].shape[1]
    assert logits.shape == (2, T, len(tok)) and torch.isfinite(logits).all(), arch


# --- the builder ---------------------------------------------------------------------------------
def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    weights = [load_file(random_causal_lm_folder("llama", tmp_path / name, seed=seed) / "model.safetensors")
               for name, seed in (("a", 0), ("b", 0), ("c", 1))]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not all(torch.equal(weights[0][k], weights[2][k]) for k in weights[0])


@pytest.mark.parametrize("kwargs, match", [
    ({"arch": "bert"}, r"`arch` must be one of \['llama', 'gpt2'"),
    ({"arch": "llama", "n_heads": 3}, "`n_heads` must divide"),
    ({"arch": "llama", "n_heads": 64}, "heads of even width"),
    ({"arch": "rwkv", "n_layers": 1}, "`n_layers`"),
    ({"arch": "llama", "d_mlp": 0}, "`d_mlp`"),
    ({"arch": "llama", "d_model": 4}, "`d_model`"),
    ({"arch": "llama", "max_positions": 2}, "`max_positions`"),
    ({"arch": "llama", "seed": -1}, "`seed`"),
    ({"arch": "llama", "folder": None}, "`folder`"),
])
def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, kwargs, match):
    kwargs = {"folder": tmp_path / "out", **kwargs}
    with pytest.raises(ValueError, match=match):
        random_causal_lm_folder(kwargs.pop("arch"), kwargs.pop("folder"), **kwargs)
    assert not (tmp_path / "out").exists()


def test_byte_bpe_tokenizer_is_deterministic_byte_level_and_has_no_pad():
    a, b = byte_bpe_tokenizer(), byte_bpe_tokenizer()
    assert a.get_vocab() == b.get_vocab() and len(a) == 512
    assert a.pad_token is None and a.eos_token_id == 0 and a.padding_side == "left"
    text = "Ünïcode ✓ never seen: 𝛑"  # any bytes encode (byte-level), and decode back
    assert a.decode(a(text)["input_ids"]) == text
    assert len(byte_bpe_tokenizer(300)) <= 300
    with pytest.raises(ValueError, match="`vocab_size`"):
        byte_bpe_tokenizer(100)


# --- which folders count as causal LMs -----------------------------------------------------------
def _config_folder(root: Path, name: str, config: dict) -> Path:
    (root / name).mkdir()
    (root / name / "config.json").write_text(json.dumps(config))
    return root / name


@pytest.mark.parametrize("config", [
    {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"},
    {"model_type": "gpt2"},  # the bridge maps model_type to its class, as transformers does
    {"architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3"},  # a multimodal decoder
    {"architectures": ["LlamaForCausalLM"]},
])
def test_causal_lm_configs_are_accepted(tmp_path, config):
    folder = _config_folder(tmp_path, "m", config)
    assert check_causal_lm_folder(folder) == folder


@pytest.mark.parametrize(
    "config",
    [
        {
            "architectures": ["BertForMaskedLM"],
            "model_type": "bert",
        },  # transformers lists bert as causal; the bridge boots it as an MLM
        {"architectures": ["T5ForConditionalGeneration"], "model_type": "t5"},  # encoder-decoder
        {
            "architectures": ["Florence2ForConditionalGeneration"],
            "model_type": "florence2",
        },  # image-text-to-text, encoder-decoder
        {"architectures": ["NoSuchForCausalLM"], "model_type": "no_such"},  # no bridge adapter
    ],
)
def test_other_configs_are_refused_naming_model_and_what_is_supported(tmp_path, config):
    folder = _config_folder(tmp_path, "m", config)
    with pytest.raises(ValueError, match=r"`model` .* is not a causal LM") as err:
        check_causal_lm_folder(folder)
    message = str(err.value)
    assert (
        config["architectures"][0] in message and "LlamaForCausalLM" in message and "supported_causal_lms()" in message
    )


def test_a_multimodal_gemma3_folder_boots_without_installing_anything(tmp_path, monkeypatch):
    """Gemma3ForConditionalGeneration boots (text hooks, vocabulary from its text config); the
    bridge's processor fallback would `pip install torchvision`, which boot() disables."""
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"boot ran a subprocess: {args}")

    monkeypatch.setattr(subprocess, "check_call", no_subprocess)
    tok = byte_bpe_tokenizer()
    V = len(tok)
    text = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, head_dim=16,
                intermediate_size=64, vocab_size=V + 2, max_position_embeddings=64, sliding_window=64,
                query_pre_attn_scalar=16)
    vision = dict(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, image_size=28, patch_size=14
    )
    config = Gemma3Config(
        text_config=text,
        vision_config=vision,
        mm_tokens_per_image=1,
        image_token_index=V,
        boi_token_index=V + 1,
        eoi_token_index=V + 1,
        architectures=["Gemma3ForConditionalGeneration"],
        eos_token_id=0,
        bos_token_id=0,
    )
    torch.manual_seed(0)
    Gemma3ForConditionalGeneration(config).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    bridge = boot(tmp_path)
    assert "blocks.1.hook_resid_post" in hook_points(bridge)
    assert bridge(torch.tensor([[1, 2, 3]])).shape == (1, 3, V + 2)


def test_a_folder_the_bridge_cannot_boot_names_model_and_the_architecture(tmp_path):
    broken = random_causal_lm_folder("llama", tmp_path)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(
        ValueError, match=r"`model` .*\(LlamaForCausalLM\) could not be booted by TransformerLens's bridge: \w+"
    ):
        boot(broken)


# --- pad fixing ----------------------------------------------------------------------------------
def test_a_pad_id_outside_the_vocabulary_is_replaced_by_eos_with_a_warning():
    tok = byte_bpe_tokenizer()
    tok.add_special_tokens({"pad_token": "<pad>"})  # id 512: the model's embedding has rows 0…511
    assert tok.pad_token_id == 512
    with pytest.warns(UserWarning, match="outside the model's vocabulary of 512.*EOS"):
        assert fix_pad_token(tok, 512) is tok
    assert tok.pad_token_id == tok.eos_token_id == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a usable pad is left alone, silently
        fix_pad_token(tok, 512)


def test_a_missing_pad_is_replaced_by_eos_and_no_eos_either_is_refused():
    tok = byte_bpe_tokenizer()
    with pytest.warns(UserWarning, match="has no pad token"):
        fix_pad_token(tok, 512)
    assert tok.pad_token_id == tok.eos_token_id
    bare = byte_bpe_tokenizer()
    bare.eos_token = None
    with pytest.raises(ValueError, match="`model`'s tokenizer has no usable pad token"):
        fix_pad_token(bare, 512)
    with pytest.raises(ValueError, match="`vocab_size`"):
        fix_pad_token(byte_bpe_tokenizer(), 0)
