"""`run(config) -> GoldilocksResult`: the radius sweep, hyperplane training and init selection."""

from __future__ import annotations

import time

import torch
from torch import Tensor

from workbench.goldilocks.config import RANK_BY, GoldilocksConfig
from workbench.goldilocks.data import Dataset, load_dataset
from workbench.goldilocks.intrinsic import (
    SURFACES,
    members_accuracy,
    members_loss,
    surface_points,
    train_full,
    train_on_surfaces,
)
from workbench.goldilocks.model import MLPSpec
from workbench.goldilocks.result import GoldilocksResult
from workbench.goldilocks.selection import train_full_space
from workbench.goldilocks.sweep import points_at_ratios, radius_sweep, random_bases
from workbench.tensor.cache import ArtifactCache
from workbench.tensor.curvature import eigvals_positive_fraction, eigvals_trace_ratio, resolve_dtype, restricted_eigvals
from workbench.tensor.executor import Executor, as_executor, map_cells
from workbench.tensor.seeding import choose_device, seed_everything
from workbench.tensor.threads import thread_policy


def directions(config: GoldilocksConfig, device: torch.device | str = "cpu") -> Tensor:
    """[S, D]: one sampled init of the named scheme per seed (the direction u of the points r·u)."""
    spec = config.spec(config.activations[0])  # the init does not depend on the activation
    gen = torch.Generator().manual_seed(config.seed)
    return torch.stack([spec.init(config.init, gen) for _ in range(config.seeds)]).to(device)


def hessian_bases(config: GoldilocksConfig, d: int | None = None, device: torch.device | str = "cpu") -> Tensor:
    """[S, B, D, d]: the random orthonormal d-planes of every seed (fixed by config.seed)."""
    gen = torch.Generator().manual_seed(config.seed + 1)
    d = config.hessian_dim if d is None else d
    return torch.stack([random_bases(config.n_params, d, config.bases, gen, kind=config.basis) for _ in range(config.seeds)]).to(device)


def _sweeps(config: GoldilocksConfig, data: Dataset, r_init: float, dev: torch.device, progress: bool,
            executor: Executor):
    """One cell per (activation, seed): that direction's spectra at every radius on its planes."""
    x, y = data.subset(config.hessian_batch, seed=config.seed)
    x, y = x.to(dev), y.to(dev)
    U, bases = directions(config, dev), hessian_bases(config, device=dev)
    cells = [(config.spec(act), x, y, U[s], config.radii, r_init, bases[s], config.sphere, config.dtype)
             for act in config.activations for s in range(config.seeds)]
    sweeps = map_cells(radius_sweep, cells, executor, progress=progress, description="radius sweeps")
    S = config.seeds
    per_act = [sweeps[a * S:(a + 1) * S] for a in range(len(config.activations))]

    def stack(field: str) -> Tensor:
        return torch.stack([torch.stack([getattr(sw, field) for sw in row]) for row in per_act]).float().cpu()
    return stack("plane_eigs"), stack("sphere_eigs"), stack("shift"), stack("loss")


def _surface_cell(spec: MLPSpec, points: Tensor, bases: Tensor, data: Dataset, config: GoldilocksConfig,
                  seed: int, progress: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Train φ on every (seed, radius) member of one (d, activation), on the plane and on the
    origin-centred sphere (same point, basis and batches); test accuracy per surface and member,
    and the plane's training loss, on the CPU. points [S, Q, D], bases [S, D, d]."""
    accs, plane_loss = [], None
    for surface in SURFACES:
        phi = train_on_surfaces(spec, points, bases, data.x_train, data.y_train, config.train_steps, config.train_lr,
                                config.train_batch, surface=surface, seed=seed, progress=progress)
        thetas = surface_points(points, bases, phi, surface).flatten(0, 1)
        accs.append(members_accuracy(spec, thetas, data.x_test, data.y_test).cpu())
        if surface == "plane":
            with torch.no_grad():
                plane_loss = members_loss(spec, thetas, data.x_train, data.y_train).cpu()
    return accs[0], accs[1], plane_loss


def _full_space(config: GoldilocksConfig, data: Dataset, r_init: float, dev: torch.device, progress: bool) -> Tensor:
    """[A, S]: test accuracy of the full-space reference (all D parameters trained by Adam from
    each seed's init at r_init, same steps and batch): the 100 % of d₉₀."""
    start = points_at_ratios(directions(config, dev), [1.0], r_init)[:, 0]
    out = []
    for act in config.activations:
        spec = config.spec(act)
        theta = train_full(spec, start, data.x_train, data.y_train, config.train_steps, config.full_lr,
                           config.train_batch, seed=config.seed + 50, progress=progress)
        out.append(members_accuracy(spec, theta, data.x_test, data.y_test).cpu())
    return torch.stack(out).float()


def _hyperplanes(config: GoldilocksConfig, data: Dataset, r_init: float, dev: torch.device, progress: bool,
                 executor: Executor):
    """One cell per (d, activation): an ensemble over seeds × radii, trained on random d-planes
    and on the d-spheres through the same points."""
    A, T, S, Q = len(config.activations), len(config.train_dims), config.seeds, len(config.train_radii)
    if not T:
        empty = torch.zeros(A, 0, S, 0)
        return empty, empty, empty, torch.zeros(A, 0)
    points = points_at_ratios(directions(config, dev), config.train_radii, r_init)  # [seed, radius, D]
    cells = []
    for ti, d in enumerate(config.train_dims):
        gen = torch.Generator().manual_seed(config.seed + 100 + d)
        bases = random_bases(config.n_params, d, S, gen, kind=config.basis).to(dev)  # one plane per seed, shared across radii
        cells += [(config.spec(act), points, bases, data, config, config.seed + ti) for act in config.activations]
    out = map_cells(_surface_cell, cells, executor, progress=progress, description="hyperplane and sphere training")

    def stack(k: int) -> Tensor:
        return torch.stack([o[k] for o in out]).float().reshape(T, A, S, Q).transpose(0, 1).contiguous()
    return stack(0), stack(1), stack(2), _full_space(config, data, r_init, dev, progress)


def selection_measures(config: GoldilocksConfig, thetas: Tensor, data: Dataset, progress: bool = False) -> Tensor:
    """[N, 3]: mean Tr(H_d)/‖H_d‖_F and positive fraction over `bases` random d-planes, and the loss."""
    spec = config.spec(config.selection_activation)
    x, y = data.subset(config.hessian_batch, seed=config.seed)
    dt = resolve_dtype(config.dtype, thetas.dtype)
    f = spec.loss_fn(x.to(thetas.device, dt), y.to(thetas.device))
    gen = torch.Generator().manual_seed(config.seed + 2)
    rows = []
    for theta in thetas.to(dt):  # each init has its own planes, so no point axis to share them over
        bases = random_bases(config.n_params, config.hessian_dim, config.bases, gen, dt, config.basis).to(theta.device)
        eigs = restricted_eigvals(f, theta[None], bases)[0]
        rows.append(torch.stack([eigvals_trace_ratio(eigs).mean(), eigvals_positive_fraction(eigs).mean(),
                                 f(theta).detach().double()]))
    return torch.stack(rows).float().cpu()  # columns in RANK_BY order


def _selection(config: GoldilocksConfig, data: Dataset, r_init: float, dev: torch.device, progress: bool):
    N = config.selection_inits
    if not N:
        return torch.zeros(0, len(RANK_BY)), torch.zeros(0, 0)
    spec = config.spec(config.selection_activation)
    gen = torch.Generator().manual_seed(config.seed + 3)
    inits = torch.stack([spec.init(config.init, gen) for _ in range(N)])
    thetas = points_at_ratios(inits, [1.0], r_init)[:, 0].to(dev)  # every init scaled onto ‖θ‖ = r_init
    measures = selection_measures(config, thetas, data, progress)
    curves = train_full_space(spec, thetas, data.x_train, data.y_train, data.x_test, data.y_test,
                              config.selection_steps, config.selection_lr, config.selection_batch,
                              config.selection_eval_every, seed=config.seed + 4, progress=progress)
    return measures, curves.cpu()


def _parameters(config: GoldilocksConfig) -> int:
    """Parameters of the widest ensemble `run` computes with (every member): the thread policy's work."""
    members = max(config.seeds * max(len(config.train_radii), 1), config.selection_inits, len(config.activations))
    return members * config.n_params


def run(config: GoldilocksConfig, *, progress: bool = True, device: str | torch.device | None = "cpu",
        executor: str | Executor = "local", cache: ArtifactCache | None = None) -> GoldilocksResult:
    """Run every study `config` asks for and return the result (tensors on the CPU).

    The suite contract's signature (`workbench.suite`): `device=None` picks CUDA when available;
    `executor="ray"` (or an `Executor`) runs the radius sweep's (activation, seed) cells and
    hyperplane training's (d, activation) cells as Ray tasks, with the same result; `cache` is
    unused (nothing inside is cached apart from the whole result)."""
    if not isinstance(config, GoldilocksConfig):
        raise ValueError(f"`config` must be a GoldilocksConfig; got {type(config).__name__}")
    dev = choose_device(device)
    ex = as_executor(executor)
    seed_everything(config.seed)
    data = load_dataset(config.dataset, config.data_path, seed=config.seed).to(dev)
    r_init = config.spec(config.activations[0]).r_init(config.init)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    with thread_policy(dev, _parameters(config)):  # small MLPs: one thread on the CPU (tensor.threads)
        plane, sphere, shift, loss = _sweeps(config, data, r_init, dev, progress, ex)
        seconds["radius_sweep"] = round(time.perf_counter() - start, 2)
        t = time.perf_counter()
        acc, sphere_acc, plane_loss, full_acc = _hyperplanes(config, data, r_init, dev, progress, ex)
        seconds["hyperplane_training"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        measures, curves = _selection(config, data, r_init, dev, progress)
        seconds["init_selection"] = round(time.perf_counter() - t, 2)
    seconds["total"] = round(time.perf_counter() - start, 2)
    return GoldilocksResult(
        config=config, r_init=r_init, plane_eigs=plane, sphere_eigs=sphere, sphere_shift=shift, point_loss=loss,
        plane_acc=acc, plane_loss=plane_loss, sphere_acc=sphere_acc, full_acc=full_acc, sel_measures=measures, sel_curves=curves, stage_seconds=seconds,
    )
