"""Figures are pure functions of results (Result -> go.Figure), one theme, one export."""

from workbench.plots.export import export, export_figures
from workbench.plots.theme import THEME, themed

__all__ = ["THEME", "export", "export_figures", "themed"]
