"""The goldilocks claims table (`workbench.goldilocks.claims`): each verdict follows its stated rule
when the measurements it reads are changed, on a copy of the committed measurements."""

from __future__ import annotations

import pytest

from tests.unit.claims_rows import committed_measurements, verdicts
from workbench.goldilocks.claims import QUOTES, RELIABLE, ZONE_FACTOR, claims


@pytest.fixture
def m() -> dict:
    return committed_measurements("goldilocks")


def verdict(measurements: dict, claim: str) -> str:
    return verdicts(claims(measurements), QUOTES[claim])[0]


def flatten(curve: dict) -> None:
    """A curve with its peak at the grid's first radius: no zone."""
    curve["peak_ratio"], curve["at_smallest_r"] = 0.1, curve["peak"]


def test_the_zone_rule_needs_an_interior_peak_above_both_ends(m) -> None:
    assert verdict(m, "zone") == "reproduced"
    flatten(m["isotropic"]["relu"]["trace_ratio"])
    assert verdict(m, "zone") == "partly"
    c = m["plane"]["relu"]["trace_ratio"]
    c["at_largest_r"] = c["peak"] / ZONE_FACTOR * 1.01  # interior, but not twice the end
    assert verdict(m, "zone") == "not reproduced"


def test_tanh_sphere_and_positive_eigenvalue_rules(m) -> None:
    assert verdict(m, "tanh") == "not reproduced (tanh shows a zone)"
    flatten(m["plane"]["tanh"]["trace_ratio"])
    assert verdict(m, "tanh") == "reproduced"
    s = m["sphere"]["relu"]["trace_ratio"]
    s.update(peak_ratio=1.778, peak=3.0, at_smallest_r=1.0, at_largest_r=0.5)
    assert verdict(m, "sphere") == "reproduced"
    assert verdict(m, "positive") == "reproduced"
    m["plane"]["relu"]["positive_fraction"]["peak"] = m["plane"]["relu"]["positive_fraction"]["at_smallest_r"]
    assert verdict(m, "positive") == "not reproduced"


def test_inits_overlap_and_selection_rules(m) -> None:
    m["init_ratios"] = {"xavier": 1.0, "he": 1.4, "lecun": 1.2}
    assert verdict(m, "inits") == "reproduced"
    acc = m["sphere_training"]["sphere"]
    for act in acc:
        acc[act][str(max(m["sphere_training"]["dims"]))][0] = 0.99  # best at the smallest radius
    assert verdict(m, "overlap") == "not reproduced"
    sel = m["init_selection"]
    sel["reliability"] = RELIABLE - 0.01
    assert verdict(m, "selection").startswith("not testable here (reliability")
    sel["reliability"] = RELIABLE
    sel["preregistered"].update(p_value=0.2, power=0.9)
    assert verdict(m, "selection") == "not reproduced"
    sel["preregistered"].update(power=0.5)
    assert verdict(m, "selection").startswith("not testable here (power 0.50")
    sel["preregistered"].update(p_value=0.01)
    assert verdict(m, "selection") == "reproduced"
