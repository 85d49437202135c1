"""Rare-event statistics for a binomial rate p from k failures in n trials.

    Wilson score interval  (p̂ + z²/2n ± z·sqrt(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n),  p̂ = k/n
    Clopper-Pearson        [Beta_{α/2}(k, n−k+1),  Beta_{1−α/2}(k+1, n−k)]  (exact; 0 / 1 at the ends)
    rule of three          3/n: the one-sided 95 % upper bound when k = 0 (−ln 0.05 ≈ 2.996)

`confidence` is two-sided for the intervals (0.95 → α = 0.05). Pure math, no torch state.
"""

from __future__ import annotations

import math

from scipy import stats

from workbench.core.validation import check_int, check_range


def _check_counts(k: object, n: object) -> tuple[int, int]:
    n = check_int("n", n, low=1)
    k = check_int("k", k, low=0, high=n)
    return k, n


def _z(confidence: object) -> float:
    c = check_range("confidence", confidence, 0.0, 1.0, low_open=True, high_open=True)
    return float(stats.norm.ppf(0.5 + c / 2))


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval (low, high) for a binomial rate with k successes out of n."""
    k, n = _check_counts(k, n)
    z = _z(confidence)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # at k = 0 (k = n) the lower (upper) end is 0 (1) exactly; rounding would leave ±1e-17
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval (low, high) from Beta quantiles; conservative by design."""
    k, n = _check_counts(k, n)
    c = check_range("confidence", confidence, 0.0, 1.0, low_open=True, high_open=True)
    alpha = 1 - c
    low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return low, high


def rule_of_three(n: int) -> float:
    """3/n: the approximate one-sided 95 % upper bound on a rate after 0 failures in n trials."""
    return 3.0 / check_int("n", n, low=1)


def upper_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """The bound reported for a filtered unsafe rate: rule of three at k = 0 (95 %), else the exact
    Clopper-Pearson upper end."""
    k, n = _check_counts(k, n)
    return rule_of_three(n) if k == 0 and abs(confidence - 0.95) < 1e-12 else clopper_pearson(k, n, confidence)[1]
