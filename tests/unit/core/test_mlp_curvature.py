"""The structured restricted Hessian of an MLP's cross-entropy (workbench.tensor.mlp_curvature)
against the autograd oracle: torch.autograd.functional.hessian of g(φ) = L(P + Mφ) at φ = 0."""

from __future__ import annotations

import pytest
import torch

from workbench.goldilocks.model import MLPSpec
from workbench.tensor import mlp_curvature
from workbench.tensor.curvature import StructuredHessian, quadratic_forms, restricted_eigvals, restricted_hessians
from workbench.tensor.mlp_curvature import MLPCrossEntropy, activation_derivatives

F64 = torch.float64


def problem(activation, widths=(4, 3), seed=0, n=20):
    g = torch.Generator().manual_seed(seed)
    spec = MLPSpec(5, widths, 3, "relu")
    x = torch.randn(n, 5, generator=g, dtype=F64)
    y = torch.randint(0, 3, (n,), generator=g)
    theta = spec.init("he", g, dtype=F64) + 0.3 * torch.randn(spec.n_params, generator=g, dtype=F64)
    return MLPCrossEntropy(spec.unflatten, activation, x, y), theta, g


def oracle(f, theta, M):
    """The reproduction's way: the Hessian of the d-dim restricted function by double backward."""
    return torch.autograd.functional.hessian(lambda phi: f(theta + M @ phi), torch.zeros(M.shape[1], dtype=F64))


@pytest.mark.parametrize("activation", [torch.relu, torch.tanh, torch.sigmoid])
@pytest.mark.parametrize("widths", [(4, 3), (6,), ()])
def test_structured_restricted_hessians_equal_the_autograd_oracle(activation, widths):
    f, theta, g = problem(activation, widths)
    D = theta.numel()
    M = torch.randn(D, 3 * 4, generator=g, dtype=F64)  # 3 blocks of 4 non-orthonormal directions
    thetas = torch.stack([theta, 1.7 * theta])
    H = restricted_hessians(f, thetas, M, blocks=3)
    assert isinstance(f, StructuredHessian) and H.shape == (2, 3, 4, 4) and H.dtype == F64
    for p in range(2):
        for b in range(3):
            exact = oracle(f, thetas[p], M[:, 4 * b:4 * b + 4])
            assert torch.allclose(H[p, b], exact, atol=1e-10 * max(1.0, float(exact.abs().max())), rtol=0)


def test_tiles_chunks_and_the_generic_path_agree(monkeypatch):
    """Tiles of a few examples, chunks of one block and the vmapped-HVP path give the same matrices."""
    f, theta, g = problem(torch.tanh, seed=1, n=37)
    M = torch.randn(theta.numel(), 2 * 5, generator=g, dtype=F64)
    thetas = torch.stack([theta, -0.6 * theta, 2.0 * theta])
    whole = restricted_hessians(f, thetas, M, blocks=2)
    generic = restricted_hessians(lambda t: f(t), thetas, M, blocks=2)  # a plain callable: HVPs
    assert torch.allclose(whole, generic, atol=1e-11, rtol=0)
    monkeypatch.setattr(mlp_curvature, "TILE_FLOATS", 60)  # 60 // (5·2·4) = 1 example per tile
    assert torch.allclose(restricted_hessians(f, thetas, M, blocks=2, chunk=5), whole, atol=1e-12, rtol=0)
    # eigenvalues through the suite's entry point; float32 inputs agree with float64 to round-off
    eigs = restricted_eigvals(f, thetas.float(), M.float().reshape(-1, 2, 5).permute(1, 0, 2))
    exact = torch.linalg.eigvalsh(whole)
    assert torch.allclose(eigs, exact, atol=1e-5 * float(exact.abs().max()), rtol=0)


def test_the_loss_and_activation_derivatives():
    f, theta, _ = problem(torch.tanh)
    layers = f.unflatten(theta)
    h = f.x
    for W, b in layers[:-1]:
        h = torch.tanh(h @ W.T + b)
    logits = h @ layers[-1][0].T + layers[-1][1]
    assert float(f(theta)) == pytest.approx(float(torch.nn.functional.cross_entropy(logits, f.y)), abs=1e-14)
    z = torch.linspace(-3, 3, 13, dtype=F64)
    d1, d2 = activation_derivatives(torch.tanh, z)
    t = torch.tanh(z)
    assert torch.allclose(d1, 1 - t**2) and torch.allclose(d2, -2 * t * (1 - t**2))
    d1, d2 = activation_derivatives(torch.relu, torch.tensor([-1.0, 0.0, 2.0]))
    assert d1.tolist() == [0.0, 0.0, 1.0] and d2.tolist() == [0.0, 0.0, 0.0]  # σ'(0) = 0, as autograd has it


def test_quadratic_forms_of_the_structured_path_equal_the_hvp_ones():
    """More rows than parameters too: each row is its own 1×1 restricted Hessian."""
    f, theta, g = problem(torch.tanh, seed=2)
    V = torch.randn(2 * theta.numel() + 3, theta.numel(), generator=g, dtype=F64)
    forms = quadratic_forms(f, theta, V, chunk=16)
    assert forms.shape == (V.shape[0],)
    assert torch.allclose(forms, quadratic_forms(lambda t: f(t), theta, V), atol=1e-11, rtol=1e-11)
