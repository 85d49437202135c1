"""BENCH restricted_hessian and BENCH hutchinson_trace on the goldilocks digits MLP (64-64-64-10,
ReLU, D = 8,970, at r_init, loss on 512 fixed digits). Ratio = peer_s / ours_s.

(a) restricted_hessian: the spectrum of Mᵀ∇²L M for d = 32, ours = `restricted_eigvals`, the call
    the suite's sweep, selection and probe make (`restricted_hessians`' nested vmap of
    forward-over-reverse HVPs, then eigvalsh in float64); peer = a Python loop of 32
    double-backward HVPs sharing one create_graph gradient (the strongest form of the loop: the
    first backward is paid once), then the same eigvalsh.
(b) hutchinson_trace: Tr ∇²L from n = 100 Rademacher probes, ours = vmapped HVPs; peer =
    PyHessian 0.1's `hessian(model, criterion, data, cuda=False).trace(maxIter=100, tol=0)` (tol=0:
    no early stop, so both sides use exactly n probes) on the same net as an nn.Sequential. The
    suite itself does not estimate traces; the notebooks call `hutchinson_trace`.

Both sides are warmed up first and timed as the best of `REPEATS` runs (the CPU may be shared).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import torch
from torch import nn

from workbench.goldilocks import GoldilocksConfig, load_digits
from workbench.tensor.curvature import hutchinson_trace, restricted_eigvals
from workbench.tensor.subspaces import point_at_radius, random_orthonormal_basis

D_PLANE, N_PROBES, BATCH, REPEATS = 32, 100, 512, 5


def best_of(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    fn()  # warm-up: lazy imports, allocator, vmap's first trace
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def as_module(spec, theta: torch.Tensor) -> nn.Sequential:
    """The same net as an nn.Sequential holding θ's weights (PyHessian needs a module)."""
    layers: list[nn.Module] = []
    for k, (W, b) in enumerate(spec.unflatten(theta)):
        lin = nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            lin.weight.copy_(W)
            lin.bias.copy_(b)
        layers.append(lin)
        if k < len(spec.layers) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def main() -> None:
    config = GoldilocksConfig()
    spec = config.spec("relu")
    x, y = load_digits().subset(BATCH)
    gen = torch.Generator().manual_seed(0)
    theta = point_at_radius(spec.init(config.init, gen), spec.r_init(config.init))
    M = random_orthonormal_basis(spec.n_params, D_PLANE, gen)
    f = spec.loss_fn(x, y)

    # (a) restricted Hessian spectrum, as the suite computes it
    def spectrum(H: torch.Tensor) -> torch.Tensor:
        return torch.linalg.eigvalsh(((H + H.T) / 2).double())

    def ours_fn(loss=f) -> torch.Tensor:
        return restricted_eigvals(loss, theta[None], M[None])[0, 0]

    def loop() -> torch.Tensor:
        t = theta.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(t), t, create_graph=True)
        cols = [torch.autograd.grad(g, t, M[:, j], retain_graph=True)[0] for j in range(D_PLANE)]
        return spectrum(M.T @ torch.stack(cols, 1))

    def naive_loop() -> torch.Tensor:  # context only: each HVP redoes the forward and first backward
        cols = []
        for j in range(D_PLANE):
            t = theta.clone().requires_grad_(True)
            (g,) = torch.autograd.grad(f(t), t, create_graph=True)
            cols.append(torch.autograd.grad(g @ M[:, j], t)[0])
        return spectrum(M.T @ torch.stack(cols, 1))

    gap = float((ours_fn() - loop()).abs().max())
    ours, peer = best_of(ours_fn), best_of(loop)
    naive = best_of(naive_loop, 2)
    print(f"# D={spec.n_params} d={D_PLANE} batch={BATCH} threads={torch.get_num_threads()} max|λ_ours - λ_loop|={gap:.1e}; "
          f"a loop that also redoes the forward per column: {naive:.4f} s (ratio {naive / ours:.2f})")
    print(f"BENCH restricted_hessian ours_s={ours:.4f} peer_s={peer:.4f} ratio={peer / ours:.2f}")
    # context: at batch 512 both sides are compute-bound (vmap saves dispatch, not FLOPs); on a small
    # batch the per-HVP overhead the vmapped call removes dominates
    xs, ys = x[:32], y[:32]
    fs = spec.loss_fn(xs, ys)

    def loop_small() -> torch.Tensor:
        t = theta.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(fs(t), t, create_graph=True)
        return spectrum(M.T @ torch.stack([torch.autograd.grad(g, t, M[:, j], retain_graph=True)[0] for j in range(D_PLANE)], 1))

    small_ours, small_peer = best_of(lambda: ours_fn(fs)), best_of(loop_small)
    print(f"# the same on a batch of 32: ours {small_ours:.4f} s, loop {small_peer:.4f} s (ratio {small_peer / small_ours:.2f})")

    # (b) Hutchinson trace vs PyHessian at equal probe counts
    from pyhessian import hessian as pyhessian

    # PyHessian calls loss.backward(create_graph=True); torch warns about the reference cycle each time
    warnings.filterwarnings("ignore", message="Using backward\\(\\) with create_graph=True")

    model, criterion = as_module(spec, theta), nn.CrossEntropyLoss()
    assert torch.allclose(criterion(model(x), y), f(theta), atol=1e-5)  # the same loss on both sides
    ours_tr = hutchinson_trace(f, theta, N_PROBES, generator=torch.Generator().manual_seed(1))

    def peer_trace() -> float:
        return float(torch.tensor(pyhessian(model, criterion, data=(x, y), cuda=False).trace(maxIter=N_PROBES, tol=0.0)).mean())

    value = peer_trace()
    ours = best_of(lambda: hutchinson_trace(f, theta, N_PROBES, generator=torch.Generator().manual_seed(1)), 3)
    peer = best_of(peer_trace, 3)
    print(f"# n={N_PROBES} probes: ours {ours_tr.value:.2f} ± {ours_tr.stderr:.2f}, PyHessian {value:.2f}")
    print(f"BENCH hutchinson_trace ours_s={ours:.4f} peer_s={peer:.4f} ratio={peer / ours:.2f}")


if __name__ == "__main__":
    main()
