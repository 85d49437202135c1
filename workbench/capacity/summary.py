"""Numbers for the docs' claims table, measured from a `CapacityResult` (JSON-able)."""

from __future__ import annotations

from typing import Any

import torch

from workbench.capacity.analysis import (
    best_over_seeds,
    block_regimes,
    derivation_check,
    exact_regimes,
    gram_blocks,
    optimal_gaps,
    polysemantic_share,
)
from workbench.capacity.capacity import capacity, regimes
from workbench.capacity.features import relu_input_kurtosis
from workbench.capacity.loss import marginal_loss
from workbench.capacity.optimum import optimal_loss
from workbench.capacity.result import CapacityResult


def _counts(r: torch.Tensor) -> dict[str, int]:
    return {"monosemantic": int((r == 2).sum()), "polysemantic": int((r == 1).sum()), "ignored": int((r == 0).sum())}


def _regime_counts(C: torch.Tensor) -> dict[str, int]:
    return _counts(regimes(C))


def _importance_ordered(C: torch.Tensor, tol: float = 0.02) -> bool:
    """True when capacity never increases with feature index by more than tol (importance order)."""
    return bool((C[1:] - C[:-1] <= tol).all())


def summarize(result: CapacityResult) -> dict[str, Any]:
    """Per kurtosis (at the decay nearest `sweep_decay`): regime counts by Gram blocks (and by the
    0.02 capacity cut), the exact optimum's counts and each trained model's loss gap to it, Σ C_i,
    the blocks, the L_i(C_i) derivation gap, the spread of the marginal loss over polysemantic
    features; the best gap to the exact optimum over the whole grid; the d sweep's largest
    |Σ C_i − d|; block regime counts of both architectures at the paired (measured) kurtosis."""
    c = result.config
    li = result.sweep_decay_index()
    v = result.importances(li).double()
    best = result.best_W()[:, li].double()
    per_k = []
    exact_all = result.exact_capacities(li)
    for ki, k in enumerate(c.kurtosis):
        W = best[ki]
        C = capacity(W)
        blocks = gram_blocks(W)
        poly = regimes(C) == 1
        m = -marginal_loss(C, v, k)
        spread = float(m[poly].std() / m[poly].mean()) if int(poly.sum()) > 1 else None
        exact = exact_all[ki]
        gaps = optimal_gaps(result.loss[ki, li], v, k, c.d)
        per_k.append({
            "best_loss": float(result.loss[ki, li].min()),
            "exact_loss": optimal_loss(v, k, c.d),
            "kurtosis": k,
            **_counts(block_regimes(W)),
            "by_capacity_cut": _regime_counts(C),
            "exact": _counts(exact_regimes(exact)),
            "max_abs_capacity_diff_to_exact": round(float((C - exact).abs().max()), 6),
            "best_seed_gap_to_exact": float(gaps.min()),
            "seeds_within_1e-4_of_exact": int((gaps < 1e-4).sum()),
            "total_capacity": round(float(C.sum()), 4),
            "importance_ordered": _importance_ordered(C),
            "block_sizes": blocks.sizes,
            "block_dims": [round(x, 3) for x in blocks.dims],
            "derivation_max_relative_gap": derivation_check(W, v, k).max_relative_gap,
            "marginal_loss_cv_polysemantic": spread,
            "seeds_within_1e-4_of_best": int((result.loss[ki, li] - result.loss[ki, li].min() < 1e-4).sum()),
        })
    out: dict[str, Any] = {"decay": c.decay[li], "n": c.n, "d": c.d, "seeds": c.seeds, "per_kurtosis": per_k,
                           "train_seconds": result.train_seconds}
    out["best_gap_to_exact_grid"] = result.optimal_gaps().min(-1).values.tolist()  # [kurtosis][decay]
    out["polysemantic_share_grid"] = {
        "kurtosis": list(c.kurtosis), "decay": list(c.decay),
        "share": [[round(float(x), 3) for x in row] for row in polysemantic_share(result.capacities()).tolist()],
        # the exact optimum's share (strictly 0 < C_i < 1), [kurtosis][decay] as `share`
        "exact_share": torch.stack([(exact_regimes(result.exact_capacities(li)) == 1).double().mean(-1)
                                    for li in range(len(c.decay))], dim=1).round(decimals=3).tolist(),
    }
    if c.d_sweep:
        totals = result.sweep_total_capacity()
        d = torch.tensor(c.d_sweep, dtype=totals.dtype)[:, None]
        out["d_sweep_max_abs_gap"] = float((totals - d).abs().max())
    if c.relu_feature_prob:
        relu_W = best_over_seeds(result.relu_W, result.relu_loss)
        quad_W = best_over_seeds(result.paired_W, result.paired_loss)
        out["architectures"] = [
            {"feature_prob": p, "paired_kurtosis": round(float(relu_input_kurtosis(p)), 3),
             "relu": _counts(block_regimes(relu_W[i])), "quadratic": _counts(block_regimes(quad_W[i])),
             "relu_blocks": gram_blocks(relu_W[i]).sizes}
            for i, p in enumerate(c.relu_feature_prob)
        ]
    return out
