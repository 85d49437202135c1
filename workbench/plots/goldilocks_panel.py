"""The goldilocks panel's figure: Tr/‖H‖ and the positive share over r/r_init with a marker at the
slider's ratio (the curves' own estimator there), and the spectrum at that ratio
(`widgets.goldilocks.GoldilocksPanel` shows it; `workbench.plots.goldilocks` holds the docs figures)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots
from torch import Tensor

from workbench.plots.goldilocks import ACT_COLORS, mean_scaled_spectrum
from workbench.plots.theme import COLORWAY, themed
from workbench.tensor.curvature import eigvals_positive_fraction, eigvals_trace_ratio


def panel_traces(ratios: list[float], sweep_eigs: Tensor, ratio: float, point_eigs: Tensor) -> list[dict]:
    """Trace updates for `panel_figure`: mean curves [B, R, d] over the ratios r/r_init `ratios` -> lines,
    the point at the ratio `ratio` -> markers, its spectrum."""
    tr, pos = eigvals_trace_ratio(sweep_eigs).mean(0), eigvals_positive_fraction(sweep_eigs).mean(0)
    ptr, ppos = eigvals_trace_ratio(point_eigs).mean(), eigvals_positive_fraction(point_eigs).mean()
    spectrum = mean_scaled_spectrum(point_eigs)
    return [
        dict(x=ratios, y=tr.tolist()), dict(x=[ratio], y=[float(ptr)]),
        dict(x=ratios, y=pos.tolist()), dict(x=[ratio], y=[float(ppos)]),
        dict(x=list(range(1, len(spectrum) + 1)), y=spectrum.tolist()),
    ]


def panel_title(activation: str, d: int, ratio: float, point_eigs: Tensor) -> str:
    """The panel's title at the ratio r/r_init `ratio`: the point's Tr/‖H‖_F and positive share."""
    return (f"{activation}, d = {d}, r = {ratio:.3g}·r_init: "
            f"Tr/‖H‖_F = {float(eigvals_trace_ratio(point_eigs).mean()):.2f}, "
            f"positive share {float(eigvals_positive_fraction(point_eigs).mean()):.2f}")


def panel_figure(ratios: list[float], sweep_eigs: Tensor, ratio: float, point_eigs: Tensor,
                 activation: str, planes: str = "") -> go.Figure:
    """Three panels: Tr/‖H‖ and positive share vs the ratios r/r_init `ratios` (a marker at the ratio
    `ratio`), and the spectrum at `ratio`. The marker and the spectrum must come from the same
    planes as the curves (`point_eigs` [P, d] on the P planes of `sweep_eigs` [P, R, d]): the marker
    is the curve's estimator at `ratio`, and the legend says so; `planes` names them (e.g. "mean of
    4 planes (2 seeds)")."""
    if point_eigs.shape[0] != sweep_eigs.shape[0]:
        raise ValueError(f"the marker's spectra ({point_eigs.shape[0]} planes) must be on the curves' planes "
                         f"({sweep_eigs.shape[0]}): another estimator would not sit on its curve")
    fig = make_subplots(rows=1, cols=3,
                        subplot_titles=("Tr(H_d)/‖H_d‖_F", "share of λ > 0", "spectrum λ/‖H_d‖_F"))
    color = ACT_COLORS.get(activation, COLORWAY[0])
    planes = planes or f"mean of {sweep_eigs.shape[0]} planes"
    names = [f"curve: {planes}", f"marker at r = {ratio:.3g}·r_init: the same planes, computed there", "", "",
             f"spectrum at r = {ratio:.3g}·r_init (mean over the same planes)"]
    spots = [(1, "lines+markers"), (1, "markers"), (2, "lines+markers"), (2, "markers"), (3, "lines+markers")]
    for (col, mode), name, update in zip(spots, names, panel_traces(ratios, sweep_eigs, ratio, point_eigs)):
        marker = dict(size=14, color=COLORWAY[3], symbol="diamond") if mode == "markers" else dict(color=color)
        fig.add_trace(go.Scatter(mode=mode, marker=marker, line=dict(color=color), name=name or None,
                                 showlegend=bool(name),
                                 legendgroup="marker" if mode == "markers" else "spectrum" if col == 3 else "curve",
                                 **update), row=1, col=col)
    fig.update_xaxes(type="log", title_text="r / r_init", row=1, col=1)
    fig.update_xaxes(type="log", title_text="r / r_init", row=1, col=2)
    fig.update_xaxes(title_text="rank", row=1, col=3)
    fig.update_yaxes(range=[-0.02, 1.02], row=1, col=2)
    fig.update_layout(title=panel_title(activation, point_eigs.shape[-1], ratio, point_eigs),
                      legend=dict(orientation="h", x=0, xanchor="left", y=-0.2, yanchor="top", font=dict(size=11)))
    return themed(fig, width=980, height=500).update_layout(margin=dict(t=90, b=110))
