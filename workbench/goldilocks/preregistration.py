"""The init-selection test, stated before the run: outcome, test, α, the pilot's effect and the power.

Fixed here, before the run that decides the claim ("selecting for high Tr(H)/|H| … leads to
statistically significantly faster training"):

* outcome: steps to `selection_target` test accuracy (the first evaluation, every
  `selection_eval_every` steps, at or above it; never reached counts as censored, one interval
  past the last evaluation) — the paper's "faster training";
* ranker: the config's `selection_rank_by` ('trace_ratio': full-space Tr H/‖H‖_F);
* test: one-sided Mann–Whitney U, the `selection_top` best-ranked inits at r_init against the
  rest (alternative: the top need fewer steps); α = `ALPHA`.

Power, for the pilot's effect. The pilot (`PILOT`: the run before this design, Hutchinson 2 × 8
independent probes per init, 200 inits, same training) gave a Spearman correlation ρ₀ between
the score and the steps with a score of reliability R₀. A score of reliability R measures the same
init property with less noise; classical attenuation gives the expected correlation

    ρ = ρ₀ · √(R / R₀)          (capped to [−1, 1])

and the power is estimated by a seeded simulation of the pre-stated test: N (score, latent
outcome) pairs, bivariate normal with Pearson r = 2 sin(πρ/6) (the normal pair whose Spearman
correlation is ρ); each latent outcome is replaced by the run's own steps of the same rank (so
the simulation has the run's ties and censoring), the top `selection_top` by score are compared
with the rest by the one-sided Mann–Whitney test, and the power is the share of `SIMULATIONS`
draws with p < α. The verdict rule (`claims.py`): p < α → "reproduced"; otherwise power ≥
`POWER_TARGET` → "not reproduced"; otherwise "not testable here".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats
from torch import Tensor

from workbench.core.validation import check_int, check_range

ALPHA = 0.05
POWER_TARGET = 0.8
SIMULATIONS = 4000
SIMULATION_SEED = 2405
OUTCOME = "steps to selection_target test accuracy"
TEST = "one-sided Mann–Whitney U, top selection_top by the score vs the rest (top faster)"
# the pilot: docs/goldilocks.md's run before this design (cached GoldilocksResult, config with
# selection_probes=8, independent probes per init); ρ₀ by `pilot_effect` on it, R₀ its Spearman–Brown
PILOT = {"spearman_rho": -0.0436, "reliability": 0.3672, "inits": 200, "top": 50}


def pilot_effect(score: Tensor, steps: Tensor) -> float:
    """Spearman ρ between a score (larger = better) and the steps to target (ρ < 0: better scores
    train faster): how `PILOT['spearman_rho']` was computed from the pilot's inits at r_init."""
    return float(stats.spearmanr(score.double().tolist(), steps.double().tolist()).statistic)


def expected_rho(rho0: float, reliability0: float, reliability: float) -> float:
    """ρ₀·√(R/R₀), capped to [−1, 1]: the pilot's correlation at the new score's reliability."""
    check_range("reliability0", reliability0, low=0.0, low_open=True)
    return max(-1.0, min(1.0, rho0 * math.sqrt(max(reliability, 0.0) / reliability0)))


def mann_whitney_power(rho: float, outcome: Tensor, top: int, alpha: float = ALPHA, sims: int = SIMULATIONS,
                       seed: int = SIMULATION_SEED) -> float:
    """Share of `sims` simulated runs in which the pre-stated test rejects at `alpha` (module
    docstring): N = len(outcome) inits, Spearman ρ `rho` between score and outcome (ρ < 0: the
    top-scored have lower outcomes), the outcome's marginal the given values."""
    N = len(outcome)
    top = check_int("top", top, low=1, high=N - 1)
    check_range("rho", rho, low=-1.0, high=1.0)
    rng = np.random.default_rng(seed)
    r = 2 * math.sin(math.pi * rho / 6)
    x = rng.standard_normal((sims, N))
    latent = r * x + math.sqrt(max(0.0, 1 - r * r)) * rng.standard_normal((sims, N))
    values = np.sort(outcome.double().numpy())
    y = values[np.argsort(np.argsort(latent, axis=1), axis=1)]           # the run's outcomes, by latent rank
    order = np.argsort(-x, axis=1)
    a = np.take_along_axis(y, order[:, :top], 1)
    b = np.take_along_axis(y, order[:, top:], 1)
    if len(np.unique(values)) < 2:
        return 0.0
    p = stats.mannwhitneyu(a, b, alternative="less", axis=1).pvalue
    return float(np.mean(np.nan_to_num(p, nan=1.0) < alpha))


def preregistered(p_value: float, reliability: float, outcome: Tensor, top: int) -> dict[str, Any]:
    """The pre-stated test's record: outcome, test, α, its p-value, and the power for the pilot's
    effect at this run's reliability, N and top (with the effect used)."""
    rho = expected_rho(PILOT["spearman_rho"], PILOT["reliability"], reliability)
    return {"outcome": OUTCOME, "test": TEST, "alpha": ALPHA, "p_value": round(float(p_value), 6),
            "power": round(mann_whitney_power(rho, outcome, top), 4), "power_method":
            f"seeded simulation ({SIMULATIONS} draws, seed {SIMULATION_SEED}) of the test at this N and top",
            "pilot_rho": PILOT["spearman_rho"], "pilot_reliability": PILOT["reliability"],
            "expected_rho": round(rho, 4), "power_target": POWER_TARGET}


def verdict(pre: dict[str, Any]) -> str:
    """"reproduced" when p < α; else "not reproduced" when the power ≥ `POWER_TARGET`; else
    "not testable here" (the test could not have detected the pilot's effect)."""
    if pre["p_value"] < pre["alpha"]:
        return "reproduced"
    if pre["power"] >= POWER_TARGET:
        return "not reproduced"
    return f"not testable here (power {pre['power']:.2f} < {POWER_TARGET:g} for the pilot's effect)"
