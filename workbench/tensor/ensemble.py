"""Ensembles: many small models trained at once as one stacked tensor.

Parameters carry a leading ensemble axis E. Each member's loss depends only on its own slice, so
the gradient of the summed loss is, slice by slice, each member's own gradient; Adam is
elementwise, so one optimizer on the stack equals E independent optimizers (a test checks this).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import einops
import torch
from jaxtyping import Float
from torch import Tensor
from tqdm.auto import tqdm

from workbench.core.validation import check_int, check_range, check_sequence


@dataclass(frozen=True)
class EnsembleGrid:
    """A cartesian grid of named axes, flattened (C order, last axis fastest) into members.

    >>> grid = EnsembleGrid({"kurtosis": (2.0, 10.0), "seed": (0, 1, 2)})
    >>> grid.size, grid.values("kurtosis")  # (6, tensor([2., 2., 2., 10., 10., 10.]))
    """

    axes: dict[str, tuple]

    def __post_init__(self) -> None:
        if not self.axes:
            raise ValueError("`axes` must name at least one axis")
        for name, values in self.axes.items():
            check_sequence(f"axes[{name!r}]", values)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.axes.values())

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def members(self) -> list[dict[str, object]]:
        """One dict of axis values per member, in flat order."""
        names = list(self.axes)
        return [dict(zip(names, combo)) for combo in itertools.product(*self.axes.values())]

    def values(self, name: str, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> Tensor:
        """Float[Tensor, "E"]: axis `name`'s value for every member."""
        if name not in self.axes:
            raise ValueError(f"`name` must be one of {list(self.axes)}; got {name!r}")
        return torch.tensor([m[name] for m in self.members()], dtype=dtype, device=device)

    def unflatten(self, tensor: Float[Tensor, " E *rest"]) -> Tensor:
        """[E, ...] -> [len(axis0), len(axis1), ..., ...]."""
        names = [f"a{i}" for i in range(len(self.axes))]
        sizes = dict(zip(names, self.shape))
        return einops.rearrange(tensor, f"({' '.join(names)}) ... -> {' '.join(names)} ...", **sizes)


def train_ensemble(
    params: Sequence[Tensor],
    loss_fn: Callable[[int], Float[Tensor, " E"]],
    steps: int,
    lr: float,
    *,
    progress: bool = True,
    description: str = "training ensemble",
    on_step: Callable[[int, int], None] | None = None,
) -> Float[Tensor, "steps E"]:
    """Train stacked parameters (leaf tensors, leading axis E) in place with Adam + cosine decay.

    `loss_fn(step)` returns the per-member losses, shape [E]; their sum is minimised, which is the
    same as minimising each member independently. Returns the loss history, shape [steps, E].
    `on_step(step, steps)` is called after each step (e.g. a widget's progress line).
    """
    check_int("steps", steps, low=1)
    check_range("lr", lr, low=0.0, low_open=True)
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(params, lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps, eta_min=lr * 0.01)
    history = []
    for step in tqdm(range(steps), desc=description, disable=not progress, leave=False):
        optimizer.zero_grad(set_to_none=True)
        losses = loss_fn(step)
        losses.sum().backward()
        optimizer.step()
        schedule.step()
        history.append(losses.detach())
        if on_step is not None:
            on_step(step + 1, steps)
    for p in params:
        p.requires_grad_(False)
    return torch.stack(history)


def check_converged(params: Sequence[Tensor], lr: float, steps: int, lr_name: str = "lr") -> None:
    """Raise ValueError naming `lr_name` when training left any parameter NaN or inf: a step size
    the optimizer could not take. One host sync, after training, not per step."""
    bad = sum(int((~torch.isfinite(p)).sum()) for p in params)
    if bad:
        total = sum(p.numel() for p in params)
        raise ValueError(f"`{lr_name}` = {lr:g}: training diverged — {bad} of {total} parameters are NaN or inf "
                         f"after {steps} steps; use a smaller `{lr_name}`")
