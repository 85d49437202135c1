"""The robustness claims table (`workbench.robustness.claims`): each verdict follows its stated rule
when the measurements it reads are changed, on a copy of the committed measurements."""

from __future__ import annotations

import pytest

from tests.unit.claims_rows import committed_measurements
from tests.unit.claims_rows import verdicts as rows_verdicts
from workbench.robustness.claims import ALPHA, PAPER_RATE, QUALITY_TV, QUOTES, claims


@pytest.fixture
def m() -> dict:
    return committed_measurements("robustness")


def verdicts(measurements: dict, claim: str) -> list[str]:
    return rows_verdicts(claims(measurements), QUOTES[claim])


def test_the_rate_rule_at_both_thresholds(m) -> None:
    assert len(verdicts(m, "rate")) == 2  # the conservative threshold, then the default
    a = m["conservative"]["unsafe_after_filter"]
    a["rate"], a["bound"] = PAPER_RATE / 2, PAPER_RATE / 3
    assert verdicts(m, "rate")[0] == "reproduced"
    a["bound"] = 2 * PAPER_RATE
    assert verdicts(m, "rate")[0] == "not certified at this draw count"
    a["rate"] = 2 * PAPER_RATE
    assert verdicts(m, "rate")[0] == "not reproduced"


def test_the_quality_rule(m) -> None:
    m["conservative"]["tv_distance"]["by_template"] = QUALITY_TV / 2
    assert verdicts(m, "quality") == ["reproduced"]
    m["conservative"]["tv_distance"]["by_template"] = 2 * QUALITY_TV
    assert verdicts(m, "quality") == ["not reproduced"]


def test_the_attack_rules(m) -> None:
    trained = [e for e in m["effort_to_failure"].values() if e["trained_on"]]
    held_out = [e for e in m["effort_to_failure"].values() if not e["trained_on"]]
    for e in trained + held_out:
        e["paired_test_round0_vs_last"]["p_value"] = ALPHA / 10
    assert verdicts(m, "trained") == ["reproduced"] and verdicts(m, "held_out") == ["carries over"]
    trained[0]["paired_test_round0_vs_last"]["p_value"] = 0.5
    held_out[0]["paired_test_round0_vs_last"]["p_value"] = 0.5
    assert verdicts(m, "trained") == ["partly"] and verdicts(m, "held_out") == ["does not carry over"]
    for e in trained:
        e["paired_test_round0_vs_last"]["p_value"] = 0.5
    assert verdicts(m, "trained") == ["not reproduced"]


def test_the_in_distribution_rule(m) -> None:
    m["in_distribution"]["ci95"] = [-0.01, 0.002]
    assert verdicts(m, "in_distribution") == ["reproduced"]
    m["in_distribution"]["ci95"] = [-0.02, -0.001]
    assert verdicts(m, "in_distribution") == ["not reproduced"]


def test_a_run_without_fresh_draws_has_no_filter_rows(m) -> None:
    m["conservative"] = m["default_threshold"] = None
    assert verdicts(m, "rate") == [] and verdicts(m, "quality") == []
    assert verdicts(m, "trained")  # the attack rows stay
