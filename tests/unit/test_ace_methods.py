"""The steering-method registry (`workbench.ace.methods.METHODS`): every entry's edit does what its
declaration says (α read or not, a fixed place on ACE's α axis, its placement), the config's
tuples derived from it are the ones the experiment always had, and a method outside the registry
can be applied as it is."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from workbench.ace import config
from workbench.ace.methods import (
    EACH_SITE,
    FOCUS_EVERYWHERE,
    METHODS,
    NOWHERE,
    Comparison,
    SteeringMethod,
    ordered,
    steering_method,
)
from workbench.ace.sites import SiteDirections, method_edit
from workbench.plots.ace import method_color
from workbench.tensor.steering import SteeringEdit, ace, activation_addition, affine_ablation, directional_ablation

D, L = 12, 3


def _vectors(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    r, mu = 3 * torch.randn(D, generator=g, dtype=torch.float64), torch.randn(D, generator=g, dtype=torch.float64)
    return r, mu, torch.randn(5, D, generator=g, dtype=torch.float64)


def _table(focus: int = 1) -> SiteDirections:
    """A synthetic model's sites: L residual hooks, 2L sublayer hooks, L block inputs."""
    g = torch.Generator().manual_seed(3)
    return SiteDirections([f"blocks.{i}.hook_resid_post" for i in range(L)], torch.randn(L, D, generator=g),
                          torch.randn(L, D, generator=g),
                          [f"blocks.{i}.{h}" for i in range(L) for h in ("hook_attn_out", "hook_mlp_out")],
                          torch.randn(2 * L, D, generator=g), torch.randn(2 * L, D, generator=g),
                          [f"blocks.{i}.hook_resid_pre" for i in range(L)], focus)


def test_the_derived_tuples_are_the_ones_the_experiment_always_had():
    """Pinned: the order of these is the order of the experiment's loops and of the results' axes."""
    assert config.METHODS == ("none", "actadd", "directional_ablation", "arditi_ablation", "midpoint_projection",
                              "affine_ablation", "ace")
    assert config.ALPHA_METHODS == ("actadd", "ace")
    assert config.PANEL_METHODS == ("ace", "actadd", "midpoint_projection", "directional_ablation", "arditi_ablation")
    assert config.METHOD_SETTINGS == (
        ("none", "none", 0.0), ("ActAdd α=−1", "actadd", -1.0),
        ("directional ablation", "directional_ablation", 0.0), ("Arditi ablation", "arditi_ablation", 0.0),
        ("midpoint projection", "midpoint_projection", 0.5),
        ("ACE α=0", "ace", 0.0), ("ACE α=1", "ace", 1.0))
    assert config.SWEEP_METHODS == ("ace", "actadd")
    assert config.LAYER_METHODS == ("ace", "directional_ablation")
    assert config.SETS == ("harmful", "harmless")


@pytest.mark.parametrize("name", list(METHODS))
def test_every_entry_builds_an_edit_consistent_with_its_alpha(name):
    """A method that reads α edits differently at α = 0 and 1; one that does not, identically; the
    unsteered one builds no edit."""
    method, (r, mu, v) = METHODS[name], _vectors()
    assert method.name == name and method.label
    at0, at1 = method.edit(r, mu, 0.0), method.edit(r, mu, 1.0)
    if method.placement == NOWHERE:
        assert at0 is None and at1 is None
        return
    assert isinstance(at0, SteeringEdit)
    assert torch.equal(at0.apply(v), at1.apply(v)) is not method.reads_alpha
    if method.reads_alpha:
        assert method.fixed_alpha is None


@pytest.mark.parametrize("name", [n for n, m in METHODS.items() if m.fixed_alpha is not None])
def test_a_fixed_alpha_method_is_ace_at_that_alpha(name):
    """midpoint projection = ACE at α = ½ (r/2 = (‖r‖/2) r̂), affine ablation = ACE at α = 0."""
    method = METHODS[name]
    for seed in range(4):
        r, mu, v = _vectors(seed)
        mine = method.edit(r, mu, 0.7).apply(v)  # its α argument is ignored
        assert torch.allclose(mine, METHODS["ace"].edit(r, mu, method.fixed_alpha).apply(v), atol=1e-12)
    assert METHODS["midpoint_projection"].fixed_alpha == 0.5


def test_each_entry_does_what_its_math_says():
    r, mu, v = _vectors(1)
    a = 0.8
    assert torch.allclose(METHODS["actadd"].edit(r, mu, a).apply(v), activation_addition(v, r, a))
    assert torch.allclose(METHODS["directional_ablation"].edit(r, mu, a).apply(v), directional_ablation(v, r))
    assert torch.allclose(METHODS["arditi_ablation"].edit(r, mu, a).apply(v), directional_ablation(v, r))
    assert torch.allclose(METHODS["affine_ablation"].edit(r, mu, a).apply(v), affine_ablation(v, r, mu))
    assert torch.allclose(METHODS["ace"].edit(r, mu, a).apply(v), ace(v, r, mu, a))
    rhat = r / r.norm()  # midpoint projection puts every v at the midpoint's coordinate
    assert torch.allclose(METHODS["midpoint_projection"].edit(r, mu, a).apply(v) @ rhat,
                          ((mu + r / 2) @ rhat).expand(5))


def test_midpoint_projection_is_ace_at_one_half_through_the_sites():
    table = _table()
    mid = table.edits("midpoint_projection", 0.0, "sublayers", "all")
    half = table.edits("ace", 0.5, "sublayers", "all")
    v = torch.randn(4, D)
    assert list(mid) == list(half) and len(mid) == 2 * L
    assert all(torch.allclose(mid[name].apply(v), half[name].apply(v), atol=1e-5) for name in mid)
    assert torch.allclose(method_edit("midpoint_projection", table.residual[0], table.residual_mu_neg[0], 0.0).apply(v),
                          method_edit("ace", table.residual[0], table.residual_mu_neg[0], 0.5).apply(v), atol=1e-5)


def test_placements_put_the_edits_where_the_entries_say():
    table = _table(focus=2)
    assert table.edits("none", 1.0, "sublayers", 0) is None
    each = table.edits("directional_ablation", 0.0, "residual", 1)
    assert list(each) == ["blocks.1.hook_resid_post"]
    everywhere = table.edits("arditi_ablation", 0.0, "residual", 0)  # sites and layer do not move it
    assert list(everywhere) == [*table.inputs, *table.sublayer_names]
    rhat = table.residual[2] / table.residual[2].norm()
    v = torch.randn(3, D)
    assert all(torch.allclose(e.apply(v) @ rhat, torch.zeros(3), atol=1e-5) for e in everywhere.values())
    assert {m.placement for m in METHODS.values()} == {NOWHERE, EACH_SITE, FOCUS_EVERYWHERE}


def test_edits_check_sites_and_layer_whatever_the_placement():
    table = _table()
    for method in ("none", "arditi_ablation", "ace"):
        with pytest.raises(ValueError, match="`sites` must be one of"):
            table.edits(method, 0.0, "everywhere", 0)
        with pytest.raises(ValueError, match="`layer`"):
            table.edits(method, 0.0, "residual", L)
    with pytest.raises(ValueError, match="`method` must be one of"):
        table.edits("leace", 0.0)
    with pytest.raises(ValueError, match="builds no edit"):
        method_edit("none", table.residual[0], table.residual_mu_neg[0], 0.0)


def test_edit_key_says_what_an_edit_depends_on():
    assert METHODS["none"].edit_key(1.0, "residual", 0) == ("none",)
    assert METHODS["arditi_ablation"].edit_key(1.0, "residual", 0) == ("arditi_ablation",)
    assert METHODS["directional_ablation"].edit_key(1.0, "sublayers", "all") == ("directional_ablation", 0.0,
                                                                                  "sublayers", "all")
    assert METHODS["ace"].edit_key(1.5, "residual", 2) == ("ace", 1.5, "residual", 2)
    assert METHODS["actadd"].edit_key(0.0, "residual", 2) == ("none",)  # v + 0·r: the unsteered model
    assert METHODS["actadd"].edit_key(0.5, "residual", 2) == ("actadd", 0.5, "residual", 2)
    assert METHODS["ace"].edit_key(0.0, "residual", 2) == ("ace", 0.0, "residual", 2)  # a projection


def test_a_method_outside_the_registry_is_applied_as_it_is():
    """No global to mutate: `SiteDirections.edits` (and AceResult.edits, AceLive.complete) take the object."""
    half = SteeringMethod("half_actadd", "ActAdd at half strength",
                          lambda r, mu, a: SteeringEdit(r, None, a / 2, project=False), reads_alpha=True)
    table, v = _table(), torch.randn(2, D)
    mine, full = table.edits(half, 2.0, "residual", 1), table.edits("actadd", 1.0, "residual", 1)
    assert list(mine) == list(full) and torch.allclose(mine["blocks.1.hook_resid_post"].apply(v),
                                                       full["blocks.1.hook_resid_post"].apply(v))
    assert steering_method(half) is half and "half_actadd" not in METHODS


def test_steering_method_finds_entries_and_names_the_choices():
    assert steering_method("ace") is METHODS["ace"]
    with pytest.raises(ValueError, match=r"`method` must be one of \['none', 'actadd'"):
        steering_method("leace")
    with pytest.raises(ValueError, match="`method` must be one of"):
        steering_method(None)


@pytest.mark.parametrize("change, match", [
    (dict(placement="somewhere"), "`placement` must be one of"),
    (dict(reads_alpha=True, fixed_alpha=0.5), "`fixed_alpha` is for a method without α"),
    (dict(fixed_alpha=float("nan")), "`fixed_alpha` must be finite"),
    (dict(sweep=0), "`sweep`"),
    (dict(panel=-1), "`panel` must be None or an index"),
    (dict(layer_sweep=True), "`layer_sweep` must be None or an index"),
    (dict(name=""), "`name` must be a non-empty string"),
])
def test_a_bad_entry_is_refused_naming_the_field(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(METHODS["directional_ablation"], **change)


def test_ordered_follows_the_indices_and_refuses_gaps():
    assert ordered("panel") == config.PANEL_METHODS
    gap = {"a": dataclasses.replace(METHODS["ace"], name="a", sweep=0),
           "b": dataclasses.replace(METHODS["actadd"], name="b", sweep=2)}
    with pytest.raises(ValueError, match="`sweep` indices of the steering methods must be 0, 1"):
        ordered("sweep", gap)
    with pytest.raises(ValueError, match="`field` must be one of"):
        ordered("colour")


def test_comparisons_and_colours():
    assert Comparison("ACE α=1", 1.0).short is None
    assert method_color("ace") == "#3b6fb6" and method_color("directional_ablation") == "#d1603d"
    assert all(method_color(name).startswith("#") for name in METHODS)  # derived where the entry has none
