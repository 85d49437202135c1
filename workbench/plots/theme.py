"""One look for every figure: a plotly template applied explicitly (no global default is changed)."""

from __future__ import annotations

import math

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
    # every axis (subplots' too): 10⁻⁴ rather than SI prefixes — a rate of "100µ" reads as a unit
    xaxis=dict(exponentformat="power"),
    yaxis=dict(exponentformat="power"),
)


def themed(fig: go.Figure, width: int = 760, height: int = 460) -> go.Figure:
    """Apply the workbench template and a default size; returns the same figure."""
    fig.update_layout(template=THEME, width=width, height=height)
    return fig


def reference_line(fig: go.Figure, *, x: float | None = None, y: float | None = None, text: str = "",
                   log: bool = False, line: dict | None = None, row: int | None = None, col: int | None = None,
                   label_at: float = 1.0, **label: object) -> go.Figure:
    """A vertical (`x=`) or horizontal (`y=`) reference line with a label beside it, `label_at`
    along it (0 … 1 of the plot: 1 = top / right end). plotly puts shapes at data values but
    annotations on a log axis at log10 of them (so add_vline's own label for r_init = 1 landed
    at 10): with `log`, the label's coordinate is converted."""
    if (x is None) == (y is None):
        raise ValueError("give exactly one of `x` (a vertical line) or `y` (a horizontal one)")
    style = dict(color="#999", dash="dash") | (line or {})
    where = math.log10(x if x is not None else y) if log else (x if x is not None else y)
    if x is not None:
        fig.add_vline(x=x, line=style, row=row, col=col)
        anchor = dict(x=where, y=label_at, yref="y domain" if row is None else None, xanchor="left",
                      yanchor="top" if label_at >= 0.5 else "bottom", xshift=4)
    else:
        fig.add_hline(y=y, line=style, row=row, col=col)
        anchor = dict(y=where, x=label_at, xref="x domain" if row is None else None,
                      xanchor="right" if label_at >= 0.5 else "left", yanchor="bottom")
    if text:
        placed = {k: v for k, v in anchor.items() if v is not None} | label
        fig.add_annotation(text=text, showarrow=False, row=row, col=col, **placed)
    return fig
