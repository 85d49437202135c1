"""Math identities of the capacity suite: capacity, the closed-form loss, the L_i(C_i) derivation."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.optimize import minimize_scalar

from workbench.capacity import (
    capacity,
    closed_form_loss,
    importances,
    marginal_loss,
    monte_carlo_loss,
    optimal_feature_loss,
    per_feature_loss,
    sample_features,
    sparsity_to_kurtosis,
)


def test_orthonormal_embedding_gives_capacity_one_per_feature():
    Q, _ = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64))
    assert torch.allclose(capacity(Q), torch.ones(6, dtype=torch.float64), atol=1e-12)


def test_dedicated_columns_get_one_and_zero_columns_get_zero():
    W = torch.zeros(3, 5)
    W[0, 0], W[1, 1], W[2, 2] = 2.0, 0.5, 1.0
    assert capacity(W).tolist() == [1.0, 1.0, 1.0, 0.0, 0.0]


def test_two_features_sharing_one_neuron_equally_get_half_each():
    W = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert torch.allclose(capacity(W), torch.tensor([0.5, 0.5, 1.0]))


def test_antipodal_pair_also_gets_half_each():
    W = torch.tensor([[1.0, -1.0]])
    assert torch.allclose(capacity(W), torch.tensor([0.5, 0.5]))


@pytest.mark.parametrize("d,n", [(1, 4), (3, 10), (7, 8), (5, 40)])
def test_total_capacity_is_at_most_d(d, n):
    W = torch.randn(64, d, n, dtype=torch.float64, generator=torch.Generator().manual_seed(d * n))
    C = capacity(W)
    assert C.shape == (64, n)
    assert bool(((C >= 0) & (C <= 1 + 1e-12)).all())
    assert float(C.sum(-1).max()) <= d + 1e-9


def test_capacity_batches_like_a_loop():
    W = torch.randn(2, 3, 4, 9)
    looped = torch.stack([torch.stack([capacity(W[a, b]) for b in range(3)]) for a in range(2)])
    assert torch.allclose(capacity(W), looped)


def test_closed_form_sums_the_per_feature_losses():
    W = torch.randn(4, 9, dtype=torch.float64)
    v = importances(9, 0.8).double()
    assert torch.allclose(closed_form_loss(W, v, 7.0), per_feature_loss(W, v, 7.0).sum())


@pytest.mark.parametrize("family,k", [("sparse_rademacher", 1.5), ("sparse_rademacher", 8.0), ("sparse_gaussian", 5.0)])
def test_closed_form_matches_monte_carlo_within_error_bar(family, k):
    gen = torch.Generator().manual_seed(0)
    W = torch.randn(3, 6, generator=gen, dtype=torch.float64) / 3**0.5
    v = importances(6, 0.8).double()
    exact = float(closed_form_loss(W, v, k))
    mc, stderr = monte_carlo_loss(W, v, k, n_samples=400_000, family=family, generator=gen)
    assert abs(mc - exact) < 4 * stderr, (exact, mc, stderr)
    # and the error bar is tight enough that a wrong formula would fail (e.g. dropping the factor 2)
    wrong = float(
        (k - 1) * ((torch.diagonal(W.T @ W) - v) ** 2).sum()
        + ((W.T @ W) ** 2).sum()
        - (torch.diagonal(W.T @ W) ** 2).sum()
    )
    assert abs(mc - wrong) > 4 * stderr


@pytest.mark.parametrize(
    "family,k", [("sparse_rademacher", 1.0), ("sparse_rademacher", 4.0), ("sparse_gaussian", 10.0)]
)
def test_sampled_features_have_the_requested_moments(family, k):
    x = sample_features(400_000, 2, k, family, torch.Generator().manual_seed(1))
    assert abs(float(x.mean())) < 0.01
    assert abs(float((x**2).mean()) - 1) < 0.02
    assert abs(float((x**4).mean()) - k) < 0.05 * k


@pytest.mark.parametrize("k", [1.5, 3.0, 4.0, 20.0])
@pytest.mark.parametrize("C", [0.1, 0.5, 0.9])
def test_derived_feature_loss_is_the_minimum_over_the_norm(k, C):
    """L_i(C) = min_g (k−1)(g−v)² + 2g²(1−C)/C, checked against a numerical minimiser."""
    v = 0.7
    numeric = minimize_scalar(
        lambda g: (k - 1) * (g - v) ** 2 + 2 * g**2 * (1 - C) / C, bounds=(0, 10), method="bounded"
    )
    derived = float(
        optimal_feature_loss(torch.tensor([C], dtype=torch.float64), torch.tensor([v], dtype=torch.float64), k)
    )
    assert math.isclose(derived, numeric.fun, rel_tol=1e-6, abs_tol=1e-9)


@pytest.mark.parametrize("k", [1.5, 4.0, 30.0])
def test_marginal_loss_is_the_derivative_of_the_derived_loss(k):
    C = torch.linspace(0.05, 0.95, 7, dtype=torch.float64, requires_grad=True)
    v = torch.full((7,), 0.6, dtype=torch.float64)
    (grad,) = torch.autograd.grad(optimal_feature_loss(C, v, k).sum(), C)
    assert torch.allclose(grad, marginal_loss(C.detach(), v, k), rtol=1e-10)
    # diminishing returns for k > 3, increasing for k < 3
    magnitude = -marginal_loss(C.detach(), v, k)
    diffs = magnitude[1:] - magnitude[:-1]
    assert bool((diffs < 0).all()) if k > 3 else bool((diffs > 0).all())


def test_derived_loss_equals_per_feature_loss_at_the_optimal_norm():
    """Build w_i with a chosen C_i and the optimal G_ii; the per-feature loss equals L_i(C_i)."""
    k, v, C = 9.0, 0.8, 0.4
    g = (k - 1) * v * C / ((k - 3) * C + 2)
    off = math.sqrt(g**2 * (1 - C) / C)  # Σ_j≠i G_ij², put on one other feature j
    # two columns in R²: w_0 with ‖w_0‖² = g, w_1 with w_0·w_1 = off
    a = math.sqrt(g)
    W = torch.tensor([[a, off / a], [0.0, 1.0]], dtype=torch.float64)
    L0 = per_feature_loss(W, torch.tensor([v, 0.0], dtype=torch.float64), k)[0]
    assert math.isclose(float(capacity(W)[0]), C, rel_tol=1e-12)
    assert math.isclose(float(L0), float(optimal_feature_loss(torch.tensor([C]), torch.tensor([v]), k)), rel_tol=1e-6)


@pytest.mark.parametrize("p,k", [(1.0, 3.0), (0.1, 30.0)])
def test_sparsity_to_kurtosis(p, k):
    assert math.isclose(sparsity_to_kurtosis(p), k)


@pytest.mark.parametrize("p", [0.0, -0.1, 1.5, float("nan")])
def test_sparsity_outside_unit_interval_is_rejected(p):
    with pytest.raises(ValueError, match=r"`p`"):
        sparsity_to_kurtosis(p)


def test_bad_inputs_to_the_math_name_the_parameter():
    W = torch.randn(2, 4)
    v = torch.ones(4)
    with pytest.raises(ValueError, match="`kurtosis`.*>= 1"):
        closed_form_loss(W, v, 0.5)
    with pytest.raises(ValueError, match="`W` contains NaN"):
        capacity(torch.full((2, 3), float("nan")))
    with pytest.raises(ValueError, match="`importances` must have n=4"):
        closed_form_loss(W, torch.ones(3), 3.0)
    with pytest.raises(ValueError, match="`W` must have at least 2 dims"):
        capacity(torch.ones(3))
    with pytest.raises(ValueError, match="`kurtosis` must be >= 3 for family 'sparse_gaussian'"):
        sample_features(10, 2, 2.0, "sparse_gaussian")
    with pytest.raises(ValueError, match="`family`"):
        sample_features(10, 2, 2.0, "laplace")
