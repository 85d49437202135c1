"""The conservative threshold (`workbench.robustness.conservative`) on the session's QUICK result: the
stated rule, and every number at it recomputed from the scored fresh draws by hand."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from workbench.robustness import RobustnessConfig
from workbench.robustness.conservative import at_threshold, conservative, conservative_threshold
from workbench.robustness.filtering import choose_threshold
from workbench.robustness.summary import summarize


def test_the_rule_is_the_default_rule_at_the_stated_cost(robustness_quick) -> None:
    r = robustness_quick
    safe_val = r.scores[0][r.mask("val") & (r.labels == 0)]
    t = conservative_threshold(r)
    assert t == choose_threshold(safe_val, r.config.conservative_safe_lost)
    assert t <= float(r.thresholds[0])  # a larger cost never raises the threshold
    assert float((safe_val >= t).double().mean()) <= r.config.conservative_safe_lost


def test_the_numbers_at_the_threshold_match_a_recount(robustness_quick) -> None:
    r = robustness_quick
    out = conservative(r)
    t = out["threshold"]
    scores, y = r.fresh_scores[0], r.fresh_labels.bool()
    after = out["unsafe_after_filter"]
    assert after["count"] == int((scores[y] < t).sum()) and after["unsafe_draws"] == int(y.sum())
    assert out["draws"] == after["draws"] == r.config.n_fresh
    assert out["safe_rejected"] == pytest.approx(float((scores[~y] >= t).double().mean()))
    assert after["rate"] <= after["bound"] <= 1.0
    p_pass = after["base_rate"] * after["miss_rate"] + (1 - after["base_rate"]) * after["safe_pass_rate"]
    assert out["redraws_per_prompt"] == pytest.approx(1 / p_pass - 1)
    assert 0.0 <= out["tv_distance"]["by_category"] <= out["tv_distance"]["by_template"] <= 1.0
    assert f"{r.config.conservative_safe_lost:g}" in out["rule"]


def test_summary_holds_both_thresholds_rows(robustness_quick) -> None:
    s = summarize(robustness_quick)
    assert set(s["conservative"]) >= {"threshold", "rule", "draws", "unsafe_after_filter", "safe_rejected",
                                      "redraws_per_prompt", "tv_distance"}
    assert s["default_threshold"]["threshold"] == pytest.approx(float(robustness_quick.thresholds[0]))
    assert s["default_threshold"]["unsafe_after_filter"]["count"] == s["unsafe_after_filter"]["count"]


def test_no_fresh_draws_and_bad_cost_are_refused(robustness_quick) -> None:
    r = robustness_quick
    empty = dataclasses.replace(r, fresh_labels=torch.zeros(0, dtype=torch.long),
                                fresh_scores=torch.zeros(r.fresh_scores.shape[0], 0))
    with pytest.raises(ValueError, match="no fresh draws"):
        at_threshold(empty, 0.5)
    for bad in (1.0, -0.1):
        with pytest.raises(ValueError, match="`conservative_safe_lost`"):
            RobustnessConfig(conservative_safe_lost=bad)

