"""Rare-event bounds (workbench.tensor.stats) against scipy.stats' own intervals."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from workbench.tensor.stats import clopper_pearson, rule_of_three, upper_bound, wilson_interval

CASES = [(0, 10), (0, 1000), (3, 10), (7, 200), (50, 100), (100, 100), (1, 1_000_000), (0, 1_000_000)]


@pytest.mark.parametrize("k,n", CASES)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_matches_scipy(k, n, confidence):
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    low, high = wilson_interval(k, n, confidence)
    assert low == pytest.approx(ci.low, abs=1e-12) and high == pytest.approx(ci.high, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("k,n", CASES)
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_clopper_pearson_matches_scipy_exact(k, n, confidence):
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    low, high = clopper_pearson(k, n, confidence)
    assert low == pytest.approx(ci.low, abs=1e-12) and high == pytest.approx(ci.high, rel=1e-9)


@pytest.mark.parametrize("n", [30, 1000, 10**6])
def test_rule_of_three_is_the_one_sided_exact_bound_at_zero(n):
    exact = 1 - 0.05 ** (1 / n)  # P(0 failures | p) = 0.05
    assert rule_of_three(n) == 3 / n
    assert rule_of_three(n) == pytest.approx(exact, rel=0.06 if n == 30 else 3e-3)
    assert upper_bound(0, n) == 3 / n
    assert upper_bound(2, n) == clopper_pearson(2, n)[1]


def test_intervals_contain_the_estimate_and_are_ordered():
    for k, n in CASES:
        for f in (wilson_interval, clopper_pearson):
            low, high = f(k, n)
            assert 0 <= low <= k / n <= high <= 1


@pytest.mark.parametrize("call,name", [
    (lambda: wilson_interval(5, 3), "`k`"), (lambda: wilson_interval(0, 0), "`n`"),
    (lambda: clopper_pearson(1, 10, 1.0), "`confidence`"), (lambda: wilson_interval(1, 10, math.nan), "`confidence`"),
    (lambda: rule_of_three(0), "`n`"), (lambda: wilson_interval(1.5, 10), "`k`"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=name):
        call()
