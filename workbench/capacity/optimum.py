"""The exact optimal capacity allocation of the quadratic toy model: water-filling.

With L(W) = Σ_i L_i(C_i) at each feature's best norm (`optimal_feature_loss`),

    L_i(C) = 2 (k−1) v_i² (1 − C) / ((k−3) C + 2),

the optimum over capacities solves  min Σ_i L_i(C_i)  s.t.  0 ≤ C_i ≤ 1,  Σ_i C_i ≤ d
(every such vector is realisable by some W; Σ C_i ≤ rank W ≤ d). Three cases by kurtosis k:

- k > 3: each L_i is convex and decreasing, so KKT with one multiplier gives, for every feature
  strictly between 0 and 1, −∂L_i/∂C_i = 2(k−1)² v_i² / ((k−3)C_i + 2)² = T, i.e.

      C_i = clip((v_i/c − 2) / (k − 3), 0, 1),   c = √(T/2) / (k − 1),

  with the one scalar c set (by bisection) so that Σ_i C_i = d. Features with v_i ≥ (k−1)c get a
  whole dimension (monosemantic), those with v_i ≤ 2c nothing (ignored), those between share.
- k < 3: each L_i is concave, so the minimum sits at a vertex of the feasible set: C_i ∈ {0, 1}.
  A dimension saves L_i(0) − L_i(1) = (k−1) v_i², so the top-d features by importance get one each:
  all or nothing.
- k = 3: L_i = 2 v_i² (1 − C_i) is linear; the top-d answer is optimal, but so is any split of the
  last dimension among features of equal importance (degenerate). k = 1 (x_i² ≡ 1): every
  allocation has loss 0.

When d ≥ n every feature gets a whole dimension.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.capacity.loss import optimal_feature_loss
from workbench.core.validation import check_finite_tensor, check_int, check_range

BISECTION_STEPS = 200  # halvings of the bracket in log c: far below float64 resolution


def _top_d(v: Float[Tensor, "B n"], d: int) -> Float[Tensor, "B n"]:
    """C = 1 for the d most important features of each row (ties: the lower index), 0 elsewhere."""
    rank = torch.sort(v, dim=-1, descending=True, stable=True).indices.argsort(-1)
    return (rank < d).to(v.dtype)


def _water_fill(v: Float[Tensor, "B n"], k: Float[Tensor, " B"], d: int) -> Float[Tensor, "B n"]:
    """C_i = clip((v_i/c − 2)/(k − 3), 0, 1) with Σ C_i = d per row, c by bisection on log c
    (all rows at once: the phase diagram solves thousands)."""
    k = k[:, None]

    def filled(log_c: Tensor) -> Tensor:
        return ((v / log_c.exp() - 2) / (k - 3)).clamp(0.0, 1.0)

    # Σ filled(c) falls from n (c ≤ min v / (k−1)) to 0 (c ≥ max v / 2)
    lo = torch.log(v.min(-1, keepdim=True).values / (k - 1)) - 1
    hi = torch.log(v.max(-1, keepdim=True).values / 2) + 1
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        over = filled(mid).sum(-1, keepdim=True) > d
        lo, hi = torch.where(over, mid, lo), torch.where(over, hi, mid)
    return filled((lo + hi) / 2)


def allocation_grid(importances: Float[Tensor, "B n"], kurtoses: Float[Tensor, " B"], d: int) -> Float[Tensor, "B n"]:
    """`optimal_allocation` for B (importances, kurtosis) rows at once (inputs as checked there)."""
    v, k = importances.double(), kurtoses.double()
    if d >= v.shape[-1]:
        return torch.ones_like(v)
    out = _top_d(v, d)
    steep = k > 3
    if bool(steep.any()):
        out[steep] = _water_fill(v[steep], k[steep], d)
    return out


def optimal_allocation(importances: Float[Tensor, " n"], kurtosis: float, d: int) -> Float[Tensor, " n"]:
    """The capacities C [n] minimising Σ_i L_i(C_i) subject to 0 ≤ C_i ≤ 1 and Σ_i C_i ≤ d (the
    module docstring gives the three cases). Computed in float64."""
    v = check_finite_tensor("importances", torch.as_tensor(importances), min_ndim=1).double()
    if v.ndim != 1 or bool((v <= 0).any()):
        raise ValueError(f"`importances` must be a vector of positive numbers; got shape {tuple(v.shape)}")
    k = check_range("kurtosis", kurtosis, low=1.0)
    d = check_int("d", d, low=1)
    return allocation_grid(v[None], torch.tensor([k], dtype=torch.float64), d)[0]


def optimal_loss(importances: Float[Tensor, " n"], kurtosis: float, d: int) -> float:
    """The minimal loss Σ_i L_i(C_i*) of the quadratic model (`optimal_allocation`'s value)."""
    C = optimal_allocation(importances, kurtosis, d)
    if float(kurtosis) == 1.0:  # x_i² ≡ 1: the bias predicts y exactly (L_i(1) would read 0/0)
        return 0.0
    return float(optimal_feature_loss(C, torch.as_tensor(importances).double(), float(kurtosis)).sum())
