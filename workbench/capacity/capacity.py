"""Capacity: the fraction of an embedding dimension a feature gets (Scherlis et al., eq. for C_i).

    C_i = (w_i·w_i)² / Σ_j (w_i·w_j)²   ∈ [0, 1]

C_i = 1 when w_i is orthogonal to every other column (a dedicated, monosemantic direction) and 0
when w_i = 0 (ignored). Over features, Σ_i C_i ≤ rank(W) ≤ d. Works on any embedding matrix:
a toy model's W, a real model's MLP input weights, an SAE decoder (transpose to [d, n]).
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.capacity.loss import gram
from workbench.core.validation import check_finite_tensor


def capacity(W: Float[Tensor, "*batch d n"]) -> Float[Tensor, "*batch n"]:
    """Per-feature capacity C_i of each embedding; a zero column has capacity 0."""
    check_finite_tensor("W", W, min_ndim=2)
    G = gram(W)
    diag = torch.diagonal(G, dim1=-2, dim2=-1)
    denom = (G**2).sum(-1)
    return torch.where(denom > 0, diag**2 / denom.clamp_min(torch.finfo(G.dtype).tiny), torch.zeros_like(diag))


def regimes(C: Float[Tensor, "*batch n"], tol: float = 0.02) -> Tensor:
    """Classify each feature: 2 = monosemantic (C > 1−tol), 1 = polysemantic, 0 = ignored (C < tol)."""
    out = torch.ones_like(C, dtype=torch.long)
    out[C > 1 - tol] = 2
    out[C < tol] = 0
    return out
