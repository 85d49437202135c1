"""Hypersphere training and d₉₀: the sphere keeps its radius while training, the plane does not;
d₉₀ on a synthetic accuracy table with a known answer."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.goldilocks import GoldilocksConfig, load_digits
from workbench.goldilocks.intrinsic import (
    intrinsic_dimension,
    surface_points,
    train_on_surfaces,
)
from workbench.goldilocks.model import MLPSpec
from workbench.goldilocks.sweep import points_at_ratios, random_bases


def _setup(S: int = 2, Q: int = 3, d: int = 6):
    spec = MLPSpec(64, (8,), 10, "relu")
    gen = torch.Generator().manual_seed(0)
    u = torch.stack([spec.init("xavier", gen) for _ in range(S)])
    points = points_at_ratios(u, [0.3, 1.0, 4.0][:Q], spec.r_init("xavier"))      # [S, Q, D]
    bases = random_bases(spec.n_params, d, S, gen)
    return spec, points, bases


def test_sphere_points_keep_the_radius_exactly_while_training_and_planes_drift():
    spec, points, bases = _setup()
    data = load_digits(seed=0)
    radii = points.norm(dim=-1)
    out, phis = {}, {}
    for surface in ("plane", "sphere"):
        phi = train_on_surfaces(spec, points, bases, data.x_train, data.y_train, steps=15, lr=0.1, batch=64,
                                surface=surface, progress=False)
        assert phi.abs().max() > 0.05                       # φ moved
        out[surface], phis[surface] = surface_points(points, bases, phi, surface).norm(dim=-1), phi
    assert torch.allclose(out["sphere"], radii, rtol=1e-6)
    # the plane's radius moves: ‖P + Mφ‖² = r² + 2 Pᵀ(Mφ) + ‖φ‖² (M orthonormal)
    phi = phis["plane"]
    want = radii**2 + 2 * torch.einsum("sqD,sDd,sqd->sq", points, bases, phi) + phi.pow(2).sum(-1)
    assert torch.allclose(out["plane"] ** 2, want, rtol=1e-4)
    assert float((out["plane"] - radii).abs().max()) > 0.1


def test_sphere_steps_turn_by_the_same_angle_at_every_radius():
    spec, points, bases = _setup()
    r_init = spec.r_init("xavier")                     # points[:, 1] sit at exactly r_init
    phi = torch.randn(2, 1, 6, generator=torch.Generator().manual_seed(1)).expand(2, 3, 6)
    plane = surface_points(points, bases, phi, "plane")
    sphere = surface_points(points, bases, phi, "sphere", r_init)
    cos = torch.nn.functional.cosine_similarity
    # at r_init the sphere's point is the plane's, projected radially
    assert torch.allclose(cos(plane[:, 1], sphere[:, 1], dim=-1), torch.ones(2), atol=1e-6)
    # the same φ turns θ away from P by the same angle at 0.3, 1 and 4 r_init
    turn = cos(sphere, points, dim=-1)
    assert torch.allclose(turn, turn[:, 1:2].expand(2, 3), atol=1e-6) and float(turn.max()) < 0.999
    with pytest.raises(ValueError, match="`surface` must be one of"):
        surface_points(points, bases, phi, "torus")


def test_intrinsic_dimension_on_a_synthetic_table():
    dims = [8, 16, 32, 64]
    acc = torch.tensor([[0.10, 0.50, 0.85, 0.95],     # 0.9·0.95 = 0.855: first d reaching it is 64
                        [0.86, 0.90, 0.95, 0.95],     # already at d = 8
                        [0.20, 0.30, 0.40, 0.50],     # never: NaN
                        [0.20, 0.90, 0.10, 0.90]])    # the smallest d, not the last crossing
    got = intrinsic_dimension(acc, dims, reference=0.95)
    assert got[:2].tolist() == [64.0, 8.0] and math.isnan(float(got[2])) and float(got[3]) == 16.0
    per_row = intrinsic_dimension(acc[:2], dims, reference=torch.tensor([0.5, 0.99]))  # 0.45 and 0.891
    assert per_row.tolist() == [16.0, 16.0]
    with pytest.raises(ValueError, match="`dims` must be strictly increasing"):
        intrinsic_dimension(acc, [8, 8, 32, 64], 0.9)
    with pytest.raises(ValueError, match="one per d"):
        intrinsic_dimension(acc, [8, 16], 0.9)


def test_the_result_reads_d90_from_its_accuracies(gl_quick):
    c = gl_quick.config
    for surface in ("plane", "sphere"):
        want = intrinsic_dimension(gl_quick.surface_acc(surface).mean(2).transpose(1, 2), c.train_dims,
                                   gl_quick.full_acc.double().mean(1)[:, None], c.intrinsic_fraction)
        got = gl_quick.intrinsic_dimension(surface)
        assert got.shape == (len(c.activations), len(c.train_ratios))
        assert torch.equal(torch.nan_to_num(got, -1.0), torch.nan_to_num(want, -1.0))
    assert gl_quick.sphere_acc.shape == gl_quick.plane_acc.shape
    assert bool((gl_quick.full_acc > 0.5).all())          # the full-space reference does learn
    assert not torch.equal(gl_quick.sphere_acc, gl_quick.plane_acc)


def test_config_default_grid_spans_8_to_256():
    c = GoldilocksConfig()
    assert c.train_dims[0] == 8 and c.train_dims[-1] == 256
