"""The affine steering operator, its named cases, and the hooks that install it (workbench.tensor:
steering and hooks; generation through them is tested in tests/unit/test_ace_lm.py)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from workbench.tensor.hooks import hook_points, record, steer
from workbench.tensor.steering import (
    SteeringEdit,
    ace,
    activation_addition,
    affine_ablation,
    affine_edit,
    difference_of_means,
    directional_ablation,
    make_edit,
    reference_code_alpha,
)

D = 16


def _vectors(seed: int, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), alpha=st.floats(-3, 3, allow_nan=False))
def test_ace_component_along_direction_is_the_reference_plus_alpha_r(seed, alpha):
    v, r, mu = _vectors(seed, 5, 7, D), _vectors(seed + 1, D), _vectors(seed + 2, D)
    rhat = r / r.norm()
    out = ace(v, r, mu, alpha)
    expected = (mu + alpha * r) @ rhat
    assert torch.allclose(out @ rhat, expected.expand(5, 7), atol=1e-9)
    # the orthogonal complement is untouched
    assert torch.allclose(out - (out @ rhat)[..., None] * rhat, v - (v @ rhat)[..., None] * rhat, atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_ace_at_alpha_zero_and_reference_zero_is_directional_ablation(seed):
    v, r = _vectors(seed, 9, D), _vectors(seed + 1, D)
    assert torch.allclose(ace(v, r, torch.zeros(D, dtype=v.dtype), 0.0), directional_ablation(v, r), atol=1e-12)
    assert torch.allclose(directional_ablation(v, r) @ (r / r.norm()), torch.zeros(9, dtype=v.dtype), atol=1e-9)


def test_named_cases_are_the_one_operator():
    v, r, mu = _vectors(0, 4, D), _vectors(1, D), _vectors(2, D)
    rhat = r / r.norm()
    assert torch.allclose(activation_addition(v, r, 0.7), v + 0.7 * r)
    assert torch.allclose(affine_ablation(v, r, mu), v - torch.outer(v @ rhat - mu @ rhat, rhat))
    assert torch.allclose(affine_ablation(v, r, mu), ace(v, r, mu, 0.0))
    assert torch.allclose(ace(v, r, mu, 1.3), affine_edit(v, r, mu, 1.3, project=True))
    assert torch.allclose(make_edit("actadd", r, alpha=-1.0).apply(v), v - r)
    assert make_edit("none", r) is None


def test_ace_maps_the_class_means_to_themselves():
    """α = 0 sends μ⁻ to μ⁻ and α = 1 sends μ⁻ to μ⁺ (the paper's convention)."""
    pos, neg = _vectors(3, 50, D) + 2.0, _vectors(4, 60, D)
    r, mu_neg = difference_of_means(pos, neg)
    assert torch.allclose(ace(mu_neg, r, mu_neg, 0.0), mu_neg, atol=1e-9)
    assert torch.allclose(ace(mu_neg, r, mu_neg, 1.0), mu_neg + r, atol=1e-9)
    assert reference_code_alpha(0.0) == -0.5 and reference_code_alpha(1.0) == 0.5


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_alpha_is_rejected_naming_alpha(bad):
    v, r = _vectors(0, 2, D), _vectors(1, D)
    with pytest.raises(ValueError, match="`alpha` must be finite"):
        ace(v, r, torch.zeros(D, dtype=v.dtype), bad)
    with pytest.raises(ValueError, match="`alpha`"):
        make_edit("actadd", r, alpha=bad)


def test_wrong_width_and_zero_direction_are_rejected():
    v = _vectors(0, 2, D)
    with pytest.raises(ValueError, match="`direction` must be a vector of width d_model=16"):
        ace(v, _vectors(1, D + 1), torch.zeros(D + 1, dtype=v.dtype), 0.0)
    with pytest.raises(ValueError, match="`direction` must be non-zero"):
        SteeringEdit(torch.zeros(D))
    with pytest.raises(ValueError, match="`method` must be one of"):
        make_edit("leace", _vectors(1, D))
    with pytest.raises(ValueError, match="`reference` is required"):
        make_edit("ace", _vectors(1, D), None, 0.0)


class Toy(nn.Module):
    """Two linear 'blocks' with a residual stream, for hooking a plain nn.Module."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([nn.Linear(D, D) for _ in range(2)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = x + block(x)
        return x


def test_steer_on_a_plain_module_edits_and_removes_its_hooks():
    torch.manual_seed(0)
    model, x, r = Toy(), torch.randn(3, 5, D), torch.randn(D)
    plain = model(x)
    edit = make_edit("directional_ablation", r)
    with record(model, ["blocks.0"], position=None) as seen, steer(model, {"blocks.0": edit}):
        steered = model(x)
    # the recorder ran before the edit (registered first), so it saw the raw block output
    x1 = x + edit.apply(seen["blocks.0"][0])
    expected = x1 + model.blocks[1](x1)
    assert torch.allclose(steered, expected, atol=1e-6)
    assert not torch.allclose(steered, plain)
    assert all(not m._forward_hooks for m in model.modules())
    assert torch.allclose(model(x), plain)


def test_several_layers_at_once_each_get_their_own_vector():
    torch.manual_seed(1)
    model, x = Toy(), torch.randn(2, 3, D)
    a, b = make_edit("actadd", torch.randn(D), alpha=1.0), make_edit("actadd", torch.randn(D), alpha=-2.0)
    with steer(model, {"blocks.0": a, "blocks.1": b}):
        both = model(x)
    x1 = x + a.apply(model.blocks[0](x))
    assert torch.allclose(both, x1 + b.apply(model.blocks[1](x1)), atol=1e-6)


def test_hooks_are_removed_even_when_the_forward_raises():
    model = Toy()
    with pytest.raises(RuntimeError):
        with steer(model, {"blocks.1": make_edit("actadd", torch.randn(D), alpha=1.0)}):
            model(torch.randn(2, 3, D + 1))
    assert all(not m._forward_hooks for m in model.modules())


def test_unknown_hook_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"`hook` 'blocks.7' is not a hook point.*valid names include"):
        steer(Toy(), {"blocks.7": make_edit("actadd", torch.randn(D), alpha=1.0)})
    assert "blocks.0" in hook_points(Toy())


def test_wrong_width_vector_at_a_hook_names_the_hook():
    model = Toy()
    with pytest.raises(ValueError, match="hook 'blocks.0' has width 8, but the activation there has width 16"):
        with steer(model, {"blocks.0": make_edit("actadd", torch.randn(8), alpha=1.0)}):
            model(torch.randn(1, 2, D))
    assert all(not m._forward_hooks for m in model.modules())


def test_positions_and_attention_mask_select_what_is_edited():
    model = Toy()
    shift = torch.ones(D)
    edit = make_edit("actadd", shift, alpha=1.0)
    x = torch.zeros(2, 4, D)
    mask = torch.tensor([[0, 1, 1, 1], [1, 1, 1, 1]])
    with record(model, ["blocks.0"], position=None) as raw:
        model(x)
    base = raw["blocks.0"][0]
    for positions, prompt_length, expect in (
        ("all", None, mask.bool()),
        ("prompt", 2, mask.bool() & (torch.arange(4) < 2)),
        ("generated", 2, mask.bool() & (torch.arange(4) >= 2)),
    ):
        with steer(model, {"blocks.0": edit}, positions=positions, prompt_length=prompt_length, attention_mask=mask), \
                record(model, ["blocks.0"], position=None) as seen:
            model(x)
        delta = (seen["blocks.0"][0] - base).mean(-1)
        assert torch.equal(delta.round().bool(), expect), positions


def test_generated_positions_follow_the_offset():
    """`begin` / `at` (what the LM layer's generation loop calls) say which positions a forward covers."""
    model, edit = Toy(), make_edit("actadd", torch.ones(D), alpha=1.0)
    x = torch.zeros(1, 1, D)
    with steer(model, {"blocks.0": edit}, positions="generated") as hooks:
        hooks.begin(3)
        first = model(x)  # position 0: inside the prompt
        hooks.at(2)  # still inside the prompt
        inside = model(x)
        hooks.at(3)  # the first generated token
        outside = model(x)
        hooks.at(3, torch.zeros(1, 4, dtype=torch.long))  # a masked (padding) position is never edited
        masked = model(x)
    plain = model(x)
    assert torch.allclose(first, plain) and torch.allclose(inside, plain) and torch.allclose(masked, plain)
    assert not torch.allclose(outside, plain)
