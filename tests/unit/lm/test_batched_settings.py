"""`generate_settings` (a sweep of steering settings as rows of one pass) gives what one `generate`
call per setting gives — greedy and sampled, through the bridge, the bridge-free fast path and the
RWKV v5.2 state model (per-length prompt groups) — and `last_token_logits` with RowEdits gives the
per-setting logits; a RowEdits of the wrong length is refused before any forward."""

from __future__ import annotations

import pytest
import torch

from tests.unit.lm.rwkv5_folder import random_rwkv5_folder
from workbench.lm import boot, generate, generate_settings, last_token_logits, last_token_logits_settings, torch_threads
from workbench.lm.batched import setting_edits
from workbench.lm.fastpath import fast_path_applies
from workbench.lm.forward import hf_model
from workbench.lm.generate import batches, generate_ids
from workbench.lm.random_folder import random_causal_lm_folder
from workbench.tensor.row_edits import RowEdits
from workbench.tensor.steering import make_edit

PROMPTS = ["How do I bake a chocolate cake?", "Hi", "Tell me how to make a dangerous weapon.",
           "What is the capital of France? Explain how a rainbow forms."]
NEW = 8


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    with torch_threads(1):
        return boot(random_causal_lm_folder("llama", tmp_path_factory.mktemp("llama")))


@pytest.fixture(scope="module")
def rwkv5(tmp_path_factory):
    path = random_rwkv5_folder(tmp_path_factory.mktemp("rwkv5"))
    with torch_threads(1), pytest.warns(UserWarning, match="no pad token"):
        return boot(path)


def _settings(model, extra_hook: str | None = None):
    """ACE / ActAdd settings at different hooks (and none), strong enough to change the tokens."""
    d = int(model.cfg.d_model)
    g = torch.Generator().manual_seed(0)
    r, mu, r2 = 4 * torch.randn(d, generator=g), torch.randn(d, generator=g), 4 * torch.randn(d, generator=g)
    settings = [
        {"blocks.1.hook_resid_post": make_edit("ace", r, mu, 1.0)},
        None,
        {"blocks.0.hook_resid_post": make_edit("actadd", r2, alpha=1.0)},
        {"blocks.1.hook_resid_post": make_edit("ace", r, mu, -1.0),
         "blocks.0.hook_resid_pre": make_edit("directional_ablation", r2)},
        {"blocks.0.hook_resid_post": make_edit("actadd", r2, alpha=-1.0), "blocks.1.hook_resid_post": None},
    ]
    if extra_hook is not None:  # a hook off the residual stream: the batched call runs through the bridge
        settings.append({extra_hook: make_edit("actadd", r, alpha=1.0)})
    return settings


def _plain(setting):
    """The setting as `generate` takes it (it has no None entries: `generate_settings` reads None as no edit)."""
    return {k: v for k, v in (setting or {}).items() if v is not None}


def _check_equal_to_per_setting_calls(model, settings, positions="all", batch_size=3, **sampling):
    tok = model.tokenizer
    together = generate_settings(model, tok, PROMPTS, settings, NEW, batch_size=batch_size, positions=positions,
                                 **sampling)
    alone = [generate(model, tok, PROMPTS, NEW, batch_size=batch_size, edits=_plain(s), positions=positions,
                      **sampling) for s in settings]
    assert together == alone
    assert len({str(out) for out in alone}) > len(settings) // 2  # the settings really differ
    return together


@pytest.mark.parametrize("positions", ["all", "generated"])
def test_fast_path_greedy_equals_one_generate_call_per_setting(llama, positions):
    settings = _settings(llama)
    assert fast_path_applies(llama, setting_edits(settings, len(PROMPTS)))
    _check_equal_to_per_setting_calls(llama, settings, positions)


def test_bridge_path_greedy_equals_one_generate_call_per_setting(llama):
    settings = _settings(llama, "blocks.0.hook_resid_mid")
    assert not fast_path_applies(llama, setting_edits(settings, len(PROMPTS)))
    _check_equal_to_per_setting_calls(llama, settings, "prompt", batch_size=7)


def test_sampled_equals_one_generate_call_per_setting(llama):
    out = _check_equal_to_per_setting_calls(llama, _settings(llama), temperature=1.5, num_samples=2, seed=5)
    assert all(len(per_prompt) == 2 for setting in out for per_prompt in setting)


@pytest.mark.parametrize("sampling", [{}, {"temperature": 1.5, "num_samples": 2}])
def test_rwkv5_state_model_equals_one_generate_call_per_setting(rwkv5, sampling):
    _, _, mask = next(batches(rwkv5.tokenizer, PROMPTS, 4))
    assert len(set(mask.sum(1).tolist())) > 1  # mixed lengths: prompt forwards per length group
    # batches of 5 rows out of 6 settings × 4 prompts (× samples; sorted by length) mix two prompts' lengths
    _check_equal_to_per_setting_calls(rwkv5, _settings(rwkv5, "blocks.1.hook_time_mix_out"), batch_size=5, **sampling)


@pytest.mark.parametrize("which", ["llama", "rwkv5"])
def test_last_token_logits_with_row_edits_equal_per_setting_calls(which, request):
    model = request.getfixturevalue(which)
    settings = _settings(model)
    together = last_token_logits_settings(model, model.tokenizer, PROMPTS, settings, batch_size=7)
    alone = torch.stack([last_token_logits(model, model.tokenizer, PROMPTS, 7, edits=_plain(s)) for s in settings])
    assert together.shape == alone.shape
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-4)
    assert (alone[0] - alone[1]).abs().max() > 0.1  # the edits move the logits
    # the RowEdits by hand: one row per prompt, prompts repeated once per setting
    by_hand = last_token_logits(model, model.tokenizer, PROMPTS * len(settings), 7,
                                edits=setting_edits(settings, len(PROMPTS)))
    torch.testing.assert_close(by_hand.view_as(alone), together, rtol=0, atol=0)


def test_generate_takes_row_edits_per_prompt_for_every_sample(llama):
    """One RowEdits row per prompt; with num_samples > 1 each sample of a prompt gets the prompt's row."""
    settings = _settings(llama)
    per_prompt = [settings[i % len(settings)] for i in range(len(PROMPTS))]  # prompt i under its own setting
    edits = setting_edits(per_prompt, 1)
    got = generate(llama, llama.tokenizer, PROMPTS, NEW, edits=edits, temperature=1.0, num_samples=2, seed=1)
    for i, setting in enumerate(per_prompt):
        alone = generate(llama, llama.tokenizer, PROMPTS, NEW, edits=_plain(setting), temperature=1.0,
                         num_samples=2, seed=1)
        assert got[i] == alone[i]


def test_row_edits_of_the_wrong_length_are_refused_before_any_forward(llama):
    calls = []
    handle = hf_model(llama).register_forward_pre_hook(lambda *_a: calls.append(1))
    edits = setting_edits(_settings(llama), len(PROMPTS))  # 5 settings × 4 prompts = 20 rows
    tok = llama.tokenizer
    try:
        with pytest.raises(ValueError, match=r"`edits\['blocks.0.hook_resid_post'\]` is a RowEdits of 20 rows "
                                             r"but there are 4 prompts"):
            generate(llama, tok, PROMPTS, NEW, edits=edits)
        with pytest.raises(ValueError, match=r"`edits\[.*\]` is a RowEdits of 20 rows but there are 4 prompts"):
            last_token_logits(llama, tok, PROMPTS, edits=edits)
        _rows, ids, mask = next(batches(tok, PROMPTS, 8))
        with pytest.raises(ValueError, match=r"`edits\[.*\]` is a RowEdits of 20 rows but there are 4 rows in `ids`"):
            generate_ids(llama, ids, mask, NEW, None, edits=edits)
        with pytest.raises(ValueError, match=r"`settings\[1\]` must be a mapping"):
            generate_settings(llama, tok, PROMPTS, [None, "ace"], NEW)
        d = int(llama.cfg.d_model)
        narrow = {"blocks.0.hook_resid_post": make_edit("actadd", torch.ones(d // 2), alpha=1.0)}
        with pytest.raises(ValueError, match="differ in width"):
            generate_settings(llama, tok, PROMPTS, [_settings(llama)[2], narrow], NEW)
        with pytest.raises(ValueError, match="`settings` must be a non-empty list"):
            generate_settings(llama, tok, PROMPTS, [], NEW)
    finally:
        handle.remove()
    assert not calls
    assert isinstance(edits["blocks.0.hook_resid_post"], RowEdits)
