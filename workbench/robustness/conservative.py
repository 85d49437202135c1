"""The conservative threshold and both of the paper's filter claims measured at it, together.

The paper: "we can set very conservative classifier thresholds without significantly impacting the
quality of the filtered outputs" and, "with our chosen thresholds", 2.4 % → 0.003 % unsafe. Both
are measured here at ONE threshold, chosen by a rule fixed before measuring:

    t_c = choose_threshold(validation safe scores, `conservative_safe_lost`)

— the lowest threshold that rejects at most `conservative_safe_lost` (default 25 %, five times the
default threshold's 5 %) of the validation split's safe completions, by the round-0 (baseline)
classifier. At t_c, on the `n_fresh` fresh draws: the unsafe rate after filtering with its exact
one-sided 95 % bound (`fresh.unsafe_after_filter`: every unsafe draw scored, the acceptance rate
of safe ones from a scored sample), the share of safe draws rejected, the mean redraws per prompt,
and the total-variation distance between the filtered and unfiltered safe completions (by category
and by (category, template): `fresh.quality`).
"""

from __future__ import annotations

from typing import Any

from workbench.robustness.filtering import choose_threshold
from workbench.robustness.fresh import quality, unsafe_after_filter
from workbench.robustness.result import RobustnessResult

RULE = ("the lowest threshold rejecting at most {cost:g} of the validation split's safe completions "
        "(round-0 classifier), fixed before measuring")


def conservative_threshold(result: RobustnessResult, round_: int = 0) -> float:
    """t_c: `choose_threshold` on round `round_`'s validation safe scores at `conservative_safe_lost`."""
    safe = result.mask("val") & (result.labels == 0)
    return choose_threshold(result.scores[round_][safe], result.config.conservative_safe_lost)


def at_threshold(result: RobustnessResult, threshold: float, round_: int = 0) -> dict[str, Any]:
    """The fresh draws filtered at `threshold` by round `round_`'s classifier: `unsafe_after_filter`
    {count, draws, bound, …}, `safe_rejected`, `redraws_per_prompt`, `tv_distance` {by_category,
    by_template}. ValueError when the run had no fresh draws (a user's data file)."""
    if result.fresh_labels.numel() == 0:
        raise ValueError("the run has no fresh draws (a user's data file has no generator): nothing to filter")
    scores, labels = result.fresh_scores[round_], result.fresh_labels
    after = unsafe_after_filter(scores, labels, result.config.n_fresh, threshold)
    q = quality(scores, labels, result.fresh_info["categories"], result.fresh_info["templates"], threshold,
                after["base_rate"])
    return {"threshold": threshold, "draws": result.config.n_fresh, "unsafe_after_filter": after,
            "safe_rejected": q["safe_rejected"], "redraws_per_prompt": q["mean_redraws"],
            "tv_distance": {"by_category": q["tv_by_category"], "by_template": q["tv_by_template"]}}


def conservative(result: RobustnessResult) -> dict[str, Any]:
    """The measurements at t_c (`at_threshold`) with the rule stated, by the baseline classifier."""
    t = conservative_threshold(result)
    return {**at_threshold(result, t), "rule": RULE.format(cost=result.config.conservative_safe_lost)}
