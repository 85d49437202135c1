"""Figures of a real model's capacities (`workbench.capacity.model_capacities`), in the capacity
suite's style: one column (or row) per model, the seeded Gaussian baseline drawn beside each.

Every function takes one `ModelCapacities` or a {label: ModelCapacities} mapping; the HTML twins
stay small (quantiles and histogram counts are drawn, never the 49,152 points themselves).
"""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from workbench.capacity.real_model import LINK_COS, MatrixCapacity, ModelCapacities
from workbench.plots.capacity import REGIME_NAMES, _outline_blocks
from workbench.plots.theme import COLORWAY, REGIME_COLORS, reference_line, themed

REAL, GAUSSIAN, MATCHED = COLORWAY[0], "#6b6b6b", COLORWAY[1]
Models = ModelCapacities | Mapping[str, ModelCapacities]


def as_models(models: Models) -> dict[str, ModelCapacities]:
    """{label: result}: a mapping as given, or one result labelled by its architecture."""
    if isinstance(models, ModelCapacities):
        return {models.architecture: models}
    out = dict(models)
    if not out or not all(isinstance(m, ModelCapacities) for m in out.values()):
        raise ValueError("`models` must be a ModelCapacities or a non-empty {label: ModelCapacities} mapping")
    return out


def _band(fig: go.Figure, x: list, low: list, high: list, color: str, name: str, opacity: float, col: int,
          show: bool) -> None:
    """A filled band between `low` and `high` (two traces: the upper edge, then the lower filled to it)."""
    fig.add_trace(go.Scatter(x=x, y=high, mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False,
                             legendgroup=name), row=1, col=col)
    fig.add_trace(go.Scatter(x=x, y=low, mode="lines", line=dict(width=0), fill="tonexty", fillcolor=color,
                             opacity=opacity, name=name, legendgroup=name, showlegend=show, hoverinfo="skip"),
                  row=1, col=col)


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def capacity_distribution(models: Models) -> go.Figure:
    """C_i per layer: the real neurons' median with their 25–75 % and 10–90 % bands, the Gaussian
    baseline's median and 10–90 % band (grey), and the median of random directions with the real
    norms (dotted)."""
    models = as_models(models)
    fig = make_subplots(rows=1, cols=len(models), subplot_titles=[
        f"{label}: {m.d_mlp} neurons in d = {m.d_model}" for label, m in models.items()])
    q = torch.tensor([0.1, 0.25, 0.5, 0.75, 0.9], dtype=torch.float64)
    for col, m in enumerate(models.values(), start=1):
        first = col == 1
        x = list(m.layers)
        real = torch.quantile(m.capacities.double(), q, dim=1)  # [5, L]
        base = torch.quantile(m.baseline.double(), q)
        _band(fig, x, [float(base[0])] * len(x), [float(base[4])] * len(x), _rgba(GAUSSIAN, 0.18),
              "Gaussian, 10–90 %", 1, col, first)
        fig.add_trace(go.Scatter(x=x, y=[float(base[2])] * len(x), mode="lines", name="Gaussian, median",
                                 line=dict(color=GAUSSIAN, dash="dash"), legendgroup="gm", showlegend=first),
                      row=1, col=col)
        _band(fig, x, real[0].tolist(), real[4].tolist(), _rgba(REAL, 0.18), "neurons, 10–90 %", 1, col, first)
        _band(fig, x, real[1].tolist(), real[3].tolist(), _rgba(REAL, 0.35), "neurons, 25–75 %", 1, col, first)
        fig.add_trace(go.Scatter(x=x, y=real[2].tolist(), mode="lines+markers", name="neurons, median",
                                 line=dict(color=REAL), marker=dict(size=5), legendgroup="rm", showlegend=first),
                      row=1, col=col)
        matched = [float(layer.baseline_norms.median()) for layer in m.per_layer]
        fig.add_trace(go.Scatter(x=x, y=matched, mode="lines", name="random directions, real norms: median",
                                 line=dict(color=MATCHED, dash="dot"), legendgroup="mm", showlegend=first),
                      row=1, col=col)
        fig.update_xaxes(title_text="layer", row=1, col=col)
    fig.update_yaxes(rangemode="tozero")
    fig.update_yaxes(title_text="capacity C_i of a neuron's output direction", col=1)
    fig.update_layout(title="Capacity of every MLP neuron's output direction, per layer", margin=dict(t=90, b=140),
                      legend=dict(orientation="h", x=0, xanchor="left", y=-0.18, yanchor="top"))
    return themed(fig, width=520 * len(models) + 80, height=520)


def total_capacity_figure(models: Models) -> go.Figure:
    """Σ_i C_i per layer against d (the dashed line Σ C = d, the bound), beside the Gaussian's Σ C
    and that of random directions with each layer's real norms."""
    models = as_models(models)
    fig = make_subplots(rows=1, cols=len(models), subplot_titles=list(models))
    for col, m in enumerate(models.values(), start=1):
        first = col == 1
        x = list(m.layers)
        fig.add_trace(go.Scatter(x=x, y=m.totals.tolist(), mode="lines+markers", name="neurons",
                                 line=dict(color=REAL), legendgroup="r", showlegend=first), row=1, col=col)
        fig.add_trace(go.Scatter(x=x, y=[float(m.baseline.sum())] * len(x), mode="lines", name="Gaussian",
                                 line=dict(color=GAUSSIAN, dash="dash"), legendgroup="g", showlegend=first),
                      row=1, col=col)
        fig.add_trace(go.Scatter(x=x, y=[float(layer.baseline_norms.sum()) for layer in m.per_layer], mode="lines",
                                 name="random directions, real norms", line=dict(color=MATCHED, dash="dot"),
                                 legendgroup="m", showlegend=first), row=1, col=col)
        reference_line(fig, y=m.d_model, text=f"Σ C = d = {m.d_model}", row=1, col=col, label_at=1.0,
                       xref=f"x{'' if col == 1 else col} domain")
        fig.update_yaxes(range=[0, 1.1 * m.d_model], row=1, col=col)
        fig.update_xaxes(title_text="layer", row=1, col=col)
    fig.update_yaxes(title_text="Σ_i C_i", col=1)
    fig.update_layout(title="Total capacity per layer against d_model", margin=dict(t=90, b=110),
                      legend=dict(orientation="h", x=0, xanchor="left", y=-0.18, yanchor="top"))
    return themed(fig, width=480 * len(models) + 80, height=460)


def regime_share_figure(models: Models, tol: float = 0.02) -> go.Figure:
    """Share of neurons per regime and layer (the suite's cut: C < tol ignored, C > 1 − tol
    monosemantic, polysemantic between), the Gaussian matrix as the last bar."""
    models = as_models(models)
    fig = make_subplots(rows=1, cols=len(models), subplot_titles=list(models), shared_yaxes=True)
    for col, m in enumerate(models.values(), start=1):
        x = [str(i) for i in m.layers] + ["Gaussian"]
        shares = torch.cat([m.shares(tol), m.per_layer[0].shares(tol, "baseline")[None]])  # [L + 1, 3]
        for r, regime in enumerate(REGIME_NAMES):
            fig.add_trace(go.Bar(x=x, y=shares[:, r].tolist(), name=regime, marker_color=REGIME_COLORS[regime],
                                 legendgroup=regime, showlegend=col == 1), row=1, col=col)
        fig.update_xaxes(title_text="layer", type="category", row=1, col=col)
    fig.update_yaxes(title_text="share of neurons", range=[0, 1], col=1)
    fig.update_layout(barmode="stack", title=f"Regimes by the capacity cut (ignored: C < {tol:g}, "
                      f"monosemantic: C > {1 - tol:g})", margin=dict(t=90))
    return themed(fig, width=480 * len(models) + 80, height=440)


def busiest_layer(m: ModelCapacities, link: float = LINK_COS) -> int:
    """Position (in `m.layers`) of the layer whose top features share blocks the most (fewest alone)."""
    alone = [layer.blocks(link).sizes.count(1) for layer in m.per_layer]
    return alone.index(min(alone))


def interference_blocks(models: Models, layer: int | None = None, link: float = LINK_COS) -> go.Figure:
    """|cos(w_i, w_j)| of each model's top-k (largest-norm) neurons sorted into blocks (chains of
    |cos| > `link`), left, and of the Gaussian matrix's columns, right. `layer`: the position in
    each result's `layers` (None: `busiest_layer`)."""
    models = as_models(models)
    rows = []
    for label, m in models.items():
        li = busiest_layer(m, link) if layer is None else layer
        if not 0 <= li < len(m.per_layer):
            raise ValueError(f"`layer` must be a position in 0…{len(m.per_layer) - 1}; got {li}")
        rows.append((label, m.per_layer[li]))
    titles = [t for label, mat in rows for t in (_block_title(f"{label}, {mat.name}", mat, link, False),
                                                 _block_title("Gaussian, same shape", mat, link, True))]
    fig = make_subplots(rows=len(rows), cols=2, subplot_titles=titles, horizontal_spacing=0.12,
                        vertical_spacing=0.12)
    for r, (_, mat) in enumerate(rows, start=1):
        for c, baseline in enumerate((False, True), start=1):
            blocks = mat.blocks(link, baseline=baseline)
            cols = (mat.baseline_top_columns if baseline else mat.top_columns).double()
            unit = cols / cols.norm(dim=0).clamp_min(1e-30)
            cos = (unit.T @ unit)[blocks.order][:, blocks.order].abs().round(decimals=3)  # 3 digits: a small HTML
            labels = [str(int(mat.top[i])) for i in blocks.order]
            fig.add_trace(go.Heatmap(z=cos.tolist(), x=labels, y=labels, zmin=0, zmax=1, colorscale="Blues",
                                     showscale=r == 1 and c == 2, colorbar=dict(title="|cos|", len=0.5, y=0.8),
                                     hovertemplate="%{x} · %{y}: |cos| = %{z:.2f}<extra></extra>"), row=r, col=c)
            _outline_blocks(fig, blocks.sizes, row=r, col=c)
            fig.update_xaxes(type="category", showticklabels=False, row=r, col=c)
            fig.update_yaxes(type="category", showticklabels=False, autorange="reversed", row=r, col=c)
    fig.update_layout(title=f"Top {rows[0][1].top.numel()} neurons by norm, sorted into blocks of |cos| > {link:g}",
                      margin=dict(t=130))
    return themed(fig, width=900, height=430 * len(rows) + 110)


def _block_title(name: str, mat: MatrixCapacity, link: float, baseline: bool) -> str:
    blocks = mat.blocks(link, baseline=baseline)
    shared = [s for s in blocks.sizes if s > 1]
    return f"{name}:<br>{blocks.sizes.count(1)} alone, blocks {shared or 'none'}"


def embedding_distribution(models: Models, bins: int = 80) -> go.Figure:
    """Histogram of log10 C_i over the token embeddings (counts drawn as steps): the real matrix,
    the Gaussian of its shape, and random directions with the real tokens' norms."""
    models = {k: m for k, m in as_models(models).items() if m.embedding is not None}
    if not models:
        raise ValueError("`models`: no result holds embeddings (run model_capacities with embeddings=True)")
    fig = make_subplots(rows=1, cols=len(models), subplot_titles=[
        f"{label}: {m.embedding.n:,} tokens in d = {m.embedding.d}" for label, m in models.items()])
    for col, (label, m) in enumerate(models.items(), start=1):
        e = m.embedding
        series = (("tokens", e.C, REAL, "solid"), ("Gaussian", e.baseline, GAUSSIAN, "dash"),
                  ("random directions, real norms", e.baseline_norms, MATCHED, "dot"))
        logs = [torch.log10(C.double().clamp_min(1e-12)) for _, C, _, _ in series]
        lo, hi = min(float(v.min()) for v in logs), max(float(v.max()) for v in logs)
        edges = torch.linspace(lo, hi, bins + 1, dtype=torch.float64)
        centres = ((edges[1:] + edges[:-1]) / 2).tolist()
        for (name, C, color, dash), v in zip(series, logs):
            counts = torch.histc(v, bins=bins, min=lo, max=hi) / v.numel()
            fig.add_trace(go.Scatter(x=centres, y=counts.tolist(), mode="lines",
                                     line=dict(color=color, dash=dash, shape="hvh"),
                                     name=f"{label}: {name} (Σ C = {float(C.sum()):.1f})"), row=1, col=col)
        fig.update_xaxes(title_text="log10 C_i", row=1, col=col)
    fig.update_yaxes(title_text="share of tokens per bin", col=1)
    fig.update_layout(title="Capacity of the token embeddings", margin=dict(t=90, b=150),
                      legend=dict(orientation="h", x=0, xanchor="left", y=-0.2, yanchor="top"))
    return themed(fig, width=520 * len(models) + 80, height=520)


def all_figures(models: Models) -> dict[str, go.Figure]:
    """Every docs figure of a real-model capacity run, by file stem (`real_…`)."""
    figs = {
        "real_1_distribution": capacity_distribution(models),
        "real_2_total_vs_d": total_capacity_figure(models),
        "real_3_regimes": regime_share_figure(models),
        "real_4_blocks": interference_blocks(models),
    }
    if any(m.embedding is not None for m in as_models(models).values()):
        figs["real_5_embeddings"] = embedding_distribution(models)
    return figs
