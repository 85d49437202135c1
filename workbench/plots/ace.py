"""Figures of the ACE suite: pure functions of an `AceResult` (notebook, widget and docs share them)."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.ace.config import LAYER_METHODS, METHOD_SETTINGS, SWEEP_METHODS
from workbench.ace.judges import VERDICTS
from workbench.ace.result import AceResult
from workbench.plots.theme import COLORWAY, themed

SETS = ("harmful", "harmless")
VERDICT_COLORS = {"refusal": "#d1603d", "compliance": "#3b6fb6", "incoherent": "#b0b0b0"}
METHOD_NAMES = {"ace": "ACE", "actadd": "ActAdd", "directional_ablation": "directional ablation"}
METHOD_COLORS = {"ace": COLORWAY[0], "actadd": COLORWAY[2], "directional_ablation": COLORWAY[1]}
SET_DASH = {"harmful": "solid", "harmless": "dot"}
SHORT_NAMES = {"ActAdd α=−1": "ActAdd −1", "directional ablation": "dir. abl.", "affine ablation": "aff. abl."}


def sweep_curve(result: AceResult, model: int | str, method: str, prompt_set: str) -> tuple[list[float], list[float]]:
    """(α values, refusal rate) of one sweep line."""
    m, k, s = result.model_index(model), SWEEP_METHODS.index(method), SETS.index(prompt_set)
    rates = result.refusal_rate(result.sweep[m, k, :, s])
    return list(result.config.alphas), [float(x) for x in rates]


def refusal_vs_alpha(result: AceResult) -> go.Figure:
    """Figure 1: refusal rate vs α for ACE and ActAdd, harmful and harmless prompts, a panel per model."""
    M = len(result.labels)
    fig = make_subplots(rows=1, cols=M, subplot_titles=[f"{label}" for label in result.labels], shared_yaxes=True)
    for m in range(M):
        for method in SWEEP_METHODS:
            for prompt_set in SETS:
                x, y = sweep_curve(result, m, method, prompt_set)
                fig.add_trace(go.Scatter(
                    x=x, y=y, mode="lines+markers", name=f"{METHOD_NAMES[method]}, {prompt_set}",
                    legendgroup=f"{method}-{prompt_set}", showlegend=m == 0,
                    line=dict(color=METHOD_COLORS[method], dash=SET_DASH[prompt_set]),
                ), row=1, col=m + 1)
        fig.update_xaxes(title_text="α", row=1, col=m + 1)
    fig.update_yaxes(title_text="refusal rate (RuleJudge)", range=[-0.03, 1.03], row=1, col=1)
    fig.update_layout(title=f"Refusal vs steering multiplier α (0 harmless, 1 harmful) at "
                            f"{result.hook_names[result.layer]}, edit at {result.config.positions} positions")
    return themed(fig, width=420 * M + 180, height=440)


def verdict_shares(result: AceResult) -> go.Figure:
    """Figure 2: refusal / compliance / incoherent shares per method, per model and prompt set,
    with the edit at the configured positions and at the alternative ones."""
    M = len(result.labels)
    columns = [(result.config.positions, result.methods), (result.alt_positions, result.methods_alt)]
    titles = [f"{label}, {s}<br>edit at {pos} positions" for label in result.labels for pos, _t in columns for s in SETS]
    fig = make_subplots(rows=M, cols=4, subplot_titles=titles, shared_yaxes=True, vertical_spacing=0.22,
                        horizontal_spacing=0.03)
    names = [SHORT_NAMES.get(title, title) for title, _m, _a in METHOD_SETTINGS]
    for m in range(M):
        for c, (_pos, codes) in enumerate(columns):
            for s in range(2):
                for verdict in VERDICTS:
                    shares = [float(result.share(codes[m, k, s], verdict)) for k in range(len(names))]
                    fig.add_trace(go.Bar(x=names, y=shares, name=verdict, marker_color=VERDICT_COLORS[verdict],
                                         legendgroup=verdict, showlegend=m == 0 and c == 0 and s == 0),
                                  row=m + 1, col=2 * c + s + 1)
    fig.update_layout(barmode="stack", title=f"Verdicts per method at {result.hook_names[result.layer]}")
    fig.update_yaxes(range=[0, 1])
    fig.update_yaxes(title_text="share", col=1)
    fig.update_annotations(font_size=12)
    fig.update_xaxes(tickangle=-45)
    themed(fig, width=1300, height=420 * M + 140)
    fig.update_layout(margin=dict(t=120))
    return fig


def layer_sweep(result: AceResult) -> go.Figure:
    """Figure 3: harmful prompts' refusal rate under ACE α=0 (and directional ablation) per layer."""
    fig = go.Figure()
    L = result.direction.shape[1]
    dashes = ("solid", "dash", "dot", "dashdot")
    for m, label in enumerate(result.labels):
        for k, method in enumerate(LAYER_METHODS):
            rates = result.refusal_rate(result.layer_sweep[m, :, k])
            fig.add_trace(go.Scatter(
                x=list(range(L)), y=[float(x) for x in rates], mode="lines+markers",
                name=f"{label}: {METHOD_NAMES[method]}{' α=0' if method == 'ace' else ''}",
                line=dict(color=METHOD_COLORS[method], dash=dashes[m % len(dashes)]),
            ))
    fig.update_layout(title="Harmful prompts still refused, edit at one layer", xaxis_title="layer (block index)",
                      yaxis_title="refusal rate", yaxis_range=[-0.03, 1.03], xaxis=dict(dtick=1))
    return themed(fig)


def projection_histogram(result: AceResult) -> go.Figure:
    """Figure 4: r̂·v of held-out harmful and harmless prompts at the chosen layer, with the origin,
    r̂·μ⁻ and r̂·μ⁺ marked: μ⁻ is not at 0, so zeroing the component (linear ablation) differs from
    setting it to r̂·μ⁻ (affine ablation / ACE α=0)."""
    M = len(result.labels)
    fig = make_subplots(rows=1, cols=M, subplot_titles=list(result.labels))
    for m in range(M):
        for s, prompt_set in enumerate(SETS):
            fig.add_trace(go.Histogram(x=result.projection[m, s].tolist(), name=f"{prompt_set} prompts", nbinsx=30,
                                       opacity=0.65, marker_color=VERDICT_COLORS["refusal" if s == 0 else "compliance"],
                                       legendgroup=prompt_set, showlegend=m == 0), row=1, col=m + 1)
        ref = result.reference_coordinate(m)
        pos = ref + float(result.direction[m, result.layer].norm())
        for x, text, color, where in ((0.0, "origin", "#222", "bottom right"),
                                      (ref, "r̂·μ⁻", VERDICT_COLORS["compliance"], "top left"),
                                      (pos, "r̂·μ⁺", VERDICT_COLORS["refusal"], "top right")):
            fig.add_vline(x=x, line=dict(color=color, dash="dash"), annotation_text=text,
                          annotation_position=where, row=1, col=m + 1)
        fig.update_xaxes(title_text=f"r̂·v at {result.hook_names[result.layer]}", row=1, col=m + 1)
    fig.update_layout(barmode="overlay", title="Where the prompts sit along the refusal direction")
    fig.update_yaxes(title_text="prompts", row=1, col=1)
    return themed(fig, width=420 * M + 180, height=440)


def panel_curve(result: AceResult, model: int | str, method: str, alpha: float) -> go.Figure:
    """The widget's figure: one model's refusal-vs-α lines for `method` with a marker at `alpha`."""
    fig = go.Figure()
    for prompt_set in SETS:
        x, y = sweep_curve(result, model, method, prompt_set)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=f"{prompt_set} prompts",
                                 line=dict(color=METHOD_COLORS[method], dash=SET_DASH[prompt_set])))
    fig.add_trace(go.Scatter(x=[alpha, alpha], y=[0, 1], mode="lines", name="current α",
                             line=dict(color="#222", width=2)))
    fig.update_layout(title=f"{result.labels[result.model_index(model)]}: {METHOD_NAMES[method]} refusal vs α",
                      xaxis_title="α", yaxis_title="refusal rate", yaxis_range=[-0.03, 1.03])
    return themed(fig, width=640, height=360)


def all_figures(result: AceResult) -> dict[str, go.Figure]:
    return {
        "1_refusal_vs_alpha": refusal_vs_alpha(result),
        "2_verdict_shares": verdict_shares(result),
        "3_layer_sweep": layer_sweep(result),
        "4_projection": projection_histogram(result),
    }
