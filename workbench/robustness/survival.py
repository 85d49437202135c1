"""Effort to first failure: Kaplan-Meier survival of "not yet fooled" against classifier queries,
and the paired comparison of two rounds on the same texts.

Written in numpy (a few lines) rather than with `lifelines`: lifelines is not installed in the
project's environment, and the estimator needs nothing it offers beyond the product below.

With distinct event times q_1 < q_2 < …, d_j texts first fooled at q_j and n_j texts still at risk
(neither fooled nor censored before q_j), the Kaplan-Meier estimate of P(effort > q) is

    S(q) = Π_{q_j ≤ q} (1 − d_j / n_j)

A text the attack never fooled within its budget is censored at the budget: it counts in every
n_j up to the budget and never as an event.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def kaplan_meier(times: Sequence[float], fooled: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    """(q, S): the distinct event times and S(q) just after each (a step function, S = 1 before
    the first). `times[i]` is the effort at which text i was fooled, or its censoring budget."""
    t = np.asarray(times, dtype=float)
    e = np.asarray(fooled, dtype=bool)
    if t.ndim != 1 or t.shape != e.shape or t.size == 0:
        raise ValueError(f"`times` and `fooled` must be equally long non-empty 1-d sequences; got {t.shape}, {e.shape}")
    q = np.unique(t[e])
    at_risk = (t[None, :] >= q[:, None]).sum(1)
    events = (e[None, :] & (t[None, :] == q[:, None])).sum(1)
    return q, np.cumprod(1.0 - events / at_risk)


def survival_at(q: np.ndarray, s: np.ndarray, at: float) -> float:
    """S(at) from `kaplan_meier`'s step function."""
    k = np.searchsorted(q, at, side="right")
    return 1.0 if k == 0 else float(s[k - 1])


def median_effort(q: np.ndarray, s: np.ndarray) -> float | None:
    """The smallest q with S(q) ≤ ½, or None when more than half survive the budget."""
    below = np.nonzero(s <= 0.5)[0]
    return float(q[below[0]]) if below.size else None


def paired_effort_test(before: Sequence[float], after: Sequence[float]) -> dict[str, float | int]:
    """Did the effort grow from `before` to `after` on the same texts? One-sided Wilcoxon
    signed-rank test (scipy.stats.wilcoxon, alternative "greater" for after − before; zero
    differences dropped). Censored efforts enter at their budget, which can only understate a
    growth when the later round censors more, so the test is conservative in that direction."""
    b, a = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if b.shape != a.shape or b.ndim != 1:
        raise ValueError(f"`before` and `after` must be paired 1-d sequences; got {b.shape}, {a.shape}")
    d = a - b
    out: dict[str, float | int] = {
        "n": int(d.size),
        "higher_after": int((d > 0).sum()),
        "lower_after": int((d < 0).sum()),
        "ties": int((d == 0).sum()),
        "median_difference": float(np.median(d)),
    }
    if (d != 0).sum() == 0:
        return {**out, "statistic": 0.0, "p_value": 1.0}
    res = stats.wilcoxon(a, b, alternative="greater", zero_method="wilcox")
    return {**out, "statistic": float(res.statistic), "p_value": float(res.pvalue)}
