"""Numbers for the docs' claims table, measured from a `CapacityResult` (JSON-able)."""

from __future__ import annotations

from typing import Any

import torch

from workbench.capacity.analysis import best_over_seeds, derivation_check, gram_blocks, polysemantic_share
from workbench.capacity.capacity import capacity, regimes
from workbench.capacity.loss import marginal_loss
from workbench.capacity.result import CapacityResult


def _regime_counts(C: torch.Tensor) -> dict[str, int]:
    r = regimes(C)
    return {"monosemantic": int((r == 2).sum()), "polysemantic": int((r == 1).sum()), "ignored": int((r == 0).sum())}


def _importance_ordered(C: torch.Tensor, tol: float = 0.02) -> bool:
    """True when capacity never increases with feature index by more than tol (importance order)."""
    return bool((C[1:] - C[:-1] <= tol).all())


def summarize(result: CapacityResult) -> dict[str, Any]:
    """Per kurtosis (at the decay nearest `sweep_decay`): regime counts, Σ C_i, Gram blocks, the
    L_i(C_i) derivation gap, the spread of the marginal loss over polysemantic features; the
    d sweep's largest |Σ C_i − d|; regime counts of both architectures."""
    c = result.config
    li = result.sweep_decay_index()
    v = result.importances(li).double()
    best = result.best_W()[:, li].double()
    per_k = []
    for ki, k in enumerate(c.kurtosis):
        W = best[ki]
        C = capacity(W)
        blocks = gram_blocks(W)
        poly = regimes(C) == 1
        m = -marginal_loss(C, v, k)
        spread = float(m[poly].std() / m[poly].mean()) if int(poly.sum()) > 1 else None
        per_k.append({
            "kurtosis": k,
            **_regime_counts(C),
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
    out["polysemantic_share_grid"] = {
        "kurtosis": list(c.kurtosis), "decay": list(c.decay),
        "share": [[round(float(x), 3) for x in row] for row in polysemantic_share(result.capacities()).tolist()],
    }
    if c.d_sweep:
        totals = result.sweep_total_capacity()
        d = torch.tensor(c.d_sweep, dtype=totals.dtype)[:, None]
        out["d_sweep_max_abs_gap"] = float((totals - d).abs().max())
    if c.relu_feature_prob:
        relu_W = best_over_seeds(result.relu_W, result.relu_loss)
        relu_C = capacity(relu_W)
        quad_C = capacity(best_over_seeds(result.paired_W, result.paired_loss))
        out["architectures"] = [
            {"feature_prob": p, "relu": _regime_counts(relu_C[i]), "quadratic": _regime_counts(quad_C[i]),
             "relu_blocks": gram_blocks(relu_W[i]).sizes}
            for i, p in enumerate(c.relu_feature_prob)
        ]
    return out
