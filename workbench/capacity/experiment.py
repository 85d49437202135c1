"""`run(config) -> CapacityResult`: the main grid, the Σ C_i vs d sweep and the architecture
comparison, each one stacked ensemble.

With `executor="ray"` the main grid runs as one Ray task per kurtosis value. The split is exact:
members of a stacked ensemble train independently (see `workbench.tensor.ensemble`) and every cell
starts from its slice of the whole grid's init, so the result equals the in-process run.
"""

from __future__ import annotations

import time

import torch

from workbench.capacity.config import CapacityConfig
from workbench.capacity.features import relu_input_kurtosis
from workbench.capacity.result import CapacityResult
from workbench.capacity.train import StepCallback, importances, quadratic_init, train_quadratic, train_relu_output
from workbench.core.cache import ArtifactCache
from workbench.core.executor import Executor, as_executor, map_cells
from workbench.core.seeding import choose_device
from workbench.core.threads import thread_policy
from workbench.tensor.ensemble import EnsembleGrid


def _quadratic_cell(kurtosis: torch.Tensor, decay: torch.Tensor, init: torch.Tensor, config: CapacityConfig,
                    device: str, progress: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """One Ray cell of the main grid: members with these kurtosis/decay values from this init (CPU out)."""
    dev = torch.device(device)
    W, loss = train_quadratic(kurtosis.to(dev), importances(config.n, decay.to(dev)), config.d, steps=config.steps,
                              lr=config.lr, seed=config.seed, init=init, progress=progress)
    return W.cpu(), loss.cpu()


def _main_grid(config: CapacityConfig, device: torch.device, progress: bool, on_step: StepCallback | None,
               executor: Executor):
    grid = EnsembleGrid({"k": config.kurtosis, "decay": config.decay, "seed": tuple(range(config.seeds))})
    if executor.kind == "local":  # one stacked ensemble: the fastest in-process
        W, loss = train_quadratic(
            grid.values("k", device=device),
            importances(config.n, grid.values("decay", device=device)),
            config.d,
            steps=config.steps,
            lr=config.lr,
            seed=config.seed,
            progress=progress,
            on_step=on_step,
        )
        return grid.unflatten(W), grid.unflatten(loss)
    init = quadratic_init(grid.size, config.d, config.n, config.seed, device).cpu()
    K = len(config.kurtosis)  # C order: kurtosis is the slowest axis, so each chunk is one kurtosis row
    rows = zip(grid.values("k").chunk(K), grid.values("decay").chunk(K), init.chunk(K))
    parts = map_cells(_quadratic_cell, [(k, decay, w, config, str(device)) for k, decay, w in rows], executor,
                      progress=progress, description="capacity: kurtosis rows")
    W = torch.cat([p[0] for p in parts]).to(device)
    loss = torch.cat([p[1] for p in parts]).to(device)
    return grid.unflatten(W), grid.unflatten(loss)


def _d_sweep(config: CapacityConfig, device: torch.device, progress: bool):
    Q, S = len(config.sweep_kurtosis), config.seeds
    if not config.d_sweep:
        return torch.zeros(0, Q, S, 1, config.n), torch.zeros(0, Q, S)
    d_max = max(config.d_sweep)
    grid = EnsembleGrid({"d": config.d_sweep, "k": config.sweep_kurtosis, "seed": tuple(range(S))})
    widths = grid.values("d", device=device)
    row_mask = (torch.arange(d_max, device=device)[None, :] < widths[:, None]).float()
    W, loss = train_quadratic(
        grid.values("k", device=device),
        importances(config.n, torch.full((grid.size,), config.sweep_decay, device=device)),
        d_max,
        steps=config.steps,
        lr=config.lr,
        seed=config.seed + 1,
        row_mask=row_mask,
        progress=progress,
    )
    return grid.unflatten(W), grid.unflatten(loss)


def _architectures(config: CapacityConfig, device: torch.device, progress: bool):
    P, S, d, n = len(config.relu_feature_prob), config.seeds, config.d, config.n
    if P == 0:
        z = torch.zeros
        return z(0, S, d, n), z(0, S, n), z(0, S), z(0, S, d, n), z(0, S)
    grid = EnsembleGrid({"p": config.relu_feature_prob, "seed": tuple(range(S))})
    probs = grid.values("p", device=device)
    v = importances(n, torch.full((grid.size,), config.sweep_decay, device=device))
    relu_W, relu_b, relu_loss = train_relu_output(
        probs, v, d, steps=config.relu_steps, lr=config.lr / 2, batch=config.relu_batch,
        seed=config.seed + 2, progress=progress,
    )
    paired_W, paired_loss = train_quadratic(  # paired on the ReLU inputs' measured kurtosis, not 3/p
        relu_input_kurtosis(probs), v, d, steps=config.steps, lr=config.lr, seed=config.seed + 3, progress=progress
    )
    return tuple(grid.unflatten(t) for t in (relu_W, relu_b, relu_loss, paired_W, paired_loss))


def _parameters(config: CapacityConfig) -> int:
    """Parameters of every model `run` trains (all ensemble members): the thread policy's work."""
    members = (len(config.kurtosis) * len(config.decay) + len(config.d_sweep) * len(config.sweep_kurtosis)
               + 2 * len(config.relu_feature_prob)) * config.seeds
    return members * (max((config.d, *config.d_sweep)) + 1) * config.n


def run(
    config: CapacityConfig,
    *,
    progress: bool = True,
    device: str | torch.device | None = "cpu",
    executor: str | Executor = "local",
    cache: ArtifactCache | None = None,
    on_step: StepCallback | None = None,
) -> CapacityResult:
    """Train every model `config` asks for and return them (on the CPU).

    The suite contract's signature (`workbench.suite`): `device=None` picks CUDA when available;
    `executor="ray"` (or an `Executor`) runs the main grid's kurtosis rows as Ray tasks; `cache` is
    unused (nothing inside is cached apart from the whole result). `on_step(step, steps)` reports
    the main grid's progress (the widget's status line uses it; in-process only).
    """
    if not isinstance(config, CapacityConfig):
        raise ValueError(f"`config` must be a CapacityConfig; got {type(config).__name__}")
    dev = choose_device(device)
    ex = as_executor(executor)
    start = time.perf_counter()
    with thread_policy(dev, _parameters(config)):  # tiny toy models: one thread on the CPU (core.threads)
        W, loss = _main_grid(config, dev, progress, on_step, ex)
        sweep_W, sweep_loss = _d_sweep(config, dev, progress)
        relu_W, relu_b, relu_loss, paired_W, paired_loss = _architectures(config, dev, progress)

    def cpu(t: torch.Tensor) -> torch.Tensor:
        return t.detach().to("cpu").contiguous()

    return CapacityResult(
        config=config,
        W=cpu(W), loss=cpu(loss),
        sweep_W=cpu(sweep_W), sweep_loss=cpu(sweep_loss),
        relu_W=cpu(relu_W), relu_b=cpu(relu_b), relu_loss=cpu(relu_loss),
        paired_W=cpu(paired_W), paired_loss=cpu(paired_loss),
        train_seconds=round(time.perf_counter() - start, 3),
    )
