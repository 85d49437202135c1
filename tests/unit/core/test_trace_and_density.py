"""Hutch++ (workbench.tensor.trace_estimators) and stochastic Lanczos quadrature
(workbench.tensor.spectral_density) against explicit matrices and a tiny net's full Hessian."""

from __future__ import annotations

import pytest
import torch

from workbench.goldilocks.model import MLPSpec
from workbench.tensor.curvature import hutchinson_trace, plane_and_sphere_eigvals, quadratic_forms
from workbench.tensor.spectral_density import hessian_density, slq
from workbench.tensor.subspaces import random_orthonormal_basis
from workbench.tensor.trace_estimators import hutchpp, hutchpp_trace

F64 = torch.float64


def symmetric(eigs: torch.Tensor, seed: int = 0) -> torch.Tensor:
    Q = random_orthonormal_basis(len(eigs), len(eigs), torch.Generator().manual_seed(seed), dtype=F64)
    return Q @ torch.diag(eigs.to(F64)) @ Q.T


def tiny_net(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    spec = MLPSpec(5, (4,), 3, "tanh")
    x, y = torch.randn(20, 5, generator=g, dtype=F64), torch.randint(0, 3, (20,), generator=g)
    theta = spec.init("he", g, dtype=F64) + 0.1 * torch.randn(spec.n_params, generator=g, dtype=F64)
    f = spec.loss_fn(x, y)
    return f, theta, torch.autograd.functional.hessian(f, theta)


def test_hutchpp_is_exact_on_low_rank_and_unbiased_on_an_indefinite_matrix():
    eigs = torch.zeros(40, dtype=F64)
    eigs[:3] = torch.tensor([5.0, -2.0, 0.7], dtype=F64)              # rank 3 ≤ k = 12 // 3 = 4
    A = symmetric(eigs)
    est = hutchpp(lambda V: V @ A, 40, 12, generator=torch.Generator().manual_seed(1))
    assert est.value == pytest.approx(3.7, abs=1e-10) and est.stderr == pytest.approx(0.0, abs=1e-10)
    # a full-rank indefinite spectrum: the mean of many estimates sits within 4 standard errors
    A = symmetric(torch.linspace(-1.0, 3.0, 40) ** 3, seed=2)
    gen = torch.Generator().manual_seed(3)
    values = torch.tensor([hutchpp(lambda V: V @ A, 40, 9, generator=gen).value for _ in range(400)], dtype=F64)
    assert abs(float(values.mean() - A.trace())) < 4 * float(values.std()) / 20


def test_hutchpp_beats_hutchinson_at_equal_products_on_a_decaying_spectrum():
    A = symmetric(100.0 * torch.arange(1, 61, dtype=F64) ** -2.0, seed=4)  # a few outliers dominate
    gen = torch.Generator().manual_seed(5)
    pp = torch.tensor([hutchpp(lambda V: V @ A, 60, 30, generator=gen).value for _ in range(200)], dtype=F64)
    plain = torch.tensor([(lambda z: float(((z @ A) * z).sum(-1).mean()))(
        torch.randint(0, 2, (30, 60), generator=gen).to(F64) * 2 - 1) for _ in range(200)], dtype=F64)
    exact = float(A.trace())
    assert float((pp - exact).pow(2).mean().sqrt()) < 0.2 * float((plain - exact).pow(2).mean().sqrt())


def test_hutchpp_trace_of_a_net_hessian_and_on_a_subspace():
    f, theta, H = tiny_net()
    est = hutchpp_trace(f, theta, 60, generator=torch.Generator().manual_seed(6))
    ref = hutchinson_trace(f, theta, 60, generator=torch.Generator().manual_seed(6))
    assert abs(est.value - float(H.trace())) < 4 * est.stderr + 1e-9 and est.samples.shape == (20,)
    assert abs(est.value - float(H.trace())) < abs(ref.value - float(H.trace())) + 4 * est.stderr
    M = random_orthonormal_basis(theta.numel(), 6, torch.Generator().manual_seed(7), dtype=F64)
    exact = hutchpp_trace(f, theta, 18, generator=torch.Generator().manual_seed(8), M=M)  # k = 6 = d: exact
    assert exact.value == pytest.approx(float((M.T @ H @ M).trace()), abs=1e-9)


def test_slq_nodes_weights_and_moments_on_an_explicit_matrix():
    eigs = torch.tensor([-3.0, -1.0, 0.5, 1.0, 2.0, 4.0, 7.0, 9.0], dtype=F64).repeat_interleave(4)  # D = 32
    A = symmetric(eigs + 0.01 * torch.arange(32, dtype=F64), seed=9)
    true = torch.linalg.eigvalsh(A)
    full = slq(lambda v: A @ v, 32, 32, generator=torch.Generator().manual_seed(10))
    assert torch.allclose(full.nodes[0], true, atol=1e-8)                  # k = D: the eigenvalues
    assert float(full.weights.sum()) == pytest.approx(1.0)
    # k steps: Gauss quadrature reproduces v̂ᵀAᵖv̂ exactly for p ≤ 2k − 1, for the probe itself
    gen = torch.Generator().manual_seed(11)
    z = torch.randint(0, 2, (32,), generator=torch.Generator().manual_seed(12)).to(F64) * 2 - 1
    v = z / z.norm()
    short = slq(lambda u: A @ u, 32, 4, generator=torch.Generator().manual_seed(12))
    for p in range(8):
        assert short.moment(p) == pytest.approx(float(v @ torch.linalg.matrix_power(A, p) @ v), rel=1e-9)
    # over many probes the moments estimate Tr(Aᵖ)/D
    many = slq(lambda u: A @ u, 32, 4, n_vectors=300, generator=gen)
    for p in (1, 2, 3):
        exact = float(torch.linalg.matrix_power(A, p).trace()) / 32
        per_probe = (many.weights * many.nodes**p).sum(-1)
        assert abs(many.moment(p) - exact) < 4 * float(per_probe.std()) / 300**0.5
    grid = torch.linspace(-6.0, 12.0, 2001, dtype=F64)
    density = many.smoothed(grid, 0.2)
    step = float(grid[1] - grid[0])
    assert float(density.sum()) * step == pytest.approx(1.0, abs=1e-6)
    assert float((grid * density).sum()) * step == pytest.approx(many.moment(1), abs=1e-6)


def test_hessian_density_finds_the_exact_eigenvalues_of_a_net_hessian():
    f, theta, H = tiny_net(seed=1)
    D = theta.numel()
    dens = hessian_density(f, theta, steps=D, generator=torch.Generator().manual_seed(13))
    true = torch.linalg.eigvalsh(H)
    k = int((dens.weights[0] > 0).sum())
    nodes = dens.nodes[0, :k]
    # every node is an eigenvalue and every eigenvalue is a node (a repeated one, such as the zero
    # modes of softmax's shift invariance, once: the Krylov space sees one vector of its eigenspace)
    gaps = torch.cdist(nodes[:, None], true[:, None])
    assert gaps.min(1).values.max() < 1e-7 and gaps.min(0).values.max() < 1e-7
    assert dens.moment(1) == pytest.approx(float(H.trace()) / D, abs=0.5 * float(H.norm()) / D)



def quadratic(t):
    return (t**2).sum()


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: hutchpp(lambda V: V, 5, 2), r"`m` must be an integer ≥ 3"),
        (lambda: hutchpp(lambda V: V, 0, 6), r"`dim` must be an integer ≥ 1"),
        (lambda: hutchpp_trace(quadratic, torch.ones(4), 6, M=torch.ones(3, 2)), r"`M` must have shape \[D, d\]"),
        (lambda: slq(lambda v: v, 5, 6), r"`steps` must be an integer in \[1, 5\]"),
        (lambda: slq(lambda v: v, 5, 2, n_vectors=0), r"`n_vectors` must be an integer ≥ 1"),
        (lambda: slq(lambda v: v, 5, 2).smoothed(torch.zeros(3), 0.0), r"`sigma` must be > 0"),
        (lambda: slq(lambda v: v, 5, 2).moment(-1), r"`p` must be an integer ≥ 0"),
        (
            lambda: quadratic_forms(quadratic, torch.ones(4), torch.ones(2, 3)),
            r"`V` must have shape \[k, D\] with D = 4",
        ),
        (
            lambda: plane_and_sphere_eigvals(quadratic, torch.ones(4), torch.ones(1, 4, 2)),
            r"`thetas` must have shape \[P, D\]",
        ),
    ],
)
def test_bad_input_names_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()
