"""The quadratic toy model of Scherlis et al. and its exact (closed-form) loss.

Features x ∈ R^n are i.i.d. with mean 0, variance 1 and kurtosis k = E[x⁴]. The target is
y = Σ_i v_i x_i² (importances v_i > 0); the model embeds x with W ∈ R^{d×n} (columns w_i) and
reads out ŷ = Σ_j (W_j·x)² + b = xᵀGx + b with the Gram matrix G = WᵀW.

With the best bias b = Σ_i (v_i − G_ii), the expected squared error is exactly

    L(W) = (k − 1) Σ_i (G_ii − v_i)² + 2 Σ_{i≠j} G_ij²

because Var(x_i²) = k − 1, the products x_i x_j (i<j) have variance 1, and all these terms are
uncorrelated. No sampling is needed; `monte_carlo_loss` in `features.py` checks it.
"""

from __future__ import annotations

import einops
import torch
from jaxtyping import Float
from torch import Tensor

from workbench.core.validation import check_finite_tensor


def gram(W: Float[Tensor, "*batch d n"]) -> Float[Tensor, "*batch n n"]:
    """G = WᵀW: G_ij = w_i·w_j for the columns w_i of each embedding."""
    return einops.einsum(W, W, "... d i, ... d j -> ... i j")


def _as_batch(value: float | Tensor, like: Tensor) -> Tensor:
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)


def per_feature_loss(
    W: Float[Tensor, "*batch d n"],
    importances: Float[Tensor, "*batch n"],
    kurtosis: float | Float[Tensor, "*batch"],
) -> Float[Tensor, "*batch n"]:
    """L_i = (k−1)(G_ii − v_i)² + 2 Σ_{j≠i} G_ij²; summing over i gives `closed_form_loss`."""
    G = gram(W)
    diag = torch.diagonal(G, dim1=-2, dim2=-1)
    k = _as_batch(kurtosis, W)[..., None]
    off = (G**2).sum(-1) - diag**2
    return (k - 1) * (diag - importances) ** 2 + 2 * off


def closed_form_loss(
    W: Float[Tensor, "*batch d n"],
    importances: Float[Tensor, "*batch n"] | Float[Tensor, " n"],
    kurtosis: float | Float[Tensor, "*batch"],
) -> Float[Tensor, "*batch"]:
    """Exact expected loss L(W) = (k−1) Σ_i (‖w_i‖² − v_i)² + 2 Σ_{i≠j} (w_i·w_j)² (best bias).

    Args:
        W: embeddings, shape [..., d, n].
        importances: v, shape [..., n] (broadcast against W's batch dims), all > 0.
        kurtosis: k = E[x⁴] ≥ 1, a float or a tensor of W's batch shape.
    Returns:
        the loss, shape W.shape[:-2].
    """
    check_finite_tensor("W", W, min_ndim=2)
    check_finite_tensor("importances", importances, min_ndim=1)
    if importances.shape[-1] != W.shape[-1]:
        raise ValueError(
            f"`importances` must have n={W.shape[-1]} entries (W's last dim); got {importances.shape[-1]}"
        )
    k = _as_batch(kurtosis, W)
    if not bool(torch.isfinite(k).all()) or bool((k < 1).any()):
        raise ValueError("`kurtosis` must be finite and >= 1 (E[x⁴] ≥ E[x²]² = 1)")
    return per_feature_loss(W, importances, k).sum(-1)


def optimal_feature_loss(
    C: Float[Tensor, "*batch n"],
    importances: Float[Tensor, "*batch n"],
    kurtosis: float | Float[Tensor, "*batch"],
) -> Float[Tensor, "*batch n"]:
    """L_i(C_i) = 2(k−1) v_i² (1 − C_i) / ((k−3) C_i + 2): L_i minimised over G_ii at fixed C_i.

    Derivation: Σ_{j≠i} G_ij² = G_ii² (1−C_i)/C_i, so L_i = (k−1)(g−v)² + 2g²(1−C)/C with g = G_ii;
    the minimum is at g* = (k−1) v C / ((k−3)C + 2), where L_i takes the value above.
    """
    k = _as_batch(kurtosis, C)[..., None]
    return 2 * (k - 1) * importances**2 * (1 - C) / ((k - 3) * C + 2)


def marginal_loss(
    C: Float[Tensor, "*batch n"],
    importances: Float[Tensor, "*batch n"],
    kurtosis: float | Float[Tensor, "*batch"],
) -> Float[Tensor, "*batch n"]:
    """∂L_i/∂C_i = −2 (k−1)² v_i² / ((k−3) C_i + 2)² (≤ 0: capacity always helps).

    Its magnitude falls with C_i when k > 3 (diminishing returns: polysemantic optima possible)
    and rises when k < 3 (increasing returns: all or nothing). At an optimum it equals one
    threshold −T for every feature with 0 < C_i < 1 (KKT).
    """
    k = _as_batch(kurtosis, C)[..., None]
    return -2 * (k - 1) ** 2 * importances**2 / ((k - 3) * C + 2) ** 2
