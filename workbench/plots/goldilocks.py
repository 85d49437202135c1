"""Figures of the Goldilocks suite: pure functions of a `GoldilocksResult` (and, for the panel, of
spectra the probe computed).

The same functions make the notebook's figures, the widget's initial figure and the docs' files.
Every x axis is a ratio r/r_init (the config's `ratios` / `train_ratios`), drawn on a log scale.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
from jaxtyping import Float
from plotly.subplots import make_subplots
from torch import Tensor

from workbench.goldilocks.config import RANK_BY
from workbench.goldilocks.density import density_curve, zone_indices
from workbench.goldilocks.result import GoldilocksResult
from workbench.goldilocks.scoring import reliability
from workbench.goldilocks.selection import association
from workbench.goldilocks.summary import curve_peak, init_ratios
from workbench.plots.theme import COLORWAY, reference_line, themed

ACT_COLORS = {"relu": COLORWAY[0], "tanh": COLORWAY[1]}


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    return f"rgba({int(h[0:2], 16)},{int(h[2:4], 16)},{int(h[4:6], 16)},{alpha})"


def _band(fig: go.Figure, x: list[float], values: Tensor, name: str, color: str, dash: str = "solid",
          row: int | None = None, col: int | None = None, band: bool = True, hatch: str = "") -> None:
    """Mean line over the first axis of `values` [n, R], with a min–max band (`hatch`: a fill pattern
    ("/", "\\") and a thin edge, so bands that overlap stay apart)."""
    mean, lo, hi = values.mean(0).tolist(), values.min(0).values.tolist(), values.max(0).values.tolist()
    kw = dict(row=row, col=col) if row is not None else {}
    if band:
        fill = (dict(fillcolor=_rgba(color, 0.06), fillpattern=dict(shape=hatch, fgcolor=_rgba(color, 0.45), size=8),
                     line=dict(width=0.8, color=_rgba(color, 0.5))) if hatch else
                dict(fillcolor=_rgba(color, 0.15), line=dict(width=0)))
        fig.add_trace(go.Scatter(x=x + x[::-1], y=hi + lo[::-1], fill="toself", hoverinfo="skip", showlegend=False,
                                 name=f"{name} range", **fill), **kw)
    fig.add_trace(go.Scatter(x=x, y=mean, mode="lines+markers", name=name, line=dict(color=color, dash=dash)), **kw)


SCHEME_NAMES = {"he": "He", "lecun": "LeCun", "xavier": "Xavier"}


MARK_MERGE = 0.05  # init radii closer than this (decades) share one label: LeCun sits 0.011 decades below r_init


def _radius_marks(fig: go.Figure, result: GoldilocksResult, cols: tuple[int, ...] = (1,)) -> None:
    """Vertical lines at r_init and at the other init schemes' radii (He, LeCun), each at its ratio
    r/r_init, every panel. Radii within `MARK_MERGE` decades share one label ("LeCun, r_init"); the
    labels sit near the bottom, alternately left and right of their lines, on a white ground."""
    c = result.config
    marks = sorted(((v, "r_init" if k == c.init else SCHEME_NAMES[k]) for k, v in init_ratios(result).items()))
    groups: list[list[tuple[float, str]]] = []
    for ratio, name in marks:
        if groups and math.log10(ratio) - math.log10(groups[-1][-1][0]) < MARK_MERGE:
            groups[-1].append((ratio, name))
        else:
            groups.append([(ratio, name)])
    for col in cols:
        domain = "y domain" if col == 1 else f"y{col} domain"
        for ratio, name in marks:
            reference_line(fig, x=ratio, log=True, row=1, col=col,
                           line=dict(color="#999" if name == "r_init" else "#ccc", dash="dash"))
        for i, group in enumerate(groups):
            left = i % 2 == 0 and len(groups) > 1  # the first label left of its line, the next right of its own
            x = group[0][0] if left else group[-1][0]
            fig.add_annotation(text=", ".join(name for _, name in group), showarrow=False, row=1, col=col,
                               x=math.log10(x), y=0.03 + 0.08 * (i // 2), yref=domain, yanchor="bottom",
                               xanchor="right" if left else "left", xshift=-4 if left else 4,
                               bgcolor="rgba(255,255,255,0.85)", font=dict(size=12, color="#555"))


def _measure_figure(result: GoldilocksResult, measure: str, title: str, yaxis: str) -> go.Figure:
    """Left: hyperplanes through the init direction (solid, min–max band) and through isotropic
    directions with biases (dashed); right: the hypersphere with its geodesic term (its own axis:
    it falls far below the plane curves)."""
    c = result.config
    x = list(c.ratios)
    cols = 2 if c.sphere else 1
    fig = make_subplots(rows=1, cols=cols, horizontal_spacing=0.12, subplot_titles=(
        "hyperplanes", "hyperspheres (with the geodesic term)")[:cols])
    # headline: isotropic directions with biases (solid, band); the Xavier direction is the variant (dashed)
    rows = [("isotropic", "hyperplane, isotropic u", "solid", 1)] if c.isotropic else []
    rows += [("plane", "hyperplane, Xavier u" if c.isotropic else "hyperplane", "dash" if c.isotropic else "solid", 1)]
    rows += [("sphere", "hypersphere", "dot", 2)] if c.sphere else []
    for surface, label, dash, col in rows:
        values = getattr(result, measure)(surface)  # [A, S, B, R]
        for a, act in enumerate(c.activations):
            # the sphere's bands of the activations overlap over most radii: hatched, one direction each
            hatch = ("/", "\\")[a % 2] if surface == "sphere" else ""
            _band(fig, x, values[a].reshape(-1, len(x)), f"{act}, {label}", ACT_COLORS.get(act, COLORWAY[a + 2]),
                  dash=dash, band=surface != "plane" or not c.isotropic, row=1, col=col, hatch=hatch)
            fig.data[-1].update(legend="legend2" if col == 2 else "legend")
    _radius_marks(fig, result, tuple(range(1, cols + 1)))
    fig.update_xaxes(type="log", title_text="radius r / r_init")
    fig.update_yaxes(title_text=yaxis, row=1, col=1)
    iso = " (isotropic u with biases, and the Xavier u)" if c.isotropic else ""
    fig.update_layout(title=f"{title}<br><sup>d = {c.hessian_dim}, {c.seeds} directions × {c.bases} planes{iso}, "
                            f"loss on "
                            f"{c.hessian_batch} training digits; radii ≥ {c.float64_from:g} r_init in float64; "
                            f"bands: min–max</sup>")
    # one legend under each pane (one legend across both ran its three columns over the two panes)
    for name, axis in (("legend", "xaxis"), ("legend2", "xaxis2"))[:cols]:  # no xaxis2 without a sphere pane
        fig.update_layout({name: dict(x=fig.layout[axis].domain[0], y=-0.2, xanchor="left", yanchor="top",
                                      orientation="v", bgcolor="rgba(255,255,255,0)")})
    return themed(fig, width=1000, height=580).update_layout(margin=dict(t=100, b=150))


def trace_ratio_figure(result: GoldilocksResult) -> go.Figure:
    """Figure 1: Tr(H_d)/‖H_d‖_F vs r/r_init, mean and min–max over seeds × bases."""
    c = result.config
    fig = _measure_figure(result, "trace_ratio",
                          f"Tr(H)/‖H‖<sub>F</sub> of the restricted Hessian (max √d = {math.sqrt(c.hessian_dim):.2f})",
                          "Tr(H<sub>d</sub>) / ‖H<sub>d</sub>‖<sub>F</sub>")
    for col in range(1, 3 if c.sphere else 2):
        fig.add_hline(y=0.0, line=dict(color="#bbb", width=1), row=1, col=col)
    _shade_zone(fig, result, tuple(range(1, 3 if c.sphere else 2)))
    return fig


ZONE_COLOR = "rgba(201,162,39,0.16)"  # the theme's gold, faint: behind the curves


def zone_range(result: GoldilocksResult) -> tuple[float, float] | None:
    """The Goldilocks zone as the docs measure it (`summary.curve_peak`'s `half_peak_range`): the ratios
    r/r_init where the first activation's hyperplane Tr(H_d)/‖H_d‖_F (mean over seeds × bases) stays
    ≥ half its peak; None when the curve has no positive peak."""
    c = result.config
    curve = curve_peak(c.ratios, result.trace_ratio("plane")[0].mean((0, 1)))["half_peak_range"]
    return None if curve is None else (float(curve[0]), float(curve[1]))


def _shade_zone(fig: go.Figure, result: GoldilocksResult, cols: tuple[int, ...]) -> None:
    """A band over `zone_range` in every pane, named in the first pane's legend."""
    zone = zone_range(result)
    if zone is None:
        return
    c = result.config
    curve = f"{c.activations[0]}, hyperplane" + (f", {SCHEME_NAMES[c.init]} u" if c.isotropic else "")
    for col in cols:
        fig.add_vrect(x0=zone[0], x1=zone[1], fillcolor=ZONE_COLOR, line_width=0, layer="below", row=1, col=col,
                      name=f"Goldilocks zone, {zone[0]:g}–{zone[1]:g} r_init:<br>where {curve} is ≥ ½ its peak",
                      showlegend=col == cols[0], legend="legend")


def positive_fraction_figure(result: GoldilocksResult) -> go.Figure:
    """Figure 2: share of positive eigenvalues of H_d vs r/r_init (0.5: a random symmetric matrix)."""
    c = result.config
    fig = _measure_figure(result, "positive_fraction", "Share of positive eigenvalues of the restricted Hessian",
                          "fraction of eigenvalues > 0")
    for col in range(1, 3 if c.sphere else 2):
        fig.add_hline(y=0.5, line=dict(color="#bbb", width=1), row=1, col=col)
    fig.update_yaxes(range=[-0.02, 1.02])
    return fig


def dims_figure(result: GoldilocksResult) -> go.Figure:
    """Figure 7: Tr(H_d)/(√d‖H_d‖_F) for each d of `compare_dims` (nested planes), per activation."""
    c = result.config
    fig = make_subplots(rows=1, cols=len(c.activations), subplot_titles=list(c.activations), shared_yaxes=True)
    for a, act in enumerate(c.activations):
        for k, d in enumerate(c.compare_dims):
            _band(fig, list(c.ratios), result.dims_ratio[a, k], f"d = {d}", COLORWAY[(k + 2) % len(COLORWAY)],
                  row=1, col=a + 1, band=False)
            fig.data[-1].update(legendgroup=str(d), showlegend=a == 0)
        fig.add_hline(y=0.0, line=dict(color="#bbb", width=1), row=1, col=a + 1)
    _radius_marks(fig, result, tuple(range(1, len(c.activations) + 1)))
    fig.update_xaxes(type="log", title_text="radius r / r_init")
    fig.update_yaxes(title_text="Tr(H<sub>d</sub>) / (√d ‖H<sub>d</sub>‖<sub>F</sub>)", row=1, col=1)
    fig.update_layout(title=f"Trace ratio normalised by √d, comparable across d ({c.bases} nested planes, seed 0)")
    return themed(fig, width=1000, height=460).update_layout(margin=dict(t=90))


def zone_ratio_indices(result: GoldilocksResult) -> tuple[int, int, int]:
    """Indices into `config.ratios` of three swept ratios r/r_init: the first activation's trace-ratio
    peak, and about 10× below / above."""
    return zone_indices(result.config, result.plane_eigs)


def mean_scaled_spectrum(eigs: Float[Tensor, "N d"]) -> Float[Tensor, " d"]:
    """The k-th smallest of λ/‖H‖_F (‖H‖_F = √Σλ²) averaged over the N spectra: the scale-free
    shape of the spectrum, comparable across radii whose curvature differs by orders of magnitude."""
    eigs = eigs.double()  # float64 so the 1e-300 floor that keeps a zero spectrum at 0 is representable
    return (eigs / eigs.pow(2).sum(-1, keepdim=True).sqrt().clamp_min(1e-300)).sort(-1).values.mean(0)


def spectrum_figure(result: GoldilocksResult, ratio_indices: tuple[int, ...] | None = None) -> go.Figure:
    """Figure 3: the sorted spectrum of H_d (λ/‖H_d‖_F, averaged order statistics over seeds × bases)
    at the swept ratios r/r_init `ratio_indices` indexes (default: three, below, in and above the zone);
    with SLQ densities in the result (and the default ratios), a second row: the full-space Hessian's
    smoothed spectral density at those ratios (λ / max |Ritz value|)."""
    c = result.config
    idx = ratio_indices if ratio_indices is not None else zone_ratio_indices(result)
    dense = c.density_steps > 0 and ratio_indices is None
    rows = 2 if dense else 1
    titles = [f"{act}: d = {c.hessian_dim} planes" for act in c.activations]
    if dense:
        titles += [f"{act}: full space, SLQ density" for act in c.activations]
    fig = make_subplots(rows=rows, cols=len(c.activations), subplot_titles=titles, vertical_spacing=0.16)
    shades = [COLORWAY[5], COLORWAY[2], COLORWAY[4]]
    for a, act in enumerate(c.activations):
        for k, i in enumerate(idx):
            y = mean_scaled_spectrum(result.plane_eigs[a, :, :, i].reshape(-1, c.hessian_dim)).tolist()
            fig.add_trace(go.Scatter(x=list(range(1, c.hessian_dim + 1)), y=y, mode="lines+markers",
                                     name=f"r = {c.ratios[i]:g}·r_init", legendgroup=str(i), showlegend=a == 0,
                                     line=dict(color=shades[k % 3])), row=1, col=a + 1)
            if dense:
                nodes, weights = result.density_nodes[a, k].double(), result.density_weights[a, k].double()
                scale = float(nodes.abs().max()) or 1.0
                grid, density = density_curve(nodes / scale, weights)
                fig.add_trace(go.Scatter(x=grid.tolist(), y=density.clamp_min(1e-6).tolist(), mode="lines",
                                         name=f"r = {c.ratios[i]:g}·r_init", legendgroup=str(i), showlegend=False,
                                         line=dict(color=shades[k % 3])), row=2, col=a + 1)
        fig.add_hline(y=0.0, line=dict(color="#bbb", width=1), row=1, col=a + 1)
        fig.update_xaxes(title_text="eigenvalue rank", row=1, col=a + 1)
        if dense:
            fig.update_xaxes(title_text="λ / max |λ| (full-space Hessian)", row=2, col=a + 1)
            fig.update_yaxes(type="log", range=[-4, 2], row=2, col=a + 1)
    fig.update_yaxes(title_text="λ / ‖H<sub>d</sub>‖<sub>F</sub>", row=1, col=1)
    if dense:
        fig.update_yaxes(title_text="density (smoothed)", row=2, col=1)
    fig.update_layout(title=f"Spectrum of the Hessian below, in and above the zone<br><sup>top: restricted to "
                            f"d = {c.hessian_dim} planes; bottom: full space by stochastic Lanczos quadrature "
                            f"({c.density_probes} probe × {c.density_steps} steps, seed 0's direction)</sup>")
    return themed(fig, width=900, height=760 if dense else 460).update_layout(margin=dict(t=100))


def hyperplane_accuracy_figure(result: GoldilocksResult) -> go.Figure:
    """Figure 4: test accuracy after training only φ on a random d-plane from r·u (left) and on
    the origin-centred d-sphere through the same point (right), vs r/r_init; rows: activations."""
    c = result.config
    A = len(c.activations)
    fig = make_subplots(rows=A, cols=2, shared_xaxes=True, shared_yaxes=True, vertical_spacing=0.08,
                        subplot_titles=[f"{act}, {surface}" for act in c.activations
                                        for surface in ("hyperplanes", "hyperspheres")])
    x = list(c.train_ratios)
    shades = [COLORWAY[(t + 2) % len(COLORWAY)] if t < 6 else COLORWAY[t % len(COLORWAY)]
              for t in range(len(c.train_dims))]
    for a, act in enumerate(c.activations):
        for col, surface in enumerate(("plane", "sphere"), start=1):
            for t, d in enumerate(c.train_dims):
                acc = result.surface_acc(surface)[a, t]  # [S, Q]
                fig.add_trace(go.Scatter(
                    x=x, y=acc.mean(0).tolist(), mode="lines+markers", name=f"d = {d}", legendgroup=str(d),
                    showlegend=a == 0 and col == 1, line=dict(color=shades[t]),
                    customdata=[[act, surface]] * len(x)), row=a + 1, col=col)
            full = float(result.full_acc[a].mean())
            fig.add_hline(y=full, line=dict(color="#555", dash="dot", width=1), row=a + 1, col=col)
            fig.add_hline(y=c.intrinsic_fraction * full, line=dict(color="#999", dash="dash", width=1),
                          row=a + 1, col=col)
            fig.add_vline(x=1.0, line=dict(color="#ccc", dash="dash"), row=a + 1, col=col)
    fig.update_xaxes(type="log")
    fig.update_xaxes(title_text="radius r / r_init of the start", row=A, col=1)
    fig.update_xaxes(title_text="radius r / r_init of the start", row=A, col=2)
    for a in range(A):
        fig.update_yaxes(title_text="test accuracy", range=[0, 1], row=a + 1, col=1)
        fig.update_yaxes(range=[0, 1], row=a + 1, col=2)
    fig.update_layout(title=f"Training only φ ({c.train_steps} Adam steps); dotted: full space, dashed: "
                            f"{c.intrinsic_fraction:.0%} of it; grey: r_init")
    return themed(fig, width=1000, height=380 * A).update_layout(margin=dict(t=90))


# figure 6's not-reached markers of one radius, one per (activation, surface), each this factor above
# the last: far enough apart on the log axis for 9-px markers not to overlap
MISSED_STEP = 1.3


def intrinsic_dimension_figure(result: GoldilocksResult) -> go.Figure:
    """Figure 6: d₉₀ (smallest d reaching 90 % of the full-space accuracy) vs r/r_init, planes vs
    spheres; ratios where no d of the grid reaches it are drawn as open markers above the grid."""
    c = result.config
    above = 2 * max(result.dims())
    fig = go.Figure()
    x = list(c.train_ratios)
    for a, act in enumerate(c.activations):
        for k, (surface, dash, symbol) in enumerate((("plane", "solid", "circle"), ("sphere", "dot", "diamond"))):
            d90 = result.intrinsic_dimension(surface)[a]
            color = ACT_COLORS.get(act, COLORWAY[a + 2])
            name = f"{act}, {'hyperplanes' if surface == 'plane' else 'hyperspheres'}"
            fig.add_trace(go.Scatter(x=x, y=[None if math.isnan(v) else v for v in d90.tolist()], mode="lines+markers",
                                     name=name, legendgroup=name, marker=dict(symbol=symbol),
                                     # equal d₉₀ curves coincide: the ones drawn first are wider, so they show
                                     line=dict(color=color, dash=dash, width=2 + 2 * (len(c.activations) - 1 - a))))
            missed = [ratio for ratio, v in zip(x, d90.tolist()) if math.isnan(v)]
            fig.add_trace(go.Scatter(x=missed, y=[above * MISSED_STEP ** (2 * a + k)] * len(missed),
                                     mode="markers", legendgroup=name, showlegend=False, hoverinfo="x+name", name=name,
                                     marker=dict(symbol=f"{symbol}-open", color=color, size=9)))
    reference_line(fig, x=1.0, text="r_init", log=True)
    extended = f" ({max(result.dims())} at {', '.join(f'{r:g}' for r in c.d90_ratios)} r_init)" if c.d90_dims else ""
    # the key goes under the title: on the plot it crossed the curves that sit on the line
    reference_line(fig, y=max(c.train_dims), log=True, line=dict(color="#bbb", dash="dot"))
    key = (f"dotted grey: the base grid's largest d, {max(c.train_dims)}{extended}; open markers at the top: "
           f"no d tried reaches it")
    fig.update_xaxes(type="log", title="radius r / r_init of the start")
    fig.update_yaxes(type="log", title=f"d₉₀ (smallest d reaching {c.intrinsic_fraction:.0%} of full accuracy)",
                     tickvals=result.dims(),
                     range=[math.log10(min(c.train_dims)) - 0.15,
                            math.log10(above * MISSED_STEP ** (2 * len(c.activations) - 1)) + 0.15])
    fig.update_layout(title=f"Intrinsic dimension per radius: hyperplanes vs origin-centred hyperspheres<br>"
                            f"<sub>{key}</sub>", legend=dict(orientation="h", y=-0.22))
    return themed(fig, width=900, height=520).update_layout(margin=dict(b=120, t=90))


SCORE_LABELS = {"trace_ratio": "Tr(H) / ‖H‖<sub>F</sub> (full space, Hutchinson)",
                "trace": "Tr(H) (full space, Hutchinson)", "initial_loss": "initial training loss",
                "positive_fraction": "share of positive eigenvalues of H_d (random planes)"}


def selection_figure(result: GoldilocksResult) -> go.Figure:
    """Figure 5: each init's score vs the area under its training-loss curve (inits at r_init, and
    the positive control at varied ratios, coloured by r/r_init), and the score's test vs retest."""
    c = result.config
    k = RANK_BY.index(c.selection_rank_by)
    score, auc, groups = result.sel_measures[:, k], result.loss_auc(), result.selection_groups()
    rel = reliability(result.sel_retest[groups["at_r_init"], 0], result.sel_retest[groups["at_r_init"], 1])
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14, subplot_titles=(
        "score vs training speed", f"test vs retest of the score (r = {rel['pearson']:.2f} at r_init)"))
    sides = {}
    for group, rows in groups.items():
        if rows.stop <= rows.start:
            continue
        at = group == "at_r_init"
        sides[group] = association(score[rows], auc[rows], c.selection_rank_by != "initial_loss")
        marker = (dict(color=COLORWAY[7], size=5, opacity=0.6) if at else
                  dict(color=result.sel_ratios[rows].tolist(), colorscale="Viridis", size=6, showscale=True,
                       colorbar=dict(title="r / r_init", x=1.02)))
        low, high = c.selection_control_ratios
        name = "at r_init" if at else f"control, r ∈ [{low:g}, {high:g}]·r_init"
        fig.add_trace(go.Scatter(x=score[rows].tolist(), y=auc[rows].tolist(), mode="markers", name=name,
                                 marker=marker, legendgroup=group), row=1, col=1)
        fig.add_trace(go.Scatter(x=result.sel_retest[rows, 0].tolist(), y=result.sel_retest[rows, 1].tolist(),
                                 mode="markers", marker=marker | dict(showscale=False), name=name, legendgroup=group,
                                 showlegend=False), row=1, col=2)
    fig.update_xaxes(title_text=SCORE_LABELS[c.selection_rank_by], row=1, col=1)
    fig.update_yaxes(title_text="training-loss AUC (mean loss per step)", row=1, col=1)
    fig.update_xaxes(title_text="Tr(H)/‖H‖<sub>F</sub>, probe set 1", row=1, col=2)
    fig.update_yaxes(title_text="Tr(H)/‖H‖<sub>F</sub>, probe set 2", row=1, col=2)
    words = "; ".join(f"{'at r_init' if g == 'at_r_init' else 'control'}: ρ = {v['spearman_rho']:.2f}, "
                      f"p = {v['p_value']:.2g}" for g, v in sides.items())
    fig.update_layout(title=f"Init selection by {SCORE_LABELS[c.selection_rank_by].split(' (')[0]}: "
                            f"{c.selection_inits} inits + {c.selection_controls} controls<br><sup>one-sided Spearman "
                            f"(better score → faster): {words}</sup>", title_x=0.02,
                      legend=dict(orientation="h", y=-0.22))
    return themed(fig, width=980, height=520).update_layout(margin=dict(t=100, b=120))


def all_figures(result: GoldilocksResult) -> dict[str, go.Figure]:
    """Every docs figure, keyed by its file name."""
    figs = {"1_trace_ratio": trace_ratio_figure(result), "2_positive_fraction": positive_fraction_figure(result),
            "3_spectra": spectrum_figure(result)}
    if result.config.train_dims:
        figs["4_hyperplane_training"] = hyperplane_accuracy_figure(result)
    if result.config.selection_inits:
        figs["5_init_selection"] = selection_figure(result)
    if result.config.train_dims:
        figs["6_intrinsic_dimension"] = intrinsic_dimension_figure(result)
    if result.config.compare_dims:
        figs["7_trace_ratio_by_d"] = dims_figure(result)
    return figs
