"""Figures of the ACE suite: pure functions of an `AceResult` (notebook, widget and docs share them)."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from workbench.ace.config import BAND_AUC, LAYER_METHODS, SETS, SWEEP_METHODS
from workbench.ace.judges import VERDICTS
from workbench.ace.live import Curve, panel_curve_data
from workbench.ace.methods import METHODS
from workbench.ace.result import AceResult
from workbench.plots.theme import COLORWAY, themed

# figure 3 tells models apart by line shade and dash together (its colours belong to the methods)
MODEL_DASHES = ("solid", "dash", "dot", "dashdot")
MODEL_SHADES = ("#111", "#666", "#999", "#bbb")


def _model_line(g: int) -> dict[str, str]:
    """Line style of the g-th model in figure 3's model-level traces (AUC and unembedding cosine)."""
    return dict(color=MODEL_SHADES[g % len(MODEL_SHADES)], dash=MODEL_DASHES[g % len(MODEL_DASHES)])


# SETS (the prompt sets) is the suite's word, re-exported here for older callers; labels and
# colours of the methods come from their entries in workbench.ace.methods.METHODS
VERDICT_COLORS = {"refusal": "#d1603d", "compliance": "#3b6fb6", "incoherent": "#b0b0b0"}
METHOD_NAMES = {name: method.label for name, method in METHODS.items()}
SET_DASH = {"harmful": "solid", "harmless": "dot"}
# the panel shows one method at a time, so there colour tells the prompt sets apart too
PANEL_SET_COLORS = {"harmful": COLORWAY[1], "harmless": COLORWAY[0]}
LEVEL_DASHES = ("dot", "dash", "dashdot", "longdash")  # figure 1's flat lines, in METHODS order


def method_color(name: str) -> str:
    """A method's line colour: the colourway at its entry's `palette` slot, else at its place in METHODS."""
    method = METHODS[name]
    slot = method.palette if method.palette is not None else list(METHODS).index(name)
    return COLORWAY[slot % len(COLORWAY)]


def sweep_curve(result: AceResult, model: int | str, method: str, prompt_set: str) -> tuple[list[float], list[float]]:
    """(α values, refusal rate) of one sweep line."""
    return result.sweep_curve(model, method, prompt_set)


def _rate(result: AceResult, field: str, members: list[int], index: tuple, verdict: str = "refusal") -> float:
    """The share of `verdict` over the pooled completions of a model's instances at `index` of `field`."""
    codes = result.pooled(getattr(result, field)[(slice(None), *index)], members)
    return float(result.share(codes, verdict))


def _titles(result: AceResult) -> list[str]:
    """One subplot title per model: its name and how many instances are pooled."""
    return [f"{model}" + (f" ({len(members)} instances pooled)" if len(members) > 1 else "")
            for model, members in result.groups().items()]


def refusal_vs_alpha(result: AceResult) -> go.Figure:
    """Figure 1: refusal rate (top row) and incoherent share (bottom row) vs α for ACE and ActAdd,
    harmful and harmless prompts, a column per model (its instances' completions pooled); the
    unsteered and directional-ablation rates as flat lines, midpoint projection (ACE α = ½) marked."""
    groups = result.groups()
    G = len(groups)
    fig = make_subplots(rows=2, cols=G, subplot_titles=_titles(result), shared_yaxes=True, shared_xaxes=True,
                        vertical_spacing=0.08, horizontal_spacing=0.05)
    alphas = list(result.config.alphas)
    for g, members in enumerate(groups.values()):
        for k, method in enumerate(SWEEP_METHODS):
            for s, prompt_set in enumerate(SETS):
                style = dict(color=method_color(method), dash=SET_DASH[prompt_set])
                refusal = [_rate(result, "sweep", members, (k, a, s)) for a in range(len(alphas))]
                fig.add_trace(go.Scatter(x=alphas, y=refusal, mode="lines+markers",
                                         name=f"{METHODS[method].label}, {prompt_set}",
                                         legendgroup=f"{method}-{prompt_set}", showlegend=g == 0, line=style,
                                         marker_size=5), row=1, col=g + 1)
                incoherent = [_rate(result, "sweep", members, (k, a, s), "incoherent") for a in range(len(alphas))]
                fig.add_trace(go.Scatter(x=alphas, y=incoherent, mode="lines+markers", line=style, marker_size=5,
                                         legendgroup=f"{method}-{prompt_set}", showlegend=False), row=2, col=g + 1)
        _levels_and_marks(fig, result, g, members, alphas)
        fig.update_xaxes(title_text="α", row=2, col=g + 1)
    fig.update_yaxes(title_text="refusal rate", range=[-0.03, 1.03], row=1, col=1)
    fig.update_yaxes(title_text="incoherent share", range=[-0.03, 1.03], row=2, col=1)
    fig.update_yaxes(range=[-0.03, 1.03])
    setting = result.settings[result.labels[0]][0]["name"]
    fig.update_layout(title=f"Refusal and incoherence vs α (0 harmless, 1 harmful): {setting}, "
                            f"edit at {result.config.positions} positions")
    return themed(fig, width=480 * G + 260, height=700)


def _levels_and_marks(fig: go.Figure, result: AceResult, g: int, members: list[int], alphas: list[float]) -> None:
    """Figure 1's flat lines (the methods with `level_colors`: their refusal rate at the first
    comparison setting) and the methods with a `fixed_alpha` in figure 2's comparison, marked there."""
    levels = [method for method in METHODS.values() if method.level_colors is not None]
    for method, dash in zip(levels, LEVEL_DASHES):
        k = result.method_names.index(method.name)
        for s, prompt_set in enumerate(SETS):
            level = _rate(result, "methods", members, (0, k, s))
            fig.add_trace(go.Scatter(x=[alphas[0], alphas[-1]], y=[level, level], mode="lines",
                                     name=f"{method.label}, {prompt_set}", legendgroup=f"{method.name}-{prompt_set}",
                                     showlegend=g == 0,
                                     line=dict(color=method.level_colors[s], dash=dash, width=1)), row=1, col=g + 1)
    for method in METHODS.values():
        if method.fixed_alpha is None or method.name not in result.method_names:
            continue
        k, a = result.method_names.index(method.name), method.fixed_alpha
        # the legend group is the name's first word ("midpoint"), as it always was
        fig.add_trace(go.Scatter(x=[a, a], y=[_rate(result, "methods", members, (0, k, s)) for s in range(2)],
                                 mode="markers", name=method.label, legendgroup=method.name.split("_")[0],
                                 showlegend=g == 0, marker=dict(symbol="diamond-open", size=12, color="#222")),
                      row=1, col=g + 1)


def setting_titles(result: AceResult) -> list[str]:
    """Figure 2's column titles: a setting's name where every model shares it, else its generic
    form (the focus block and the AUC band are chosen per model)."""
    per_model = [result.settings[label] for label in result.labels]
    out = []
    for c, first in enumerate(per_model[0]):
        if all(settings[c]["name"] == first["name"] for settings in per_model):
            out.append(first["name"])
        elif isinstance(first["layer"], list):
            out.append(f"AUC ≥ {BAND_AUC:g} band (per model), attn+MLP out, greedy")
        else:
            out.append(first["name"].replace(f"block {first['layer']}", "focus block (per model)"))
    return out


def verdict_shares(result: AceResult) -> go.Figure:
    """Figure 2: refusal / compliance / incoherent shares per method (stacked bars) with the binary
    judge's refusal rate (◆, refusal anywhere), per model × prompt set (rows; a model's instances
    pooled) and comparison setting (columns: sites, layer, positions, decoding)."""
    groups = result.groups()
    G, titles_c = len(groups), setting_titles(result)
    C = len(titles_c)
    titles = [f"{title}, {s}" if c == 0 else "" for title in _titles(result) for s in SETS for c in range(C)]
    fig = make_subplots(rows=2 * G, cols=C, subplot_titles=titles, shared_yaxes=True, shared_xaxes=True,
                        vertical_spacing=0.035, horizontal_spacing=0.012)
    names = [c.short or c.title for method in METHODS.values() for c in method.comparisons]
    for g, members in enumerate(groups.values()):
        for s in range(2):
            row = 2 * g + s + 1
            for c in range(C):
                for verdict in VERDICTS:
                    shares = [_rate(result, "methods", members, (c, k, s), verdict) for k in range(len(names))]
                    fig.add_trace(go.Bar(x=names, y=shares, name=verdict, marker_color=VERDICT_COLORS[verdict],
                                         legendgroup=verdict, showlegend=row == 1 and c == 0), row=row, col=c + 1)
                binary = [float(result.binary_rate(result.pooled(result.methods_refusal[:, c, k, s], members)))
                          for k in range(len(names))]
                fig.add_trace(go.Scatter(x=names, y=binary, mode="markers", name="refuses anywhere (binary judge)",
                                         marker=dict(symbol="diamond", size=8, color="#111"), legendgroup="binary",
                                         showlegend=row == 1 and c == 0), row=row, col=c + 1)
    for c, title in enumerate(titles_c):
        fig.update_xaxes(title_text=_wrap(title), title_font_size=11, row=2 * G, col=c + 1)
    fig.update_layout(barmode="stack", title="Verdicts per method: rows model × prompt set, columns where and how "
                                              "the edit is applied (◆ = binary refusal judge)")
    fig.update_yaxes(range=[0, 1.02])
    for row in range(1, 2 * G + 1):
        fig.update_yaxes(title_text="share", row=row, col=1)
    fig.update_annotations(font_size=12)
    fig.update_xaxes(tickangle=-50, tickfont_size=10)
    themed(fig, width=260 * C + 200, height=300 * 2 * G + 330)
    fig.update_layout(margin=dict(t=150, b=200), legend=dict(orientation="h", y=1.045, yanchor="bottom", x=0))
    return fig


def _wrap(text: str, width: int = 26) -> str:
    """`text` broken at ", " into lines of about `width` characters (an axis title under narrow panels)."""
    lines, line = [], ""
    for part in text.split(", "):
        candidate = f"{line}, {part}" if line else part
        if line and len(candidate) > width:
            lines.append(line)
            candidate = part
        line = candidate
    return "<br>".join([*lines, line])


def _mean(tensors: list) -> list[float]:
    return [float(x) for x in sum(t.float() for t in tensors) / len(tensors)]


def layer_sweep(result: AceResult) -> go.Figure:
    """Figure 3, per block (a model's instances averaged): the held-out AUC of r̂·v at its residual
    site (top; the AUC band's threshold dashed) with, when the layer sweep ran, harmful prompts'
    refusal under ACE α=0 and directional ablation with that block's residual hook alone edited; and
    how next-token-like the block's direction is: cos(r̂, g ⊙ (W_U[refusal words] − W_U[answer
    words])) (bottom, `unembedding_cosine`)."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1, row_heights=[0.6, 0.4])
    for g, (model, members) in enumerate(result.groups().items()):
        labels = [result.labels[m] for m in members]
        L = result.n_layers(labels[0])
        auc = _mean([result.separation_auc[label][:L] for label in labels])
        fig.add_trace(go.Scatter(x=list(range(L)), y=auc, mode="lines+markers", name=f"{model}: held-out AUC of r̂·v",
                                 line=_model_line(g)), row=1, col=1)
        if not result.config.layer_sweep:
            continue
        for k, method in enumerate(LAYER_METHODS):
            rates = _mean([result.refusal_rate(result.layer_sweep[label][:, k]) for label in labels])
            fig.add_trace(go.Scatter(
                x=list(range(L)), y=rates, mode="lines+markers",
                name=f"{model}: {METHODS[method].label}{' α=0' if METHODS[method].reads_alpha else ''} refusal",
                line=dict(color=method_color(method), dash=_model_line(g)["dash"]),
            ), row=1, col=1)
    fig.add_hline(y=BAND_AUC, line=dict(color="#888", dash="dash", width=1), row=1, col=1)
    for trace in unembedding_cosine(result).data:
        fig.add_trace(trace, row=2, col=1)
    swept = ", refusal with one block's residual hook edited (greedy)" if result.config.layer_sweep else ""
    fig.update_layout(title=f"Per block: does r̂ separate held-out prompts{swept}, and how next-token-like is it")
    fig.update_yaxes(title_text="AUC" + (" / refusal rate" if swept else ""), range=[-0.03, 1.03], row=1, col=1)
    fig.update_yaxes(title_text="cos(r̂, W_U refusal − answer)", range=[-1.03, 1.03], row=2, col=1)
    fig.update_xaxes(title_text=f"layer (block index, {result.config.hook})", row=2, col=1)
    return themed(fig, width=900, height=620)


PROJECTION_BINS = 30  # figure 4's bins over the range of a model's held-out projections


def projection_histogram(result: AceResult) -> go.Figure:
    """Figure 4: r̂·v of held-out harmful and harmless prompts at the model's focus block (its first
    instance: each instance has its own direction), with the origin, r̂·μ⁻ and r̂·μ⁺ marked: μ⁻ is
    not at 0, so zeroing the component (linear ablation) differs from setting it to r̂·μ⁻ (affine
    ablation / ACE α=0)."""
    firsts = [members[0] for members in result.groups().values()]
    G = len(firsts)
    fig = make_subplots(rows=1, cols=G, subplot_titles=[result.labels[m] for m in firsts])
    for g, m in enumerate(firsts):
        label = result.labels[m]
        values = result.projection[m].flatten()
        start, end = float(values.min()), float(values.max())
        size = max(end - start, 1e-6) / PROJECTION_BINS
        for s, prompt_set in enumerate(SETS):
            fig.add_trace(go.Histogram(x=result.projection[m, s].tolist(), name=f"{prompt_set} prompts",
                                       xbins=dict(start=start, end=end + size, size=size),
                                       opacity=0.65, marker_color=VERDICT_COLORS["refusal" if s == 0 else "compliance"],
                                       legendgroup=prompt_set, showlegend=g == 0), row=1, col=g + 1)
        # counts are whole prompts: whole-number ticks (never 0.5), about five of them
        tallest = max(int(torch.histc(result.projection[m, s].float(), PROJECTION_BINS + 1, start, end + size).max())
                      for s in range(len(SETS)))
        fig.update_yaxes(tick0=0, dtick=max(1, math.ceil(tallest / 5)), tickformat="d", range=[0, tallest * 1.08],
                         row=1, col=g + 1)
        ref = result.reference_coordinate(m)
        pos = ref + float(result.direction[label][result.layer[label]].norm())
        # the lines are named in the legend, not beside them (the labels crowded the top and the titles);
        # the x range holds every line with a margin, so the origin is never drawn over the y tick labels
        for x, name, color in ((0.0, "origin (r̂·v = 0)", "#222"),
                               (ref, "r̂·μ⁻: the harmless mean", VERDICT_COLORS["compliance"]),
                               (pos, "r̂·μ⁺: the harmful mean", VERDICT_COLORS["refusal"])):
            fig.add_vline(x=x, line=dict(color=color, dash="dash"), name=name, legendgroup=name,
                          showlegend=g == 0, row=1, col=g + 1)
        low, high = min(start, 0.0, ref, pos), max(end + size, 0.0, ref, pos)
        pad = 0.06 * (high - low)
        fig.update_xaxes(title_text=f"r̂·v at {result.hook_names[label][result.layer[label]]}",
                         range=[low - pad, high + pad], row=1, col=g + 1)
    fig.update_layout(barmode="overlay", margin=dict(t=110),
                      title="Where the prompts sit along the refusal direction<br><sup>held-out prompts at each "
                            "model's focus block; dashed lines: the origin and the two prompt sets' means</sup>")
    fig.update_yaxes(title_text="prompts", row=1, col=1)
    return themed(fig, width=420 * G + 240, height=460)


def unembedding_cosine(result: AceResult) -> go.Figure:
    """Per layer (figure 3's bottom row), cos(r̂, g ⊙ (W_U[refusal words] − W_U[answer words])): how much the
    refusal direction is "say the refusal word next" (a model's instances averaged)."""
    fig = go.Figure()
    for g, (model, members) in enumerate(result.groups().items()):
        labels = [result.labels[m] for m in members]
        fig.add_trace(
            go.Scatter(
                x=list(range(result.n_layers(labels[0]))),
                y=_mean([result.unembed_cosine[label] for label in labels]),
                mode="lines+markers",
                name=f"{model}: cos(r̂, unembedding)",
                line=_model_line(g),
            )
        )
    fig.add_hline(y=0.0, line=dict(color="#888", width=1))
    fig.update_layout(title="Refusal direction vs the unembedding of refusal − answer words", yaxis_range=[-1.03, 1.03],
                      xaxis=dict(title=f"layer (block index, {result.config.hook})"), yaxis_title="cosine")
    return themed(fig)


def panel_curve(result: AceResult, model: int | str, method: str, alpha: float,
                curve: Curve | None = None) -> go.Figure:
    """The panel's figure: model `model`'s refusal-vs-α lines that `method` is seen on — `curve`
    (`AceLive.curve`: generated at the panel's sites × layer) or, None, the run's precomputed sweep
    (`workbench.ace.live.panel_curve_data`: its own α sweep, else ACE's) — harmful and harmless in
    their own colours, a vertical line at the current α (at a fixed method's place on ACE's α axis,
    none for a method with neither); the title names the method and where the sweep was steered."""
    curve = panel_curve_data(result, model, method, alpha) if curve is None else curve
    label = result.labels[result.model_index(model)]
    fig = go.Figure()
    for prompt_set in SETS:
        fig.add_trace(go.Scatter(x=curve.alphas, y=curve.refusal[prompt_set], mode="lines+markers",
                                 name=f"{prompt_set} prompts", line=dict(color=PANEL_SET_COLORS[prompt_set],
                                                                         dash=SET_DASH[prompt_set])))
    entry, shown = METHODS[method], METHODS[curve.method]
    at = [] if curve.marker is None else [curve.marker, curve.marker]
    name = "current α" if curve.method == method else f"{entry.label} (on {shown.label}'s α axis)"
    fig.add_trace(go.Scatter(x=at, y=[0, 1] if at else [], mode="lines", line=dict(color="#222", width=2), name=name))
    what = (f"{entry.label} refusal vs α" if curve.method == method
            else f"{entry.label} (no α): shown on {shown.label}'s α sweep")
    where = (f"precomputed on {result.settings[label][0]['name']}" if curve.where is None
             else f"generated for the panel on {curve.where}")
    fig.update_layout(title=f"{label}: {what}<br><sup>{where}</sup>",
                      xaxis_title="α", yaxis_title="refusal rate", yaxis_range=[-0.03, 1.03])
    return themed(fig, width=640, height=380).update_layout(margin=dict(t=80))


def all_figures(result: AceResult) -> dict[str, go.Figure]:
    return {
        "1_refusal_vs_alpha": refusal_vs_alpha(result),
        "2_verdict_shares": verdict_shares(result),
        "3_layer_sweep": layer_sweep(result),
        "4_projection": projection_histogram(result),
    }
