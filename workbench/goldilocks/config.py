"""Configuration of the Goldilocks experiment (frozen, validated on construction)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Self

from workbench.core.validation import POSITIVE, Choice, Flag, Int, Many, Number, Text, check_fields, param
from workbench.goldilocks.data import DATASETS
from workbench.goldilocks.model import ACTIVATIONS, INIT_SCHEMES, MLPSpec
from workbench.tensor.curvature import DTYPES

RANK_BY = ("trace_ratio", "trace", "initial_loss", "positive_fraction")
ESTIMATORS = ("hutchinson", "hutchpp")


def log_ratios(low: float, high: float, n: int) -> tuple[float, ...]:
    """n ratios r/r_init spaced evenly in log between the ratios low and high (rounded to 4 significant digits)."""
    return tuple(float(f"{low * (high / low) ** (i / max(1, n - 1)):.4g}") for i in range(n))


# Naming: a `ratio` is r/r_init (a radius in units of r_init, what every config field holds); a
# `radius` is a distance ‖θ‖ in parameter space (ratio · r_init).
RATIO = Number(0.0, low_open=True, why="a ratio r/r_init: a radius in units of r_init")


def check_ratio(name: str, ratio: object) -> float:
    """A ratio r/r_init must be a finite number > 0; returns it as a float."""
    return RATIO.check(name, ratio)


@dataclass(frozen=True)
class GoldilocksConfig:
    """One Goldilocks experiment (Fort & Scherlis 2019) on a fully connected classifier.

    Net: `widths` hidden layers, each activation of `activations` (relu | tanh), weights of the
    named `init` scheme (xavier | he | lecun, Gaussian, zero biases) — r_init = √E‖θ_init‖².
    Data: `dataset` ('digits' embedded; 'mnist' / 'cifar10' from `data_path`).
    Curvature sweep: points P = r·u (u a sampled init direction, one per seed), r/r_init in
        `ratios` (each > 0); `bases` random orthonormal d-planes per seed with d = `hessian_dim`
        (1 ≤ d ≤ D; `basis` 'orthonormal' = QR of a Gaussian, or 'sparse' = Li et al.'s sparse ±1
        projection, for very large D); the loss is the mean cross-entropy on `hessian_batch` fixed training examples.
        `sphere`: also the tangent plane of the sphere ‖θ‖ = r (radial direction removed).
        Ratios ≥ `float64_from` (a ratio r/r_init) are computed in float64. `isotropic`: also one direction
        u ~ N(0, I_D) over ALL parameters, biases included (the CS229 reproduction's): one per
        seed, on that seed's planes (S directions × B planes, as the init family).
        `compare_dims`: Tr/(√d‖H_d‖) for each d on nested planes (leading blocks of one
        max(compare_dims)-plane per basis, seed 0's direction). The full-space Hessian's spectral
        density at three of the swept ratios (below, at and above the trace-ratio peak) by SLQ: `density_probes`
        Rademacher probes of `density_steps` Lanczos steps (0: skipped).
    Hyperplane and hypersphere training: only φ in θ = P + Mφ (plane) or θ = r·(P + Mφ)/‖P + Mφ‖
        (origin-centred sphere, ‖θ‖ = r) is trained (φ₀ = 0), for each d in `train_dims` and each
        r/r_init in `train_ratios`; Adam, `train_steps` steps of `train_batch`, lr `train_lr`. The
        full-space reference trains all D parameters from r_init (Adam, lr `full_lr`); d₉₀(r) is the
        smallest d reaching `intrinsic_fraction` of its test accuracy. `d90_dims` (larger d, below D)
        extend the grid at the ratios `d90_ratios` only (a subset of `train_ratios`), so d₉₀ is a
        number there up to max(d90_dims).
    Init selection: `selection_inits` inits at r_init of a `selection_activation` net, plus
        `selection_controls` inits at ratios r/r_init log-uniform in `selection_control_ratios` (the
        positive control), each scored on the full space by `selection_estimator` (two independent
        sets of `selection_probes` Hessian-vector products each, the same probes for every init
        when `selection_common_probes`: Tr/‖H‖_F, Tr H), by the initial loss, and by the share of
        positive eigenvalues of H_d on `selection_planes` random `hessian_dim`-planes (the same
        planes for every init); `selection_rank_by` is the pre-registered ranker
        (`workbench.goldilocks.preregistration`); all train by full-space SGD (lr `selection_lr`,
        `selection_steps` steps). Outcomes: steps to test accuracy `selection_target` (pre-registered)
        and the area under the training-loss curve
        (evaluated every `selection_eval_every` steps); top `selection_top` vs the rest. Zero
        inits skips the study.
    """

    dataset: str = param("digits", Choice(tuple(DATASETS)))
    # "" is refused too: Path("") is the working directory, which exists
    data_path: str | None = param(None, Text(optional=True, path=True))
    widths: tuple[int, ...] = param((64, 64), Many(Int(1), allow_empty=True))
    activations: tuple[str, ...] = param(("relu", "tanh"), Many(Choice(tuple(ACTIVATIONS))))
    init: str = param("xavier", Choice(INIT_SCHEMES))
    ratios: tuple[float, ...] = param(log_ratios(0.1, 100.0, 13), Many(RATIO))  # r/r_init of the sweep
    seeds: int = param(3, Int(1))
    bases: int = param(3, Int(1))
    # a plane in the sphere's tangent space has one dimension fewer than the space
    hessian_dim: int = param(16, Int(1, lambda c: c.n_params - 1 if c.sphere else c.n_params))
    basis: str = param("orthonormal", Choice(("orthonormal", "sparse")))
    hessian_batch: int = param(1437, Int(1))  # every training digit of the embedded split
    sphere: bool = param(True, Flag())
    dtype: str = param("float32", Choice(tuple(DTYPES)))
    float64_from: float = param(20.0, RATIO)  # r/r_init
    isotropic: bool = param(True, Flag())
    compare_dims: tuple[int, ...] = param((10, 16, 50), Many(Int(1, lambda c: c.n_params), allow_empty=True))
    density_steps: int = param(80, Int(0, lambda c: c.n_params))  # 0 skips the SLQ densities
    density_probes: int = param(1, Int(1))
    train_dims: tuple[int, ...] = param((8, 16, 32, 64, 128, 256), Many(Int(1, lambda c: c.n_params), allow_empty=True))
    train_ratios: tuple[float, ...] = param(log_ratios(0.1, 31.62, 9), Many(RATIO, allow_empty=True))  # r/r_init
    # d₉₀'s extension: larger d at the grid's point nearest r_init, the accuracy peak and one ratio each side
    d90_dims: tuple[int, ...] = param((512, 1024, 2048), Many(Int(1, lambda c: c.n_params - 1), allow_empty=True))
    d90_ratios: tuple[float, ...] = param((0.4217, 0.8659, 1.778, 3.652), Many(RATIO, allow_empty=True))
    train_steps: int = param(200, Int(1))
    train_batch: int = param(128, Int(1))
    train_lr: float = param(0.05, POSITIVE)
    full_lr: float = param(1e-3, POSITIVE)
    intrinsic_fraction: float = param(0.9, Number(0.0, 1.0, low_open=True))
    selection_inits: int = param(200, Int(4, allowed=(0,)))  # 0 skips the study; 4 leave a top and a rest
    selection_controls: int = param(100, Int(0))
    selection_control_ratios: tuple[float, ...] = param((0.5, 2.0), Many(RATIO))  # (low, high) r/r_init
    selection_probes: int = param(72, Int(1))  # HVPs per probe set (two sets); Hutch++ needs ≥ 3
    selection_estimator: str = param("hutchinson", Choice(ESTIMATORS))
    selection_common_probes: bool = param(True, Flag())
    selection_planes: int = param(4, Int(2))  # positive-share score: planes (first half test, second retest)
    selection_activation: str = param("relu", Choice(tuple(ACTIVATIONS)))
    selection_rank_by: str = param("trace_ratio", Choice(RANK_BY))
    selection_top: int = param(50, Int(1, lambda c: c.selection_inits - 1, when=lambda c: c.selection_inits > 0))
    selection_target: float = param(0.9, Number(0.0, 1.0, low_open=True))
    selection_steps: int = param(200, Int(1))
    selection_eval_every: int = param(5, Int(1, lambda c: c.selection_steps))
    selection_lr: float = param(0.05, POSITIVE)
    selection_batch: int = param(64, Int(1))
    seed: int = param(0, Int(0))

    def __post_init__(self) -> None:
        # every range is declared beside its field; check_fields also normalises (2 → 2.0, lists →
        # tuples) so equal configs hash equally. What joins fields beyond a range stays here.
        check_fields(self)
        if self.dataset != "digits" and self.data_path is None:
            raise ValueError(f"`data_path` must name local {self.dataset} files (nothing is downloaded)")
        low_high = self.selection_control_ratios
        if len(low_high) != 2 or low_high[0] > low_high[1]:
            raise ValueError(f"`selection_control_ratios` must be (low, high) with 0 < low ≤ high; got {low_high}")
        if self.train_dims and not self.train_ratios:
            raise ValueError("`train_ratios` must be non-empty when `train_dims` is")
        if self.d90_dims and (not self.train_dims or min(self.d90_dims) <= max(self.train_dims)
                              or list(self.d90_dims) != sorted(set(self.d90_dims))):
            raise ValueError(f"`d90_dims` must increase and start above max(`train_dims`); got {self.d90_dims}")
        missing = [r for r in self.d90_ratios if r not in self.train_ratios]
        if self.d90_dims and (missing or not self.d90_ratios):
            raise ValueError(f"`d90_ratios` must be a non-empty subset of `train_ratios`; {missing} are not in it")
        if self.selection_estimator == "hutchpp" and self.selection_probes < 3:
            raise ValueError(f"`selection_probes` must be ≥ 3 for Hutch++; got {self.selection_probes}")

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
            ratios=log_ratios(0.1, 100.0, 10),
            seeds=2,
            bases=2,
            hessian_dim=8,
            hessian_batch=256,
            compare_dims=(4, 8),
            density_steps=16,
            train_dims=(4, 16),
            train_ratios=log_ratios(0.1, 10.0, 5),
            train_steps=100,
            d90_dims=(32,),
            d90_ratios=(1.0,),
            selection_inits=12,
            selection_controls=8,
            selection_probes=4,
            selection_planes=2,
            selection_top=4,
            selection_target=0.8,
            selection_steps=120,
            selection_eval_every=10,
        )

    def with_changes(self, **changes: object) -> Self:
        return replace(self, **changes)

    def nearest_ratio(self, ratio: float) -> int:
        """Index of the swept ratio (of `ratios`) closest to the ratio r/r_init `ratio` in log space."""
        ratio = check_ratio("ratio", ratio)
        return min(range(len(self.ratios)), key=lambda i: abs(math.log(self.ratios[i] / ratio)))
