"""Figures of the Goldilocks suite: pure functions of a `GoldilocksResult` (and, for the panel, of
spectra the probe computed).

The same functions make the notebook's figures, the widget's initial figure and the docs' files.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots
from jaxtyping import Float
from torch import Tensor

from workbench.goldilocks.result import GoldilocksResult
from workbench.goldilocks.selection import steps_to_target
from workbench.goldilocks.summary import selection_tests
from workbench.plots.theme import COLORWAY, reference_line, themed
from workbench.tensor.curvature import eigvals_positive_fraction, eigvals_trace_ratio

ACT_COLORS = {"relu": COLORWAY[0], "tanh": COLORWAY[1]}


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def _band(fig: go.Figure, x: list[float], values: Tensor, name: str, color: str, dash: str = "solid",
          row: int | None = None, col: int | None = None, band: bool = True) -> None:
    """Mean line over the first axis of `values` [n, R], with a min–max band."""
    mean, lo, hi = values.mean(0).tolist(), values.min(0).values.tolist(), values.max(0).values.tolist()
    kw = dict(row=row, col=col) if row is not None else {}
    if band:
        fig.add_trace(go.Scatter(x=x + x[::-1], y=hi + lo[::-1], fill="toself", fillcolor=_rgba(color, 0.15),
                                 line=dict(width=0), hoverinfo="skip", showlegend=False, name=f"{name} range"), **kw)
    fig.add_trace(go.Scatter(x=x, y=mean, mode="lines+markers", name=name, line=dict(color=color, dash=dash)), **kw)


def _measure_figure(result: GoldilocksResult, measure: str, title: str, yaxis: str) -> go.Figure:
    c = result.config
    x = list(c.radii)
    fig = go.Figure()
    surfaces = ["plane"] + (["sphere"] if c.sphere else [])
    for surface in surfaces:
        values = getattr(result, measure)(surface)  # [A, S, B, R]
        for a, act in enumerate(c.activations):
            label = f"{act}, {'hyperplane' if surface == 'plane' else 'hypersphere'}"
            _band(fig, x, values[a].reshape(-1, len(x)), label, ACT_COLORS.get(act, COLORWAY[a + 2]),
                  dash="solid" if surface == "plane" else "dot", band=surface == "plane")
    reference_line(fig, x=1.0, text="r_init", log=True)
    fig.update_xaxes(type="log", title="radius r / r_init")
    fig.update_layout(title=title, yaxis_title=yaxis, legend_title=f"d = {c.hessian_dim}, {c.seeds}×{c.bases} planes")
    return themed(fig)


def trace_ratio_figure(result: GoldilocksResult) -> go.Figure:
    """Figure 1: Tr(H_d)/‖H_d‖_F vs r/r_init, mean and min–max over seeds × bases."""
    c = result.config
    fig = _measure_figure(result, "trace_ratio", f"Tr(H)/‖H‖_F of the restricted Hessian (max √d = {math.sqrt(c.hessian_dim):.2f})",
                          "Tr(H_d) / ‖H_d‖_F")
    fig.add_hline(y=0.0, line=dict(color="#bbb", width=1))
    return fig


def positive_fraction_figure(result: GoldilocksResult) -> go.Figure:
    """Figure 2: share of positive eigenvalues of H_d vs r/r_init."""
    fig = _measure_figure(result, "positive_fraction", "Share of positive eigenvalues of the restricted Hessian",
                          "fraction of eigenvalues > 0")
    fig.update_yaxes(range=[-0.02, 1.02])
    return fig


def zone_radii(result: GoldilocksResult) -> tuple[int, int, int]:
    """Indices of three radii: the first activation's trace-ratio peak, and about 10× below / above."""
    c = result.config
    peak = int(torch.argmax(result.trace_ratio("plane")[0].mean((0, 1))))
    r = c.radii[peak]
    return c.nearest_radius(r / 10), peak, c.nearest_radius(r * 10)


def mean_scaled_spectrum(eigs: Float[Tensor, "N d"]) -> Float[Tensor, "d"]:
    """The k-th smallest of λ/‖H‖_F (‖H‖_F = √Σλ²) averaged over the N spectra: the scale-free
    shape of the spectrum, comparable across radii whose curvature differs by orders of magnitude."""
    eigs = eigs.double()  # float64 so the 1e-300 floor that keeps a zero spectrum at 0 is representable
    return (eigs / eigs.pow(2).sum(-1, keepdim=True).sqrt().clamp_min(1e-300)).sort(-1).values.mean(0)


def spectrum_figure(result: GoldilocksResult, radius_indices: tuple[int, ...] | None = None) -> go.Figure:
    """Figure 3: the sorted spectrum of H_d (λ/‖H_d‖_F, averaged order statistics over seeds × bases)
    at three radii: below, in and above the zone."""
    c = result.config
    idx = radius_indices if radius_indices is not None else zone_radii(result)
    fig = make_subplots(rows=1, cols=len(c.activations), subplot_titles=list(c.activations), shared_yaxes=True)
    shades = [COLORWAY[5], COLORWAY[2], COLORWAY[4]]
    for a, act in enumerate(c.activations):
        for k, ri in enumerate(idx):
            y = mean_scaled_spectrum(result.plane_eigs[a, :, :, ri].reshape(-1, c.hessian_dim)).tolist()
            fig.add_trace(go.Scatter(x=list(range(1, c.hessian_dim + 1)), y=y, mode="lines+markers",
                                     name=f"r = {c.radii[ri]:g}·r_init", legendgroup=str(ri), showlegend=a == 0,
                                     line=dict(color=shades[k % 3])), row=1, col=a + 1)
        fig.add_hline(y=0.0, line=dict(color="#bbb", width=1), row=1, col=a + 1)
        fig.update_xaxes(title_text="eigenvalue rank", row=1, col=a + 1)
    fig.update_yaxes(title_text="λ / ‖H_d‖_F", row=1, col=1)
    fig.update_layout(title=f"Spectrum of the restricted Hessian (d = {c.hessian_dim}) below, in and above the zone")
    return themed(fig, width=900).update_layout(margin=dict(t=90))


def hyperplane_accuracy_figure(result: GoldilocksResult) -> go.Figure:
    """Figure 4: test accuracy after training only φ on a random d-plane from r·u, vs r/r_init."""
    c = result.config
    fig = go.Figure()
    x = list(c.train_radii)
    for t, d in enumerate(c.train_dims):
        for a, act in enumerate(c.activations):
            acc = result.plane_acc[a, t]  # [S, Q]
            fig.add_trace(go.Scatter(
                x=x, y=acc.mean(0).tolist(), mode="lines+markers", name=f"{act}, d = {d}",
                line=dict(color=COLORWAY[t % len(COLORWAY)], dash="solid" if a == 0 else "dash"),
                error_y=dict(type="data", symmetric=False, array=(acc.max(0).values - acc.mean(0)).tolist(),
                             arrayminus=(acc.mean(0) - acc.min(0).values).tolist(), thickness=1)))
    reference_line(fig, x=1.0, text="r_init", log=True)
    reference_line(fig, y=0.1, text="chance", line=dict(color="#bbb", width=1, dash="solid"))
    fig.update_xaxes(type="log", title="radius r / r_init of the plane's origin")
    fig.update_layout(title=f"Training only φ on random hyperplanes ({c.train_steps} Adam steps; test accuracy)",
                      yaxis_title="test accuracy", yaxis_range=[0, 1])
    return themed(fig)


def selection_figure(result: GoldilocksResult) -> go.Figure:
    """Figure 5: steps to the target accuracy, top-ranked inits vs the rest (Mann–Whitney U), and
    the mean accuracy curves of both groups."""
    c = result.config
    test = selection_tests(result)[c.selection_rank_by]
    steps = steps_to_target(result.sel_curves, c.selection_target, c.selection_eval_every)
    order = torch.argsort(result.selection_measure(), descending=c.selection_rank_by != "initial_loss")
    top, rest = order[: c.selection_top], order[c.selection_top:]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(f"steps to {c.selection_target:.0%} test accuracy",
                                                        "mean test accuracy during training"))
    for name, idx, color in (("top-ranked", top, COLORWAY[2]), ("rest", rest, COLORWAY[7])):
        fig.add_trace(go.Box(y=steps[idx].tolist(), name=name, boxpoints="all", jitter=0.4, marker_color=color,
                             legendgroup=name), row=1, col=1)
        k = torch.arange(result.sel_curves.shape[-1]) * c.selection_eval_every
        fig.add_trace(go.Scatter(x=k.tolist(), y=result.sel_curves[idx].mean(0).tolist(), mode="lines", name=name,
                                 line=dict(color=color), legendgroup=name, showlegend=False), row=1, col=2)
    fig.add_hline(y=c.selection_target, line=dict(color="#999", dash="dash"), row=1, col=2)
    fig.update_xaxes(title_text="SGD step", row=1, col=2)
    fig.update_yaxes(title_text="steps", row=1, col=1)
    fig.update_layout(title=f"Init selection by {c.selection_rank_by} ({c.selection_top} of {c.selection_inits}): "
                            f"Mann–Whitney p = {test.p_value:.3g}, Spearman ρ = {test.spearman_rho:.2f}")
    return themed(fig, width=900).update_layout(margin=dict(t=90))


def all_figures(result: GoldilocksResult) -> dict[str, go.Figure]:
    """Every docs figure, keyed by its file name."""
    figs = {"1_trace_ratio": trace_ratio_figure(result), "2_positive_fraction": positive_fraction_figure(result),
            "3_spectra": spectrum_figure(result)}
    if result.config.train_dims:
        figs["4_hyperplane_training"] = hyperplane_accuracy_figure(result)
    if result.config.selection_inits:
        figs["5_init_selection"] = selection_figure(result)
    return figs


# --- the panel's figure: curves with a marker at the slider's radius, and the spectrum there ----
def panel_traces(radii: list[float], sweep_eigs: Tensor, ratio: float, point_eigs: Tensor) -> list[dict]:
    """Trace updates for `panel_figure`: mean curves [B, R, d] -> lines, the point -> markers, spectrum."""
    tr, pos = eigvals_trace_ratio(sweep_eigs).mean(0), eigvals_positive_fraction(sweep_eigs).mean(0)
    ptr, ppos = eigvals_trace_ratio(point_eigs).mean(), eigvals_positive_fraction(point_eigs).mean()
    spectrum = mean_scaled_spectrum(point_eigs)
    return [
        dict(x=radii, y=tr.tolist()), dict(x=[ratio], y=[float(ptr)]),
        dict(x=radii, y=pos.tolist()), dict(x=[ratio], y=[float(ppos)]),
        dict(x=list(range(1, len(spectrum) + 1)), y=spectrum.tolist()),
    ]


def panel_title(activation: str, d: int, ratio: float, point_eigs: Tensor) -> str:
    return (f"{activation}, d = {d}, r = {ratio:.3g}·r_init: Tr/‖H‖_F = {float(eigvals_trace_ratio(point_eigs).mean()):.2f}, "
            f"positive share {float(eigvals_positive_fraction(point_eigs).mean()):.2f}")


def panel_figure(radii: list[float], sweep_eigs: Tensor, ratio: float, point_eigs: Tensor, activation: str) -> go.Figure:
    """Three panels: Tr/‖H‖ and positive share vs r/r_init (a marker at `ratio`), and the spectrum at `ratio`."""
    fig = make_subplots(rows=1, cols=3, subplot_titles=("Tr(H_d)/‖H_d‖_F", "share of λ > 0", "spectrum λ/‖H_d‖_F"))
    color = ACT_COLORS.get(activation, COLORWAY[0])
    spots = [(1, "lines+markers"), (1, "markers"), (2, "lines+markers"), (2, "markers"), (3, "lines+markers")]
    for (col, mode), update in zip(spots, panel_traces(radii, sweep_eigs, ratio, point_eigs)):
        marker = dict(size=14, color=COLORWAY[3], symbol="diamond") if mode == "markers" else dict(color=color)
        fig.add_trace(go.Scatter(mode=mode, marker=marker, line=dict(color=color), showlegend=False, **update),
                      row=1, col=col)
    fig.update_xaxes(type="log", title_text="r / r_init", row=1, col=1)
    fig.update_xaxes(type="log", title_text="r / r_init", row=1, col=2)
    fig.update_xaxes(title_text="rank", row=1, col=3)
    fig.update_yaxes(range=[-0.02, 1.02], row=1, col=2)
    fig.update_layout(title=panel_title(activation, point_eigs.shape[-1], ratio, point_eigs))
    return themed(fig, width=980, height=440).update_layout(margin=dict(t=90))
