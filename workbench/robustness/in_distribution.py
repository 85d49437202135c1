"""Did adversarial training change in-distribution performance? A paired test on the same texts.

ΔAUC = AUC(after) − AUC(before), both classifiers scoring the same test split. The 95 % interval is
a stratified paired bootstrap: each resample draws the injurious and the safe texts with
replacement (their counts kept) and scores BOTH classifiers' AUC on that one resample, so the
texts' shared difficulty cancels. The two-sided bootstrap p-value is 2 · min(P*(Δ ≤ 0), P*(Δ ≥ 0)).
"""

from __future__ import annotations

from typing import Any

import torch
from jaxtyping import Float, Int
from torch import Tensor

from workbench.core.validation import check_int
from workbench.tensor.separation import auc

RESAMPLES = 2000
_CHUNK = 100  # resamples per batched AUC: [chunk, n_pos, n_neg] comparisons at once


def paired_auc_test(labels: Int[Tensor, " n"], before: Float[Tensor, " n"], after: Float[Tensor, " n"],
                    resamples: int = RESAMPLES, seed: int = 0) -> dict[str, Any]:
    """{auc_before, auc_after, delta, ci95: [lo, hi], p_value, resamples, test} for two classifiers'
    scores `before` and `after` of the same texts with 0/1 `labels` (module docstring)."""
    check_int("resamples", resamples, low=100)
    y = labels.bool()
    if labels.shape != before.shape or labels.shape != after.shape or labels.ndim != 1:
        raise ValueError(f"`labels`, `before` and `after` must be one score per text; got shapes "
                         f"{tuple(labels.shape)}, {tuple(before.shape)}, {tuple(after.shape)}")
    if int(y.sum()) == 0 or int((~y).sum()) == 0:
        raise ValueError("`labels` must hold both injurious (1) and safe (0) texts")
    pos = torch.stack([before[y], after[y]]).double()  # [2, n_pos]
    neg = torch.stack([before[~y], after[~y]]).double()
    gen = torch.Generator().manual_seed(seed)
    deltas = []
    for start in range(0, resamples, _CHUNK):
        b = min(_CHUNK, resamples - start)
        ip = torch.randint(pos.shape[1], (b, pos.shape[1]), generator=gen)
        ineg = torch.randint(neg.shape[1], (b, neg.shape[1]), generator=gen)
        a = auc(pos[:, ip], neg[:, ineg])  # [2, b]
        deltas.append(a[1] - a[0])
    d = torch.cat(deltas)
    point = auc(pos, neg)
    lo, hi = torch.quantile(d, torch.tensor([0.025, 0.975], dtype=d.dtype)).tolist()
    p = min(1.0, 2 * min(float((d <= 0).double().mean()), float((d >= 0).double().mean())))
    return {"auc_before": float(point[0]), "auc_after": float(point[1]), "delta": float(point[1] - point[0]),
            "ci95": [lo, hi], "p_value": p, "resamples": resamples,
            "test": "stratified paired bootstrap of the AUC difference on the same test texts"}
