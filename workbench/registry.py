"""Every suite of the workbench, listed once: its package and its plots module, imported by name.

Adding a suite is one entry here (docs/extending.md says what else it brings: a panel, notebooks,
a docs page; `tests/unit/test_registry.py` fails until each exists). Plots sit beside the suites
and import them, so a suite package cannot name its own figures: this module joins the two.

    from workbench.registry import SUITES, get_suite
    suite = get_suite("capacity"); result = suite.run(suite.quick())
"""

from __future__ import annotations

from workbench import ace, capacity, goldilocks, robustness
from workbench.plots import ace as ace_plots
from workbench.plots import capacity as capacity_plots
from workbench.plots import goldilocks as goldilocks_plots
from workbench.plots import robustness as robustness_plots
from workbench.suite import Suite

SUITES: dict[str, Suite] = {
    suite.name: suite
    for suite in (
        Suite("ace", ace.AceConfig, ace.AceResult, ace.run, ace.summarize, ace_plots.all_figures, ace.claims),
        Suite("capacity", capacity.CapacityConfig, capacity.CapacityResult, capacity.run, capacity.summarize,
              capacity_plots.all_figures, capacity.claims),
        Suite("goldilocks", goldilocks.GoldilocksConfig, goldilocks.GoldilocksResult, goldilocks.run,
              goldilocks.summarize, goldilocks_plots.all_figures, goldilocks.claims),
        Suite("robustness", robustness.RobustnessConfig, robustness.RobustnessResult, robustness.run,
              robustness.summarize, robustness_plots.all_figures, robustness.claims),
    )
}
SUITE_NAMES: tuple[str, ...] = tuple(SUITES)


def get_suite(name: str | Suite) -> Suite:
    """The registered suite called `name` (a `Suite` is returned as it is, registered or not, so
    a suite under development runs through the same code before it has an entry here)."""
    if isinstance(name, Suite):
        return name
    if name not in SUITES:
        raise ValueError(f"`suite` must be one of {list(SUITE_NAMES)}; got {name!r}")
    return SUITES[name]
