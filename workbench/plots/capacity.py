"""Figures of the capacity suite: pure functions of a `CapacityResult`.

The same functions make the notebook's figures, the widget's initial figure and the docs' files.
"""

from __future__ import annotations

import math

import plotly.graph_objects as go
import torch
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from workbench.capacity.analysis import best_over_seeds, block_regimes, exact_capacities, exact_regimes, gram_blocks
from workbench.capacity.capacity import capacity
from workbench.capacity.features import relu_input_kurtosis
from workbench.capacity.loss import gram, marginal_loss
from workbench.capacity.result import CapacityResult
from workbench.plots.capacity_theory import marginal_benefit, probe_phase_diagram
from workbench.plots.theme import REGIME_COLORS, themed

REGIME_NAMES = ("ignored", "polysemantic", "monosemantic")
GAP_FLOOR = 1e-7  # |Σ C − d| below this is drawn at it (float32 training's round-off)
ZERO_CAPACITY = 1e-3  # figure 6: a capacity below this (trained ReLU: ~1e-5) gets a "zero" marker on the axis
BAR_WIDTH = 0.4  # figure 6: each architecture's bar, side by side within a feature's unit slot


def kurtosis_colors(kurtoses: tuple[float, ...]) -> list[str]:
    """One colour per kurtosis from a sequential scale (dark = low k), so none repeats and the
    order reads at a glance (an 8-colour colorway gave k = 1.5 and k = 100 the same blue)."""
    return sample_colorscale("Viridis", [0.9 * i / max(len(kurtoses) - 1, 1) for i in range(len(kurtoses))])


def capacity_profiles(result: CapacityResult, decay_index: int | None = None) -> go.Figure:
    """Figure 1: C_i vs feature index (importance order), one line per kurtosis: the trained
    optimum (solid, markers) over the exact water-filling optimum (dashed)."""
    li = result.sweep_decay_index() if decay_index is None else decay_index
    C = result.capacities()[:, li]
    exact = exact_capacities(result.importances(li).double(), result.config.kurtosis, result.config.d)
    features = list(range(result.config.n))
    fig = go.Figure()
    for ki, (k, color) in enumerate(zip(result.config.kurtosis, kurtosis_colors(result.config.kurtosis))):
        fig.add_trace(
            go.Scatter(
                x=features,
                y=exact[ki].tolist(),
                mode="lines",
                line=dict(color=color, dash="dot", width=2),
                legendgroup=str(k),
                showlegend=False,
                hovertemplate=f"exact, k = {k:g}: C = %{{y:.3f}}<extra></extra>",
            )
        )
        fig.add_trace(go.Scatter(x=features, y=C[ki].tolist(), mode="markers", name=f"k = {k:g}", legendgroup=str(k),
                                 marker=dict(color=color, size=7)))
    fig.update_layout(
        title=f"Capacity per feature: trained (dots) and exact optimum (dotted), n={result.config.n}, "
            f"d={result.config.d}, v<sub>i</sub> = {result.config.decay[li]:g}<sup>i</sup>",
        xaxis_title="feature i (most important first)",
        yaxis_title="capacity C<sub>i</sub>",
        yaxis_range=[-0.03, 1.05],
        legend_title="kurtosis",
    )
    return themed(fig, width=860, height=480)


def phase_diagram(result: CapacityResult) -> go.Figure:
    """Figure 2: share of polysemantic features over kurtosis × decay — trained (a feature is
    polysemantic when it shares a Gram block) beside the exact optimum (0 < C_i < 1)."""
    c = result.config
    best = result.best_W()
    trained = torch.tensor([[float((block_regimes(best[ki, li]) == 1).float().mean()) for li in range(len(c.decay))]
                            for ki in range(len(c.kurtosis))])
    exact = torch.stack([(exact_regimes(result.exact_capacities(li)) == 1).double().mean(-1)
                         for li in range(len(c.decay))], 1)  # [K, L]
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("trained (Gram blocks)", "exact optimum"), horizontal_spacing=0.1
    )
    for col, share in enumerate((trained, exact), start=1):
        fig.add_trace(go.Heatmap(
            x=[f"{k:g}" for k in c.kurtosis], y=[f"{x:g}" for x in c.decay], z=share.T.tolist(), zmin=0, zmax=1,
            colorscale="Viridis", showscale=col == 2,
            # the title beside the bar, not above it, where its second line sat on the "1" tick
            colorbar=dict(title=dict(text="polysemantic share", side="right")),
            text=[[f"{s:.2f}" for s in row] for row in share.T.tolist()], texttemplate="%{text}",
        ), row=1, col=col)
        fig.update_xaxes(title_text="kurtosis k", type="category", row=1, col=col)
    fig.update_yaxes(title_text="importance decay λ (v<sub>i</sub> = λ<sup>i</sup>)", type="category", row=1, col=1)
    fig.update_yaxes(type="category", row=1, col=2)
    fig.update_layout(title="Share of polysemantic features", margin=dict(t=90))
    return themed(fig, width=1100, height=460)


def marginal_loss_figure(
    result: CapacityResult, decay_index: int | None = None, min_kurtosis: float = 3.5
) -> go.Figure:
    """Figure 3: |∂L_i/∂C_i| at the optimum per feature; flat across the polysemantic ones (KKT)."""
    li = result.sweep_decay_index() if decay_index is None else decay_index
    best = result.best_W()[:, li].double()
    C = capacity(best)
    v = result.importances(li).double()
    fig = go.Figure()
    shown = [ki for ki, k in enumerate(result.config.kurtosis) if k >= min_kurtosis] or [len(C) - 1]
    ends: list[tuple[float, str]] = []
    for ki in shown:
        k = result.config.kurtosis[ki]
        m = -marginal_loss(C[ki], v, k)
        reg = block_regimes(best[ki])
        fig.add_trace(
            go.Scatter(
                x=list(range(result.config.n)),
                y=m.tolist(),
                mode="lines+markers",
                name=f"k = {k:g}",
                marker=dict(size=9, color=[REGIME_COLORS[REGIME_NAMES[r]] for r in reg.tolist()],
                            line=dict(width=1, color="#333")),
                line=dict(width=1, color="#777"),
                showlegend=False,
            )
        )
        ends.append((math.log10(float(m[-1])), f"{k:g}"))
    # markers carry the regime colour, so the lines are labelled where they end; lines ending
    # closer than a label's height share one label (k = 50 and 100 end 0.02 decades apart)
    for y, names in _merge_close(ends, 0.05):
        fig.add_annotation(x=result.config.n - 1, y=y, text="k = " + ", ".join(names), xanchor="left", xshift=8,
                           showarrow=False)
    fig.update_layout(
        title="Marginal loss reduction |∂L<sub>i</sub>/∂C<sub>i</sub>| at the optimum<br><sup>blue: alone in its "
            "Gram block · orange: in a shared block · grey: ignored</sup>",
        xaxis_title="feature i (most important first)",
        yaxis_title="|∂L<sub>i</sub>/∂C<sub>i</sub>| = 2(k−1)²v<sub>i</sub>²/((k−3)C<sub>i</sub>+2)²",
        yaxis_type="log",
        margin=dict(r=110, t=80),
    )
    return themed(fig)


def _merge_close(points: list[tuple[float, str]], gap: float) -> list[tuple[float, list[str]]]:
    """(y, [names]) groups of points sorted by y, a point joining the group above it when closer
    than `gap`; each group sits at its members' mean y."""
    groups: list[list[tuple[float, str]]] = []
    for point in sorted(points):
        if groups and point[0] - groups[-1][-1][0] < gap:
            groups[-1].append(point)
        else:
            groups.append([point])
    return [(sum(y for y, _ in g) / len(g), [name for _, name in g]) for g in groups]


def gram_heatmap(
    result: CapacityResult, kurtosis_index: int | None = None, decay_index: int | None = None
) -> go.Figure:
    """Figure 4: |WᵀW| with features sorted into blocks; the title lists block sizes."""
    li = result.sweep_decay_index() if decay_index is None else decay_index
    ki = len(result.config.kurtosis) // 2 if kurtosis_index is None else kurtosis_index
    W = result.best_W()[ki, li]
    blocks = gram_blocks(W)
    G = gram(W)[blocks.order][:, blocks.order].abs()
    labels = [str(i) for i in blocks.order]
    fig = go.Figure(go.Heatmap(z=G.tolist(), x=labels, y=labels, colorscale="Blues",
                               colorbar=dict(title="|G<sub>ij</sub>|")))
    _outline_blocks(fig, blocks.sizes)
    listed = ", ".join(f"{s} feat/{dim:.2g} dims" for s, dim in zip(blocks.sizes, blocks.dims) if s > 1)
    fig.update_layout(
        title=f"|WᵀW| sorted into blocks, k={result.config.kurtosis[ki]:g}, λ={result.config.decay[li]:g}: "
            f"{blocks.sizes.count(1)} monosemantic, blocks [{listed or 'none'}], {len(blocks.ignored)} ignored",
        xaxis=dict(title="feature", type="category"),
        yaxis=dict(title="feature", type="category", autorange="reversed"),
    )
    return themed(fig, width=760, height=700)


def _outline_blocks(fig: go.Figure, sizes: list[int], row: int | None = None, col: int | None = None) -> None:
    """A rectangle around each block of a block-sorted Gram heatmap (categorical axes: cell i
    spans i − ½ … i + ½); monosemantic features are blocks of one."""
    start = 0
    for size in sizes:
        fig.add_shape(type="rect", x0=start - 0.5, x1=start + size - 0.5, y0=start - 0.5, y1=start + size - 0.5,
                      line=dict(color="#d1603d", width=2), row=row, col=col)
        start += size


def total_capacity_vs_d(result: CapacityResult) -> go.Figure:
    """Figure 5: Σ_i C_i at the optimum vs embedding dimension d, per kurtosis; the line Σ C = d."""
    if not result.config.d_sweep:
        raise ValueError("this result has no d sweep: run with a non-empty `d_sweep`")
    totals = result.sweep_total_capacity()  # [D, Q]
    ds = list(result.config.d_sweep)
    colors = kurtosis_colors(result.config.sweep_kurtosis)
    # left: the totals themselves, which sit on Σ C = d and hide one another; right: how far each is
    # from d, on a log axis where the kurtoses separate (a gap below GAP_FLOOR is drawn at the floor)
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.12,
        subplot_titles=("Σ<sub>i</sub> C<sub>i</sub> vs d",
                        f"distance from the bound, |Σ<sub>i</sub> C<sub>i</sub> − d| (floor {GAP_FLOOR:g})"),
    )
    fig.add_trace(go.Scatter(x=ds, y=ds, mode="lines", name="Σ C = d", line=dict(dash="dash", color="#888")), 1, 1)
    for qi, k in enumerate(result.config.sweep_kurtosis):
        name, group, color = f"k = {k:g}", f"k{qi}", colors[qi]
        fig.add_trace(go.Scatter(x=ds, y=totals[:, qi].tolist(), mode="markers", name=name, legendgroup=group,
                                 marker=dict(color=color, size=9 - qi)), 1, 1)
        gaps = [max(abs(float(t) - d), GAP_FLOOR) for t, d in zip(totals[:, qi].tolist(), ds)]
        fig.add_trace(go.Scatter(x=ds, y=gaps, mode="lines+markers", name=name, legendgroup=group, showlegend=False,
                                 line=dict(color=color), marker=dict(color=color)), 1, 2)
    fig.update_xaxes(title_text="embedding dimension d")
    fig.update_yaxes(title_text="Σ<sub>i</sub> C<sub>i</sub>", row=1, col=1)
    fig.update_yaxes(title_text="|Σ<sub>i</sub> C<sub>i</sub> − d|", type="log", row=1, col=2)
    fig.update_layout(title=f"Total capacity vs d (n={result.config.n}, λ={result.config.sweep_decay:g})",
                      margin=dict(t=90))
    return themed(fig, width=1000, height=440)


def _zero_marker(color: str) -> dict:
    """A capacity of zero: a thin cross on the axis, in its bar's colour (an empty slot reads as no data)."""
    return dict(symbol="x-thin", size=7, color=color, line=dict(width=2, color=color))


def architecture_comparison(result: CapacityResult) -> go.Figure:
    """Figure 6: capacity per feature, ReLU-output model (inputs U[0,1]·Bernoulli(p)) vs the quadratic
    model at the same measured kurtosis of those inputs. The tasks differ (the ReLU model
    reconstructs x, the quadratic one predicts Σ v_i x_i²): same kurtosis, not the same problem."""
    probs = result.config.relu_feature_prob
    if not probs:
        raise ValueError("this result has no architecture study: run with a non-empty `relu_feature_prob`")
    relu_C = capacity(best_over_seeds(result.relu_W, result.relu_loss))
    quad_C = capacity(best_over_seeds(result.paired_W, result.paired_loss))
    cols = min(2, len(probs))
    rows = math.ceil(len(probs) / cols)
    fig = make_subplots(rows=rows, cols=cols, shared_yaxes=True, vertical_spacing=0.16,
                        subplot_titles=[f"p = {p:g} (k = {float(relu_input_kurtosis(p)):.3g})" for p in probs])
    features = list(range(result.config.n))
    # the two bars of a feature at explicit offsets, so a zero capacity gets a marker on the axis at
    # its bar's place: an empty slot would read as missing data, not as "this feature is ignored"
    arches = (("quadratic", quad_C, "#3b6fb6", -BAR_WIDTH), ("ReLU output", relu_C, "#d1603d", 0.0))
    for pi in range(len(probs)):
        cell = dict(row=pi // cols + 1, col=pi % cols + 1)
        for name, C, color, offset in arches:
            fig.add_trace(go.Bar(x=features, y=C[pi].tolist(), name=name, marker_color=color, width=BAR_WIDTH,
                                 offset=offset, showlegend=pi == 0, legendgroup=name), **cell)
            zero = [(i, c) for i, c in enumerate(C[pi].tolist()) if c < ZERO_CAPACITY]
            fig.add_trace(go.Scatter(x=[i + offset + BAR_WIDTH / 2 for i, _ in zero], y=[0.0] * len(zero),
                                     mode="markers", marker=_zero_marker(color), name=f"{name}: C ≈ 0",
                                     showlegend=False, legendgroup=name, customdata=[[i, c] for i, c in zero],
                                     hovertemplate="feature %{customdata[0]}: C = %{customdata[1]:.1e}<extra></extra>"),
                          **cell)
    fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", marker=_zero_marker("#555"),
                             name=f"C<sub>i</sub> < {ZERO_CAPACITY:g}: ignored (≈ 0)"), row=1, col=1)
    fig.update_xaxes(title_text="feature i", row=rows)
    fig.update_yaxes(title_text="capacity C<sub>i</sub>", col=1)
    fig.update_xaxes(range=[-0.6, result.config.n - 0.4])
    fig.update_yaxes(range=[-0.07, 1.05], zeroline=True, zerolinecolor="#999")
    fig.update_layout(
        title="Capacity per feature by architecture,<br>paired on the inputs' kurtosis k (feature density p)",
        barmode="overlay",
        margin=dict(t=130),
        legend=dict(orientation="h", x=1, xanchor="right", y=1.06, yanchor="bottom"),
    )
    return themed(fig, width=860, height=300 * rows + 160)


# --- the interactive panel ---------------------------------------------------------------------
def panel_updates(result: CapacityResult, kurtosis_index: int, decay_index: int) -> tuple[list[dict], str]:
    """Trace properties and title of the panel at one grid cell (the widget applies these)."""
    W = result.best_W()[kurtosis_index, decay_index]
    C = capacity(W)
    blocks = gram_blocks(W)
    G = gram(W)[blocks.order][:, blocks.order].abs()
    labels = [str(i) for i in blocks.order]
    colors = [REGIME_COLORS[REGIME_NAMES[r]] for r in block_regimes(W).tolist()]
    k, lam = result.config.kurtosis[kurtosis_index], result.config.decay[decay_index]
    title = (f"k = {k:g}, λ = {lam:g}: Σ C_i = {float(C.sum()):.2f} of d = {result.config.d}; "
             f"blocks {[s for s in blocks.sizes if s > 1] or 'none'}")
    bars = dict(x=list(range(result.config.n)), y=C.tolist(), marker=dict(color=colors))
    heat = dict(z=G.tolist(), x=labels, y=labels, zmax=max(float(G.max()), 1e-12), zmin=0)
    return [bars, heat], title


def panel_figure(result: CapacityResult, kurtosis_index: int, decay_index: int) -> go.Figure:
    """The widget's figure: capacity bars (coloured by regime) and the sorted |WᵀW|."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45],
                        subplot_titles=("capacity C<sub>i</sub> per feature", "|WᵀW| sorted into blocks"))
    fig.add_trace(go.Bar(name="C<sub>i</sub>", showlegend=False), row=1, col=1)
    fig.add_trace(go.Heatmap(colorscale="Blues", name="|G|",
                             colorbar=dict(title=dict(text="|G<sub>ij</sub>|"), len=0.8)),
                  row=1, col=2)
    updates, title = panel_updates(result, kurtosis_index, decay_index)
    for trace, update in zip(fig.data, updates):
        trace.update(update)
    # the bars' colour key: empty bars that only draw legend entries (after the two updated traces)
    for regime in reversed(REGIME_NAMES):
        fig.add_trace(go.Bar(x=[None], y=[None], name=f"{regime} block", marker=dict(color=REGIME_COLORS[regime])),
                      row=1, col=1)
    fig.update_layout(title=title, margin=dict(t=95, b=90),
                      legend=dict(orientation="h", x=0, xanchor="left", y=-0.2, yanchor="top"))
    fig.update_xaxes(title_text="feature i", row=1, col=1)
    fig.update_yaxes(title_text="C<sub>i</sub>", range=[0, 1.05], row=1, col=1)
    fig.update_xaxes(type="category", title_text="feature j (block order)", row=1, col=2)
    fig.update_yaxes(type="category", autorange="reversed", title_text="feature i (block order)", row=1, col=2)
    return themed(fig, width=980, height=470)


def all_figures(result: CapacityResult) -> dict[str, go.Figure]:
    """Every docs figure of the suite, by file name."""
    figs = {
        "1_capacity_profiles": capacity_profiles(result),
        "2_phase_diagram": phase_diagram(result),
        "3_marginal_loss": marginal_loss_figure(result),
        "4_gram_blocks": gram_heatmap(result, kurtosis_index=result.nearest(20.0, result.config.sweep_decay)[0]),
    }
    if result.config.d_sweep:
        figs["5_total_capacity_vs_d"] = total_capacity_vs_d(result)
    if result.config.relu_feature_prob:
        figs["6_architectures"] = architecture_comparison(result)
    figs["7_marginal_benefit"] = marginal_benefit(result.config.n, result.config.d, result.config.sweep_decay)
    figs["8_one_feature_phases"] = probe_phase_diagram(result.config.n, result.config.d, result.config.sweep_decay)
    return figs
