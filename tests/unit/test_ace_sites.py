"""Where ACE steers: midpoint projection is ACE at α = ½, sublayer sites are the attention / MLP
(time-mix / channel-mix) outputs of each architecture and get exactly their own edit, Arditi's
ablation puts one direction everywhere, and sampled completions repeat by seed."""

from __future__ import annotations

import pytest
import torch

from workbench.ace import AceResult, open_session
from workbench.ace.sites import SUBLAYER_HOOKS, method_edit, sublayer_names
from workbench.lm import boot, random_causal_lm_folder, torch_threads
from workbench.lm.forward import hf_model
from workbench.tensor.hooks import record, steer


@pytest.fixture(autouse=True)
def _one_thread():
    with torch_threads(1):
        yield


@pytest.fixture(scope="module")
def result(ace_quick) -> AceResult:
    return ace_quick


def test_midpoint_projection_is_ace_at_one_half():
    """v − r̂ r̂ᵀ(v − (μ⁺+μ⁻)/2) = v − r̂ r̂ᵀ(v − μ⁻) + r/2, since r/2 = (‖r‖/2) r̂; its component along
    r̂ is the midpoint's whatever v was."""
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        r, mu, v = (torch.randn(16, generator=g, dtype=torch.float64) * 3 for _ in range(3))
        v = torch.randn(7, 16, generator=g, dtype=torch.float64)
        mid, ace = method_edit("midpoint_projection", r, mu, 0.0).apply(v), method_edit("ace", r, mu, 0.5).apply(v)
        assert torch.allclose(mid, ace, atol=1e-12)
        rhat = r / r.norm()
        assert torch.allclose(mid @ rhat, (mu + r / 2) @ rhat * torch.ones(7, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("model, pair", [("llama", SUBLAYER_HOOKS[0]), ("rwkv5", SUBLAYER_HOOKS[1])])
def test_sublayer_sites_are_the_attention_and_mlp_outputs_each_with_its_own_edit(result, session_cache, model, pair):
    """`sites="sublayers"`, `layer="all"`: 2 edits per block on that architecture's attention and
    MLP outputs; in a forward, each of those outputs leaves with its component along its own r̂
    at r̂·(μ⁻ + α r) at every position."""
    L, m, alpha = result.config.n_layers, result.model_index(model), 0.7
    edits = result.edits(model, "ace", alpha, layer="all", sites="sublayers")
    names = [f"blocks.{i}.{hook}" for i in range(L) for hook in pair]
    assert list(edits) == names
    session = open_session(result.config, m, session_cache.root, progress=False)
    request = result.prompts[result.label(m)]["harmful_eval"][0]
    ids = torch.tensor([session.tokenizer(request + " <assistant>")["input_ids"]])
    with torch.no_grad(), steer(session.model, edits, "all"), record(session.model, names, position=None) as seen:
        hf_model(session.model)(input_ids=ids)  # the bridge's HF model; rwkv5 is its own
    for j, name in enumerate(names):
        r, mu = result.sub_direction[result.label(m)][j], result.sub_mu_neg[result.label(m)][j]
        rhat = r / r.norm()
        coordinate = seen[name][0][0] @ rhat
        assert torch.allclose(coordinate, ((mu + alpha * r) @ rhat).expand_as(coordinate), atol=1e-4), name


def test_rwkv4_sublayer_sites_are_its_time_mix_and_channel_mix_outputs(tmp_path):
    """RWKV-4 (arch "rwkv", outside the default `archs`) keeps its sublayer sites: the bridge's
    time-mix / channel-mix output hooks, the same names as the v5.2 model's."""
    bridge = boot(random_causal_lm_folder("rwkv", tmp_path / "rwkv", n_layers=2, d_model=16))
    assert sublayer_names(bridge, 2) == [f"blocks.{i}.{hook}" for i in range(2) for hook in SUBLAYER_HOOKS[1]]


def test_arditi_ablation_removes_one_direction_at_every_block_input_and_sublayer(result):
    edits = result.edits("llama", "arditi_ablation")
    L = result.config.n_layers
    expected = [f"blocks.{i}.hook_resid_pre" for i in range(L)]
    expected += [f"blocks.{i}.{h}" for i in range(L) for h in SUBLAYER_HOOKS[0]]
    assert list(edits) == expected
    v = torch.randn(4, result.config.d_model)
    rhat = result.direction_unit("llama")
    for edit in edits.values():
        assert torch.allclose(edit.apply(v) @ rhat, torch.zeros(4), atol=1e-5)


def test_sampled_completions_repeat_with_the_same_seed(result, session_cache):
    session = open_session(result.config, 0, session_cache.root, progress=False)
    requests = result.prompts[result.labels[0]]["harmful_eval"][:3]
    edits = result.edits(0, "ace", 0.5, layer="all", sites="sublayers")
    first = session.complete(requests, edits, "all", 12, temperature=1.5, num_samples=3)
    again = session.complete(requests, edits, "all", 12, batch_size=2, temperature=1.5, num_samples=3)
    assert first == again and len(first) == 3 and all(len(samples) == 3 for samples in first)
    session.seed = 1
    assert session.complete(requests, edits, "all", 12, temperature=1.5, num_samples=3) != first


def test_a_band_of_blocks_steers_exactly_those_blocks(result):
    """`layer` as a tuple (the AUC band): the sublayer sites of those blocks, each with its own
    direction; an empty tuple or an index out of range is refused."""
    from workbench.ace.config import band

    table = result.site_directions(0)
    edits = table.edits("ace", 0.0, "sublayers", (0, 1))
    assert list(edits) == table.sublayer_names[:4]
    with pytest.raises(ValueError, match="at least one block"):
        table.edits("ace", 0.0, "sublayers", ())
    with pytest.raises(ValueError, match="`layer` must be"):
        table.edits("ace", 0.0, "sublayers", (0, 99))
    assert band([0.5, 0.96, 0.95, 0.2]) == (1, 2)
