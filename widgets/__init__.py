"""Interactive panels (ipywidgets + plotly FigureWidget), one per suite, on a shared base.

`PANELS` maps each registered suite (`workbench.registry.SUITES`) to its panel class; a suite
added to the registry without a panel here fails `tests/unit/test_registry.py`."""

from widgets.ace import AcePanel
from widgets.base import Panel
from widgets.capacity import CapacityPanel
from widgets.goldilocks import GoldilocksPanel
from widgets.progress import progress_line
from widgets.robustness import RobustnessPanel

PANELS: dict[str, type[Panel]] = {panel.suite: panel for panel in (AcePanel, CapacityPanel, GoldilocksPanel,
                                                                   RobustnessPanel)}

__all__ = ["PANELS", "AcePanel", "CapacityPanel", "GoldilocksPanel", "Panel", "RobustnessPanel", "progress_line"]
