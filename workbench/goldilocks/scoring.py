"""Full-space curvature scores of an init, with their test–retest reliability.

Two estimators of the first two moments of H = ∇²L(θ) ∈ R^{D×D}, both from Hessian-vector products
only. **Hutchinson** with n Rademacher probes z (E zzᵀ = I):

    Tr H  ≈ (1/n) Σ zᵢᵀ H zᵢ          ‖H‖_F² = Tr H² ≈ (1/n) Σ ‖H zᵢ‖²

**Hutch++** (Meyer et al. 2021) from m = 3k products: a sketch Q = orth(H S) (S: k Rademacher
columns) captures H's top range, where a classifier's Hessian keeps its few large outliers;
with P = QQᵀ and g̃ = (I − P) g for k fresh Rademacher g, both moments split into an exact part
on range(Q) and a Hutchinson part on the deflated rest (unbiased given Q, since G ⊥ S):

    Tr H    = Tr(QᵀHQ)  + Tr((I−P)H(I−P))  ≈ Σⱼ qⱼᵀHqⱼ + (1/k) Σᵢ g̃ᵢᵀHg̃ᵢ
    ‖H‖_F²  = ‖HQ‖_F²   + ‖H(I−P)‖_F²       ≈ Σⱼ ‖Hqⱼ‖² + (1/k) Σᵢ ‖Hg̃ᵢ‖²

(Tr H² = Tr(HPH) + Tr(H(I−P)H) because P + (I − P) = I; Tr(HPH) = Σ‖Hqⱼ‖²; E‖Hg̃‖² =
Tr((I−P)H²(I−P)) = Tr(H(I−P)H).) When rank H ≤ k both are exact. The score is their ratio
Tr H / ‖H‖_F on all D directions (the paper's Tr(H)/|H|, with no plane noise).

Reliability: two independent probe sets give a test and a retest score per init; their Pearson
correlation r across inits says how much of the score's spread is the inits' and how much the
probes'. The reported score pools both sets (moments averaged), whose reliability is the
Spearman–Brown 2r/(1 + r).

The positive-eigenvalue score (the paper's second measure) is the share of positive eigenvalues
of H_d = MᵀHM on random d-planes M, averaged over the planes (`plane_positive_share`).
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from scipy import stats
from torch import Tensor
from tqdm.auto import tqdm

from workbench.core.validation import check_choice, check_int
from workbench.tensor.curvature import LossFn, batched_hvp, eigvals_positive_fraction, restricted_eigvals

ESTIMATORS = ("hutchpp", "hutchinson")


def hutchinson_moments(f: LossFn, theta: Float[Tensor, " D"], probes: Float[Tensor, "n D"]) -> Float[Tensor, "n 2"]:
    """Per probe z: (zᵀHz, ‖Hz‖²), unbiased samples of Tr H and ‖H‖_F² for Rademacher z."""
    Hz = batched_hvp(f, theta, probes)
    return torch.stack([(Hz * probes).sum(-1), Hz.pow(2).sum(-1)], -1)


def rademacher(n: int, D: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> Float[Tensor, "n D"]:
    return torch.randint(0, 2, (n, D), generator=generator).to(dtype).mul_(2).sub_(1)


def hutchpp_moments(f: LossFn, theta: Float[Tensor, " D"], m: int, generator: torch.Generator) -> Float[Tensor, " 2"]:
    """(Tr H, ‖H‖_F²) by Hutch++ from m products (k = m // 3 each for the sketch H S, the range H Q
    and the deflated probes H g̃; module docstring). float64 result."""
    k = check_int("m", m, low=3) // 3
    D = theta.shape[0]
    S = rademacher(k, D, generator, theta.dtype).to(theta.device)
    G = rademacher(k, D, generator, torch.float64).to(theta.device)
    Q, _ = torch.linalg.qr(batched_hvp(f, theta, S).double().T)          # [D, k'] orthonormal
    Gt = G - (G @ Q) @ Q.T                                               # rows (I − QQᵀ)g
    V = torch.cat([Q.T, Gt]).to(theta.dtype)
    HV = batched_hvp(f, theta, V).double()
    HQ, HG = HV[:Q.shape[1]], HV[Q.shape[1]:]
    trace = (HQ * Q.T).sum() + (HG * Gt).sum(-1).mean()
    frob2 = HQ.pow(2).sum() + HG.pow(2).sum(-1).mean()
    return torch.stack([trace, frob2])


def moments_ratio(moments: Float[Tensor, "... n 2"]) -> Float[Tensor, "..."]:
    """Tr H / ‖H‖_F from moment samples: mean(Tr samples) / √mean(‖H‖_F² samples)."""
    m = moments.double().mean(-2)
    return m[..., 0] / m[..., 1].clamp_min(1e-300).sqrt()


def _two_sets(f: LossFn, theta: Tensor, probes: int, gen: torch.Generator, estimator: str) -> Tensor:
    """[2, 2]: (Tr H, ‖H‖_F²) from each of two independent probe sets of `probes` products."""
    if estimator == "hutchpp":
        return torch.stack([hutchpp_moments(f, theta, probes, gen) for _ in range(2)])
    z = rademacher(2 * probes, theta.shape[0], gen, theta.dtype).to(theta.device)
    return hutchinson_moments(f, theta, z).double().reshape(2, probes, 2).mean(1)


def score_inits(f: LossFn, thetas: Float[Tensor, "N D"], probes: int, seed: int = 0, progress: bool = False,
                estimator: str = "hutchinson", common: bool = True
                ) -> tuple[Float[Tensor, "N 3"], Float[Tensor, "N 2"]]:
    """Columns (Tr/‖H‖_F, Tr H, L(θ)) of every init from two independent probe sets of `probes`
    products each (`estimator` 'hutchpp' or 'hutchinson'; the moments of both sets pooled), and
    the test and retest Tr/‖H‖_F (one per set) per init. `common`: every init gets the same two
    probe sets (common random numbers: the probe noise, which depends on H, is then alike for
    similar Hessians and cancels in the comparison across inits; the two sets stay independent)."""
    check_int("probes", probes, low=3 if estimator == "hutchpp" else 1)
    check_choice("estimator", estimator, ESTIMATORS)
    gen = torch.Generator().manual_seed(seed)
    rows, retest = [], []
    for theta in tqdm(thetas, desc="scoring inits", disable=not progress, leave=False):
        if common:
            gen.manual_seed(seed)
        m = _two_sets(f, theta, probes, gen, estimator)                     # [2 sets, 2 moments]
        rows.append(torch.stack([moments_ratio(m), m[:, 0].mean(), f(theta).detach().double()]))
        retest.append(torch.stack([moments_ratio(m[:1]), moments_ratio(m[1:])]))
    return torch.stack(rows).cpu(), torch.stack(retest).cpu()


def plane_positive_share(f: LossFn, thetas: Float[Tensor, "N D"], bases: Float[Tensor, "B D d"],
                         chunk: int = 16) -> Float[Tensor, "N 2"]:
    """Share of positive eigenvalues of H_d = M_bᵀ∇²L(θ)M_b per init, averaged over the first and
    over the second half of the B planes (test, retest; B ≥ 2), `chunk` inits per call."""
    B = bases.shape[0]
    check_int("planes", B, low=2)
    out = [eigvals_positive_fraction(restricted_eigvals(f, thetas[i:i + chunk], bases)) for i in
           range(0, thetas.shape[0], chunk)]
    share = torch.cat(out).double()                                          # [N, B]
    return torch.stack([share[:, :B // 2].mean(-1), share[:, B // 2:].mean(-1)], -1).cpu()


def reliability(test: Float[Tensor, " N"], retest: Float[Tensor, " N"]) -> dict[str, float]:
    """Test–retest agreement across inits: Pearson r, Spearman ρ, and the Spearman–Brown
    reliability 2r/(1 + r) of the pooled (two-set) score."""
    a, b = test.double().tolist(), retest.double().tolist()
    if len(set(a)) < 2 or len(set(b)) < 2:
        return {"pearson": math.nan, "spearman": math.nan, "spearman_brown": math.nan}
    r = float(stats.pearsonr(a, b).statistic)
    return {"pearson": r, "spearman": float(stats.spearmanr(a, b).statistic),
            "spearman_brown": 2 * r / (1 + r) if r > -1 else math.nan}
