"""Interactive panels (ipywidgets + plotly FigureWidget), one per suite, on a shared base."""

from widgets.ace import AcePanel
from widgets.base import Panel
from widgets.capacity import CapacityPanel
from widgets.goldilocks import GoldilocksPanel
from widgets.robustness import RobustnessPanel

__all__ = ["AcePanel", "CapacityPanel", "GoldilocksPanel", "Panel", "RobustnessPanel"]
