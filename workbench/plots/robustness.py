"""Figures of the robustness suite: pure functions of a `RobustnessResult` (and, for the tool's
picture, of a `Saliency`). The same functions make the notebook's figures, the panel and the docs."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.colors import hex_to_rgb
from plotly.subplots import make_subplots
from sklearn.metrics import precision_recall_curve, roc_curve

from workbench.plots.theme import COLORWAY, reference_line, themed
from workbench.robustness.attacks import ATTACKS, Saliency
from workbench.robustness.result import RobustnessResult

DASHES = ("solid", "dash", "dot", "dashdot")
ATTACK_NAMES = {"hotflip": "HotFlip (gradient)", "vocabulary": "synonym swaps (corpus vocabulary)"}
FLOOR = 1e-7  # where a zero rate is drawn on a log axis


def _rounds(result: RobustnessResult) -> list[int]:
    last = result.config.rounds
    return [0] if last == 0 else [0, last]


def sweep_traces(result: RobustnessResult, r: int, dash: str = "solid", show_legend: bool = True) -> list[go.Scatter]:
    """Unsafe rate after filtering (points; zero drawn at FLOOR), its 95 % upper bound, and the
    safe completions lost, against the threshold."""
    sw = result.rounds_info[r]["sweep"]
    t = [row["threshold"] for row in sw]
    tag = f" (round {r})"
    return [
        go.Scatter(x=t, y=[max(row["rate"], FLOOR) for row in sw], mode="lines+markers", name="unsafe after filter" + tag,
                   line=dict(color=COLORWAY[1], dash=dash), showlegend=show_legend,
                   customdata=[[row["unsafe"], row["accepted"]] for row in sw],
                   hovertemplate="t=%{x:.3g}: %{customdata[0]} / %{customdata[1]} unsafe<extra></extra>"),
        go.Scatter(x=t, y=[row["upper"] for row in sw], mode="lines", name="95 % upper bound" + tag,
                   line=dict(color=COLORWAY[1], dash="dot", width=1), showlegend=show_legend),
        go.Scatter(x=t, y=[max(row["safe_lost"], FLOOR) for row in sw], mode="lines+markers", name="safe lost" + tag,
                   line=dict(color=COLORWAY[0], dash=dash), showlegend=show_legend),
    ]


def threshold_sweep(result: RobustnessResult) -> go.Figure:
    """Figure 1: unsafe rate after filtering (with upper bound) and safe completions lost vs threshold."""
    fig = go.Figure()
    for k, r in enumerate(_rounds(result)):
        for tr in sweep_traces(result, r, DASHES[k]):
            fig.add_trace(tr)
        fig.add_vline(x=float(result.thresholds[r]), line=dict(color="#888", dash=DASHES[k], width=1))
    base = result.rounds_info[0]["base_unsafe_rate"]
    reference_line(fig, y=base, text=f"unfiltered {base:.2%}", log=True, line=dict(color="#b00020", width=1),
                   label_at=0.01, yanchor="top", font=dict(color="#b00020"))  # left: the curves end right
    n = result.rounds_info[0]["sweep"][0]["n"]
    fig.update_layout(title=f"Filtering held-out completions: {n:,} prompts per threshold (vertical: chosen)",
                      # powers of ten, not SI prefixes: a rate of 1e-4 read "100µ"
                      xaxis=dict(title="threshold t (reject while p ≥ t)", type="log", exponentformat="power"),
                      yaxis=dict(title="rate (zero drawn at 1e-7)", type="log", exponentformat="power"),
                      legend=dict(font=dict(size=10)))
    return themed(fig, height=480)


def attack_success(result: RobustnessResult) -> go.Figure:
    """Figure 2: attack success (label kept by the oracle) vs budget, per attack and round."""
    fig = go.Figure()
    budgets = list(range(result.config.max_budget + 1))
    for k, r in enumerate(range(result.config.rounds + 1)):
        for a, attack in enumerate(ATTACKS):
            fig.add_trace(go.Scatter(x=budgets, y=result.success_curve(r, attack).tolist(), mode="lines+markers",
                                     name=f"{ATTACK_NAMES[attack]}, round {r}",
                                     line=dict(color=COLORWAY[a], dash=DASHES[k % len(DASHES)])))
    kept = " with the oracle's label kept" if result.has_oracle else " (no oracle: label assumed kept)"
    fig.update_layout(title=f"Attack success on {result.attack_index.numel()} held-out injurious texts{kept}",
                      xaxis=dict(title="budget (substitutions)", dtick=1), yaxis=dict(title="success rate", range=[-0.02, 1.02]))
    return themed(fig)


def in_distribution(result: RobustnessResult) -> go.Figure:
    """Figure 3: ROC and precision-recall on the test split, before and after adversarial training."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("ROC", "precision-recall"))
    test = result.mask("test")
    y = result.labels[test].numpy()
    for k, r in enumerate(range(result.config.rounds + 1)):
        s = result.scores[r][test].double().numpy()
        m = result.rounds_info[r]["test_metrics"]
        fpr, tpr, _ = roc_curve(y, s)
        prec, rec, _ = precision_recall_curve(y, s)
        style = dict(color=COLORWAY[k], dash=DASHES[k % len(DASHES)])
        fig.add_trace(go.Scatter(x=fpr, y=tpr, mode="lines", line=style, name=f"round {r}: AUC {m['auc']:.4f}"), 1, 1)
        fig.add_trace(go.Scatter(x=rec, y=prec, mode="lines", line=style, showlegend=False,
                                 name=f"round {r}: AP {m['average_precision']:.4f}"), 1, 2)
        fig.add_trace(go.Scatter(x=[m["recall"]], y=[m["precision"]], mode="markers", marker=dict(color=COLORWAY[k], size=9),
                                 name=f"round {r} at t={result.thresholds[r]:.3g}: P {m['precision']:.3f}, R {m['recall']:.3f}"), 1, 2)
    fig.update_xaxes(title_text="false positive rate", row=1, col=1)
    fig.update_yaxes(title_text="true positive rate", row=1, col=1)
    fig.update_xaxes(title_text="recall", row=1, col=2)
    fig.update_yaxes(title_text="precision", row=1, col=2)
    fig.update_layout(title=f"In-distribution (test split, {int(test.sum())} texts) before/after adversarial training")
    return themed(fig, width=900, height=430)


def saliency_traces(sal: Saliency) -> go.Bar:
    """The tool's bar: one bar per token, coloured by saliency, hover = best swaps with their drops."""
    hover = ["<br>".join(f"→ {s.replacement}: p {s.prob:.3f} (−{s.drop:.3f})" for s in sug) or "(not editable)"
             for sug in sal.suggestions]
    return go.Bar(x=[f"{i}:{t}" for i, t in enumerate(sal.tokens)], y=sal.saliency, name="saliency",
                  marker=dict(color=sal.saliency, colorscale="Reds", cmin=0, cmax=1), hovertext=hover,
                  hoverinfo="text", showlegend=False)


def saliency_example(sal: Saliency, text: str) -> go.Figure:
    """Figure 4: a saliency-coloured example with the best substitutions per token (the tool)."""
    fig = make_subplots(rows=2, cols=1, row_heights=[0.45, 0.55], vertical_spacing=0.12,
                        specs=[[{"type": "xy"}], [{"type": "table"}]])
    fig.add_trace(saliency_traces(sal), 1, 1)
    ranked = sorted(((max((s.drop for s in sug), default=0.0), i) for i, sug in enumerate(sal.suggestions) if sug),
                    reverse=True)[:8]
    cells = [[sal.tokens[i] for _, i in ranked], [f"{sal.saliency[i]:.2f}" for _, i in ranked],
             [", ".join(f"{s.replacement} (−{s.drop:.3f})" for s in sal.suggestions[i]) for _, i in ranked]]
    fig.add_trace(go.Table(header=dict(values=["token", "saliency", "best swaps (score drop)"], align="left"),
                           cells=dict(values=cells, align="left"), columnwidth=[1, 1, 4]), 2, 1)
    fig.update_layout(title=f"The tool: p(injurious) = {sal.prob:.3f} for “{text}”")
    fig.update_yaxes(title_text="‖∂logit/∂e_i‖ (max 1)", row=1, col=1)
    return themed(fig, width=900, height=560)


def example_text(result: RobustnessResult) -> str:
    """The first attacked held-out text: the docs' saliency example."""
    return result.texts[int(result.attack_index[0])]


def all_figures(result: RobustnessResult, saliency: Saliency | None = None) -> dict[str, go.Figure]:
    """Figures 1-4 for the docs (figure 4 loads the final round's classifier unless given `saliency`)."""
    from workbench.robustness.attacks import saliency_tool

    text = example_text(result)
    sal = saliency if saliency is not None else saliency_tool(result.classifier(0), text)
    return {"1_threshold_sweep": threshold_sweep(result), "2_attack_success": attack_success(result),
            "3_in_distribution": in_distribution(result), "4_saliency_tool": saliency_example(sal, text)}


# --- the panel's figure ---------------------------------------------------------------------------
CURRENT = dict(size=12, color="#222", symbol="x")  # the marker of the sliders' current values
PANEL_CELLS = ((1, 1),) * 4 + ((1, 2),) * (len(ATTACKS) + 1) + ((2, 1),)  # (row, col) of each trace


def tool_background(saliency: float) -> str:
    """The tool's token background: the threshold sweep's "unsafe" colour at opacity `saliency`."""
    red, green, blue = hex_to_rgb(COLORWAY[1])
    return f"rgba({red},{green},{blue},{saliency:.2f})"


def panel_traces(result: RobustnessResult, r: int, threshold: float, budget: int, sal: Saliency,
                 point: dict[str, float]) -> list[go.Scatter | go.Bar]:
    """The panel's traces, in `PANEL_CELLS` order: the sweep (3), the current threshold's point
    (`point` is `filtering.sweep_point` at `threshold`), the attack curves, the current budget's
    markers, the tool's saliency bars."""
    budgets = list(range(result.config.max_budget + 1))
    return [
        *sweep_traces(result, r),
        go.Scatter(x=[threshold, threshold], y=[max(point["rate"], FLOOR), max(point["safe_lost"], FLOOR)],
                   mode="markers", marker=CURRENT, name="current t"),
        *(go.Scatter(x=budgets, y=result.success_curve(r, attack).tolist(), mode="lines+markers",
                     line=dict(color=COLORWAY[a]), name=ATTACK_NAMES[attack]) for a, attack in enumerate(ATTACKS)),
        go.Scatter(x=[budget] * len(ATTACKS), y=[float(result.success_curve(r, a)[budget]) for a in ATTACKS],
                   mode="markers", marker=CURRENT, name="current budget"),
        saliency_traces(sal),
    ]


def panel_updates(result: RobustnessResult, r: int, threshold: float, budget: int, sal: Saliency,
                  point: dict[str, float]) -> list[dict]:
    """Every trace's properties at these settings, for `trace.update` on `panel_figure`'s traces
    (the same traces `panel_figure` draws, so the two cannot drift apart)."""
    return [{k: v for k, v in trace.to_plotly_json().items() if k != "type"}
            for trace in panel_traces(result, r, threshold, budget, sal, point)]


def panel_figure(result: RobustnessResult, r: int, threshold: float, budget: int, sal: Saliency,
                 point: dict[str, float]) -> go.Figure:
    """Three panes: the sweep with the current threshold, success vs budget, the tool's saliency."""
    fig = make_subplots(rows=2, cols=2, specs=[[{}, {}], [{"colspan": 2}, None]], vertical_spacing=0.16,
                        subplot_titles=("filter vs threshold", "attack success vs budget", "the tool: saliency"))
    for trace, (row, col) in zip(panel_traces(result, r, threshold, budget, sal, point), PANEL_CELLS, strict=True):
        fig.add_trace(trace, row, col)
    fig.update_xaxes(type="log", title_text="threshold", row=1, col=1)
    fig.update_yaxes(type="log", title_text="rate", row=1, col=1)
    fig.update_xaxes(title_text="budget", dtick=1, row=1, col=2)
    fig.update_yaxes(range=[-0.02, 1.02], row=1, col=2)
    return themed(fig, width=1000, height=720)
