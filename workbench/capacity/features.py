"""Sampling features of a given kurtosis, and the Monte-Carlo loss that checks the closed form.

Two families, each mean 0, variance 1:
- "sparse_gaussian":   x = N(0, 1/p)·Bernoulli(p),        k = 3/p   (needs k ≥ 3)
- "sparse_rademacher": x = ±(1/√q)·Bernoulli(q), q = 1/k,  k = 1/q   (any k ≥ 1)
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.capacity.loss import gram
from workbench.core.validation import check_int, check_range

FAMILIES = ("sparse_gaussian", "sparse_rademacher")


def sparsity_to_kurtosis(p: float) -> float:
    """Kurtosis 3/p of the sparse Gaussian N(0, 1/p)·Bernoulli(p), for p in (0, 1]."""
    p = check_range("p", p, 0.0, 1.0, low_open=True, why="the probability a feature is active")
    return 3.0 / p


def relu_input_kurtosis(p: float | Tensor) -> float | Tensor:
    """Standardized kurtosis E[(x−μ)⁴]/σ⁴ of the ReLU-output model's inputs x = U[0,1]·Bernoulli(p).

    From the raw moments E[xᵐ] = p/(m+1): μ = p/2, σ² = p/3 − p²/4 and
    E[(x−μ)⁴] = p/5 − p²/2 + p³/2 − 3p⁴/16, so k = 1.8 at p = 1, 4.5 at 0.3, 16 at 0.1 and 58 at
    0.03 — not the 3/p of a sparse Gaussian, which pairs p = 1 with the degenerate k = 3."""
    central4 = p / 5 - p**2 / 2 + p**3 / 2 - 3 * p**4 / 16
    variance = p / 3 - p**2 / 4
    return central4 / variance**2


def sample_features(
    n_samples: int,
    n: int,
    kurtosis: float,
    family: str = "sparse_rademacher",
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
) -> Float[Tensor, "n_samples n"]:
    """Draw i.i.d. features with mean 0, variance 1 and kurtosis `kurtosis` (CPU)."""
    check_int("n_samples", n_samples, low=1)
    check_int("n", n, low=1)
    k = check_range("kurtosis", kurtosis, low=1.0, why="E[x⁴] ≥ E[x²]² = 1")
    shape = (n_samples, n)
    if family == "sparse_gaussian":
        if k < 3:
            raise ValueError(f"`kurtosis` must be >= 3 for family 'sparse_gaussian' (k = 3/p); got {k:g}")
        p = 3.0 / k
        active = torch.rand(shape, generator=generator, dtype=dtype) < p
        return torch.randn(shape, generator=generator, dtype=dtype) / math.sqrt(p) * active
    if family == "sparse_rademacher":
        q = 1.0 / k
        active = torch.rand(shape, generator=generator, dtype=dtype) < q
        sign = torch.randint(0, 2, shape, generator=generator).to(dtype) * 2 - 1
        return sign / math.sqrt(q) * active
    raise ValueError(f"`family` must be one of {FAMILIES}; got {family!r}")


def monte_carlo_loss(
    W: Float[Tensor, "d n"],
    importances: Float[Tensor, " n"],
    kurtosis: float,
    n_samples: int = 200_000,
    family: str = "sparse_rademacher",
    generator: torch.Generator | None = None,
    chunk: int = 50_000,
) -> tuple[float, float]:
    """Estimate E[(y − ŷ − b)²] by sampling; returns (mean, standard error).

    Uses the exact best bias b = Σ_i (v_i − G_ii) (since E[x_i²] = 1, E[x_i x_j] = 0), so the
    estimate is unbiased for `closed_form_loss`.
    """
    W64, v = W.detach().double().cpu(), importances.detach().double().cpu()
    G = gram(W64)
    bias = (v - torch.diagonal(G)).sum()
    total, total_sq, seen = 0.0, 0.0, 0
    while seen < n_samples:
        m = min(chunk, n_samples - seen)
        x = sample_features(m, W.shape[-1], kurtosis, family, generator)
        y = (x**2) @ v
        y_hat = ((x @ W64.T) ** 2).sum(-1) + bias
        err = (y - y_hat) ** 2
        total += float(err.sum())
        total_sq += float((err**2).sum())
        seen += m
    mean = total / seen
    var = max(total_sq / seen - mean**2, 0.0)
    return mean, math.sqrt(var / seen)
