"""Curvature and subspace math (workbench.tensor.curvature / subspaces): identities against the
full Hessian of a tiny net, known matrices, and the estimators' error bars."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import grad

from workbench.goldilocks.model import MLPSpec
from workbench.tensor.curvature import (
    batched_hvp,
    eigvals_positive_fraction,
    eigvals_trace_ratio,
    hessian_extremes,
    hutchinson_trace,
    lanczos,
    plane_and_sphere_eigvals,
    positive_fraction,
    restricted_eigvals,
    restricted_hessian,
    restricted_hessians,
    trace_ratio,
)
from workbench.tensor.subspaces import (
    point_at_radius,
    points_at_radii,
    random_orthonormal_basis,
    sparse_projection,
    sphere_basis,
    sphere_correction,
)

F64 = torch.float64


def tiny_problem(activation: str, seed: int = 0):
    """A 5-4-3 net (D = 39) on 20 random points, in float64, with its full Hessian."""
    g = torch.Generator().manual_seed(seed)
    spec = MLPSpec(5, (4,), 3, activation)
    x = torch.randn(20, 5, generator=g, dtype=F64)
    y = torch.randint(0, 3, (20,), generator=g)
    theta = spec.init("he", g, dtype=F64) + 0.1 * torch.randn(spec.n_params, generator=g, dtype=F64)
    f = spec.loss_fn(x, y)
    return f, theta, torch.autograd.functional.hessian(f, theta)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_restricted_hessian_equals_the_projected_full_hessian(activation):
    f, theta, H = tiny_problem(activation)
    M = random_orthonormal_basis(theta.numel(), 6, torch.Generator().manual_seed(1), dtype=F64)
    Hd = restricted_hessian(f, theta, M)
    assert Hd.shape == (6, 6) and Hd.dtype == F64
    assert torch.allclose(Hd, M.T @ H @ M, atol=1e-8, rtol=0)


def test_restricted_hessian_float64_option_and_a_non_orthonormal_basis():
    f, theta, _ = tiny_problem("tanh")
    theta32 = theta.float()
    M32 = torch.randn(theta.numel(), 3, generator=torch.Generator().manual_seed(2))
    Hd = restricted_hessian(f, theta32, M32, dtype="float64")
    assert Hd.dtype == F64
    H = torch.autograd.functional.hessian(f, theta32.double())  # the cast happens before any arithmetic
    assert torch.allclose(Hd, M32.double().T @ H @ M32.double(), atol=1e-8, rtol=0)


def test_batched_hvp_rows_are_hessian_vector_products():
    f, theta, H = tiny_problem("relu")
    V = torch.randn(4, theta.numel(), generator=torch.Generator().manual_seed(3), dtype=F64)
    assert torch.allclose(batched_hvp(f, theta, V), V @ H, atol=1e-10)


def test_restricted_hessians_over_points_and_blocks():
    f, theta, _ = tiny_problem("tanh")
    g = torch.Generator().manual_seed(4)
    M1, M2 = (random_orthonormal_basis(theta.numel(), 3, g, dtype=F64) for _ in range(2))
    thetas = torch.stack([theta, 1.5 * theta])
    out = restricted_hessians(f, thetas, torch.cat([M1, M2], 1), blocks=2)
    assert out.shape == (2, 2, 3, 3)
    assert torch.allclose(out[1, 1], restricted_hessian(f, thetas[1], M2), atol=1e-10)
    assert torch.allclose(out[0, 0], restricted_hessian(f, thetas[0], M1), atol=1e-10)


def test_restricted_eigvals_are_the_spectra_of_the_projected_full_hessians():
    """B bases at P points in one call == eigvalsh(M_bᵀ H(θ_p) M_b) from torch.func.hessian at each point."""
    f, theta, _ = tiny_problem("tanh")
    thetas = torch.stack([theta, 1.5 * theta, -0.5 * theta])
    g = torch.Generator().manual_seed(16)
    bases = torch.stack([random_orthonormal_basis(theta.numel(), 4, g, dtype=F64) for _ in range(3)])
    eigs = restricted_eigvals(f, thetas, bases)
    assert eigs.shape == (3, 3, 4) and eigs.dtype == F64
    for p in range(3):
        H = torch.func.hessian(f)(thetas[p])
        for b in range(3):
            oracle = torch.linalg.eigvalsh(bases[b].T @ H @ bases[b])
            assert torch.allclose(eigs[p, b], oracle, atol=1e-9, rtol=0)
    assert bool((eigs[..., 1:] >= eigs[..., :-1]).all())  # ascending


def test_plane_and_sphere_eigvals_equal_the_direct_spectra_of_both_families():
    """One call on [M | θ̂] == eigvalsh of M_bᵀHM_b and S_bᵀHS_b (S_b = sphere_basis) at every point of a ray."""
    f, theta, _ = tiny_problem("tanh")
    thetas = torch.stack([0.5 * theta, theta, 3.0 * theta])
    g = torch.Generator().manual_seed(20)
    bases = torch.stack([random_orthonormal_basis(theta.numel(), 4, g, dtype=F64) for _ in range(2)])
    plane, sphere = plane_and_sphere_eigvals(f, thetas, bases)
    tangent = torch.stack([sphere_basis(M, theta) for M in bases])
    assert plane.shape == sphere.shape == (3, 2, 4)
    assert torch.allclose(plane, restricted_eigvals(f, thetas, bases), atol=1e-10, rtol=0)
    assert torch.allclose(sphere, restricted_eigvals(f, thetas, tangent), atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="`thetas` must lie on one ray"):
        plane_and_sphere_eigvals(f, torch.stack([theta, -theta]), bases)


def test_restricted_eigvals_of_float32_inputs_come_back_in_float64():
    f, theta, _ = tiny_problem("relu")
    bases = random_orthonormal_basis(theta.numel(), 3, torch.Generator().manual_seed(17))[None]  # float32
    eigs = restricted_eigvals(lambda t: f(t.double()).float(), theta.float()[None], bases)  # θ and M in float32
    H = torch.func.hessian(f)(theta.float().double())
    oracle = torch.linalg.eigvalsh(bases[0].double().T @ H @ bases[0].double())
    assert eigs.dtype == F64 and torch.allclose(eigs[0, 0], oracle, atol=1e-4 * float(oracle.abs().max()))


def test_eigenvalue_measures_match_their_definitions_on_the_full_hessian():
    """Σλ/√Σλ² = Tr H/‖H‖_F and #{λ>0}/d, checked against the matrix itself (no eigenvalues)."""
    f, theta, _ = tiny_problem("relu", seed=3)
    M = random_orthonormal_basis(theta.numel(), 7, torch.Generator().manual_seed(18), dtype=F64)
    H = M.T @ torch.func.hessian(f)(theta) @ M
    eigs = restricted_eigvals(f, theta[None], M[None])[0, 0]
    assert float(eigvals_trace_ratio(eigs)) == pytest.approx(float(H.trace() / H.norm()), abs=1e-10)
    assert float(trace_ratio(H)) == pytest.approx(float(H.trace() / H.norm()), abs=1e-10)
    share = float((torch.linalg.eigvalsh(H) > 0).double().mean())  # the oracle H's own spectrum
    assert 0.0 < share < 1.0 and float(eigvals_positive_fraction(eigs)) == share
    assert float(positive_fraction(H)) == float(eigvals_positive_fraction(eigs))
    # batched over leading axes; a zero spectrum gives 0, not NaN, in float32 as in float64
    batch = torch.stack([eigs, -eigs, torch.zeros_like(eigs)])
    assert eigvals_trace_ratio(batch).tolist() == pytest.approx([float(eigvals_trace_ratio(eigs)),
                                                                 -float(eigvals_trace_ratio(eigs)), 0.0])
    assert float(eigvals_trace_ratio(torch.zeros(2, 5)).abs().max()) == 0.0


def test_trace_ratio_and_positive_fraction_of_known_matrices():
    assert float(trace_ratio(torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=F64)))) == pytest.approx(6 / math.sqrt(14))
    assert float(trace_ratio(torch.eye(9, dtype=F64))) == pytest.approx(3.0)  # √d for a bowl
    assert float(trace_ratio(torch.diag(torch.tensor([2.0, -2.0])))) == 0.0
    assert float(trace_ratio(torch.zeros(4, 4))) == 0.0  # not NaN
    Q = random_orthonormal_basis(3, 3, torch.Generator().manual_seed(0), dtype=F64)
    A = Q @ torch.diag(torch.tensor([1.0, -2.0, 3.0], dtype=F64)) @ Q.T  # rotation-invariant
    assert float(trace_ratio(A)) == pytest.approx(2 / math.sqrt(14))
    assert float(positive_fraction(A)) == pytest.approx(2 / 3)


def test_hutchinson_is_unbiased_within_its_error_bar():
    f, theta, H = tiny_problem("relu")
    est = hutchinson_trace(f, theta, 1000, generator=torch.Generator().manual_seed(5))
    assert abs(est - float(H.trace())) < 4 * est.stderr  # the estimate is a float carrying its error bar
    # the error bar is the right size: the per-sample variance is 2(‖H‖_F² − Σ H_ii²)
    var = 2 * (float((H**2).sum()) - float((torch.diagonal(H) ** 2).sum()))
    assert est.stderr == pytest.approx(math.sqrt(var / 1000), rel=0.2)
    assert float(est) == est.value and est.samples.shape == (1000,)


def test_hutchinson_on_a_subspace_and_on_a_diagonal_quadratic():
    f, theta, H = tiny_problem("tanh")
    M = random_orthonormal_basis(theta.numel(), 5, torch.Generator().manual_seed(6), dtype=F64)
    est = hutchinson_trace(f, theta, 1000, generator=torch.Generator().manual_seed(7), M=M)
    assert abs(est.value - float((M.T @ H @ M).trace())) < 4 * est.stderr
    d = torch.tensor([1.0, -3.0, 0.5], dtype=F64)  # diagonal: Rademacher probes are exact
    exact = hutchinson_trace(lambda t: 0.5 * (d * t * t).sum(), torch.ones(3, dtype=F64), 7)
    assert exact.value == pytest.approx(-1.5) and exact.stderr == pytest.approx(0.0, abs=1e-12)


def test_lanczos_finds_the_extremes_of_a_known_spectrum():
    eig = torch.linspace(-2.0, 5.0, 40, dtype=F64)
    Q = random_orthonormal_basis(40, 40, torch.Generator().manual_seed(8), dtype=F64)
    A = Q @ torch.diag(eig) @ Q.T
    ritz = lanczos(lambda v: A @ v, 40, 40, generator=torch.Generator().manual_seed(9))
    assert float(ritz[0]) == pytest.approx(-2.0, abs=1e-8) and float(ritz[-1]) == pytest.approx(5.0, abs=1e-8)
    f, theta, H = tiny_problem("relu")
    lo, hi = hessian_extremes(f, theta, steps=theta.numel(), generator=torch.Generator().manual_seed(10))
    true = torch.linalg.eigvalsh(H)
    assert lo == pytest.approx(float(true[0]), abs=1e-7) and hi == pytest.approx(float(true[-1]), abs=1e-7)


def test_orthonormal_and_sparse_bases():
    M = random_orthonormal_basis(50, 7, torch.Generator().manual_seed(11), dtype=F64)
    assert torch.allclose(M.T @ M, torch.eye(7, dtype=F64), atol=1e-12)
    S = sparse_projection(400, 5, generator=torch.Generator().manual_seed(12), dtype=F64)
    assert S.is_sparse and S.shape == (400, 5)
    dense = S.to_dense()
    assert torch.allclose(dense.norm(dim=0), torch.ones(5, dtype=F64))
    assert set(torch.unique(dense.abs()).tolist()) <= {0.0, 1 / math.sqrt(20)}  # nnz = √400 per column
    f, theta, H = tiny_problem("relu")
    P = sparse_projection(theta.numel(), 4, density=0.5, generator=torch.Generator().manual_seed(13), dtype=F64)
    assert torch.allclose(restricted_hessian(f, theta, P), P.to_dense().T @ H @ P.to_dense(), atol=1e-8)


def test_sphere_basis_is_orthogonal_to_theta_and_spans_the_projected_plane():
    g = torch.Generator().manual_seed(14)
    theta = torch.randn(30, generator=g, dtype=F64) * 5
    M = random_orthonormal_basis(30, 6, g, dtype=F64)
    S = sphere_basis(M, theta)
    assert (S.T @ theta).abs().max() < 1e-12
    assert torch.allclose(S.T @ S, torch.eye(6, dtype=F64), atol=1e-12)
    t = theta / theta.norm()
    projected = M - torch.outer(t, t @ M)
    assert torch.allclose(S @ (S.T @ projected), projected, atol=1e-12)  # same span as (I − θ̂θ̂ᵀ)M


def test_sphere_correction_is_the_curvature_along_a_great_circle():
    f, theta, H = tiny_problem("tanh")
    g = torch.Generator().manual_seed(15)
    v = sphere_basis(torch.randn(theta.numel(), 1, generator=g, dtype=F64), theta)[:, 0]
    r = theta.norm()

    def along(t: torch.Tensor) -> torch.Tensor:  # unit-speed great circle through θ with γ'(0) = v
        return f(torch.cos(t / r) * theta + r * torch.sin(t / r) * v)

    second = grad(grad(along))(torch.zeros((), dtype=F64))
    expected = v @ H @ v + sphere_correction(grad(f)(theta), theta)
    assert float(second) == pytest.approx(float(expected), abs=1e-10)


def test_point_at_radius():
    u = torch.tensor([3.0, 4.0], dtype=F64)
    assert float(point_at_radius(u, 2.5).norm()) == pytest.approx(2.5)
    assert torch.equal(point_at_radius(u, 2.5), points_at_radii(u, [2.5])[0])  # the one-radius case


def test_points_at_radii_of_one_direction_and_of_a_stack():
    g = torch.Generator().manual_seed(19)
    U = torch.randn(3, 11, generator=g, dtype=F64)
    radii = torch.tensor([0.5, 2.0, 7.0], dtype=F64)
    P = points_at_radii(U, radii)
    assert P.shape == (3, 3, 11)
    assert torch.allclose(P.norm(dim=-1), radii.expand(3, 3), atol=1e-12)
    cos = (P @ U[:, :, None]).squeeze(-1) / (P.norm(dim=-1) * U.norm(dim=-1, keepdim=True))
    assert torch.allclose(cos, torch.ones(3, 3, dtype=F64), atol=1e-12)  # along u, same side
    assert torch.equal(points_at_radii(U[1], radii), P[1])  # a single direction is the [D] case
    P32 = points_at_radii(U[0].float(), (1.0, 3.0))  # a sequence of radii; float32 u stays float32
    assert P32.shape == (2, 11) and P32.dtype == torch.float32
    assert torch.allclose(P32.norm(dim=-1), torch.tensor([1.0, 3.0]))


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: point_at_radius(torch.ones(3), 0.0), ValueError, r"`r` must be > 0"),
        (lambda: point_at_radius(torch.ones(3), float("nan")), ValueError, r"`r` must be finite"),
        (lambda: point_at_radius(torch.zeros(3), 1.0), ValueError, r"`u` must be a non-zero"),
        (lambda: points_at_radii(torch.ones(3), [1.0, 0.0]), ValueError, r"`radii` must be > 0"),
        (lambda: points_at_radii(torch.ones(3), [-2.0]), ValueError, r"`radii` must be > 0"),
        (lambda: points_at_radii(torch.ones(3), [float("inf")]), ValueError, r"`radii` contains NaN or inf"),
        (lambda: points_at_radii(torch.ones(3), []), ValueError, r"`radii` must be a non-empty 1-D"),
        (lambda: points_at_radii(torch.ones(3), [[1.0]]), ValueError, r"`radii` must be a non-empty 1-D"),
        (lambda: points_at_radii(torch.stack([torch.ones(3), torch.zeros(3)]), [1.0]), ValueError,
         r"`u` must be a non-zero"),
        (lambda: points_at_radii(torch.tensor(1.0), [1.0]), ValueError, r"`u` must have at least 1 dims"),
        (lambda: restricted_eigvals(lambda t: (t**2).sum(), torch.ones(1, 4), torch.ones(4, 2)), ValueError,
         r"`bases` must have shape \[B, D, d\]"),
        (lambda: restricted_eigvals(lambda t: (t**2).sum(), torch.ones(4), torch.ones(1, 4, 2)), ValueError,
         r"`thetas` must have shape \[P, D\]"),
        (lambda: random_orthonormal_basis(5, 6), ValueError, r"`d` must be an integer in \[1, 5\]"),
        (lambda: random_orthonormal_basis(5, 0), ValueError, r"`d` must be an integer in \[1, 5\]"),
        (lambda: restricted_hessian(lambda t: (t**2).sum(), torch.ones(4), torch.ones(3, 2)), ValueError,
         r"`M` must have shape \[D, d\] with D = 4"),
        (lambda: restricted_hessian(lambda t: (t**2).sum(), torch.ones(4), torch.ones(4, 5)), ValueError,
         r"`d` must be an integer in \[1, 4\]"),
        (lambda: restricted_hessian(lambda t: (t**2).sum(), torch.ones(2, 2), torch.ones(4, 1)), ValueError,
         r"`theta` must be a flat parameter vector"),
        (lambda: restricted_hessian(lambda t: (t**2).sum(), torch.ones(4), torch.ones(4, 1), dtype="half"),
         ValueError, r"`dtype` must be one of"),
        (lambda: hutchinson_trace(lambda t: (t**2).sum(), torch.ones(4), 0), ValueError,
         r"`n` must be an integer ≥ 1"),
        (lambda: hutchinson_trace(lambda t: (t**2).sum(), torch.tensor([1.0, float("nan")]), 3), ValueError,
         r"`theta` contains NaN"),
        (lambda: sphere_basis(torch.ones(4, 4), torch.ones(4)), ValueError, r"`d` must be an integer in \[1, 3\]"),
    ],
)
def test_bad_input_names_the_parameter(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
