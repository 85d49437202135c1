"""Full-space init scores and their reliability; the isotropic-direction arm; the selection's
continuous association test."""

from __future__ import annotations

import itertools

import pytest
import torch

from workbench.goldilocks import GoldilocksConfig, association, reliability, score_inits
from workbench.goldilocks.experiment import directions, isotropic_directions, selection_inits
from workbench.goldilocks.scoring import hutchinson_moments, moments_ratio


def _quadratic(D: int = 5):
    g = torch.Generator().manual_seed(0)
    B = torch.randn(D, D, generator=g, dtype=torch.float64)
    A = (B + B.T) / 2 + torch.eye(D, dtype=torch.float64)
    return A, (lambda theta: 0.5 * theta @ A @ theta)


def test_hutchinson_moments_are_exact_over_every_sign_vector():
    A, f = _quadratic()
    z = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=5)), dtype=torch.float64)  # all 2^D probes
    m = hutchinson_moments(f, torch.zeros(5, dtype=torch.float64), z)
    assert float(m[:, 0].mean()) == pytest.approx(float(A.trace()))
    assert float(m[:, 1].mean()) == pytest.approx(float(A.pow(2).sum()))
    assert float(moments_ratio(m)) == pytest.approx(float(A.trace() / A.norm()))


def test_scores_test_retest_and_their_reliability():
    # a diagonal Hessian: zᵀAz = Tr A and ‖Az‖² = ‖A‖_F² for every sign vector, so every score is exact
    A = torch.diag(torch.tensor([3.0, -1.0, 2.0, 0.5, 1.0], dtype=torch.float64))
    def f(theta): return 0.5 * theta @ A @ theta
    thetas = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    measures, retest = score_inits(f, thetas, probes=3, seed=3)
    assert measures.shape == (6, 3) and retest.shape == (6, 2)
    truth = float(A.trace() / A.norm())
    assert torch.allclose(measures[:, 0], torch.full((6,), truth, dtype=torch.float64))
    assert torch.allclose(retest, torch.full((6, 2), truth, dtype=torch.float64))
    assert torch.allclose(measures[:, 1], torch.full((6,), float(A.trace()), dtype=torch.float64))
    assert torch.allclose(measures[:, 2], torch.stack([f(t) for t in thetas]))
    x = torch.arange(50, dtype=torch.float64)
    assert reliability(x, 2 * x + 1)["pearson"] == pytest.approx(1.0)
    assert reliability(x, 2 * x + 1)["spearman_brown"] == pytest.approx(1.0)
    noise = torch.randn(2, 2000, generator=torch.Generator().manual_seed(2))
    assert abs(reliability(noise[0], noise[1])["pearson"]) < 0.1


def test_association_is_one_sided_towards_faster_training():
    score = torch.arange(30, dtype=torch.float64)
    good = association(score, 100.0 - score)          # higher score, lower loss area
    assert good["spearman_rho"] == pytest.approx(-1.0) and good["p_value"] < 1e-6
    assert association(score, score)["p_value"] > 0.99
    assert association(score, 100.0 - score, higher_is_better=False)["p_value"] > 0.99  # e.g. initial loss


def test_isotropic_directions_include_biases_and_init_directions_do_not():
    c = GoldilocksConfig.quick()
    spec = c.spec("relu")
    layers = spec.layers
    bias_mask = torch.cat([torch.cat([torch.zeros(i * o), torch.ones(o)]) for i, o in layers]).bool()
    iso, init = isotropic_directions(c), directions(c)
    assert iso.shape == init.shape == (c.seeds, c.n_params)
    assert bool((init[:, bias_mask] == 0).all())
    assert bool((iso[:, bias_mask] != 0).all())
    # isotropic: every parameter has the same scale (weights and biases alike)
    assert float(iso[:, bias_mask].std()) == pytest.approx(float(iso[:, ~bias_mask].std()), rel=0.2)


def test_selection_inits_sit_at_their_ratios():
    c = GoldilocksConfig.quick()
    r_init = c.spec("relu").r_init(c.init)
    thetas, ratios = selection_inits(c, r_init)
    assert thetas.shape[0] == c.selection_inits + c.selection_controls
    assert torch.allclose(thetas.norm(dim=-1).double(), ratios * r_init, rtol=1e-5)
    assert bool((ratios[: c.selection_inits] == 1).all())
    low, high = c.selection_control_ratios
    assert bool(((ratios[c.selection_inits:] >= low) & (ratios[c.selection_inits:] <= high)).all())
    assert len(set(ratios[c.selection_inits:].tolist())) == c.selection_controls


def test_stored_isotropic_and_nested_spectra_are_what_they_claim(gl_quick):
    """The isotropic arm's H_d at one ratio r/r_init, and the nested-d measure, recomputed from scratch."""
    from workbench.goldilocks import hessian_bases, load_digits
    from workbench.goldilocks.sweep import points_at_ratios, random_bases
    from workbench.tensor.curvature import eigvals_trace_ratio, restricted_hessian

    c = gl_quick.config
    x, y = load_digits(seed=c.seed).subset(c.hessian_batch, seed=c.seed)
    a, ri = c.activations.index("relu"), 4
    f = c.spec("relu").loss_fn(x.double(), y)
    theta = points_at_ratios(isotropic_directions(c)[0].double(), [c.ratios[ri]], gl_quick.r_init)[0]
    H = restricted_hessian(f, theta, hessian_bases(c)[0, 1].double())
    eigs = torch.linalg.eigvalsh(H)
    assert torch.allclose(gl_quick.iso_plane_eigs[a, 0, 1, ri].double(), eigs, atol=1e-4 * float(eigs.abs().max()))
    # nested planes: d = compare_dims[0] is the leading block of the largest plane
    bases = random_bases(c.n_params, max(c.compare_dims), c.bases, torch.Generator().manual_seed(c.seed + 8))
    u = points_at_ratios(directions(c)[0].double(), [c.ratios[ri]], gl_quick.r_init)[0]
    k = c.compare_dims[0]
    Hk = restricted_hessian(f, u, bases[0, :, :k].double())
    want = float(eigvals_trace_ratio(torch.linalg.eigvalsh(Hk))) / k**0.5
    assert float(gl_quick.dims_ratio[a, 0, 0, ri]) == pytest.approx(want, abs=1e-3)
