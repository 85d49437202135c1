"""Hutch++ (Meyer, Musco, Musco & Woodruff 2021): a trace estimator for matrices seen only through
products, with error O(1/m) in the number m of products where Hutchinson's is O(1/√m).

For a symmetric A ∈ R^{D×D} and k = m/3 (m products in all):

    S, G ∈ {±1}^{D×k}  (Rademacher, independent)
    Q = orth(A S)                                   k products: a sketch of A's top range
    Tr A = Tr(QᵀAQ) + Tr((I−QQᵀ)A(I−QQᵀ))           an identity, for any orthonormal Q
         ≈ Tr(QᵀAQ) + (1/k) Σ_i g̃_iᵀ A g̃_i,  g̃_i = (I−QQᵀ)g_i      k + k products

The first term is exact; the second is Hutchinson's estimator on the deflated matrix, unbiased
given Q (G is independent of S), so the whole estimate is unbiased. When A has rank ≤ k, A S spans
range(A), the deflated matrix is 0 and the estimate is exact. For PSD A, Meyer et al. show
|error| ≤ ε Tr A with probability 1 − δ from m = O(√log(1/δ)/ε) products; Hessians, whose spectra
are dominated by a few outliers, are where the deflation pays.

`hutchpp(matmat, dim, m)` works on any batched product (rows in, rows out); `hutchpp_trace(f, θ, m)`
is Tr ∇²f(θ) through vmapped forward-over-reverse HVPs (`workbench.tensor.curvature`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.core.validation import check_int
from workbench.tensor.curvature import LossFn, TraceEstimate, hessian_operator, quadratic_forms, rademacher

MatMat = Callable[[Tensor], Tensor]  # V [k, D] -> (A V^T)^T [k, D]: A applied to each row


def hutchpp(
    matmat: MatMat,
    dim: int,
    m: int,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
    quad: Callable[[Tensor], Tensor] | None = None,
) -> TraceEstimate:
    """Hutch++ estimate of Tr A from m ≥ 3 products with A (`matmat` maps rows v to rows Av).

    Only the sketch needs the products themselves; the other 2k uses are quadratic forms vᵀAv
    (Tr(QᵀAQ) = Σ_i q_iᵀAq_i), which `quad` (rows in, forms out) may compute more cheaply;
    by default (matmat(V)·V).sum(-1).

    k = m // 3 sketch, deflation and residual probes each (m rounded down to 3k). The result's
    `samples` are the k residual Hutchinson samples g̃ᵀAg̃ and `stderr` their standard error: the
    estimate's error given the sketch (the Tr(QᵀAQ) part carries none)."""
    dim = check_int("dim", dim, low=1)
    k = check_int("m", m, low=3) // 3
    S = rademacher(k, dim, generator, dtype, device)
    G = rademacher(k, dim, generator, dtype, device)
    if quad is None:
        def quad(V: Tensor) -> Tensor:
            return (matmat(V).to(dtype) * V).sum(-1)
    Q, _ = torch.linalg.qr(matmat(S).to(dtype).T)                      # [D, k'], k' = min(D, k)
    low_rank = quad(Q.T).to(dtype).sum()                                # Tr(QᵀAQ)
    Gt = G - (G @ Q) @ Q.T                                              # rows (I − QQᵀ)g
    samples = quad(Gt).to(dtype)
    stderr = float(samples.std() / math.sqrt(k)) if k > 1 else float("inf")
    return TraceEstimate(value=float(low_rank + samples.mean()), stderr=stderr, samples=samples.detach())


def hutchpp_trace(
    f: LossFn,
    theta: Float[Tensor, " D"],
    m: int,
    generator: torch.Generator | None = None,
    M: Float[Tensor, "D d"] | None = None,
    chunk: int | None = 256,
) -> TraceEstimate:
    """Tr ∇²f(θ) (or Tr Mᵀ∇²f(θ)M when `M` is given) by Hutch++ from m uses of ∇²f, in θ's dtype:
    the m/3 sketch products are one vmapped HVP call (`chunk` at a time), the 2m/3 quadratic forms
    one `quadratic_forms` call each (for an MLP's cross-entropy: forward tangents, no HVP)."""
    matmat, dim = hessian_operator(f, theta, M, chunk)
    dense = None if M is None else (M.to_dense() if M.is_sparse else M).to(theta)
    lift = (lambda V: V) if dense is None else (lambda V: V.to(theta.dtype) @ dense.T)
    return hutchpp(matmat, dim, m, generator=generator, dtype=theta.dtype, device=theta.device,
                   quad=lambda V: quadratic_forms(f, theta, lift(V), chunk))
