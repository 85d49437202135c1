"""Configuration of the capacity experiment (frozen, validated on construction)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Self

from workbench.core.validation import POSITIVE, Int, Many, Number, check_fields, param

UNIT = Number(0.0, 1.0, low_open=True)  # importances and probabilities: (0, 1]


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

    n: int = param(20, Int(2))
    d: int = param(10, Int(1, lambda c: c.n - 1, high_name="n − 1"))
    kurtosis: tuple[float, ...] = param((1.5, 2.0, 3.0, 4.0, 6.0, 10.0, 20.0, 50.0, 100.0),
                                        Many(Number(1.0, why="E[x⁴] ≥ E[x²]² = 1")))
    decay: tuple[float, ...] = param((0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0), Many(UNIT))
    seeds: int = param(4, Int(1))
    steps: int = param(2000, Int(1))
    lr: float = param(0.02, POSITIVE)
    d_sweep: tuple[int, ...] = param((1, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20),
                                     Many(Int(1, lambda c: c.n), allow_empty=True))
    sweep_kurtosis: tuple[float, ...] = param((2.0, 6.0, 20.0, 100.0), Many(Number(1.0, why="E[x⁴] ≥ 1")))
    sweep_decay: float = param(0.9, UNIT)
    relu_feature_prob: tuple[float, ...] = param((1.0, 0.3, 0.1, 0.03), Many(UNIT, allow_empty=True))
    relu_steps: int = param(3000, Int(1))
    relu_batch: int = param(1024, Int(1))
    seed: int = param(0, Int(0))

    def __post_init__(self) -> None:
        # every rule is declared beside its field; check_fields also normalises (2 → 2.0, lists →
        # tuples) so equal configs hash equally
        check_fields(self)

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
