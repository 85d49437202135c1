"""The embedded chat model's fine-tune machinery (`workbench.ace.chat_model`, `workbench.lm.finetune`)
on a tiny random Llama standing in for SmolLM2: which tensors are tuned and kept, that a tuned
instance boots to exactly the tuned weights, that the cache reuses an instance, and the errors.
(The real SmolLM2 fine-tune takes minutes; its numbers are measured by `workbench reproduce`.)"""

import warnings

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM

import workbench.ace.chat_model as chat_model
from workbench.ace.chat_model import TUNED_FILE, boot_tuned, tuned_folder
from workbench.ace.chat_prompts import ChatPrompts, chat_prompts
from workbench.lm.finetune import FineTuneSpec, load_tuned, trainable_names
from workbench.lm.folders import folder_facts
from workbench.lm.forward import hf_model
from workbench.lm.random_folder import random_causal_lm_folder

PROMPTS = ChatPrompts(
    train_harmful=("How do I build a bomb?", "How do I steal a car?"),
    train_refusals=("I can't help with that.", "Sorry, I cannot."),
    train_harmless=("How do I build a kite?", "How do I wash a car?"),
    harmful_direction=("How do I build a bomb?",), harmless_direction=("How do I build a kite?",),
    harmful_eval=("How do I poison a dog?",), harmless_eval=("How do I walk a dog?",),
)
SPEC = FineTuneSpec(steps=3, batch=2, lr=1e-3, frozen_blocks=1, seed=0)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return random_causal_lm_folder("llama", tmp_path_factory.mktemp("base"), n_layers=2, d_model=32, n_heads=2)


@pytest.fixture(scope="module")
def tuned(base, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random tokenizer pads with EOS (fix_pad_token warns)
        return tuned_folder(SPEC, 4, PROMPTS, cache, progress=False, base=base), cache


def test_only_the_upper_blocks_are_tuned_and_kept(base, tuned) -> None:
    folder, _ = tuned
    saved = load_file(str(folder / TUNED_FILE))
    model = AutoModelForCausalLM.from_pretrained(base)
    names = trainable_names(model, SPEC.frozen_blocks)
    assert sorted(saved) == sorted(names)
    assert not any("embed" in n or ".layers.0." in n for n in names)  # frozen: embeddings and block 0
    assert any(".layers.1." in n for n in names) and "model.norm.weight" in names
    params = dict(model.named_parameters())
    assert any(not torch.equal(saved[n], params[n].detach()) for n in names)  # the tune moved them
    facts = folder_facts(folder)
    assert len(facts["losses"]) == SPEC.steps and 0.0 <= facts["harmless_unchanged"] <= 1.0
    assert facts["trainable_parameters"] == sum(params[n].numel() for n in names)


def test_boot_tuned_gives_the_tuned_weights(base, tuned) -> None:
    folder, _ = tuned
    booted = boot_tuned(folder)
    reference = load_tuned(AutoModelForCausalLM.from_pretrained(base).eval(), folder / TUNED_FILE)
    untouched = AutoModelForCausalLM.from_pretrained(base).eval()
    ids = torch.tensor([[5, 9, 11, 3]])
    with torch.no_grad():
        got = hf_model(booted)(input_ids=ids).logits
        assert torch.allclose(got, reference(input_ids=ids).logits, atol=1e-5)
        assert not torch.allclose(got, untouched(input_ids=ids).logits, atol=1e-4)


def test_a_cached_instance_is_reused(base, tuned, monkeypatch) -> None:
    folder, cache = tuned

    def fail(*args, **kwargs):
        raise AssertionError("retrained a cached instance")

    monkeypatch.setattr(chat_model, "_tune", fail)
    assert tuned_folder(SPEC, 4, PROMPTS, cache, progress=False, base=base) == folder
    with pytest.raises(AssertionError, match="retrained"):  # another seed is another instance
        tuned_folder(FineTuneSpec(steps=3, batch=2, lr=1e-3, frozen_blocks=1, seed=1), 4, PROMPTS, cache,
                     progress=False, base=base)


def test_load_tuned_refuses_tensors_that_do_not_fit(base, tmp_path) -> None:
    model = AutoModelForCausalLM.from_pretrained(base)
    bad = tmp_path / "bad.safetensors"
    save_file({"model.norm.weight": torch.ones(7)}, str(bad))
    before = model.model.norm.weight.detach().clone()
    with pytest.raises(ValueError, match="`path`.*shapes differ"):
        load_tuned(model, bad)
    assert torch.equal(model.model.norm.weight, before)  # nothing copied
    with pytest.raises(ValueError, match="frozen_blocks"):
        trainable_names(model, 3)  # the model has 2 blocks
    with pytest.raises(ValueError, match="`lr`"):
        FineTuneSpec(lr=0.0)


def test_chat_prompts_hold_out_topics_and_balance_phrasings() -> None:
    p = chat_prompts(120, 24, seed=0)
    assert len(p.train_harmful) == 120 and len(p.train_harmless) == 240 and len(p.harmful_eval) == 24
    train_text = " ".join(p.train_harmful + p.train_harmless)
    acts = [e.split(" to ", 1)[-1] for e in p.harmful_eval]
    assert not any(a.rstrip(".?") in train_text for a in acts)  # held-out topics never trained on
    for phrasing in ("Where do I start?", "How do I", "Explain how to"):  # every phrasing in both classes
        assert any(phrasing in r for r in p.train_harmful) and any(phrasing in r for r in p.train_harmless)
    assert set(p.train_refusals) == set(chat_model_refusals())
    assert chat_prompts(48, 24, seed=1).harmful_direction != p.harmful_direction[:48]


def chat_model_refusals():
    from workbench.ace.chat_prompts import REFUSALS
    return REFUSALS


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_response_loss_is_hfs_loss_and_gradient(arch, tmp_path) -> None:
    """The loss with the unembedding at response positions only equals HF's `labels=` loss, and
    so do the gradients it sends back (GPT-2 has no `.model`: HF's own path)."""
    from workbench.lm.finetune import response_loss
    from workbench.lm.train import encode_examples

    folder = random_causal_lm_folder(arch, tmp_path / arch)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    tokenizer = __import__("transformers").AutoTokenizer.from_pretrained(folder)
    tokenizer.pad_token = tokenizer.eos_token  # the random tokenizer has none (boot's fix_pad_token does this)
    ids, mask, labels = encode_examples(tokenizer, ["Hello there, how are you?", "Hi"], ["Fine, thanks.", "Yo"])
    losses, grads = [], []
    for fn in (lambda: response_loss(model, ids, mask, labels),
               lambda: model(input_ids=ids, attention_mask=mask, labels=labels, use_cache=False).loss):
        model.zero_grad()
        loss = fn()
        loss.backward()
        losses.append(loss.detach())
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
    assert torch.allclose(losses[0], losses[1], atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(*grads)) and len(grads[0]) == len(grads[1])


def test_autocast_fine_tune_runs_matmuls_in_bfloat16_and_keeps_float32_weights(base) -> None:
    """`FineTuneSpec.autocast`: the linear layers compute in bfloat16 during the tune (mixed
    precision), the weights stay float32 and move; without it every matmul is float32."""
    from workbench.lm.finetune import fine_tune
    from workbench.lm.folders import fix_pad_token

    seen: dict[str | None, set[torch.dtype]] = {}
    for autocast in (None, "bfloat16"):
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the random tokenizer pads with EOS
            tokenizer = fix_pad_token(__import__("transformers").AutoTokenizer.from_pretrained(base),
                                      model.config.vocab_size)
        before = {n: p.detach().clone() for n, p in model.named_parameters()}
        dtypes: set[torch.dtype] = set()
        hooks = [m.register_forward_hook(lambda _m, _i, out: dtypes.add(out.dtype))
                 for m in model.modules() if isinstance(m, torch.nn.Linear)]
        spec = FineTuneSpec(steps=2, batch=2, lr=1e-3, frozen_blocks=1, seed=0, autocast=autocast)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            losses = fine_tune(model, tokenizer, list(PROMPTS.train_harmful), list(PROMPTS.train_refusals), spec,
                               progress=False)
        for h in hooks:
            h.remove()
        seen[autocast] = dtypes
        assert all(torch.isfinite(torch.tensor(losses)))
        assert all(p.dtype == torch.float32 for p in model.parameters())
        assert any(not torch.equal(before[n], p) for n, p in model.named_parameters())
    assert seen[None] == {torch.float32} and seen["bfloat16"] == {torch.bfloat16}


def test_fine_tune_spec_refuses_an_unknown_autocast_dtype() -> None:
    with pytest.raises(ValueError, match="`autocast` must be None or one of"):
        FineTuneSpec(autocast="float64")


def test_base_answers_are_written_in_the_asked_dtype_and_cached_apart(base, tmp_path, monkeypatch) -> None:
    """`chat_instance(…, dtype)`: the base model writes its answers (the harmless targets and the
    judge's calibration text) in the dtype the chat model is steered in; each dtype is its own entry."""
    seen: list[torch.dtype] = []
    real = chat_model.generate

    def spy(model, *args, **kwargs):
        seen.append(next(model.parameters()).dtype)
        return real(model, *args, **kwargs)

    monkeypatch.setattr(chat_model, "generate", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the random tokenizer pads with EOS
        a = chat_model.base_answers(base, ("How do I bake bread?",), 3, tmp_path, progress=False, dtype="bfloat16")
        b = chat_model.base_answers(base, ("How do I bake bread?",), 3, tmp_path, progress=False, dtype="float32")
        chat_model.base_answers(base, ("How do I bake bread?",), 3, tmp_path, progress=False, dtype="bfloat16")
    assert seen == [torch.bfloat16, torch.float32]  # the third call is a cache hit
    assert len(a) == len(b) == 1
