"""Curvature of a scalar loss of a flat parameter vector: HVPs, restricted Hessians, traces, spectra.

Everything here is pure math on `f: Float[Tensor, "D"] -> scalar` (a loss as a function of the
flattened parameters θ ∈ R^D) and, where a subspace is involved, a basis M ∈ R^{D×d}:

    hvp(f, θ, v)                 = ∇²f(θ) v                      forward-over-reverse: jvp of grad
    restricted_hessian(f, θ, M)  = Mᵀ ∇²f(θ) M        [d, d]     one vmapped call over M's columns
    restricted_hessians(f, Θ, M) = M_bᵀ ∇²f(θ_p) M_b  [P, B, k, k] P points × B bases, nested vmap
    restricted_eigvals(f, Θ, Ms) eigenvalues of the above          [P, B, d] ascending, float64
    plane_and_sphere_eigvals     the same for planes and their sphere tangent planes, points on a ray
    eigvals_trace_ratio(λ)       Tr H/‖H‖_F = Σλ/√Σλ²              (trace_ratio(H) = this of eigvalsh H)
    eigvals_positive_fraction(λ) #{λ > 0}/d                        (positive_fraction(H) likewise)
    quadratic_forms(f, θ, V)     vᵀ∇²f(θ)v per row of V             [k]
    hutchinson_trace(f, θ, n)    ≈ Tr ∇²f(θ) = E[zᵀ∇²f z]        z Rademacher, n samples, vmapped
    lanczos(matvec, dim, steps)  Ritz values: the top and bottom of the spectrum
    hessian_operator(f, θ, M)    the matrix-free ∇²f (or Mᵀ∇²fM) the estimators take

Beside it: `trace_estimators` (Hutch++), `spectral_density` (stochastic Lanczos quadrature) and
`mlp_curvature` (an MLP's exact restricted Hessians from forward tangents, used by
`restricted_hessians` and `quadratic_forms` when f is a `StructuredHessian` such as
`MLPCrossEntropy`).

No D×D Hessian is ever formed. Forward-over-reverse (`torch.func.jvp` of `torch.func.grad`) costs
about one extra forward pass per HVP and, unlike double backward, vmaps: a whole basis of
tangents goes through one batched call.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
from jaxtyping import Float
from torch import Tensor
from torch.func import grad, jvp, vmap

from workbench.core.validation import check_finite_tensor, check_int
from workbench.tensor.subspaces import sphere_basis

LossFn = Callable[[Tensor], Tensor]


@runtime_checkable
class StructuredHessian(Protocol):
    """A loss θ ↦ L(θ) that computes its own restricted Hessians exactly (e.g.
    `workbench.tensor.mlp_curvature.MLPCrossEntropy`): `restricted_hessians` hands over to it."""

    def __call__(self, theta: Tensor) -> Tensor: ...

    def restricted_hessians(self, thetas: Tensor, M: Tensor, blocks: int, chunk: int | None = None) -> Tensor: ...

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_dtype(dtype: str | torch.dtype | None, default: torch.dtype) -> torch.dtype:
    """`None` -> `default`; 'float32'/'float64' or the torch dtypes themselves."""
    if dtype is None:
        return default
    if isinstance(dtype, str) and dtype in DTYPES:
        return DTYPES[dtype]
    if dtype in DTYPES.values():
        return dtype  # type: ignore[return-value]
    raise ValueError(f"`dtype` must be one of {sorted(DTYPES)} (or torch.float32/float64); got {dtype!r}")


def _check_theta(theta: Tensor) -> Tensor:
    check_finite_tensor("theta", theta)
    if theta.ndim != 1:
        raise ValueError(f"`theta` must be a flat parameter vector of shape [D]; got shape {tuple(theta.shape)}")
    return theta


def _check_basis(M: Tensor, D: int) -> Tensor:
    if M.is_sparse or M.layout != torch.strided:
        M = M.to_dense()  # a sparse projection saves storage; the tangents fed to jvp are dense anyway
    check_finite_tensor("M", M)
    if M.ndim != 2 or M.shape[0] != D:
        raise ValueError(f"`M` must have shape [D, d] with D = {D} (the length of theta); got {tuple(M.shape)}")
    check_int("d", M.shape[1], low=1, high=D)
    return M


def hvp(f: LossFn, theta: Float[Tensor, " D"], v: Float[Tensor, " D"]) -> Float[Tensor, " D"]:
    """∇²f(θ) v by forward-over-reverse: the directional derivative of ∇f along v (exact, no FD)."""
    return jvp(grad(f), (theta,), (v,))[1]


def batched_hvp(
    f: LossFn, theta: Float[Tensor, " D"], V: Float[Tensor, "k D"], chunk: int | None = None
) -> Float[Tensor, "k D"]:
    """∇²f(θ) v for every row v of V, in one vmapped call (`chunk` rows at a time when set)."""
    return vmap(lambda v: hvp(f, theta, v), chunk_size=chunk)(V)


def rademacher(k: int, dim: int, generator: torch.Generator | None, dtype: torch.dtype,
               device: str | torch.device = "cpu") -> Float[Tensor, "k dim"]:
    """k rows of independent ±1 entries, drawn on the CPU from `generator` (so a seed gives the
    same probes on every device)."""
    return torch.randint(0, 2, (k, dim), generator=generator).to(dtype).mul_(2).sub_(1).to(device)


def hessian_operator(
    f: LossFn, theta: Float[Tensor, " D"], M: Float[Tensor, "D d"] | None = None, chunk: int | None = 256
) -> tuple[Callable[[Tensor], Tensor], int]:
    """(matmat, dim): rows v ↦ rows ∇²f(θ)v (dim = D), or, with a basis M, rows φ ↦ rows
    Mᵀ∇²f(θ)Mφ (dim = d); one vmapped HVP call per matmat (`chunk` rows at a time), in θ's dtype.
    The matrix-free operator the trace and spectrum estimators take."""
    theta = _check_theta(theta)
    if M is None:
        return (lambda V: batched_hvp(f, theta, V.to(theta.dtype), chunk)), theta.shape[0]
    M = _check_basis(M, theta.shape[0]).to(theta)
    return (lambda V: batched_hvp(f, theta, V.to(theta.dtype) @ M.T, chunk) @ M), M.shape[1]


def quadratic_forms(
    f: LossFn, theta: Float[Tensor, " D"], V: Float[Tensor, "k D"], chunk: int | None = 256
) -> Float[Tensor, " k"]:
    """vᵀ∇²f(θ)v for every row v of V (the diagonal of V∇²f(θ)Vᵀ), in θ's dtype. A
    `StructuredHessian` f gives them as k 1×1 restricted Hessians (an MLP: forward tangents, no
    HVP); any other f through vmapped HVPs (`chunk` rows at a time)."""
    theta = _check_theta(theta)
    if V.ndim != 2 or V.shape[1] != theta.shape[0]:
        raise ValueError(
            f"`V` must have shape [k, D] with D = {theta.shape[0]} (the length of theta); got {tuple(V.shape)}"
        )
    V = V.to(theta.dtype)
    if isinstance(f, StructuredHessian):
        return f.restricted_hessians(theta[None], V.T, V.shape[0], chunk)[0, :, 0, 0]
    return (batched_hvp(f, theta, V, chunk) * V).sum(-1)


def restricted_hessian(
    f: LossFn,
    theta: Float[Tensor, " D"],
    M: Float[Tensor, "D d"],
    dtype: str | torch.dtype | None = None,
    chunk: int | None = None,
) -> Float[Tensor, "d d"]:
    """H_d = Mᵀ ∇²f(θ) M, the Hessian of φ ↦ f(θ + Mφ) at φ = 0: `restricted_hessians` at one
    point for one basis.

    The d HVPs ∇²f(θ) m_j (m_j the columns of M) are ONE vmapped forward-over-reverse call; the
    D×D Hessian is never formed. `dtype='float64'` casts θ and M first (f must follow θ's dtype).
    """
    theta = _check_theta(theta)
    dt = resolve_dtype(dtype, theta.dtype)
    return restricted_hessians(f, theta.to(dt)[None], _check_basis(M, theta.shape[0]).to(dt), chunk=chunk)[0, 0]


def restricted_hessians(
    f: LossFn,
    thetas: Float[Tensor, "P D"],
    M: Float[Tensor, "D d"],
    blocks: int = 1,
    chunk: int | None = None,
) -> Float[Tensor, "P blocks d/blocks d/blocks"]:
    """Restricted Hessians at many points and for many bases at once (nested vmap).

    `M` holds `blocks` bases side by side ([D, blocks·k]); the result has one k×k Hessian per
    (point, block): out[p, b] = M_bᵀ ∇²f(θ_p) M_b, with (H m_j)·m_k = m_kᵀ H m_j. One call evaluates
    P·blocks·k HVPs (`chunk` of them at a time per point when set). The result is symmetrised,
    (H + Hᵀ)/2, which removes round-off asymmetry only. A `StructuredHessian` f (an MLP's
    cross-entropy) computes the same matrices with its own exact formula instead of HVPs.
    """
    if thetas.ndim != 2:
        raise ValueError(f"`thetas` must have shape [P, D]; got {tuple(thetas.shape)}")
    check_finite_tensor("thetas", thetas)
    M = _check_basis(M, thetas.shape[1])
    check_int("blocks", blocks, low=1, high=M.shape[1])
    if M.shape[1] % blocks:
        raise ValueError(f"`blocks` must divide M's {M.shape[1]} columns; got {blocks}")
    M = M.to(thetas.dtype)
    k = M.shape[1] // blocks
    if isinstance(f, StructuredHessian):  # e.g. an MLP's cross-entropy: its own exact, cheaper formula
        H = f.restricted_hessians(thetas, M, blocks, chunk)
        return (H + H.transpose(-1, -2)) / 2
    HM = vmap(lambda th: batched_hvp(f, th, M.T, chunk))(thetas)          # [P, blocks·k, D]
    HM = HM.reshape(thetas.shape[0], blocks, k, -1)
    Mb = M.T.reshape(blocks, k, -1)                                        # [blocks, k, D]
    H = torch.einsum("pbjD,bkD->pbjk", HM, Mb)
    return (H + H.transpose(-1, -2)) / 2


def restricted_eigvals(
    f: LossFn,
    thetas: Float[Tensor, "P D"],
    bases: Float[Tensor, "B D d"],
    chunk: int | None = None,
) -> Float[Tensor, "P B d"]:
    """Eigenvalues (ascending, float64) of H_pb = M_bᵀ ∇²f(θ_p) M_b for every point and basis.

    The B bases go side by side into `restricted_hessians` as B blocks, so all P·B·d HVPs are one
    nested vmapped call (`chunk` HVPs at a time per point when set). eigvalsh runs in float64: the
    small eigenvalues whose sign the positive fraction counts sit near float32 round-off of H.
    """
    if bases.ndim != 3:
        raise ValueError(f"`bases` must have shape [B, D, d]; got {tuple(bases.shape)}")
    B, D, d = bases.shape
    M = bases.permute(1, 0, 2).reshape(D, B * d)  # column b·d + j is basis b's column j
    return torch.linalg.eigvalsh(restricted_hessians(f, thetas, M, blocks=B, chunk=chunk).double())


def plane_and_sphere_eigvals(
    f: LossFn,
    thetas: Float[Tensor, "P D"],
    bases: Float[Tensor, "B D d"],
    chunk: int | None = None,
) -> tuple[Float[Tensor, "P B d"], Float[Tensor, "P B d"]]:
    """Eigenvalues (ascending, float64) of M_bᵀ∇²f(θ_p)M_b and of S_bᵀ∇²f(θ_p)S_b, where
    S_b = `sphere_basis`(M_b, θ) is M_b's tangent plane of the sphere ‖θ‖ = r, for points θ_p on
    ONE ray from the origin (so θ̂ and every S_b are the same at every point).

    S_b lies in the span of A_b = [M_b | θ̂], so S_b = A_b C_b with C_b = A_b⁺S_b (least squares in
    float64, exact up to S_b's rounding) and S_bᵀHS_b = C_bᵀ(A_bᵀHA_b)C_b: one `restricted_hessians`
    call on the B augmented bases gives both families from d + 1 directions per plane instead of 2d.
    """
    if thetas.ndim != 2 or bases.ndim != 3:
        raise ValueError(
            f"`thetas` must have shape [P, D] and `bases` [B, D, d]; got {tuple(thetas.shape)}, {tuple(bases.shape)}"
        )
    check_finite_tensor("thetas", thetas)
    B, D, d = bases.shape
    ray = thetas / thetas.norm(dim=1, keepdim=True)
    if float((ray - ray[0]).norm(dim=1).max()) > 1e-4:
        raise ValueError("`thetas` must lie on one ray from the origin (positive multiples of one direction)")
    S = torch.stack([sphere_basis(M, thetas[0]) for M in bases]).double()           # [B, D, d]
    A = torch.cat([bases, ray[0].to(bases.dtype)[None, :, None].expand(B, D, 1)], 2)  # [B, D, d+1]
    H = restricted_hessians(f, thetas, A.permute(1, 0, 2).reshape(D, B * (d + 1)), blocks=B, chunk=chunk).double()
    C = torch.linalg.lstsq(A.double(), S).solution                                   # [B, d+1, d]
    sphere = torch.einsum("bie,pbij,bjf->pbef", C, H, C)
    return torch.linalg.eigvalsh(H[..., :d, :d]), torch.linalg.eigvalsh((sphere + sphere.transpose(-1, -2)) / 2)


def eigvals_trace_ratio(eigs: Float[Tensor, "... d"]) -> Float[Tensor, "..."]:
    """Tr(H)/‖H‖_F = Σλ/√Σλ² of a symmetric H from its eigenvalues λ; in [−√d, √d]: √d for a
    multiple of the identity, ≈ 0 for a random symmetric matrix. A zero matrix gives 0 (not NaN)."""
    norm = eigs.pow(2).sum(-1).sqrt()
    return torch.where(norm > 0, eigs.sum(-1) / norm.clamp_min(torch.finfo(eigs.dtype).tiny), torch.zeros_like(norm))


def eigvals_positive_fraction(eigs: Float[Tensor, "... d"]) -> Float[Tensor, "..."]:
    """#{λ > 0}/d: the share of positive eigenvalues."""
    return (eigs > 0).to(eigs.dtype).mean(-1)


def trace_ratio(H: Float[Tensor, "... d d"]) -> Float[Tensor, "..."]:
    """Tr(H)/‖H‖_F of a symmetric H (`eigvals_trace_ratio` of its eigenvalues)."""
    return eigvals_trace_ratio(torch.linalg.eigvalsh(H))


def positive_fraction(H: Float[Tensor, "... d d"]) -> Float[Tensor, "..."]:
    """Share of a symmetric H's eigenvalues that are > 0 (`eigvals_positive_fraction`)."""
    return eigvals_positive_fraction(torch.linalg.eigvalsh(H))


class TraceEstimate(float):
    """A Hutchinson estimate: a float (the estimate itself, so it adds, compares and formats like
    one) carrying `stderr` (the standard error of the mean of the n samples) and `samples`."""

    stderr: float
    samples: Tensor

    def __new__(cls, value: float, stderr: float, samples: Tensor) -> TraceEstimate:
        obj = super().__new__(cls, value)
        obj.stderr = float(stderr)
        obj.samples = samples
        return obj

    @property
    def value(self) -> float:
        return float(self)

    def __repr__(self) -> str:
        return f"TraceEstimate({float(self):.6g} ± {self.stderr:.2g}, n={len(self.samples)})"


def hutchinson_trace(
    f: LossFn,
    theta: Float[Tensor, " D"],
    n: int,
    generator: torch.Generator | None = None,
    M: Float[Tensor, "D d"] | None = None,
    chunk: int | None = 256,
) -> TraceEstimate:
    """Tr ∇²f(θ) (or Tr Mᵀ∇²f(θ)M when `M` is given) ≈ (1/n) Σ_i z_iᵀ H z_i, z_i Rademacher.

    Unbiased: E[zzᵀ] = I, so E[zᵀHz] = Tr H. The variance of one sample is 2(‖H‖_F² − Σ H_ii²),
    hence the reported standard error s/√n. The n quadratic forms are one `quadratic_forms` call.
    """
    theta = _check_theta(theta)
    check_int("n", n, low=1)
    dim = theta.shape[0] if M is None else _check_basis(M, theta.shape[0]).shape[1]
    z = rademacher(n, dim, generator, theta.dtype, theta.device)
    V = z if M is None else z @ M.to(theta).T                       # [n, D]
    samples = quadratic_forms(f, theta, V, chunk)                   # vᵀHv = zᵀ(MᵀHM)z
    stderr = float(samples.std() / math.sqrt(n)) if n > 1 else float("inf")
    return TraceEstimate(value=float(samples.mean()), stderr=stderr, samples=samples.detach())


def lanczos_tridiagonal(
    matvec: Callable[[Tensor], Tensor], q0: Float[Tensor, " dim"], steps: int
) -> Float[Tensor, "k k"]:
    """T = QᵀAQ (k×k tridiagonal, k ≤ steps) of a symmetric operator on the Krylov space of q0.

    Builds an orthonormal Krylov basis Q = [q0/‖q0‖, …] with full re-orthogonalisation (so no ghost
    eigenvalues), one matvec per step, in q0's dtype; stops early when the Krylov space is
    invariant (β ≈ 0). T's eigenvalues are the Ritz values; with T = UΘUᵀ, Σ_k U_0k² θ_kᵖ =
    q̂0ᵀAᵖq̂0 exactly for p ≤ 2k − 1 (Gauss quadrature)."""
    Q = [q0 / q0.norm()]
    alphas: list[Tensor] = []
    betas: list[Tensor] = []
    for j in range(steps):
        w = matvec(Q[j]).to(q0.dtype)
        alpha = torch.dot(w, Q[j])
        alphas.append(alpha)
        basis = torch.stack(Q)
        w = w - basis.T @ (basis @ w)  # full re-orthogonalisation (twice is enough: Kahan)
        w = w - basis.T @ (basis @ w)
        beta = w.norm()
        if j == steps - 1 or beta <= 1e-10 * max(1.0, float(alpha.abs())):
            break
        betas.append(beta)
        Q.append(w / beta)
    T = torch.diag(torch.stack(alphas))
    if betas:
        b = torch.stack(betas)
        T = T + torch.diag(b, 1) + torch.diag(b, -1)
    return T


def lanczos(
    matvec: Callable[[Tensor], Tensor],
    dim: int,
    steps: int,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> Float[Tensor, " k"]:
    """Ritz values (ascending) of a symmetric operator after `steps` Lanczos iterations from a
    random Gaussian start (`lanczos_tridiagonal`); T's extreme eigenvalues converge first to A's
    extreme ones."""
    check_int("dim", dim, low=1)
    steps = check_int("steps", steps, low=1, high=dim)
    q = torch.randn(dim, generator=generator, dtype=dtype).to(device)
    return torch.linalg.eigvalsh(lanczos_tridiagonal(matvec, q, steps))


def hessian_extremes(
    f: LossFn,
    theta: Float[Tensor, " D"],
    steps: int = 30,
    M: Float[Tensor, "D d"] | None = None,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """(smallest, largest) eigenvalue of ∇²f(θ) — or of Mᵀ∇²f(θ)M — by Lanczos (`steps` HVPs)."""
    matmat, dim = hessian_operator(f, theta, M)
    ritz = lanczos(lambda v: matmat(v[None])[0], dim, min(steps, dim), generator=generator, device=theta.device)
    return float(ritz[0]), float(ritz[-1])
