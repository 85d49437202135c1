"""Figures are pure functions of results (Result -> go.Figure), one theme, one export."""

from workbench.plots.export import export
from workbench.plots.theme import THEME, themed

__all__ = ["THEME", "export", "themed"]
