"""Interactive panels (ipywidgets + plotly FigureWidget), one per suite, on a shared base."""

from widgets.base import Panel
from widgets.capacity import CapacityPanel

__all__ = ["CapacityPanel", "Panel"]
