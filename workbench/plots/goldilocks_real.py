"""Figures of `model_curvature` (the Goldilocks measures on a real network): pure functions of a
`ModelCurvature`, in the suite's style (`workbench.plots.goldilocks`: its bands and colours).

    measures_figure(result, "MiniLM classifier")   Tr(H_d)/‖H_d‖_F and the positive share vs r / r_ref
    density_figure(result, "MiniLM classifier")    the SLQ spectral density of the full selected Hessian
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.goldilocks.density import density_curve
from workbench.goldilocks.real_result import ModelCurvature
from workbench.plots.goldilocks import _band
from workbench.plots.theme import COLORWAY, reference_line, themed

SURFACE_STYLE = {"plane": ("planes", COLORWAY[0], "solid"), "sphere": ("spheres (with the geodesic term)",
                                                                      COLORWAY[1], "dot")}


def _subject(result: ModelCurvature, planes: bool = True) -> str:
    """"params '<pattern>' (D = …, n tensors)[, d = …, B planes]": what every subtitle states."""
    c = result.config
    where = f"params '{c.params}' (D = {result.n_params:,} in {len(result.names)} tensors)"
    return f"{where}, d = {c.dim}, {c.n_planes} planes" if planes else where


def reference_name(result: ModelCurvature) -> str:
    """The radius that ratio 1 stands for: 'r_init' (the ray through the init point) or '‖θ₀‖'."""
    return "r_init" if result.ray_through == "init" else "‖θ₀‖"


def measures_figure(result: ModelCurvature, model: str = "model") -> go.Figure:
    """Left: Tr(H_d)/‖H_d‖_F, right: the share of positive eigenvalues, vs r / r_ref on the ray
    (lines: mean over planes, band: min–max; planes solid, spheres dotted), and at the current point θ₀
    (diamonds at ‖θ₀‖ / r_ref, whiskers: min–max over planes)."""
    c, ref = result.config, reference_name(result)
    surfaces = ("plane", "sphere") if c.spheres else ("plane",)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                        subplot_titles=(f"Tr(H_d) / ‖H_d‖_F (max √d = {math.sqrt(c.dim):.2f})",
                                        "share of eigenvalues > 0"))
    x = list(c.radii)
    for col, measure in enumerate(("trace_ratio", "positive_fraction"), start=1):
        for surface in surfaces:
            label, color, dash = SURFACE_STYLE[surface]
            _band(fig, x, getattr(result, measure)("ray", surface), f"{label}, along the ray", color, dash=dash,
                  row=1, col=col)
            fig.data[-1].update(legendgroup=surface, showlegend=col == 1)
            fig.data[-2].update(legendgroup=surface, mode="lines")  # a short band would get plotly's markers
            at = getattr(result, measure)("current", surface)[:, 0]
            mean = float(at.mean())
            nudge = 1.0 if surface == "plane" else 1.04  # side by side on the log axis, not on top of each other
            fig.add_trace(go.Scatter(
                x=[result.current_ratio * nudge], y=[mean], mode="markers",
                name=f"{label}, at θ₀ (‖θ₀‖ = {result.current_ratio:.3g} {ref})",
                marker=dict(symbol="diamond", size=11, color=color, line=dict(color="#222", width=1)),
                error_y=dict(type="data", symmetric=False, array=[float(at.max()) - mean],
                             arrayminus=[mean - float(at.min())], color=color),
                legendgroup=f"{surface}-current", showlegend=col == 1), row=1, col=col)
        reference_line(fig, x=1.0, text=ref, log=True, row=1, col=col, label_at=0.02,
                       yref="y domain" if col == 1 else "y2 domain")
    fig.add_hline(y=0.0, line=dict(color="#bbb", width=1), row=1, col=1)
    fig.add_hline(y=0.5, line=dict(color="#bbb", width=1), row=1, col=2)
    fig.update_yaxes(range=[-0.02, 1.02], row=1, col=2)
    fig.update_yaxes(title_text="Tr(H_d) / ‖H_d‖_F", row=1, col=1)
    fig.update_yaxes(title_text="fraction of eigenvalues > 0", row=1, col=2)
    # ticks at the swept ratios only: plotly's log-axis minor labels read "5 1 2" for 0.5, 1, 2
    fig.update_xaxes(type="log", tickvals=x, ticktext=[f"{r:g}" for r in x],
                     title_text=f"radius r / {ref} (ray through θ_{'init' if ref == 'r_init' else '0'})")
    fig.update_layout(title=f"Curvature on random planes and spheres: {model}<br><sup>{_subject(result)}; "
                            f"{ref} = {result.r_ref:.3g}, ‖θ₀‖ = {result.r_current:.3g}; loss at θ₀ = "
                            f"{result.loss:.3g}</sup>",
                      legend=dict(orientation="h", y=-0.22, entrywidth=330))
    return themed(fig, width=1000, height=560).update_layout(margin=dict(t=100, b=160))


def density_figure(result: ModelCurvature, model: str = "model") -> go.Figure:
    """The SLQ spectral density of ∇²L(θ₀) over the D selected parameters (Gaussian-smoothed Ritz
    values, σ = 1 % of their span; log density), with the Hutch++ trace and the SLQ Frobenius norm."""
    d = result.density
    grid, density = density_curve(d.nodes.double(), d.weights.double())
    V, k = d.nodes.shape
    # log density, floored 10⁻⁹ below its peak: the bulk near 0 dwarfs the outliers on a linear axis (an
    # outlier's weight is about 1/D)
    floor = float(density.max()) * 1e-9
    fig = go.Figure(go.Scatter(x=grid.tolist(), y=density.clamp_min(floor).tolist(), mode="lines", name="SLQ density",
                               line=dict(color=COLORWAY[0])))
    nodes = d.nodes[d.weights > 0]
    fig.add_trace(go.Scatter(x=nodes.tolist(), y=[floor * 3] * len(nodes), mode="markers", name="Ritz values",
                             marker=dict(symbol="line-ns-open", size=14, color=COLORWAY[1])))
    fig.update_xaxes(title_text="eigenvalue λ of the Hessian of the selected parameters")
    fig.update_yaxes(title_text="density (smoothed, log)", type="log")
    fig.update_layout(title=f"Spectral density of the Hessian at θ₀: {model}<br><sup>{_subject(result, False)}; "
                            f"SLQ {V} probe{'s' if V > 1 else ''} × {k} steps; "
                            f"Tr H (Hutch++) = {result.trace:.3g} ± {result.trace_stderr:.2g}, ‖H‖_F (SLQ) "
                            f"≈ {result.frobenius:.3g}</sup>",
                      legend=dict(orientation="h", y=-0.25))
    return themed(fig, width=900, height=480).update_layout(margin=dict(t=100, b=120))


def real_figures(result: ModelCurvature, model: str = "model") -> dict[str, go.Figure]:
    """{'real_measures': …, 'real_density': …}: the docs' file stems for both figures."""
    return {"real_measures": measures_figure(result, model), "real_density": density_figure(result, model)}
