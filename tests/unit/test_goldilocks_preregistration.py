"""Issue 24, items 3 and 4: the score's reliability on exact cases, the pre-registered verdict rule,
the power simulation, d₉₀ over the extended grid, and the summary's public keys."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from tests.unit.bad_inputs.support import goldilocks_result
from workbench.goldilocks.config import GoldilocksConfig
from workbench.goldilocks.preregistration import (
    ALPHA,
    expected_rho,
    mann_whitney_power,
    preregistered,
    verdict,
)
from workbench.goldilocks.scoring import hutchpp_moments, reliability, score_inits
from workbench.goldilocks.summary import summarize

D = 6
U = torch.tensor([1.0, 2.0, 0.0, -1.0, 0.5, 0.0], dtype=torch.float64)
V = torch.tensor([0.0, 1.0, 1.0, 0.0, -2.0, 1.0], dtype=torch.float64)


def rank_two(theta: torch.Tensor) -> torch.Tensor:
    """f = ¼(uᵀθ)⁴ + ¼(vᵀθ)⁴: H = 3(uᵀθ)²uuᵀ + 3(vᵀθ)²vvᵀ, rank 2, varying with θ."""
    return (U.to(theta) @ theta) ** 4 / 4 + (V.to(theta) @ theta) ** 4 / 4


def quartic(theta: torch.Tensor) -> torch.Tensor:
    """f = ¼Σ cᵢθᵢ⁴: a diagonal Hessian 3cᵢθᵢ², where Hutchinson's zᵀHz and ‖Hz‖² are exact."""
    return (torch.arange(1, D + 1, dtype=theta.dtype) * theta ** 4).sum() / 4


def test_hutchpp_moments_are_exact_for_a_rank_two_hessian() -> None:
    theta = torch.randn(D, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    H = torch.autograd.functional.hessian(rank_two, theta)
    m = hutchpp_moments(rank_two, theta, 6, torch.Generator().manual_seed(1))  # k = 2 ≥ rank
    assert torch.allclose(m, torch.stack([H.trace(), H.pow(2).sum()]), rtol=1e-9)


@pytest.mark.parametrize(("f", "estimator", "probes"), [(rank_two, "hutchpp", 6), (quartic, "hutchinson", 2)])
def test_an_exact_score_has_reliability_one(f, estimator, probes) -> None:
    thetas = torch.randn(8, D, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    measures, retest = score_inits(f, thetas, probes, seed=3, estimator=estimator)
    assert torch.allclose(retest[:, 0], retest[:, 1], rtol=1e-9)
    rel = reliability(retest[:, 0], retest[:, 1])
    assert rel["spearman_brown"] == pytest.approx(1.0)
    H = torch.stack([torch.autograd.functional.hessian(f, t) for t in thetas])
    exact = H.diagonal(dim1=-2, dim2=-1).sum(-1) / H.pow(2).sum((-1, -2)).sqrt()
    assert torch.allclose(measures[:, 0], exact, rtol=1e-9)


def test_common_probes_repeat_the_probes_for_every_init() -> None:
    theta = torch.randn(1, D, dtype=torch.float64).expand(3, D)
    _, retest = score_inits(rank_two, theta * torch.tensor([[1.0], [2.0], [3.0]], dtype=torch.float64), 1,
                            estimator="hutchinson", common=True)
    # H(cθ) = c²H(θ): with the same probes the scale-free ratio is the same for all three
    assert torch.allclose(retest[:, 0], retest[0, 0].expand(3))


def record(p_value: float, power: float) -> dict:
    return {"p_value": p_value, "power": power, "alpha": ALPHA}


def test_the_preregistered_verdict_rule() -> None:
    assert verdict(record(0.01, 0.1)) == "reproduced"          # a pass counts whatever the power
    assert verdict(record(0.2, 0.85)) == "not reproduced"      # a powered test that fails
    assert verdict(record(0.2, 0.3)).startswith("not testable here (power 0.30 < 0.8")
    assert verdict(record(ALPHA, 0.9)) == "not reproduced"      # p = α does not pass


def test_the_power_simulation_is_calibrated_and_grows_with_the_effect() -> None:
    steps = torch.arange(200, dtype=torch.float64) % 17 * 5.0  # ties, as steps on an evaluation grid have
    assert mann_whitney_power(0.0, steps, 50) == pytest.approx(ALPHA, abs=0.02)
    assert mann_whitney_power(-0.3, steps, 50) > 0.8
    assert mann_whitney_power(0.3, steps, 50) < 0.01           # the wrong direction never passes
    assert mann_whitney_power(-0.3, torch.full((200,), 5.0), 50) == 0.0
    assert expected_rho(-0.1, 0.25, 1.0) == pytest.approx(-0.2)
    assert expected_rho(-0.9, 0.1, 1.0) == -1.0
    pre = preregistered(0.3, 0.9, steps, 50)
    assert set(pre) >= {"outcome", "test", "alpha", "p_value", "power"} and pre["alpha"] == ALPHA


def test_d90_reads_the_extended_dims_only_at_the_extended_ratios() -> None:
    c = GoldilocksConfig.quick()  # train_dims (4, 16), d90_dims (32,) at ratio 1 (index 2 of 5)
    r = goldilocks_result(c)
    A, S = len(c.activations), c.seeds
    acc = torch.zeros(A, 2, S, 5)
    acc[:, 1, :, 0] = 0.95                                    # d = 16 reaches 90 % at ratio 0.1
    extra = torch.full((A, 1, S, 1), 0.95)                    # d = 32 reaches it at ratio 1
    r = dataclasses.replace(r, plane_acc=acc, sphere_acc=torch.zeros_like(acc), full_acc=torch.ones(A, S),
                            d90_plane_acc=extra, d90_sphere_acc=torch.zeros_like(extra))
    d90 = r.intrinsic_dimension("plane")
    assert d90[:, 0].tolist() == [16.0] * A and d90[:, 2].tolist() == [32.0] * A
    assert all(math.isnan(x) for x in d90[:, [1, 3, 4]].flatten().tolist())
    assert torch.isnan(r.intrinsic_dimension("sphere")).all()
    assert r.dims() == [4, 16, 32]


def test_config_refuses_a_d90_grid_off_the_training_grid() -> None:
    with pytest.raises(ValueError, match="d90_ratios"):
        GoldilocksConfig.quick().with_changes(d90_ratios=(0.5,))
    with pytest.raises(ValueError, match="d90_dims"):
        GoldilocksConfig.quick().with_changes(d90_dims=(8,))


def test_the_summary_has_the_public_keys(gl_quick) -> None:
    m = summarize(gl_quick)
    s = m["init_selection"]
    assert isinstance(s["reliability"], float) and 0 < s["reliability"] <= 1
    assert set(s["preregistered"]) >= {"outcome", "test", "alpha", "p_value", "power"}
    assert 0 <= s["preregistered"]["power"] <= 1 and s["preregistered"]["alpha"] == ALPHA
    assert "positive_fraction_top_vs_rest_steps" in s["at_r_init"]
    assert "initial_loss_top_vs_rest_steps" in s["at_r_init"]
    i = m["intrinsic_dimension"]
    assert i["dims"] == [*gl_quick.config.train_dims, *gl_quick.config.d90_dims]
    assert set(i["sphere"]) == set(gl_quick.config.activations)
    assert gl_quick.iso_plane_eigs.shape[1] == gl_quick.config.seeds
