"""Random subspaces of parameter space: orthonormal bases, sparse projections, radii and spheres.

    random_orthonormal_basis(D, d)   M ∈ R^{D×d}, MᵀM = I: QR of a Gaussian (Haar-distributed span)
    sparse_projection(D, d)          Li et al. (2018)-style sparse ±1 columns, unit norm, nearly
                                     orthogonal; stored sparse, for D too large for a dense M
    points_at_radii(u, radii)        P = r·u/‖u‖ for every direction u and radius r   [..., R, D]
    point_at_radius(u, r)            the single-radius case
    sphere_basis(M, θ)               an orthonormal basis of span(M) with the radial direction θ̂
                                     removed: the tangent plane of the sphere ‖θ‖ = r at θ
    sphere_correction(grad, θ)       the geodesic term −(∇L·θ)/‖θ‖² added to the tangent Hessian
"""

from __future__ import annotations

import math

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.core.validation import check_finite_tensor, check_int, check_range


def random_orthonormal_basis(
    D: int,
    d: int,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> Float[Tensor, "D d"]:
    """d orthonormal columns spanning a uniformly random d-plane of R^D (QR of a Gaussian).

    The signs of R's diagonal are folded into Q so the distribution is exactly Haar (plain QR
    leaves a sign bias)."""
    D = check_int("D", D, low=1)
    check_int("d", d, low=1, high=D)
    G = torch.randn(D, d, generator=generator, dtype=torch.float64)
    Q, R = torch.linalg.qr(G)
    Q = Q * torch.sign(torch.diagonal(R)).where(torch.diagonal(R) != 0, torch.ones(()))
    return Q.to(dtype=dtype, device=device)


def sparse_projection(
    D: int,
    d: int,
    density: float | None = None,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
) -> Float[Tensor, "D d"]:
    """A sparse random projection (Achlioptas / Li et al. 2018): each entry is ±1 with probability
    `density` (default 1/√D), else 0; columns scaled to unit norm. Returned as a sparse COO tensor.

    Columns are orthogonal only in expectation (E[m_iᵀm_j] = 0, spread ~ 1/√(nnz)); memory is
    O(density·D·d) instead of O(D·d).
    """
    D = check_int("D", D, low=1)
    check_int("d", d, low=1, high=D)
    p = 1.0 / math.sqrt(D) if density is None else check_range("density", density, 0.0, 1.0, low_open=True)
    nnz = max(1, round(p * D))
    rows = torch.stack([torch.randperm(D, generator=generator)[:nnz] for _ in range(d)])  # [d, nnz]
    cols = torch.arange(d).repeat_interleave(nnz)
    signs = torch.randint(0, 2, (d * nnz,), generator=generator).to(dtype) * 2 - 1
    values = signs / math.sqrt(nnz)
    return torch.sparse_coo_tensor(
        torch.stack([rows.reshape(-1), cols]), values, (D, d), check_invariants=True
    ).coalesce()


def points_at_radii(
    u: Float[Tensor, "*S D"], radii: Float[Tensor, " R"] | list[float] | tuple[float, ...]
) -> Float[Tensor, "*S R D"]:
    """P[..., i, :] = radii[i]·u/‖u‖: the points at distance radii[i] from the origin along each
    direction u (a [D] vector or a [S, D] stack of them; every u non-zero, every radius > 0 and
    finite). Radii are absolute distances ‖P‖ here; a caller with ratios r/r_init passes
    ratios·r_init. The radii are cast to u's dtype first, so a float32 u gives float32 points."""
    check_finite_tensor("u", u, min_ndim=1)
    radii = torch.as_tensor(radii, dtype=torch.float64)
    if radii.ndim != 1 or not len(radii):
        raise ValueError(f"`radii` must be a non-empty 1-D sequence of distances; got shape {tuple(radii.shape)}")
    check_finite_tensor("radii", radii)
    if bool((radii <= 0).any()):
        raise ValueError(f"`radii` must be > 0; got {radii.min().item():g}")
    norm = u.norm(dim=-1, keepdim=True)
    if bool((norm == 0).any()):
        raise ValueError("`u` must be a non-zero direction (every row of a stack)")
    return (u / norm)[..., None, :] * radii.to(u)[:, None]


def point_at_radius(u: Float[Tensor, " D"], r: float) -> Float[Tensor, " D"]:
    """P = r·u/‖u‖ (r > 0, finite): `points_at_radii` at one radius."""
    r = check_range("r", r, low=0.0, low_open=True)
    return points_at_radii(u, [r])[..., 0, :]


def sphere_basis(M: Float[Tensor, "D d"], theta: Float[Tensor, " D"]) -> Float[Tensor, "D d"]:
    """Orthonormal basis of (I − θ̂θ̂ᵀ)·span(M): M with the radial direction removed, re-orthonormalised.

    These d directions lie in the tangent plane of the sphere ‖θ‖ = r at θ, so every column is
    orthogonal to θ (to round-off)."""
    check_finite_tensor("theta", theta, min_ndim=1)
    check_finite_tensor("M", M, min_ndim=2)
    if M.shape[0] != theta.shape[0]:
        raise ValueError(f"`M` must have {theta.shape[0]} rows (the length of theta); got {tuple(M.shape)}")
    check_int("d", M.shape[1], low=1, high=theta.shape[0] - 1)
    t = (theta / theta.norm()).to(torch.float64)
    P = M.to(torch.float64)
    P = P - torch.outer(t, t @ P)
    P = P - torch.outer(t, t @ P)  # twice: the first pass leaves O(eps) radial residue
    Q, _ = torch.linalg.qr(P)
    Q = Q - torch.outer(t, t @ Q)
    return Q.to(M.dtype)


def sphere_correction(grad: Float[Tensor, " D"], theta: Float[Tensor, " D"]) -> Float[Tensor, ""]:
    """−(∇L·θ)/‖θ‖²: along a unit-speed great circle γ through θ with γ'(0) = v ⊥ θ, γ''(0) = −θ/‖θ‖²,
    so d²L(γ)/dt² = vᵀHv − (∇L·θ)/‖θ‖². Add it times I_d to the tangent Hessian for the sphere's
    own (Riemannian) Hessian."""
    return -(grad @ theta) / (theta @ theta)
