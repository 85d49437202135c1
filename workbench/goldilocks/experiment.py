"""`run(config) -> GoldilocksResult`: the radius sweep, hyperplane training and init selection."""

from __future__ import annotations

import math
import time

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.core.cache import ArtifactCache
from workbench.core.executor import Executor, as_executor, map_cells
from workbench.core.seeding import choose_device, seed_everything
from workbench.core.threads import thread_policy
from workbench.goldilocks.config import RANK_BY, GoldilocksConfig
from workbench.goldilocks.data import Dataset, load_dataset
from workbench.goldilocks.density import zone_densities, zone_indices
from workbench.goldilocks.hyperplane import ensemble_accuracy, ensemble_loss
from workbench.goldilocks.intrinsic import (
    SURFACES,
    surface_points,
    train_full,
    train_on_surfaces,
)
from workbench.goldilocks.model import MLPSpec
from workbench.goldilocks.result import GoldilocksResult
from workbench.goldilocks.scoring import plane_positive_share, score_inits
from workbench.goldilocks.selection import train_full_space
from workbench.goldilocks.sweep import (
    nested_dim_measures,
    points_at_ratios,
    radius_sweep,
    random_bases,
)
from workbench.tensor.curvature import resolve_dtype


def directions(config: GoldilocksConfig, device: torch.device | str = "cpu") -> Tensor:
    """[S, D]: one sampled init of the named scheme per seed (the direction u of the points r·u)."""
    spec = config.spec(config.activations[0])  # the init does not depend on the activation
    gen = torch.Generator().manual_seed(config.seed)
    return torch.stack([spec.init(config.init, gen) for _ in range(config.seeds)]).to(device)


def hessian_bases(config: GoldilocksConfig, d: int | None = None, device: torch.device | str = "cpu") -> Tensor:
    """[S, B, D, d]: the random orthonormal d-planes of every seed (fixed by config.seed)."""
    gen = torch.Generator().manual_seed(config.seed + 1)
    d = config.hessian_dim if d is None else d
    return torch.stack([random_bases(config.n_params, d, config.bases, gen, kind=config.basis)
                        for _ in range(config.seeds)]).to(device)


def isotropic_directions(config: GoldilocksConfig, device: torch.device | str = "cpu") -> Tensor:
    """[S, D]: u ~ N(0, I_D) over ALL parameters, biases included (the CS229 reproduction's P).
    The sweep puts direction s on seed s's planes (S directions × B planes)."""
    gen = torch.Generator().manual_seed(config.seed + 7)
    return torch.randn(config.seeds, config.n_params, generator=gen).to(device)


def _hessian_data(config: GoldilocksConfig, data: Dataset, dev: torch.device) -> tuple[Tensor, Tensor]:
    x, y = data.subset(min(config.hessian_batch, len(data.y_train)), seed=config.seed)
    return x.to(dev), y.to(dev)


def _sweeps(config: GoldilocksConfig, data: Dataset, r_init: float, dev: torch.device, progress: bool,
            executor: Executor):
    """One cell per (family, activation, seed): that direction's spectra at every ratio r/r_init of
    `ratios` on its planes (and spheres, for the init family)."""
    x, y = _hessian_data(config, data, dev)
    bases = hessian_bases(config, device=dev)
    A, S = len(config.activations), config.seeds
    U = directions(config, dev)
    cells = [(config.spec(act), x, y, U[s], config.ratios, r_init, bases[s], config.sphere, config.dtype,
              config.float64_from) for act in config.activations for s in range(S)]
    # the isotropic arm (planes only): isotropic direction s on seed s's planes, S × B like the init family
    iso_u = isotropic_directions(config, dev)
    cells += [(config.spec(act), x, y, iso_u[s], config.ratios, r_init, bases[s], False, config.dtype,
               config.float64_from) for act in config.activations for s in range(S) if config.isotropic]
    sweeps = map_cells(radius_sweep, cells, executor, progress=progress, description="radius sweeps")

    def stack(field: str) -> Tensor:
        rows = [sweeps[a * S:(a + 1) * S] for a in range(A)]
        return torch.stack([torch.stack([getattr(sw, field) for sw in row]) for row in rows]).float().cpu()
    iso = (torch.stack([sw.plane_eigs for sw in sweeps[A * S:]]).reshape(A, S, *sweeps[0].plane_eigs.shape).float()
           .cpu() if config.isotropic else torch.zeros(A, 0, config.bases, len(config.ratios), config.hessian_dim))
    return stack("plane_eigs"), stack("sphere_eigs"), stack("shift"), stack("loss"), iso


def _dims(config: GoldilocksConfig, data: Dataset, r_init: float, dev: torch.device) -> tuple[Tensor, Tensor]:
    """[A, K, B, R] Tr/(√d‖H_d‖_F) and positive share for d in `compare_dims`, nested planes."""
    A, B, R = len(config.activations), config.bases, len(config.ratios)
    if not config.compare_dims:
        return torch.zeros(A, 0, B, R), torch.zeros(A, 0, B, R)
    x, y = _hessian_data(config, data, dev)
    gen = torch.Generator().manual_seed(config.seed + 8)
    bases = random_bases(config.n_params, max(config.compare_dims), B, gen, kind=config.basis).to(dev)
    u = directions(config, dev)[0]
    out = [nested_dim_measures(config.spec(act), x, y, u, config.ratios, r_init, bases, config.compare_dims,
                               config.float64_from) for act in config.activations]
    return torch.stack([o[0] for o in out]).float().cpu(), torch.stack([o[1] for o in out]).float().cpu()


def _densities(config: GoldilocksConfig, data: Dataset, r_init: float, dev: torch.device, plane: Tensor
               ) -> tuple[Tensor, Tensor, Tensor]:
    """[Z] indices into `ratios` and [A, Z, V, k] SLQ nodes / weights of the full-space Hessian (Z = 0 when skipped)."""
    A, V, k = len(config.activations), config.density_probes, config.density_steps
    if not k:
        return torch.zeros(0), torch.zeros(A, 0, V, 0), torch.zeros(A, 0, V, 0)
    indices = zone_indices(config, plane)
    x, y = _hessian_data(config, data, dev)
    nodes, weights = zone_densities(config, x, y, directions(config, dev)[0], r_init, indices)
    return torch.tensor(indices, dtype=torch.float64), nodes, weights


def _surface_cell(spec: MLPSpec, points: Tensor, bases: Tensor, data: Dataset, config: GoldilocksConfig,
                  r_init: float, seed: int, progress: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Train φ on every (seed, training ratio) member of one (d, activation), on the plane and on the
    origin-centred sphere (same point, basis and batches); test accuracy per surface and member,
    and the plane's training loss, on the CPU. points [S, Q, D], bases [S, D, d]."""
    accs, plane_loss = [], None
    for surface in SURFACES:
        phi = train_on_surfaces(spec, points, bases, data.x_train, data.y_train, config.train_steps, config.train_lr,
                                config.train_batch, surface=surface, r_init=r_init, seed=seed, progress=progress)
        thetas = surface_points(points, bases, phi, surface, r_init).flatten(0, 1)
        accs.append(ensemble_accuracy(spec, thetas, data.x_test, data.y_test).cpu())
        if surface == "plane":
            with torch.no_grad():
                plane_loss = ensemble_loss(spec, thetas, data.x_train, data.y_train).cpu()
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
        out.append(ensemble_accuracy(spec, theta, data.x_test, data.y_test).cpu())
    return torch.stack(out).float()


def _hyperplanes(config: GoldilocksConfig, data: Dataset, r_init: float, dev: torch.device, progress: bool,
                 executor: Executor):
    """One cell per (d, activation): an ensemble over seeds × `train_ratios`, trained on random d-planes
    and on the d-spheres through the same points."""
    A, T, S, Q = len(config.activations), len(config.train_dims), config.seeds, len(config.train_ratios)
    if not T:
        empty = torch.zeros(A, 0, S, 0)
        return empty, empty, empty, torch.zeros(A, 0)
    points = points_at_ratios(directions(config, dev), config.train_ratios, r_init)  # [seed, ratio, D]
    cells = []
    for ti, d in enumerate(config.train_dims):
        gen = torch.Generator().manual_seed(config.seed + 100 + d)
        bases = random_bases(config.n_params, d, S, gen, kind=config.basis).to(dev)  # one plane per seed, all ratios
        cells += [(config.spec(act), points, bases, data, config, r_init, config.seed + ti)
                  for act in config.activations]
    out = map_cells(_surface_cell, cells, executor, progress=progress, description="hyperplane and sphere training")

    def stack(k: int) -> Tensor:
        return torch.stack([o[k] for o in out]).float().reshape(T, A, S, Q).transpose(0, 1).contiguous()
    return stack(0), stack(1), stack(2), _full_space(config, data, r_init, dev, progress)


def _d90_extension(config: GoldilocksConfig, data: Dataset, r_init: float, dev: torch.device, progress: bool,
                   executor: Executor) -> tuple[Tensor, Tensor]:
    """[A, T', S, Q'] test accuracy on planes and on spheres for d in `d90_dims` at the ratios
    `d90_ratios` only (the same cells as `_hyperplanes`, on a smaller set of radii)."""
    A, T, S, Q = len(config.activations), len(config.d90_dims), config.seeds, len(config.d90_ratios)
    if not T:
        return torch.zeros(A, 0, S, 0), torch.zeros(A, 0, S, 0)
    points = points_at_ratios(directions(config, dev), config.d90_ratios, r_init)  # [seed, ratio, D]
    cells = []
    for ti, d in enumerate(config.d90_dims):
        gen = torch.Generator().manual_seed(config.seed + 100 + d)
        bases = random_bases(config.n_params, d, S, gen, kind=config.basis).to(dev)
        cells += [(config.spec(act), points, bases, data, config, r_init, config.seed + len(config.train_dims) + ti)
                  for act in config.activations]
    out = map_cells(_surface_cell, cells, executor, progress=progress, description="d90 extension (large d)")

    def stack(k: int) -> Tensor:
        return torch.stack([o[k] for o in out]).float().reshape(T, A, S, Q).transpose(0, 1).contiguous()
    return stack(0), stack(1)


def selection_inits(config: GoldilocksConfig, r_init: float) -> tuple[Float[Tensor, "M D"], Float[Tensor, " M"]]:
    """The N inits at exactly r_init, then the positive control's at ratios r/r_init log-uniform in
    `selection_control_ratios`; their θ (radius ratio·r_init) and their ratios r/r_init."""
    spec = config.spec(config.selection_activation)
    gen = torch.Generator().manual_seed(config.seed + 3)
    M = config.selection_inits + config.selection_controls
    inits = torch.stack([spec.init(config.init, gen) for _ in range(M)])
    low, high = (math.log(ratio) for ratio in config.selection_control_ratios)
    control = torch.exp(low + (high - low) * torch.rand(config.selection_controls, generator=gen, dtype=torch.float64))
    ratios = torch.cat([torch.ones(config.selection_inits, dtype=torch.float64), control])
    thetas = inits / inits.norm(dim=-1, keepdim=True) * (ratios * r_init)[:, None].float()
    return thetas, ratios


def _selection(config: GoldilocksConfig, data: Dataset, r_init: float, dev: torch.device, progress: bool):
    N = config.selection_inits
    if not N:
        z = torch.zeros
        return z(0, len(RANK_BY)), z(0, 4), z(0), z(0, 0), z(0, 0)
    spec = config.spec(config.selection_activation)
    thetas, ratios = selection_inits(config, r_init)
    thetas = thetas.to(dev)
    x, y = _hessian_data(config, data, dev)
    dt = resolve_dtype(config.dtype, thetas.dtype)
    f = spec.loss_fn(x.to(dt), y)
    measures, retest = score_inits(f, thetas.to(dt), config.selection_probes, seed=config.seed + 2, progress=progress,
                                   estimator=config.selection_estimator, common=config.selection_common_probes)
    gen = torch.Generator().manual_seed(config.seed + 9)  # the same planes for every init
    planes = random_bases(config.n_params, config.hessian_dim, config.selection_planes, gen, kind=config.basis)
    share = plane_positive_share(f, thetas.to(dt), planes.to(dev, dt))              # [M, 2] test, retest
    measures = torch.cat([measures, share.mean(-1, keepdim=True)], -1)
    retest = torch.cat([retest, share], -1)
    curves, losses = train_full_space(spec, thetas, data.x_train, data.y_train, data.x_test, data.y_test,
                                      config.selection_steps, config.selection_lr, config.selection_batch,
                                      config.selection_eval_every, seed=config.seed + 4, progress=progress)
    return measures.float(), retest.float(), ratios.float(), curves.cpu(), losses.cpu()


def _parameters(config: GoldilocksConfig) -> int:
    """Parameters of the widest ensemble `run` computes with (every member): the thread policy's work."""
    members = max(config.seeds * max(len(config.train_ratios), 1), config.selection_inits + config.selection_controls,
                  len(config.activations))
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
    with thread_policy(dev, _parameters(config)):  # small MLPs: one thread on the CPU (core.threads)
        plane, sphere, shift, loss, iso = _sweeps(config, data, r_init, dev, progress, ex)
        dims_ratio, dims_positive = _dims(config, data, r_init, dev)
        density_at, nodes, weights = _densities(config, data, r_init, dev, plane)
        seconds["radius_sweep"] = round(time.perf_counter() - start, 2)
        t = time.perf_counter()
        acc, sphere_acc, plane_loss, full_acc = _hyperplanes(config, data, r_init, dev, progress, ex)
        d90_plane, d90_sphere = _d90_extension(config, data, r_init, dev, progress, ex)
        seconds["hyperplane_training"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        measures, retest, ratios, curves, losses = _selection(config, data, r_init, dev, progress)
        seconds["init_selection"] = round(time.perf_counter() - t, 2)
    seconds["total"] = round(time.perf_counter() - start, 2)
    return GoldilocksResult(
        config=config, r_init=r_init, plane_eigs=plane, iso_plane_eigs=iso, dims_ratio=dims_ratio,
        dims_positive=dims_positive, density_at=density_at, density_nodes=nodes, density_weights=weights,
        sphere_eigs=sphere, sphere_shift=shift, point_loss=loss,
        plane_acc=acc, plane_loss=plane_loss, sphere_acc=sphere_acc, full_acc=full_acc, d90_plane_acc=d90_plane,
        d90_sphere_acc=d90_sphere, sel_measures=measures,
        sel_retest=retest, sel_ratios=ratios,
        sel_curves=curves, sel_losses=losses, stage_seconds=seconds,
    )
