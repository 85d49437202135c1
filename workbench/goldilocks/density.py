"""The full-space Hessian's spectral density at three swept ratios r/r_init (below, in and above the zone), by
stochastic Lanczos quadrature — PyHessian's `density()` — beside the d-plane spectra of figure 3.

The ratios are the first activation's Tr(H_d)/‖H_d‖_F peak and the swept ratios nearest 10× below and
above it (`zone_indices`), on seed 0's direction, on the curvature batch. SLQ with n_v Rademacher
probes of k Lanczos steps gives Ritz values θ_j and weights τ_j per probe; the density is
(1/n_v) Σ_j τ_j δ(λ − θ_j), whose moments ∫λᵖ equal the Hutchinson estimates zᵀHᵖz/D (exactly for
p < 2k per probe; `workbench.tensor.spectral_density`).
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.goldilocks.config import GoldilocksConfig
from workbench.goldilocks.sweep import far_flags, points_at_ratios
from workbench.tensor.curvature import eigvals_trace_ratio, resolve_dtype
from workbench.tensor.spectral_density import SpectralDensity, hessian_density


def zone_indices(config: GoldilocksConfig, plane_eigs: Float[Tensor, "A S B R d"]) -> tuple[int, int, int]:
    """Indices into `config.ratios` of three swept ratios r/r_init: the first activation's mean
    trace-ratio peak, and the ratios nearest 10× below and above it."""
    peak = int(torch.argmax(eigvals_trace_ratio(plane_eigs[0]).mean((0, 1))))
    ratio = config.ratios[peak]
    return config.nearest_ratio(ratio / 10), peak, config.nearest_ratio(ratio * 10)


def zone_densities(
    config: GoldilocksConfig, x: Tensor, y: Tensor, direction: Float[Tensor, " D"], r_init: float,
    indices: tuple[int, ...],
) -> tuple[Float[Tensor, "A Z V k"], Float[Tensor, "A Z V k"]]:
    """SLQ nodes and weights of ∇²L at (ratio·r_init)·u/‖u‖ for every activation and every index into
    `config.ratios` (V = `density_probes`, k = `density_steps`), in the config's dtype, float64 from the
    ratio `float64_from` as the radius sweep (Lanczos itself runs in float64)."""
    A, Z, V, k = len(config.activations), len(indices), config.density_probes, config.density_steps
    nodes = torch.zeros(A, Z, V, k, dtype=torch.float64)
    weights = torch.zeros(A, Z, V, k, dtype=torch.float64)
    far = far_flags([config.ratios[i] for i in indices], config.float64_from)
    near_dt = resolve_dtype(config.dtype, direction.dtype)
    for a, act in enumerate(config.activations):
        for z, i in enumerate(indices):
            ratio = config.ratios[i]
            dt = torch.float64 if far[z] else near_dt
            f = config.spec(act).loss_fn(x.to(dt), y)
            theta = points_at_ratios(direction.to(dt), [ratio], r_init)[0]
            gen = torch.Generator().manual_seed(config.seed + 1000 * a + z)
            density = hessian_density(f, theta, steps=k, n_vectors=V, generator=gen)
            nodes[a, z], weights[a, z] = density.nodes, density.weights
    return nodes, weights


def density_curve(nodes: Float[Tensor, "V k"], weights: Float[Tensor, "V k"], points: int = 400
                  ) -> tuple[Float[Tensor, " G"], Float[Tensor, " G"]]:
    """The Gaussian-smoothed density on a grid over the Ritz values ± 5σ, σ = 1 % of their span
    (PyHessian's figure uses a fixed σ in absolute units; a relative one keeps every ratio legible)."""
    lo, hi = float(nodes.min()), float(nodes.max())
    sigma = max((hi - lo) * 0.01, 1e-12 * max(1.0, abs(hi)))
    grid = torch.linspace(lo - 5 * sigma, hi + 5 * sigma, points, dtype=torch.float64)
    return grid, SpectralDensity(nodes=nodes, weights=weights).smoothed(grid, sigma)

