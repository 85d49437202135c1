"""The filter (reject and resample while p ≥ threshold), the threshold choice and the sweep.

For a prompt of group g the generator draws completion j with probability W[g, j]; the filter
redraws while score_j ≥ t, at most `max_resamples` times (then the prompt gets no completion:
"refused"). The accepted completions are then distributed as W[g, ·] restricted to {score < t},
so the exact post-filter unsafe rate is

    q(t) = Σ_g π_g Σ_j W[g,j] y_j [s_j < t] / Σ_j W[g,j] [s_j < t]   (π uniform; refusals aside)

`filter_sample` draws it for real: the count of unsafe accepted completions is what the bounds
of `workbench.tensor.stats` are computed from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

from workbench.core.executor import Executor, map_cells
from workbench.core.validation import check_int, check_range
from workbench.tensor.stats import clopper_pearson, upper_bound, wilson_interval


def check_threshold(threshold: object) -> float:
    return check_range("threshold", threshold, 0.0, 1.0)


def choose_threshold(safe_scores: Float[Tensor, " n"], max_safe_lost: float) -> float:
    """The lowest threshold that rejects at most a share `max_safe_lost` of `safe_scores`.

    With s sorted descending and k = ⌊max_safe_lost · n⌋, any t > u = s_(k+1) rejects at most k
    scores (ties included); t is put midway between u and the next larger score (or 1), or on that
    score when no float lies between them. Scores of exactly 1.0 cannot be let through by any
    t ≤ 1: then t = 1.
    """
    x = check_range("max_safe_lost", max_safe_lost, 0.0, 1.0, high_open=True)
    s = torch.sort(safe_scores.double().flatten(), descending=True).values
    if s.numel() == 0:
        raise ValueError("`safe_scores` must hold at least one score")
    u = float(s[int(x * s.numel())])
    larger = s[s > u]
    above = float(larger.min()) if larger.numel() else 1.0
    if u >= 1.0:
        return 1.0
    mid = (u + above) / 2
    # two adjacent floats (0 and 5e-324) have no midpoint above u: then t is the next score itself,
    # which rejects exactly the scores above u
    return min(1.0, mid if mid > u else above)


@dataclass(frozen=True)
class FilterOutcome:
    """n prompts; `accepted` got a completion, `unsafe` of those are injurious; `refused` ran out of
    resamples; `draws` completions drawn in all. Rates and bounds over the accepted ones."""

    threshold: float
    n: int
    accepted: int
    unsafe: int
    refused: int
    draws: int
    exact_rate: float

    @property
    def rate(self) -> float:
        return self.unsafe / max(self.accepted, 1)

    def bounds(self, confidence: float = 0.95) -> dict[str, float]:
        n = max(self.accepted, 1)
        return {"wilson": wilson_interval(self.unsafe, n, confidence)[1],
                "clopper_pearson": clopper_pearson(self.unsafe, n, confidence)[1],
                "upper": upper_bound(self.unsafe, n, confidence)}

    def as_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "rate": self.rate, "mean_draws": self.draws / self.n, **self.bounds()}


def group_weights(weights: Float[Tensor, " m"], group: Int[Tensor, " m"]) -> Float[Tensor, "g m"]:
    """W[g, j]: the generator's probabilities renormalised within each group (rows sum to 1)."""
    G = int(group.max()) + 1
    W = torch.zeros(G, weights.numel(), dtype=torch.float64)
    W[group, torch.arange(weights.numel())] = weights.double()
    W = W[W.sum(1) > 0]
    return W / W.sum(1, keepdim=True)


def filter_sample(W: Float[Tensor, "g m"], scores: Float[Tensor, " m"], labels: Int[Tensor, " m"], threshold: float,
                  n: int, max_resamples: int, generator: torch.Generator) -> tuple[FilterOutcome, Int[Tensor, " n"]]:
    """Draw n prompts (groups uniform), a completion each, and redraw while score ≥ threshold.
    Returns the outcome and the accepted completion per prompt (−1: refused)."""
    t = check_threshold(threshold)
    n = check_int("n", n, low=1)
    check_int("max_resamples", max_resamples, low=0)
    groups = torch.randint(W.shape[0], (n,), generator=generator)
    choice = torch.full((n,), -1, dtype=torch.long)
    pending = torch.arange(n)
    draws = 0
    for _ in range(max_resamples + 1):
        if pending.numel() == 0:
            break
        draw = torch.empty(pending.numel(), dtype=torch.long)
        for g in range(W.shape[0]):
            sel = groups[pending] == g
            k = int(sel.sum())
            if k:
                draw[sel] = torch.multinomial(W[g], k, replacement=True, generator=generator)
        draws += pending.numel()
        ok = scores[draw] < t
        choice[pending[ok]] = draw[ok]
        pending = pending[~ok]
    accepted = choice >= 0
    unsafe = int(labels[choice[accepted]].sum())
    out = FilterOutcome(t, n, int(accepted.sum()), unsafe, n - int(accepted.sum()), draws,
                        exact_unsafe_rate(W, scores, labels, t))
    return out, choice


def exact_unsafe_rate(
    W: Float[Tensor, "g m"], scores: Float[Tensor, " m"], labels: Int[Tensor, " m"], threshold: float
) -> float:
    """q(t) above (groups with no passing completion are left out)."""
    keep = (scores < threshold).double()
    mass = W @ keep
    unsafe = W @ (keep * labels.double())
    ok = mass > 0
    return float((unsafe[ok] / mass[ok]).mean()) if bool(ok.any()) else float("nan")


def safe_lost(
    W: Float[Tensor, "g m"], scores: Float[Tensor, " m"], labels: Int[Tensor, " m"], threshold: float
) -> float:
    """Share of the generator's safe probability mass the filter rejects (groups uniform)."""
    safe = (1 - labels).double()
    rejected = safe * (scores >= threshold).double()
    return float(((W @ rejected) / (W @ safe).clamp_min(1e-300)).mean())


def confusion(scores: Float[Tensor, " n"], labels: Int[Tensor, " n"], threshold: float) -> dict[str, int]:
    """Counts at `threshold` (flagged = score ≥ threshold)."""
    flag = scores >= check_threshold(threshold)
    y = labels.bool()
    return {"tp": int((flag & y).sum()), "fp": int((flag & ~y).sum()), "fn": int((~flag & y).sum()),
            "tn": int((~flag & ~y).sum())}


def sweep_point(W: Float[Tensor, "g m"], scores: Float[Tensor, " m"], labels: Int[Tensor, " m"], threshold: float,
                n: int, max_resamples: int, seed: int) -> dict[str, float | int]:
    """`filter_sample` at one threshold (its own generator from `seed`), plus the safe mass lost."""
    outcome, _ = filter_sample(W, scores, labels, threshold, n, max_resamples, torch.Generator().manual_seed(seed))
    return {**outcome.as_dict(), "safe_lost": safe_lost(W, scores, labels, threshold)}


def sweep(W: Float[Tensor, "g m"], scores: Float[Tensor, " m"], labels: Int[Tensor, " m"], thresholds: list[float],
          n: int, max_resamples: int, seed: int, executor: str | Executor = "local") -> list[dict[str, float | int]]:
    """`sweep_point` at every threshold (same seed each); each threshold a cell of `executor`."""
    return map_cells(sweep_point, [(W, scores, labels, t, n, max_resamples, seed) for t in thresholds], executor,
                     description="threshold sweep")
