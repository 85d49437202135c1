"""Configuration of the capacity experiment (frozen, validated on construction)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Self

from workbench.tensor.validation import check_int, check_range, check_sequence


@dataclass(frozen=True)
class CapacityConfig:
    """One capacity experiment: a grid of quadratic toy models plus two side studies.

    Main grid (kurtosis × decay × seed, one stacked ensemble):
        n, d: features and embedding dimensions, 1 ≤ d < n.
        kurtosis: k = E[x⁴] of the features, each ≥ 1 (a sparse Gaussian with density p has 3/p).
        decay: importances v_i = decay**i (i = 0 … n−1), each in (0, 1].
        seeds: random inits per cell; the lowest-loss one is the reported optimum.
        steps, lr: Adam steps (cosine decay) on the closed-form loss.
    Σ C_i vs d: `d_sweep` (each in [1, n]) × `sweep_kurtosis` at importance decay `sweep_decay`.
        Empty `d_sweep` skips the study.
    Architecture comparison: the ReLU-output model ŷ = ReLU(WᵀWx + b) trained on samples with
        feature probabilities `relu_feature_prob` (each in (0, 1]), against the quadratic model at
        the matching kurtosis 3/p, decay `sweep_decay`. Empty skips the study.
    seed: base seed of everything random.
    """

    n: int = 20
    d: int = 10
    kurtosis: tuple[float, ...] = (1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 20.0, 50.0, 100.0)
    decay: tuple[float, ...] = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0)
    seeds: int = 4
    steps: int = 2000
    lr: float = 0.02
    d_sweep: tuple[int, ...] = (1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20)
    sweep_kurtosis: tuple[float, ...] = (2.0, 6.0, 20.0, 100.0)
    sweep_decay: float = 0.9
    relu_feature_prob: tuple[float, ...] = (1.0, 0.3, 0.1, 0.03)
    relu_steps: int = 3000
    relu_batch: int = 1024
    seed: int = 0

    def __post_init__(self) -> None:
        n = check_int("n", self.n, low=2)
        check_int("d", self.d, low=1, high=n - 1)
        kurt = tuple(
            check_range(f"kurtosis[{i}]", k, low=1.0, why="E[x⁴] ≥ E[x²]² = 1")
            for i, k in enumerate(check_sequence("kurtosis", self.kurtosis))
        )
        decay = tuple(
            check_range(f"decay[{i}]", x, 0.0, 1.0, low_open=True)
            for i, x in enumerate(check_sequence("decay", self.decay))
        )
        check_int("seeds", self.seeds, low=1)
        check_int("steps", self.steps, low=1)
        check_range("lr", self.lr, low=0.0, low_open=True)
        d_sweep = tuple(check_int(f"d_sweep[{i}]", x, low=1, high=n)
                        for i, x in enumerate(check_sequence("d_sweep", self.d_sweep, allow_empty=True)))
        sweep_k = tuple(
            check_range(f"sweep_kurtosis[{i}]", k, low=1.0, why="E[x⁴] ≥ 1")
            for i, k in enumerate(check_sequence("sweep_kurtosis", self.sweep_kurtosis))
        )
        check_range("sweep_decay", self.sweep_decay, 0.0, 1.0, low_open=True)
        probs = tuple(
            check_range(f"relu_feature_prob[{i}]", p, 0.0, 1.0, low_open=True)
            for i, p in enumerate(check_sequence("relu_feature_prob", self.relu_feature_prob, allow_empty=True))
        )
        check_int("relu_steps", self.relu_steps, low=1)
        check_int("relu_batch", self.relu_batch, low=1)
        check_int("seed", self.seed, low=0)
        # Normalise numbers so equal configs hash equally (2 and 2.0, lists and tuples).
        object.__setattr__(self, "kurtosis", kurt)
        object.__setattr__(self, "decay", decay)
        object.__setattr__(self, "d_sweep", d_sweep)
        object.__setattr__(self, "sweep_kurtosis", sweep_k)
        object.__setattr__(self, "sweep_decay", float(self.sweep_decay))
        object.__setattr__(self, "relu_feature_prob", probs)
        object.__setattr__(self, "lr", float(self.lr))

    @classmethod
    def quick(cls) -> Self:
        """A small config for tests, CI and QUICK notebooks (seconds on 2 cores)."""
        return cls(
            n=8,
            d=4,
            kurtosis=(2.0, 6.0, 30.0),
            decay=(0.8, 0.9),
            seeds=2,
            steps=800,
            d_sweep=(2, 4, 8),
            sweep_kurtosis=(2.0, 30.0),
            relu_feature_prob=(1.0, 0.1),
            relu_steps=300,
            relu_batch=256,
        )

    def grid_only(self, **changes: object) -> Self:
        """This config with `changes`, minus the side studies (what the widget retrains)."""
        return replace(self, d_sweep=(), relu_feature_prob=(), **changes)
