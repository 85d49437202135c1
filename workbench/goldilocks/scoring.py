"""Full-space curvature scores of an init, with their test–retest reliability.

Hutchinson with Rademacher probes z (E zzᵀ = I) estimates both moments of H = ∇²L(θ) from the
same n HVPs:

    Tr H  ≈ (1/n) Σ zᵢᵀ H zᵢ          ‖H‖_F² = Tr H² ≈ (1/n) Σ ‖H zᵢ‖²

and the score is their ratio Tr H / ‖H‖_F (the paper's Tr(H)/|H| on the whole space, not on a
random plane, so no plane noise). Two independent probe sets give a test and a retest score per
init; their correlation across inits is the score's reliability (how much of its spread is the
inits' and how much the probes'). The reported score pools both sets (2n probes).
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from scipy import stats
from torch import Tensor
from tqdm.auto import tqdm

from workbench.core.validation import check_int
from workbench.tensor.curvature import LossFn, batched_hvp


def hutchinson_moments(f: LossFn, theta: Float[Tensor, " D"], probes: Float[Tensor, "n D"]) -> Float[Tensor, "n 2"]:
    """Per probe z: (zᵀHz, ‖Hz‖²), unbiased samples of Tr H and ‖H‖_F² for Rademacher z."""
    Hz = batched_hvp(f, theta, probes)
    return torch.stack([(Hz * probes).sum(-1), Hz.pow(2).sum(-1)], -1)


def rademacher(n: int, D: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Float[Tensor, "n D"]:
    return torch.randint(0, 2, (n, D), generator=generator).to(dtype).mul_(2).sub_(1)


def moments_ratio(moments: Float[Tensor, "... n 2"]) -> Float[Tensor, "..."]:
    """Tr H / ‖H‖_F from probe samples: mean(zᵀHz) / √mean(‖Hz‖²)."""
    m = moments.double().mean(-2)
    return m[..., 0] / m[..., 1].clamp_min(1e-300).sqrt()


def score_inits(f: LossFn, thetas: Float[Tensor, "N D"], probes: int, seed: int = 0,
                progress: bool = False) -> tuple[Float[Tensor, "N 3"], Float[Tensor, "N 2"]]:
    """Columns (Tr/‖H‖_F, Tr H, L(θ)) of every init from 2·`probes` Rademacher probes, and the
    test and retest Tr/‖H‖_F (the first and second `probes` probes) per init."""
    check_int("probes", probes, low=1)
    gen = torch.Generator().manual_seed(seed)
    rows, retest = [], []
    for theta in tqdm(thetas, desc="scoring inits", disable=not progress, leave=False):
        z = rademacher(2 * probes, theta.shape[0], gen, theta.dtype).to(theta.device)
        m = hutchinson_moments(f, theta, z).double()                        # [2n, 2]
        rows.append(torch.stack([moments_ratio(m), m[:, 0].mean(), f(theta).detach().double()]))
        retest.append(torch.stack([moments_ratio(m[:probes]), moments_ratio(m[probes:])]))
    return torch.stack(rows).cpu(), torch.stack(retest).cpu()


def reliability(test: Float[Tensor, " N"], retest: Float[Tensor, " N"]) -> dict[str, float]:
    """Test–retest agreement across inits: Pearson r, Spearman ρ, and the Spearman–Brown
    reliability 2r/(1 + r) of the pooled (two-set) score."""
    a, b = test.double().tolist(), retest.double().tolist()
    if len(set(a)) < 2 or len(set(b)) < 2:
        return {"pearson": math.nan, "spearman": math.nan, "spearman_brown": math.nan}
    r = float(stats.pearsonr(a, b).statistic)
    return {"pearson": r, "spearman": float(stats.spearmanr(a, b).statistic),
            "spearman_brown": 2 * r / (1 + r) if r > -1 else math.nan}
