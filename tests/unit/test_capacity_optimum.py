"""The exact optimum (water-filling for k > 3, top-d for k ≤ 3) against brute force: a grid over
capacity vectors of the reduced loss Σ L_i(C_i), and many-restart minimisation of the closed-form
loss over W itself; the KKT picture; the degenerate cases."""

from __future__ import annotations

import itertools

import pytest
import torch

from workbench.capacity import closed_form_loss, marginal_loss, optimal_allocation, optimal_feature_loss
from workbench.capacity.optimum import optimal_loss

KURTOSES = (1.5, 2.0, 3.0, 4.0, 8.0, 30.0)


def _grid_minimum(v: torch.Tensor, k: float, d: int, step: float = 0.01) -> float:
    """min Σ_i L_i(C_i) over the grid of C ∈ [0, 1]^n with Σ C ≤ d (n = 3)."""
    axis = torch.arange(0, 1 + step / 2, step, dtype=torch.float64)
    C = torch.stack(torch.meshgrid(*[axis] * v.numel(), indexing="ij"), -1).reshape(-1, v.numel())
    C = C[C.sum(-1) <= d + 1e-9]
    return float(optimal_feature_loss(C, v, k).sum(-1).min())


@pytest.mark.parametrize("k", KURTOSES)
@pytest.mark.parametrize("d", [1, 2])
def test_the_exact_allocation_beats_every_capacity_vector_on_a_grid(k, d):
    v = torch.tensor([1.0, 0.8, 0.55], dtype=torch.float64)
    C = optimal_allocation(v, k, d)
    best = float(optimal_feature_loss(C, v, k).sum())
    assert best <= _grid_minimum(v, k, d) + 1e-12
    assert best >= _grid_minimum(v, k, d, step=0.05) - 0.05  # and the grid comes close to it
    assert float(C.sum()) == pytest.approx(d, abs=1e-9) and bool(((C >= 0) & (C <= 1)).all())


def _trained_minimum(v: torch.Tensor, k: float, d: int, restarts: int = 24) -> float:
    """min over W ∈ R^{d×n} of the closed-form loss, L-BFGS from many random starts."""
    best = float("inf")
    generator = torch.Generator().manual_seed(0)
    for _ in range(restarts):
        W = (torch.randn(d, v.numel(), generator=generator, dtype=torch.float64) * 0.7).requires_grad_(True)
        opt = torch.optim.LBFGS([W], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                                line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = closed_form_loss(W, v, k)
            loss.backward()
            return loss

        opt.step(closure)
        best = min(best, float(closed_form_loss(W.detach(), v, k)))
    return best


@pytest.mark.parametrize("k", [1.5, 3.0, 5.0, 20.0])
def test_the_exact_loss_is_what_minimising_over_W_reaches(k):
    v = torch.tensor([1.0, 0.9, 0.6, 0.45], dtype=torch.float64)
    exact = optimal_loss(v, k, 2)
    trained = _trained_minimum(v, k, 2)
    assert trained >= exact - 1e-9  # no W does better than the optimum over capacities
    assert trained == pytest.approx(exact, rel=1e-6)


def test_water_filling_is_the_kkt_point():
    v = 0.9 ** torch.arange(20, dtype=torch.float64)
    for k in (4.0, 10.0, 100.0):
        C = optimal_allocation(v, k, 10)
        g = -marginal_loss(C, v, k)  # the benefit of one more unit of capacity
        poly = (C > 1e-9) & (C < 1 - 1e-9)
        threshold = g[poly].mean()
        assert bool(poly.any()) and float((g[poly] / threshold - 1).abs().max()) < 1e-9
        assert bool((g[C >= 1 - 1e-9] >= threshold * (1 - 1e-9)).all())   # mono: would take more
        assert bool((g[C <= 1e-9] <= threshold * (1 + 1e-9)).all())        # ignored: not worth it
        assert bool((C[:-1] >= C[1:] - 1e-12).all())  # capacity follows importance


def test_all_or_nothing_below_three_and_the_degenerate_cases():
    v = torch.tensor([0.3, 1.0, 0.5, 0.9], dtype=torch.float64)
    for k in (1.2, 2.5, 3.0):
        assert optimal_allocation(v, k, 2).tolist() == [0.0, 1.0, 0.0, 1.0]
    equal = torch.ones(4, dtype=torch.float64)  # k = 3, equal importances: every split of d is optimal
    splits = [torch.tensor(c, dtype=torch.float64) for c in itertools.product((0.0, 0.5, 1.0), repeat=4)
              if sum(c) == 2]
    losses = {round(float(optimal_feature_loss(C, equal, 3.0).sum()), 12) for C in splits}
    assert len(losses) == 1 and losses == {round(optimal_loss(equal, 3.0, 2), 12)}
    assert optimal_loss(v, 1.0, 2) == 0.0  # x² ≡ 1: nothing to predict
    assert optimal_allocation(v, 10.0, 4).tolist() == [1.0] * 4  # d ≥ n


@pytest.mark.parametrize(("args", "name"), [
    ((torch.tensor([1.0, -0.5]), 4.0, 1), "importances"), ((torch.tensor([1.0, float("nan")]), 4.0, 1), "importances"),
    ((torch.tensor([1.0, 0.5]), 0.5, 1), "kurtosis"), ((torch.tensor([1.0, 0.5]), 4.0, 0), "d"),
])
def test_bad_input_names_the_parameter(args, name):
    with pytest.raises(ValueError, match=f"`{name}`"):
        optimal_allocation(*args)


def test_the_relu_inputs_kurtosis_matches_sampling():
    from workbench.capacity.features import relu_input_kurtosis

    generator = torch.Generator().manual_seed(0)
    for p in (1.0, 0.3, 0.1):
        x = torch.rand(400_000, generator=generator, dtype=torch.float64)
        x = x * (torch.rand(400_000, generator=generator, dtype=torch.float64) < p)
        z = (x - x.mean()) / x.std()
        assert float((z**4).mean()) == pytest.approx(relu_input_kurtosis(p), rel=0.03)
    assert relu_input_kurtosis(1.0) == pytest.approx(1.8)  # uniform: 9/5, not the 3/p = 3 it was paired with


def test_block_regimes_read_membership_not_a_capacity_cut():
    from workbench.capacity import capacity
    from workbench.capacity.analysis import block_regimes

    # feature 0 alone on its axis; features 1–3 share two dimensions (C = 2/3 each); feature 4 off
    W = torch.zeros(3, 5, dtype=torch.float64)
    W[0, 0] = 1.0
    angles = torch.tensor([0.0, 2.0944, 4.1888], dtype=torch.float64)
    W[1, 1:4], W[2, 1:4] = torch.cos(angles), torch.sin(angles)
    assert block_regimes(W).tolist() == [2, 1, 1, 1, 0]
    # a block member with C = 0.989 (the exact optimum's at k = 50) is polysemantic, not "monosemantic"
    W2 = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    W2[1, 0] = 0.105  # a small overlap: C_0 ≈ 0.989
    assert float(capacity(W2)[0]) > 0.98 and block_regimes(W2).tolist() == [1, 1]
