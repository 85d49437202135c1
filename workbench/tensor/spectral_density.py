"""Stochastic Lanczos quadrature (SLQ): the spectral density of a symmetric operator from matvecs
(Lin, Saad & Yang 2016; for network Hessians Ghorbani, Krishnan & Xiao 2019 and PyHessian's
`density()`).

The spectral measure of A ∈ R^{D×D}, μ = (1/D) Σ_i δ(λ − λ_i), satisfies ∫ g dμ = Tr g(A)/D =
E_v[vᵀg(A)v] for v = z/√D, z Rademacher (E[vvᵀ] = I/D; ‖v‖ = 1). For one such v, k Lanczos steps
give the tridiagonal T = UΘUᵀ, and Gauss quadrature

    vᵀg(A)v ≈ Σ_j τ_j g(θ_j),   τ_j = U_0j²  (Σ_j τ_j = 1)

is exact for every polynomial g of degree ≤ 2k − 1. Averaging n_v probes,

    μ ≈ (1/n_v) Σ_l Σ_j τ_j⁽ˡ⁾ δ(λ − θ_j⁽ˡ⁾),

whose moments are unbiased for Tr(Aᵖ)/D (p ≤ 2k − 1). With k = D steps the nodes are A's
eigenvalues. A Gaussian of width σ on every node turns the measure into a density on a grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.core.validation import check_int, check_range
from workbench.tensor.curvature import LossFn, hessian_operator, lanczos_tridiagonal, rademacher


@dataclass(frozen=True, eq=False)
class SpectralDensity:
    """SLQ's quadrature: `nodes` (Ritz values) and `weights` τ per probe, [n_v, k] (a probe whose
    Krylov space closed early is padded with weight 0); every row of weights sums to 1."""

    nodes: Float[Tensor, "n_v k"]
    weights: Float[Tensor, "n_v k"]

    def moment(self, p: int) -> float:
        """∫ λᵖ dμ ≈ Tr(Aᵖ)/D: the mean over probes of Σ_j τ_j θ_jᵖ."""
        p = check_int("p", p, low=0)
        return float((self.weights * self.nodes.pow(p)).sum(-1).mean())

    def smoothed(self, grid: Float[Tensor, " G"], sigma: float) -> Float[Tensor, " G"]:
        """The density (1/n_v) Σ τ_j N(t; θ_j, σ²) at every t of `grid` (integrates to 1 over a grid
        wide enough to hold every node ± a few σ)."""
        sigma = check_range("sigma", sigma, low=0.0, low_open=True)
        t = torch.as_tensor(grid, dtype=self.nodes.dtype)
        z = (t[:, None, None] - self.nodes[None]) / sigma
        kernel = torch.exp(-0.5 * z * z) / (sigma * math.sqrt(2 * math.pi))
        return (kernel * self.weights[None]).sum(-1).mean(-1)


def slq(
    matvec: Callable[[Tensor], Tensor],
    dim: int,
    steps: int,
    n_vectors: int = 1,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> SpectralDensity:
    """SLQ with `n_vectors` Rademacher probes of `steps` Lanczos steps each (steps·n_vectors matvecs
    of the symmetric operator `matvec`: vector in, vector out)."""
    dim = check_int("dim", dim, low=1)
    steps = check_int("steps", steps, low=1, high=dim)
    n_vectors = check_int("n_vectors", n_vectors, low=1)
    nodes = torch.zeros(n_vectors, steps, dtype=dtype)
    weights = torch.zeros(n_vectors, steps, dtype=dtype)
    for row, z in enumerate(rademacher(n_vectors, dim, generator, dtype, device)):
        theta, U = torch.linalg.eigh(lanczos_tridiagonal(matvec, z, steps).cpu())
        nodes[row, : len(theta)] = theta
        weights[row, : len(theta)] = U[0] ** 2
    return SpectralDensity(nodes=nodes, weights=weights)


def hessian_density(
    f: LossFn,
    theta: Float[Tensor, " D"],
    steps: int = 90,
    n_vectors: int = 1,
    M: Float[Tensor, "D d"] | None = None,
    generator: torch.Generator | None = None,
) -> SpectralDensity:
    """The spectral density of ∇²f(θ) (or of Mᵀ∇²f(θ)M) by SLQ over forward-over-reverse HVPs
    (PyHessian's `density(iter=steps, n_v=n_vectors)`); Lanczos runs in float64."""
    matmat, dim = hessian_operator(f, theta, M, chunk=None)
    return slq(lambda v: matmat(v[None])[0], dim, min(steps, dim), n_vectors, generator, device=theta.device)
