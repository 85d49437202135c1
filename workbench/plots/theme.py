"""One look for every figure: a plotly template applied explicitly (no global default is changed)."""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

COLORWAY = ["#3b6fb6", "#d1603d", "#2e9c6a", "#8b5fbf", "#c9a227", "#4aa8c7", "#b8487a", "#6b6b6b"]
REGIME_COLORS = {"ignored": "#b0b0b0", "polysemantic": "#d1603d", "monosemantic": "#3b6fb6"}

THEME = go.layout.Template(pio.templates["plotly_white"])
THEME.layout.update(
    font=dict(family="Inter, Helvetica, Arial, sans-serif", size=13, color="#222"),
    colorway=COLORWAY,
    title=dict(x=0.02, xanchor="left", font=dict(size=16)),
    margin=dict(l=60, r=20, t=60, b=50),
    legend=dict(bgcolor="rgba(255,255,255,0.8)"),
)


def themed(fig: go.Figure, width: int = 760, height: int = 460) -> go.Figure:
    """Apply the workbench template and a default size; returns the same figure."""
    fig.update_layout(template=THEME, width=width, height=height)
    return fig
