"""The capacity claims table (`workbench.capacity.claims`): each verdict follows its stated rule
when the measurements it reads are changed, on a copy of the committed measurements."""

from __future__ import annotations

import pytest

from tests.unit.claims_rows import committed_measurements, verdicts
from workbench.capacity.claims import FULL_TOL, QUOTES, REACHED, claims


@pytest.fixture
def m() -> dict:
    return committed_measurements("capacity")


def verdict(measurements: dict, claim: str) -> str:
    return verdicts(claims(measurements), QUOTES[claim])[0]


def test_the_committed_measurements_reproduce_every_claim(m) -> None:
    assert {c: verdict(m, c) for c in QUOTES if c != "all_or_nothing"} == {
        c: "reproduced" for c in QUOTES if c != "all_or_nothing"}
    assert verdict(m, "all_or_nothing") == "reproduced in the exact optimum; training stops in local minima"


def test_allocation_needs_every_high_kurtosis_at_the_optimum_in_importance_order(m) -> None:
    high = [r for r in m["per_kurtosis"] if r["kurtosis"] > 3]
    high[0]["importance_ordered"] = False
    assert verdict(m, "allocation") == "partly"
    for r in high:
        r["best_seed_gap_to_exact"] = 10 * REACHED
    assert verdict(m, "allocation") == "not reproduced"


def test_kurtosis_needs_the_share_to_grow_in_both(m) -> None:
    grid = m["polysemantic_share_grid"]
    li = grid["decay"].index(m["decay"])
    grid["share"][-1][li] = 0.0  # the trained share falls at the largest k
    assert verdict(m, "kurtosis") == "partly"
    for row in grid["exact_share"]:
        row[li] = 0.5  # flat: never above where it starts
    assert verdict(m, "kurtosis") == "not reproduced"


def test_architectures_blocks_full_space_and_all_or_nothing(m) -> None:
    for r in m["architectures"]:
        r["quadratic"] = dict(r["relu"])
    assert verdict(m, "architectures") == "not reproduced"
    for r in m["per_kurtosis"]:
        r["block_dims"] = [x + 0.4 for x in r["block_dims"]]
    assert verdict(m, "blocks") == "not reproduced"
    m["d_sweep_max_abs_gap"] = 10 * FULL_TOL
    assert verdict(m, "full") == "not reproduced"
    for r in m["per_kurtosis"]:
        if r["kurtosis"] < 3:
            r["seeds_within_1e-4_of_exact"] = 1
    assert verdict(m, "all_or_nothing") == "reproduced"
    m["per_kurtosis"] = [r for r in m["per_kurtosis"] if r["kurtosis"] >= 3]
    assert QUOTES["all_or_nothing"][:40] not in claims(m)  # no k < 3 run: no row
