"""Configuration of the Goldilocks experiment (frozen, validated on construction)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Self

from workbench.goldilocks.data import DATASETS, check_dataset
from workbench.goldilocks.model import MLPSpec, check_activation, check_init
from workbench.tensor.curvature import DTYPES
from workbench.tensor.validation import check_choice, check_int, check_range, check_sequence

RANK_BY = ("trace_ratio", "positive_fraction", "initial_loss")


def log_radii(low: float, high: float, n: int) -> tuple[float, ...]:
    """n ratios r/r_init spaced evenly in log between low and high (rounded to 4 significant digits)."""
    return tuple(float(f"{low * (high / low) ** (i / max(1, n - 1)):.4g}") for i in range(n))


def check_radius(name: str, r: object) -> float:
    """r/r_init must be a finite number > 0."""
    return check_range(name, r, low=0.0, low_open=True, why="a radius is a positive multiple of r_init")


@dataclass(frozen=True)
class GoldilocksConfig:
    """One Goldilocks experiment (Fort & Scherlis 2019) on a fully connected classifier.

    Net: `widths` hidden layers, each activation of `activations` (relu | tanh), weights of the
    named `init` scheme (xavier | he | lecun, Gaussian, zero biases) — r_init = √E‖θ_init‖².
    Data: `dataset` ('digits' embedded; 'mnist' / 'cifar10' from `data_path`).
    Curvature sweep: points P = r·u (u a sampled init direction, one per seed), r/r_init in
        `radii` (each > 0); `bases` random orthonormal d-planes per seed with d = `hessian_dim`
        (1 ≤ d ≤ D; `basis` 'orthonormal' = QR of a Gaussian, or 'sparse' = Li et al.'s sparse ±1
        projection, for very large D); the loss is the mean cross-entropy on `hessian_batch` fixed training examples.
        `sphere`: also the tangent plane of the sphere ‖θ‖ = r (radial direction removed).
    Hyperplane training: only φ in θ = P + Mφ (φ₀ = 0) is trained, for each d in `train_dims`
        and each r/r_init in `train_radii`; Adam, `train_steps` steps of `train_batch`, lr `train_lr`.
    Init selection: `selection_inits` inits at r_init of a `selection_activation` net, each ranked
        by `selection_rank_by` (mean over `bases` random d-planes, or the loss); the top
        `selection_top` vs the rest in steps of full-space SGD (lr `selection_lr`) to reach test
        accuracy `selection_target` (evaluated every `selection_eval_every` steps, at most
        `selection_steps`). Zero inits skips the study.
    """

    dataset: str = "digits"
    data_path: str | None = None
    widths: tuple[int, ...] = (64, 64)
    activations: tuple[str, ...] = ("relu", "tanh")
    init: str = "xavier"
    radii: tuple[float, ...] = log_radii(0.1, 100.0, 19)
    seeds: int = 3
    bases: int = 3
    hessian_dim: int = 16
    basis: str = "orthonormal"
    hessian_batch: int = 512
    sphere: bool = True
    dtype: str = "float32"
    train_dims: tuple[int, ...] = (8, 32, 128)
    train_radii: tuple[float, ...] = log_radii(0.1, 31.62, 9)
    train_steps: int = 200
    train_batch: int = 128
    train_lr: float = 0.05
    selection_inits: int = 40
    selection_activation: str = "relu"
    selection_rank_by: str = "trace_ratio"
    selection_top: int = 10
    selection_target: float = 0.9
    selection_steps: int = 300
    selection_eval_every: int = 5
    selection_lr: float = 0.05
    selection_batch: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        check_dataset(self.dataset)
        # "" is refused too: Path("") is the working directory, which exists
        if self.data_path is not None and (not isinstance(self.data_path, str) or not self.data_path.strip()):
            raise ValueError(f"`data_path` must be a non-empty string path or None; got {self.data_path!r}")
        if self.dataset != "digits" and self.data_path is None:
            raise ValueError(f"`data_path` must name local {self.dataset} files (nothing is downloaded)")
        widths = tuple(check_int(f"widths[{i}]", w, low=1)
                       for i, w in enumerate(check_sequence("widths", self.widths, allow_empty=True)))
        acts = tuple(check_activation(a, f"activations[{i}]") for i, a in enumerate(check_sequence("activations", self.activations)))
        check_init(self.init)
        radii = tuple(check_radius(f"radii[{i}]", r) for i, r in enumerate(check_sequence("radii", self.radii)))
        check_int("seeds", self.seeds, low=1)
        check_int("bases", self.bases, low=1)
        if not isinstance(self.sphere, bool):
            raise ValueError(f"`sphere` must be True or False; got {self.sphere!r}")
        D = self.n_params_for(widths)
        check_int("hessian_dim", self.hessian_dim, low=1, high=D - 1 if self.sphere else D)
        check_int("hessian_batch", self.hessian_batch, low=1)
        if self.basis not in ("orthonormal", "sparse"):
            raise ValueError(f"`basis` must be one of ['orthonormal', 'sparse']; got {self.basis!r}")
        check_choice("dtype", self.dtype, DTYPES)
        dims = tuple(check_int(f"train_dims[{i}]", d, low=1, high=D)
                     for i, d in enumerate(check_sequence("train_dims", self.train_dims, allow_empty=True)))
        train_radii = tuple(check_radius(f"train_radii[{i}]", r)
                            for i, r in enumerate(check_sequence("train_radii", self.train_radii, allow_empty=True)))
        if dims and not train_radii:
            raise ValueError("`train_radii` must be non-empty when `train_dims` is")
        check_int("train_steps", self.train_steps, low=1)
        check_int("train_batch", self.train_batch, low=1)
        check_range("train_lr", self.train_lr, low=0.0, low_open=True)
        n_inits = check_int("selection_inits", self.selection_inits, low=0)
        check_activation(self.selection_activation, "selection_activation")
        if self.selection_rank_by not in RANK_BY:
            raise ValueError(f"`selection_rank_by` must be one of {list(RANK_BY)}; got {self.selection_rank_by!r}")
        if n_inits:
            check_int("selection_inits", n_inits, low=4)
            check_int("selection_top", self.selection_top, low=1, high=n_inits - 1)
        check_range("selection_target", self.selection_target, 0.0, 1.0, low_open=True)
        check_int("selection_steps", self.selection_steps, low=1)
        check_int("selection_eval_every", self.selection_eval_every, low=1, high=self.selection_steps)
        check_range("selection_lr", self.selection_lr, low=0.0, low_open=True)
        check_int("selection_batch", self.selection_batch, low=1)
        check_int("seed", self.seed, low=0)
        # Normalise so equal configs hash equally (2 and 2.0, lists and tuples).
        object.__setattr__(self, "widths", widths)
        object.__setattr__(self, "activations", acts)
        object.__setattr__(self, "radii", radii)
        object.__setattr__(self, "train_dims", dims)
        object.__setattr__(self, "train_radii", train_radii)
        for name in ("train_lr", "selection_target", "selection_lr"):
            object.__setattr__(self, name, float(getattr(self, name)))

    def n_params_for(self, widths: tuple[int, ...] | None = None) -> int:
        in_dim, classes = DATASETS[self.dataset]
        return MLPSpec(in_dim, self.widths if widths is None else widths, classes).n_params

    @property
    def n_params(self) -> int:
        """D, the number of parameters of the net."""
        return self.n_params_for()

    def spec(self, activation: str) -> MLPSpec:
        in_dim, classes = DATASETS[self.dataset]
        return MLPSpec(in_dim, self.widths, classes, activation)

    @classmethod
    def quick(cls) -> Self:
        """A small config for tests, CI and QUICK notebooks (seconds on 2 cores)."""
        return cls(
            widths=(32, 32),
            radii=log_radii(0.1, 100.0, 10),
            seeds=2,
            bases=2,
            hessian_dim=8,
            hessian_batch=256,
            train_dims=(4, 16),
            train_radii=log_radii(0.1, 10.0, 5),
            train_steps=100,
            selection_inits=12,
            selection_top=4,
            selection_target=0.8,
            selection_steps=120,
            selection_eval_every=10,
        )

    def with_changes(self, **changes: object) -> Self:
        return replace(self, **changes)

    def nearest_radius(self, ratio: float) -> int:
        """Index of the swept r/r_init closest to `ratio` in log space."""
        r = check_radius("radius", ratio)
        return min(range(len(self.radii)), key=lambda i: abs(math.log(self.radii[i] / r)))
