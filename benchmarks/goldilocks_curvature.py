"""BENCH lines of the curvature toolbox on the goldilocks digits MLP (64-64-64-10, D = 8,970, loss on
512 fixed digits unless said). Every comparison prints one `BENCH <name> ours_s=… peer_s=… ratio=…`.

Both sides run on ONE torch thread (`torch.set_num_threads(1)` below, before anything is timed):
the CPU is shared with other jobs, and one thread is also how the suite computes its small models
(`workbench.core.threads`). Short comparisons are the best of `REPEATS` runs after a warm-up.

(a) curvature_sweep: the default config's whole radius sweep (2 activations × 3 seeds × 19 radii ×
    (3 planes + their 3 sphere tangent planes), d = 16). Ours = `radius_sweep` on every (activation,
    seed) cell, as `goldilocks.experiment` runs them (the net's structured restricted Hessians,
    `tensor.mlp_curvature`, all radii of a cell in one call; also the losses and sphere shifts);
    peer = how a reproduction writes it: per point and plane, `torch.autograd.functional.hessian`
    of g(φ) = L(P + Mφ) at φ = 0, then eigvalsh. Timed once each, cell by cell, the two sides
    alternating so that load from other jobs falls on both alike. ratio = peer_s / ours_s.
(b) restricted_hessian: one point, d = 32: ours `restricted_eigvals`; peer a Python loop of 32
    double-backward HVPs sharing one create_graph gradient, then eigvalsh. ratio = peer_s / ours_s.
(c) hvp_floor: ours = one d = 16 restricted Hessian (`restricted_hessian`); peer = 16 × one full
    gradient on the same batch. ratio = ours_s / peer_s (how many gradients a restricted Hessian
    costs per direction; ≤ 1 means cheaper than a gradient per direction).
(d) hutchinson_trace: Tr ∇²L from n = 100 Rademacher probes, ours `hutchinson_trace` (the net's
    quadratic forms zᵀ∇²Lz by forward tangents, `curvature.quadratic_forms`); peer PyHessian
    0.1's `hessian(model, criterion, data, cuda=False).trace(maxIter=100, tol=0)` (no early stop).
(e) trace_at_equal_error: on a small net (64-16-16-10, D = 1,482) with its exact trace, PyHessian's
    Hutchinson at 100 probes has some relative error (RMS over `TRACE_REPEATS` seeds); ours is
    `hutchpp_trace` at the fewest uses m of ∇²L (of a grid) whose RMS relative error is no larger
    (m/3 HVPs for the sketch, 2m/3 quadratic forms). Time of one such estimate each; ratio =
    peer_s / ours_s.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import torch
from torch import nn

from workbench.goldilocks import GoldilocksConfig, load_digits
from workbench.goldilocks.data import load_dataset
from workbench.goldilocks.experiment import directions, hessian_bases
from workbench.goldilocks.sweep import points_at_ratios, radius_sweep
from workbench.tensor.curvature import hessian_operator, hutchinson_trace, restricted_eigvals, restricted_hessian
from workbench.tensor.subspaces import point_at_radius, random_orthonormal_basis, sphere_basis
from workbench.tensor.trace_estimators import hutchpp_trace

torch.set_num_threads(1)  # both sides on one thread: the CPU is shared (see the module docstring)
# PyHessian calls loss.backward(create_graph=True); torch warns about the reference cycle each time
warnings.filterwarnings("ignore", message="Using backward\\(\\) with create_graph=True")

D_PLANE, N_PROBES, BATCH, REPEATS = 32, 100, 512, 5
TRACE_WIDTHS, TRACE_REPEATS = (16, 16), 20
HUTCHPP_GRID = (6, 9, 12, 15, 18, 24, 30, 36, 45, 60, 75, 90, 120, 150, 210, 300)


def best_of(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    fn()  # warm-up: lazy imports, allocator, vmap's first trace
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench(name: str, ours: float, peer: float, ratio: float) -> None:
    print(f"BENCH {name} ours_s={ours:.4f} peer_s={peer:.4f} ratio={ratio:.2f}", flush=True)


def as_module(spec, theta: torch.Tensor) -> nn.Sequential:
    """The same ReLU net as an nn.Sequential holding θ's weights (PyHessian needs a module)."""
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


def curvature_sweep() -> None:
    config = GoldilocksConfig()
    data = load_dataset(config.dataset, config.data_path, seed=config.seed)
    x, y = data.subset(config.hessian_batch, seed=config.seed)
    U, bases = directions(config), hessian_bases(config)
    r_init = config.spec(config.activations[0]).r_init(config.init)
    cells = [(act, s) for act in config.activations for s in range(config.seeds)]

    def ours(act: str, s: int):
        return radius_sweep(config.spec(act), x, y, U[s], config.ratios, r_init, bases[s], config.sphere, config.dtype)

    def peer(act: str, s: int) -> torch.Tensor:
        spec = config.spec(act)
        points = points_at_ratios(U[s], config.ratios, r_init)
        planes = list(bases[s]) + [sphere_basis(M, points[0]) for M in bases[s]]
        eigs = [[torch.linalg.eigvalsh(torch.autograd.functional.hessian(
            lambda phi, P=P, M=M: spec.loss(P + M @ phi, x, y), torch.zeros(M.shape[1])).double())
            for P in points] for M in planes]
        return torch.stack([torch.stack(row) for row in eigs])  # [2B, R, d]

    act0 = cells[0][0]  # warm-up: forward-mode AD's first use costs seconds
    radius_sweep(config.spec(act0), x, y, U[0], config.ratios[:1], r_init, bases[0], config.sphere, config.dtype)
    torch.autograd.functional.hessian(lambda phi: config.spec(act0).loss(U[0] + bases[0, 0] @ phi, x, y),
                                      torch.zeros(config.hessian_dim))
    # cell by cell, the two sides alternating (and swapping which goes first), so that the other
    # jobs' load falls on both alike; the seconds are summed over cells
    ours_s = peer_s = 0.0
    sweeps, loops = [], []
    for c, cell in enumerate(cells):
        for side in ((0, 1) if c % 2 == 0 else (1, 0)):
            seconds, out = timed(lambda: ours(*cell)) if side == 0 else timed(lambda: peer(*cell))
            if side == 0:
                ours_s += seconds
                sweeps.append(out)
            else:
                peer_s += seconds
                loops.append(out)
    gap = max(float((torch.cat([sw.plane_eigs, sw.sphere_eigs]) - lp).abs().max() / lp.abs().max())
              for sw, lp in zip(sweeps, loops))
    print(f"# curvature_sweep: {len(cells)} cells × {len(config.ratios)} radii × {2 * config.bases} planes, "
          f"d={config.hessian_dim}, batch {config.hessian_batch}; max |λ_ours − λ_peer| / max|λ| = {gap:.1e}")
    bench("curvature_sweep", ours_s, peer_s, peer_s / ours_s)


def one_point() -> None:
    config = GoldilocksConfig()
    spec = config.spec("relu")
    x, y = load_digits().subset(BATCH)
    gen = torch.Generator().manual_seed(0)
    theta = point_at_radius(spec.init(config.init, gen), spec.r_init(config.init))
    M = random_orthonormal_basis(spec.n_params, D_PLANE, gen)
    f = spec.loss_fn(x, y)

    def loop() -> torch.Tensor:
        t = theta.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(spec.loss(t, x, y), t, create_graph=True)
        cols = [torch.autograd.grad(g, t, M[:, j], retain_graph=True)[0] for j in range(D_PLANE)]
        H = M.T @ torch.stack(cols, 1)
        return torch.linalg.eigvalsh(((H + H.T) / 2).double())

    ours = best_of(lambda: restricted_eigvals(f, theta[None], M[None])[0, 0])
    peer = best_of(loop)
    bench("restricted_hessian", ours, peer, peer / ours)

    d = config.hessian_dim
    Md = M[:, :d]
    t = theta.clone().requires_grad_(True)
    ours = best_of(lambda: restricted_hessian(f, theta, Md))
    one_grad = best_of(lambda: torch.autograd.grad(spec.loss(t, x, y), t), 20)
    generic = best_of(lambda: restricted_hessian(lambda th: spec.loss(th, x, y), theta, Md))
    print(f"# hvp_floor: one gradient {one_grad * 1e3:.2f} ms; a d={d} restricted Hessian by vmapped "
          f"forward-over-reverse HVPs (the generic path) {generic:.4f} s = "
          f"{generic / (d * one_grad):.2f} × d gradients")
    bench("hvp_floor", ours, d * one_grad, ours / (d * one_grad))

    from pyhessian import hessian as pyhessian

    model, criterion = as_module(spec, theta), nn.CrossEntropyLoss()
    ours = best_of(lambda: hutchinson_trace(f, theta, N_PROBES, generator=torch.Generator().manual_seed(1)), 3)
    peer = best_of(lambda: pyhessian(model, criterion, data=(x, y), cuda=False).trace(maxIter=N_PROBES, tol=0.0), 3)
    bench("hutchinson_trace", ours, peer, peer / ours)


def trace_at_equal_error() -> None:
    from pyhessian import hessian as pyhessian

    config = GoldilocksConfig(widths=TRACE_WIDTHS)
    spec = config.spec("relu")
    x, y = load_digits().subset(BATCH)
    theta = point_at_radius(spec.init(config.init, torch.Generator().manual_seed(0)), spec.r_init(config.init))
    f = spec.loss_fn(x, y)
    matmat, D = hessian_operator(f, theta.double(), chunk=256)
    exact = float(sum(torch.einsum("kD,kD->", matmat(rows), rows)
                      for rows in torch.eye(D, dtype=torch.float64).split(256)))
    model, criterion = as_module(spec, theta), nn.CrossEntropyLoss()

    def peer_once(seed: int) -> float:
        torch.manual_seed(seed)  # PyHessian draws its probes from the global generator
        samples = pyhessian(model, criterion, data=(x, y), cuda=False).trace(maxIter=N_PROBES, tol=0.0)
        return float(torch.tensor(samples).mean())

    def rms_error(values: list[float]) -> float:
        return float(torch.tensor([(v - exact) / exact for v in values], dtype=torch.float64).pow(2).mean().sqrt())

    peer_err = rms_error([peer_once(seed) for seed in range(TRACE_REPEATS)])
    for m in HUTCHPP_GRID:
        ours_err = rms_error([hutchpp_trace(f, theta, m, generator=torch.Generator().manual_seed(seed)).value
                              for seed in range(TRACE_REPEATS)])
        if ours_err <= peer_err:
            break
    ours = best_of(lambda: hutchpp_trace(f, theta, m, generator=torch.Generator().manual_seed(0)), 3)
    peer = best_of(lambda: peer_once(0), 3)
    print(f"# trace_at_equal_error: D={D}, exact Tr H = {exact:.4f}; RMS relative error over {TRACE_REPEATS} seeds: "
          f"PyHessian Hutchinson at {N_PROBES} probes {peer_err:.4f}, Hutch++ at m={m} ({m // 3} HVPs + {2 * (m // 3)} "
          f"quadratic forms) {ours_err:.4f}")
    bench("trace_at_equal_error", ours, peer, peer / ours)


def main() -> None:
    print(f"# threads={torch.get_num_threads()} (both sides)")
    one_point()
    trace_at_equal_error()
    curvature_sweep()


if __name__ == "__main__":
    main()
