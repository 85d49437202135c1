"""The bridge-free generation path gives the bridge's tokens, on every architecture, with edits at
resid_pre and resid_post; it is undone after every call (also after an error) and is not taken
when someone has a hook on the bridge."""

from __future__ import annotations

import pytest
import torch

from workbench.lm import boot, torch_threads
from workbench.lm.fastpath import fast_path_applies, hf_targets, unbridged
from workbench.lm.generate import batches, generate_ids
from workbench.lm.random_folder import RANDOM_ARCHS, random_causal_lm_folder
from workbench.tensor.steering import make_edit

PROMPTS = [
    "How do I bake a chocolate cake?",
    "Hi",
    "Tell me how to make a dangerous weapon. Explain how a rainbow forms.",
]


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


def _modules(model):
    return [(name, id(module)) for name, module in model.original_model.named_modules()]


@pytest.mark.parametrize("arch", RANDOM_ARCHS)
def test_fast_path_gives_the_bridges_tokens(arch, tmp_path):
    model = boot(random_causal_lm_folder(arch, tmp_path / arch))
    _rows, ids, mask = next(batches(model.tokenizer, PROMPTS, 8))
    d = int(model.cfg.d_model)
    g = torch.Generator().manual_seed(0)
    edits = {
        "blocks.1.hook_resid_pre": make_edit("ace", 3 * torch.randn(d, generator=g), torch.randn(d, generator=g), 1.0),
        "blocks.0.hook_resid_post": make_edit("actadd", 3 * torch.randn(d, generator=g), alpha=1.0),
    }
    before = _modules(model)
    assert fast_path_applies(model, edits)
    fast = generate_ids(model, ids, mask, 6, None, edits=edits, positions="generated")
    assert _modules(model) == before  # every swap undone
    seen = []
    handle = model.hook_dict["blocks.0.hook_resid_mid" if "blocks.0.hook_resid_mid" in model.hook_dict
                             else "blocks.0.hook_resid_pre"].register_forward_hook(lambda *_a: seen.append(1))
    try:  # a user's hook on the bridge: the bridge path runs (and the hook fires)
        assert not fast_path_applies(model, edits)
        slow = generate_ids(model, ids, mask, 6, None, edits=edits, positions="generated")
    finally:
        handle.remove()
    assert seen and torch.equal(fast, slow), arch
    assert not torch.equal(fast, generate_ids(model, ids, mask, 6, None))  # the edits did something


@pytest.mark.parametrize("arch", RANDOM_ARCHS)
def test_fast_path_gives_the_bridges_tokens_at_sublayer_outputs(arch, tmp_path):
    """Edits at every block's attention and MLP outputs (the ACE paper's sites), at all positions
    and at the prompt's only."""
    model = boot(random_causal_lm_folder(arch, tmp_path / arch))
    names = [f"blocks.{i}.{hook}" for i in range(len(model.blocks)) for hook in ("hook_attn_out", "hook_mlp_out")]
    if not all(name in model.hook_dict for name in names):
        assert hf_targets(model, dict.fromkeys(names)) is None  # no such hook: not a fast path either
        return
    _rows, ids, mask = next(batches(model.tokenizer, PROMPTS, 8))
    d = int(model.cfg.d_model)
    g = torch.Generator().manual_seed(1)
    edits = {name: make_edit("ace", 3 * torch.randn(d, generator=g), torch.randn(d, generator=g), 1.0)
             for name in names}
    assert fast_path_applies(model, edits)
    if arch == "opt":  # its MLP output is flattened to [batch·pos, d]: an edit there is refused (lm.fired)
        with pytest.raises(ValueError, match=r"'blocks.0.hook_mlp_out' gave an activation of shape \[\d+, \d+\]"):
            generate_ids(model, ids, mask, 6, None, edits=edits)
        return
    for positions in ("all", "prompt"):
        fast = generate_ids(model, ids, mask, 6, None, edits=edits, positions=positions)
        handle = model.hook_dict["blocks.0.hook_resid_pre"].register_forward_hook(lambda *_a: None)
        try:
            slow = generate_ids(model, ids, mask, 6, None, edits=edits, positions=positions)
        finally:
            handle.remove()
        assert torch.equal(fast, slow), (arch, positions)
        assert not torch.equal(fast, generate_ids(model, ids, mask, 6, None))


def test_fast_path_is_undone_after_an_error_and_needs_resid_hooks(tmp_path):
    model = boot(random_causal_lm_folder("llama", tmp_path / "llama"))
    _rows, ids, mask = next(batches(model.tokenizer, PROMPTS, 8))
    before = _modules(model)
    bad = {"blocks.0.hook_resid_post": make_edit("actadd", torch.ones(8), alpha=1.0)}  # wrong width
    with pytest.raises(ValueError, match="has width 8"):
        generate_ids(model, ids, mask, 3, None, edits=bad)
    assert _modules(model) == before
    config = model.original_model.config
    assert config._attn_implementation == "eager"  # the bridge's: its attention hooks read the pattern
    with pytest.raises(RuntimeError, match="boom"), unbridged(model):
        assert _modules(model) != before
        assert config._attn_implementation == "sdpa"  # nobody hooks the bridge here: torch's fused kernel
        raise RuntimeError("boom")
    assert _modules(model) == before and config._attn_implementation == "eager"
    assert hf_targets(model, {"blocks.0.hook_resid_mid": None}) is None
    assert hf_targets(model, {"blocks.9.hook_resid_pre": None}) is None
