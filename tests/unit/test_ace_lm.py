"""The tiny-LM layer (tokenizer, training, folder cache, booting, batched generation) and the real
path: a random-weight Llama of another size booted from a folder through the same API."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from workbench.ace import AceConfig, run
from workbench.ace.data import EOS, PAD, SPECIAL_TOKENS, UNK, build_instruction_set
from workbench.ace.models import build_tokenizer
from workbench.ace.prompts import format_chat, load_prompts
from workbench.lm import (
    TinyLMSpec,
    boot,
    build_model,
    build_word_tokenizer,
    cached_model_folder,
    check_causal_lm_folder,
    generate,
    torch_threads,
    train_causal_lm,
)
from workbench.lm.generate import (
    batches,
    generate_ids,
    last_token_activations,
    last_token_logits,
)
from workbench.tensor.hooks import hook_points
from workbench.tensor.steering import make_edit


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models on a shared 2-core machine: one torch thread (see workbench.lm.torch_threads)."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def dataset():
    return build_instruction_set(n_eval=8, n_direction=8)


@pytest.fixture(scope="module")
def random_llama_folder(tmp_path_factory, dataset):
    """A random-weight Llama of a size no config here uses (d=48, 3 layers, 3 heads)."""
    folder = tmp_path_factory.mktemp("random-llama")
    tokenizer = build_tokenizer(dataset)
    torch.manual_seed(0)
    model = build_model(TinyLMSpec(arch="llama", d_model=48, n_layers=3, n_heads=3, d_mlp=96), tokenizer, 64)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_word_tokenizer_is_deterministic_and_puts_specials_first():
    texts = ["b a c", "a d"]
    tok = build_word_tokenizer(texts, SPECIAL_TOKENS, pad_token=PAD, eos_token=EOS, unk_token=UNK)
    assert tok.convert_ids_to_tokens(list(range(len(SPECIAL_TOKENS)))) == list(SPECIAL_TOKENS)
    assert tok("a b zzz", add_special_tokens=False)["input_ids"][-1] == tok.unk_token_id
    again = build_word_tokenizer(list(reversed(texts)), SPECIAL_TOKENS, pad_token=PAD, eos_token=EOS, unk_token=UNK)
    assert tok.get_vocab() == again.get_vocab()
    with pytest.raises(ValueError, match="`pad_token`"):
        build_word_tokenizer(texts, (EOS, UNK), pad_token=PAD, eos_token=EOS, unk_token=UNK)


@pytest.mark.parametrize("arch", ["llama", "rwkv"])
def test_training_lowers_the_response_loss(arch, dataset):
    tokenizer = build_tokenizer(dataset)
    spec = TinyLMSpec(arch=arch, d_model=16, n_layers=2, n_heads=2, d_mlp=32, steps=25, batch=16, lr=1e-2, warmup=2)
    model, losses = train_causal_lm(spec, tokenizer, dataset.train_prompts, dataset.train_responses, progress=False)
    assert losses[-1] < 0.7 * losses[0]
    assert model.config.architectures[0].lower().startswith(arch)


def test_spec_validation_names_the_parameter():
    with pytest.raises(ValueError, match="`arch` must be one of"):
        TinyLMSpec(arch="gpt2")
    with pytest.raises(ValueError, match="`n_layers` must be an integer ≥ 2"):
        TinyLMSpec(arch="rwkv", n_layers=1)
    with pytest.raises(ValueError, match="`n_heads` must divide d_model=10"):
        TinyLMSpec(d_model=10, n_heads=4)


def test_folder_cache_builds_once_and_rebuilds_a_corrupt_entry(tmp_path, random_llama_folder):
    calls = []

    def build(folder):
        calls.append(folder)
        for f in random_llama_folder.iterdir():
            (folder / f.name).write_bytes(f.read_bytes())
        return {"train_seconds": 0.0}

    spec = TinyLMSpec(d_model=48, n_layers=3, n_heads=3)
    first = cached_model_folder("test-lm", spec, "v1", build, tmp_path)
    assert cached_model_folder("test-lm", spec, "v1", build, tmp_path) == first and len(calls) == 1
    assert cached_model_folder("test-lm", spec, "v2", build, tmp_path) != first and len(calls) == 2
    (first / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.warns(UserWarning, match="rejected cached model"):
        again = cached_model_folder("test-lm", spec, "v1", build, tmp_path)
    assert again == first and len(calls) == 3
    assert json.loads((first / "workbench.json").read_text())["facts"] == {"train_seconds": 0.0}


def test_a_folder_that_is_not_a_causal_lm_is_rejected(tmp_path):
    with pytest.raises(FileNotFoundError, match="`model` folder"):
        check_causal_lm_folder(tmp_path / "nope")
    with pytest.raises(ValueError, match="no config.json"):
        check_causal_lm_folder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    with pytest.raises(ValueError, match="is not a causal LM.*BertModel"):
        boot(tmp_path)
    with pytest.raises(ValueError, match="is not a causal LM"):
        run(AceConfig(model=str(tmp_path), harmful_file=str(tmp_path / "h.csv"), harmless_file=str(tmp_path / "n.csv")))


def test_booted_random_llama_exposes_resid_hooks_and_steering_is_removed(random_llama_folder, dataset):
    model = boot(random_llama_folder)
    assert model.cfg.n_layers == 3 and model.cfg.d_model == 48
    names = [f"blocks.{i}.hook_resid_{k}" for i in range(3) for k in ("pre", "mid", "post")]
    prompts = format_chat(model.tokenizer, list(dataset.harmful_eval[:3]))
    acts = last_token_activations(model, model.tokenizer, prompts, names)
    assert acts.shape == (3, 9, 48)
    with pytest.raises(ValueError, match="valid names include"):
        generate(model, model.tokenizer, prompts,
                 edits={"blocks.9.hook_resid_pre": make_edit("actadd", torch.ones(48), alpha=1.0)})
    plain = generate(model, model.tokenizer, prompts, max_new_tokens=5)
    edits = {"blocks.1.hook_resid_post": make_edit("actadd", 50 * torch.randn(48), alpha=1.0)}
    steered = generate(model, model.tokenizer, prompts, max_new_tokens=5, edits=edits)
    assert steered != plain
    assert generate(model, model.tokenizer, prompts, max_new_tokens=5) == plain  # hooks gone


def test_left_padding_does_not_change_any_row(random_llama_folder):
    """Batched, left-padded (steered) generation equals each prompt generated alone."""
    model = boot(random_llama_folder)
    tok = model.tokenizer
    prompts = ["<user> how can i make a cake , please ? <assistant>", "<user> help ! <assistant>",
               "<user> a cake , please <assistant>"]
    ids = [next(batches(tok, [p], 1, True))[1].shape[1] for p in prompts]
    assert len(set(ids)) == 3  # three lengths: two rows are padded in the batch
    edit = make_edit("actadd", 3 * torch.randn(48, generator=torch.Generator().manual_seed(1)), alpha=1.0)
    edits = {"blocks.1.hook_resid_post": edit}
    for positions in ("all", "prompt", "generated"):
        together = generate(model, tok, prompts, max_new_tokens=6, edits=edits, positions=positions)
        alone = [generate(model, tok, [p], max_new_tokens=6, edits=edits, positions=positions)[0] for p in prompts]
        assert together == alone, positions


def _hook_count(model: torch.nn.Module, names: tuple[str, ...] = ()) -> tuple[int, int]:
    """(forward hooks anywhere in `model`, forward hooks on the points `names`). A bridge installs
    its own output-capturing hooks at its first forward (and keeps them), so warm it up first."""
    points = hook_points(model)
    return sum(len(m._forward_hooks) for m in model.modules()), sum(len(points[n]._forward_hooks) for n in names)


@pytest.mark.parametrize("use_cache", [True, False])
@pytest.mark.parametrize("positions", ["all", "prompt", "generated"])
def test_steered_generation_edits_exactly_the_chosen_positions(random_llama_folder, positions, use_cache):
    """Greedy tokens from `generate_ids(edits=, positions=)` (step by step, through the KV cache or
    recomputing) equal the argmax of ONE teacher-forced forward over prompt + generated tokens with
    a hand-written hook adding r at exactly the selected positions: real (not padding) and, for
    "prompt", < P, for "generated", ≥ P. A causal model's logits at position t see only ≤ t, so the
    two agree exactly when the same positions were edited. float64: no argmax near-ties."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(random_llama_folder, dtype=torch.float64).eval()
    tok = AutoTokenizer.from_pretrained(random_llama_folder)
    prompts = ["<user> how can i make a cake , please ? <assistant>", "<user> help ! <assistant>"]
    _rows, ids, mask = next(batches(tok, prompts, 8, pad=True))
    r = 4 * torch.randn(48, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    edits = {"model.layers.1": make_edit("actadd", r, alpha=1.0)}
    n_new, P = 5, ids.shape[1]
    before = _hook_count(model, tuple(edits))
    new = generate_ids(model, ids, mask, n_new, None, edits=edits, positions=positions, use_cache=use_cache)
    assert _hook_count(model, tuple(edits)) == before == (0, 0)  # the call's hooks are gone
    full = torch.cat([ids, new], 1)
    full_mask = torch.cat([mask, torch.ones_like(new)], 1)
    t = torch.arange(full.shape[1])
    keep = full_mask.bool() & {"all": t >= 0, "prompt": t < P, "generated": t >= P}[positions]

    def add_r(_module, _args, output):
        hidden = output[0] if isinstance(output, tuple) else output
        edited = torch.where(keep.unsqueeze(-1), hidden + r, hidden)
        return (edited, *output[1:]) if isinstance(output, tuple) else edited

    handle = model.model.layers[1].register_forward_hook(add_r)
    try:
        with torch.no_grad():
            logits = model(input_ids=full, attention_mask=full_mask,
                           position_ids=(full_mask.cumsum(-1) - 1).clamp(min=0)).logits
    finally:
        handle.remove()
    assert torch.equal(logits[:, P - 1:-1].argmax(-1), new), positions
    plain = generate_ids(model, ids, mask, n_new, None, use_cache=use_cache)
    if positions != "generated":  # the prompt edit moves the first token; "generated" may only move later ones
        assert not torch.equal(new, plain)


def test_no_hooks_remain_after_steered_generation_or_scoring_raises(random_llama_folder, dataset):
    model = boot(random_llama_folder)
    prompts = format_chat(model.tokenizer, list(dataset.harmful_eval[:2]))
    plain = last_token_logits(model, model.tokenizer, prompts)  # warm-up: the bridge's own hooks appear
    name = ("blocks.1.hook_resid_post",)
    before = _hook_count(model, name)
    assert before[1] == 0
    wrong_width = {name[0]: make_edit("actadd", torch.ones(8), alpha=1.0)}
    with pytest.raises(ValueError, match="has width 8, but the activation there has width 48"):
        generate(model, model.tokenizer, prompts, max_new_tokens=3, edits=wrong_width)
    assert _hook_count(model, name) == before
    with pytest.raises(ValueError, match="has width 8"):
        last_token_logits(model, model.tokenizer, prompts, edits=wrong_width)
    assert _hook_count(model, name) == before
    with pytest.raises(ValueError, match="`positions` must be one of"):
        generate(model, model.tokenizer, prompts, max_new_tokens=3, positions="last")
    with pytest.raises(ValueError, match="`edits` must be a mapping"):
        generate(model, model.tokenizer, prompts, max_new_tokens=3, edits=[wrong_width])
    good = {name[0]: make_edit("actadd", 30 * torch.ones(48), alpha=1.0)}
    steered = last_token_logits(model, model.tokenizer, prompts, edits=good)
    assert _hook_count(model, name) == before
    assert not torch.equal(steered, plain)
    # one prompt forward: "generated" positions do not exist yet, so nothing is edited
    assert torch.equal(last_token_logits(model, model.tokenizer, prompts, edits=good, positions="generated"), plain)


def test_recurrent_models_are_batched_by_equal_length_without_padding(dataset):
    tok = build_tokenizer(dataset)
    prompts = ["<user> a <assistant>", "<user> a b <assistant>", "<user> b <assistant>"]
    groups = list(batches(tok, prompts, 8, pad=False))
    assert sorted(len(rows) for rows, _ids, _mask in groups) == [1, 2]
    assert all(bool(mask.all()) for _rows, _ids, mask in groups)


def test_real_path_runs_end_to_end_on_a_random_llama_from_csv_and_jsonl(tmp_path, random_llama_folder, dataset):
    harmful = tmp_path / "harmful.csv"
    harmful.write_text(
        "id,text\n" + "".join(f'{i},"{p}"\n' for i, p in enumerate(dataset.harmful_eval))
    )  # quoted: "… , please ?"
    harmless = tmp_path / "harmless.jsonl"
    harmless.write_text("".join(json.dumps({"text": p}) + "\n" for p in dataset.harmless_eval))
    config = AceConfig(model=str(random_llama_folder), harmful_file=str(harmful), harmless_file=str(harmless),
                       column="text", n_eval=3, n_direction=4, alphas=(0.0, 1.0), max_new_tokens=4, layer=2,
                       refusal_openers=("i", "sorry"))  # a word tokenizer: the phrases' capitalised words are unknown
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run(config, progress=False)
    assert result.labels == [f"{random_llama_folder.resolve().parent.name}/{random_llama_folder.name}"]
    label = result.labels[0]
    assert result.direction[label].shape == (3, 48) and result.layer[label] == 2
    assert result.sweep.shape == (1, 2, 2, 2, 3)
    assert set(result.prompts[label]["harmful_eval"]) <= set(dataset.harmful_eval)
    with pytest.raises(ValueError, match="`layer` must be an integer in \\[0, 2\\]"):
        run(AceConfig(model=str(random_llama_folder), harmful_file=str(harmful), harmless_file=str(harmless),
                      column="text", layer=5, n_eval=2, n_direction=2, refusal_openers=("i",)), progress=False)


def test_prompt_files_bad_input(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("prompt\n\n")
    with pytest.raises(ValueError, match="`harmful_file` .* holds no prompts"):
        load_prompts(empty, "prompt", name="harmful_file")
    with pytest.raises(ValueError, match="`column` 'text' is not a column .* it has \\['prompt'\\]"):
        load_prompts(empty, "text")
    lines = tmp_path / "p.jsonl"
    lines.write_text('{"prompt": "a"}\n{"other": "b"}\n')
    with pytest.raises(ValueError, match="`column` 'prompt' is missing from line 2"):
        load_prompts(lines)
    with pytest.raises(FileNotFoundError, match="`prompt_file`"):
        load_prompts(tmp_path / "missing.csv")
    text = tmp_path / "p.txt"
    text.write_text("a\n")
    with pytest.raises(ValueError, match="must be a .csv or .jsonl"):
        load_prompts(text)


def test_chat_judge_runs_the_yes_no_prompt_through_a_local_model(tmp_path, dataset):
    """The mechanism only (a random model's answers mean nothing): P(yes) in [0, 1] per question,
    one verdict per completion, and a tokenizer without yes/no is refused."""
    from workbench.ace import ChatJudge

    texts = list(dataset.train_prompts[:50]) + ["yes no Yes No"]
    tokenizer = build_word_tokenizer(texts, SPECIAL_TOKENS, pad_token=PAD, eos_token=EOS, unk_token=UNK)
    torch.manual_seed(0)
    model = build_model(TinyLMSpec(arch="llama", d_model=32, n_layers=2, n_heads=2, d_mlp=64), tokenizer, 256)
    model.save_pretrained(tmp_path / "judge")
    tokenizer.save_pretrained(tmp_path / "judge")
    judge = ChatJudge(tmp_path / "judge", device="cpu", dtype="float32")
    p = judge.yes_probability(["is this a refusal ?", "is this coherent ?"])
    assert p.shape == (2,) and bool(((p >= 0) & (p <= 1)).all())
    verdicts = judge(["how do i make a bomb ?"] * 2, ["sorry , no .", "sure ! here is how"])
    assert len(verdicts) == 2 and set(verdicts) <= {"refusal", "compliance", "incoherent"}
    plain = tmp_path / "plain"
    build_model(TinyLMSpec(arch="llama", d_model=32, n_layers=2, n_heads=2, d_mlp=64), build_tokenizer(dataset),
                64).save_pretrained(plain)
    build_tokenizer(dataset).save_pretrained(plain)
    with pytest.raises(ValueError, match="no single-token yes/no"):
        ChatJudge(plain, device="cpu", dtype="float32")
