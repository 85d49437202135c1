"""Figures of the robustness suite: pure functions of a `RobustnessResult` (and, for the tool's
picture, of a `Saliency`). The same functions make the notebook's figures, the panel and the docs."""

from __future__ import annotations

import math
import textwrap

import plotly.graph_objects as go
from plotly.colors import hex_to_rgb
from plotly.subplots import make_subplots
from sklearn.metrics import precision_recall_curve, roc_curve

# figures 1 and 5 (the filter: threshold sweep, quality) live in robustness_filter, named here too
from workbench.plots.robustness_filter import (
    DASHES,
    FLOOR,
    held_out_bounds,
    quality_figure,
    sweep_traces,
    threshold_sweep,
)
from workbench.plots.theme import COLORWAY, themed
from workbench.robustness.attacks import ATTACKS, TRAINED_ATTACKS, Saliency
from workbench.robustness.result import RobustnessResult
from workbench.robustness.summary import effort_summary

__all__ = ["DASHES", "FLOOR", "held_out_bounds", "quality_figure", "sweep_traces", "threshold_sweep"]

ATTACK_NAMES = {"hotflip": "HotFlip (gradient)", "vocabulary": "synonym swaps", "insertion": "word insertion"}
# the panel shows rates (unsafe, safe lost) beside attacks: the attacks take colours no rate uses
ATTACK_COLORS = {"hotflip": COLORWAY[2], "vocabulary": COLORWAY[3], "insertion": COLORWAY[4]}


def effort_to_failure(result: RobustnessResult) -> go.Figure:
    """Figure 2: Kaplan-Meier survival of "not yet fooled" against classifier queries, one panel
    per attack (the held-out one marked), one line per round (colour = round in every panel)."""
    titles = [f"{ATTACK_NAMES[a]}{'' if a in TRAINED_ATTACKS else ' (held out)'}" for a in ATTACKS]
    fig = make_subplots(rows=1, cols=len(ATTACKS), subplot_titles=titles, shared_yaxes=True, horizontal_spacing=0.05)
    for col, attack in enumerate(ATTACKS, 1):
        for r in range(result.config.rounds + 1):
            e = effort_summary(result, r, attack)
            q = [0.0, *e["km_queries"], e["budget"]]
            surv = [1.0, *e["km_survival"]]
            surv.append(surv[-1])
            med = e["median_queries"]
            fig.add_trace(
                go.Scatter(
                    x=q,
                    y=surv,
                    mode="lines",
                    line=dict(shape="hv", color=COLORWAY[r], dash=DASHES[r % 4]),
                    name=f"round {r}",
                    legendgroup=f"round {r}",
                    showlegend=col == 1,
                    hovertemplate=f"round {r}: {e['fooled']}/{e['n']} fooled, median "
                        f"{'> budget' if med is None else f'{med:.0f}'} queries"
                        "<br>S(%{x:.0f}) = %{y:.2f}<extra></extra>",
                ),
                1,
                col,
            )
        fig.update_xaxes(title_text="classifier queries", range=[0, result.config.query_budget], row=1, col=col)
    fig.update_yaxes(title_text="share not yet fooled (Kaplan-Meier)", range=[-0.02, 1.02], row=1, col=1)
    k = result.attack_index.numel()
    what = (f"oracle-valid failure: {k} held-out injurious stories" if result.has_oracle
            else f"flip (no oracle: label kept assumed): {k} held-out label-1 texts")
    fig.update_layout(title=f"Effort to the first {what}, censored at {result.config.query_budget} queries",
                      legend=dict(orientation="h", y=-0.22, x=0.5, xanchor="center"), margin=dict(b=110))
    return themed(fig, width=1000, height=440)



def attack_success(result: RobustnessResult) -> go.Figure:
    """Attack success (label kept by the oracle) vs budget in edits, per attack and round (the
    notebook's secondary view; figure 2 is `effort_to_failure`)."""
    fig = go.Figure()
    budgets = list(range(result.config.max_budget + 1))
    for k, r in enumerate(range(result.config.rounds + 1)):
        for a, attack in enumerate(ATTACKS):
            fig.add_trace(go.Scatter(x=budgets, y=result.success_curve(r, attack).tolist(), mode="lines+markers",
                                     name=f"{ATTACK_NAMES[attack]}, round {r}",
                                     line=dict(color=ATTACK_COLORS[attack], dash=DASHES[k % len(DASHES)])))
    kept = " with the oracle's label kept" if result.has_oracle else " (no oracle: label assumed kept)"
    fig.update_layout(
        title=f"Attack success on {result.attack_index.numel()} held-out injurious texts{kept}",
        xaxis=dict(title="budget (substitutions)", dtick=1),
        yaxis=dict(title="success rate", range=[-0.02, 1.02]),
    )
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
        fig.add_trace(
            go.Scatter(
                x=[m["recall"]],
                y=[m["precision"]],
                mode="markers",
                marker=dict(color=COLORWAY[k], size=9),
                name=f"round {r} at t={result.thresholds[r]:.3g}: P {m['precision']:.3f}, R {m['recall']:.3f}",
            ),
            1,
            2,
        )
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
    fig = make_subplots(rows=2, cols=1, row_heights=[0.45, 0.55], vertical_spacing=0.2,
                        specs=[[{"type": "xy"}], [{"type": "table"}]])
    fig.add_trace(saliency_traces(sal), 1, 1)
    ranked = sorted(((max((s.drop for s in sug), default=0.0), i) for i, sug in enumerate(sal.suggestions) if sug),
                    reverse=True)[:8]
    cells = [[sal.tokens[i] for _, i in ranked], [f"{sal.saliency[i]:.2f}" for _, i in ranked],
             [", ".join(f"{s.replacement} (−{s.drop:.3f})" for s in sal.suggestions[i]) for _, i in ranked]]
    fig.add_trace(go.Table(header=dict(values=["token", "saliency", "best swaps (score drop)"], align="left"),
                           cells=dict(values=cells, align="left"), columnwidth=[1, 1, 4]), 2, 1)
    # a story is longer than the figure is wide: the title wraps, in a smaller font than the headline
    story = "<br>".join(textwrap.wrap(f"“{text}”", 120))
    fig.update_layout(title=dict(text=f"The tool: p(injurious) = {sal.prob:.3f} for<br><span style='font-size:12px'>"
                                      f"{story}</span>"), margin=dict(t=60 + 16 * story.count("<br>") + 30))
    fig.update_yaxes(title_text="‖∂logit/∂e_i‖ (max 1)", row=1, col=1)
    fig.update_xaxes(tickangle=-60, tickfont=dict(size=10), row=1, col=1)
    return themed(fig, width=900, height=720)


def example_text(result: RobustnessResult) -> str:
    """The first attacked held-out text: the docs' saliency example."""
    return result.texts[int(result.attack_index[0])]


def all_figures(result: RobustnessResult, saliency: Saliency | None = None) -> dict[str, go.Figure]:
    """Figures 1-5 for the docs (figure 4 loads round 0's classifier unless given `saliency`; figure 5
    needs the fresh generator, so user data gets 1-4)."""
    from workbench.robustness.attacks import saliency_tool

    text = example_text(result)
    sal = saliency if saliency is not None else saliency_tool(result.classifier(0), text)
    figures = {"1_threshold_sweep": threshold_sweep(result), "2_effort_to_failure": effort_to_failure(result),
               "3_in_distribution": in_distribution(result), "4_saliency_tool": saliency_example(sal, text)}
    if result.rounds_info[0].get("fresh"):
        figures["5_quality"] = quality_figure(result)
    return figures


# --- the panel's figure ---------------------------------------------------------------------------
CURRENT = dict(size=12, color="#222", symbol="x")  # the marker of the sliders' current values
ZERO = dict(size=10, symbol="triangle-down-open")  # the panel's zero rates, on the rate axis' "0" tick
PANEL_CELLS = ((1, 1),) * 5 + ((1, 2),) * (len(ATTACKS) + 1) + ((2, 1),)  # (row, col) of each trace
# where each of the panel's traces sits in `panel_traces` (the attack curves follow "attacks" in ATTACKS order)
PANEL_INDEX = {"sweep": 0, "point": 3, "zeros": 4, "attacks": 5, "budget": 5 + len(ATTACKS),
               "saliency": 6 + len(ATTACKS)}


def tool_background(saliency: float) -> str:
    """The tool's token background: the threshold sweep's "unsafe" colour at opacity `saliency`."""
    red, green, blue = hex_to_rgb(COLORWAY[1])
    return f"rgba({red},{green},{blue},{saliency:.2f})"


def panel_zero(result: RobustnessResult, r: int, point: dict[str, float]) -> float:
    """Where the panel draws a zero rate on its log axis, the axis' "0" tick: a decade under the
    smallest non-zero value the filter pane shows (the sweep's rates, bounds and safe share lost,
    and `point`'s)."""
    rows = result.rounds_info[r]["sweep"]
    values = [v for row in rows for v in (row["rate"], row["upper"], row["safe_lost"])]
    values += [point["rate"], point["safe_lost"]]
    smallest = min((v for v in values if v > 0), default=1.0)
    return 10.0 ** (math.floor(math.log10(smallest)) - 1)


def panel_traces(result: RobustnessResult, r: int, threshold: float, budget: int, sal: Saliency,
                 point: dict[str, float]) -> list[go.Scatter | go.Bar]:
    """The panel's traces, in `PANEL_CELLS` order: the sweep (3), the current threshold's point
    (`point` is `filtering.sweep_point` at `threshold`, the estimator of the sweep's points: the
    same number of prompts and seed), the zeros, the attack curves, the current budget's markers,
    the tool's saliency bars. A zero rate is no point of a line: the lines break there and an open
    triangle sits on the axis' "0" tick (`panel_zero`; the × says "0" there). The filter's traces
    use `legend`, the attacks' `legend2`: each pane has its own legend, and no colour means two things."""
    budgets = list(range(result.config.max_budget + 1))
    rows = result.rounds_info[r]["sweep"]
    zero = panel_zero(result, r, point)
    sweep = [tr.update(name=tr.name.split(" (round")[0]) for tr in sweep_traces(result, r)]
    sweep[0].update(y=[row["rate"] if row["rate"] > 0 else None for row in rows], connectgaps=False)
    sweep[2].update(y=[row["safe_lost"] if row["safe_lost"] > 0 else None for row in rows], connectgaps=False)
    zeros = [(row["threshold"], key, color) for row in rows
             for key, color in (("rate", COLORWAY[1]), ("safe_lost", COLORWAY[0])) if row[key] == 0]
    what = {"rate": "unsafe after filter", "safe_lost": "safe lost"}
    mark = [point["rate"], point["safe_lost"]]
    return [
        *sweep,
        go.Scatter(x=[threshold, threshold], y=[v if v > 0 else zero for v in mark], mode="markers+text",
                   marker=CURRENT, text=["0" if v == 0 else "" for v in mark], textposition="middle right",
                   name=f"current threshold: {int(point['n']):,} prompts filtered, as each point of the curves",
                   hovertext=[f"unsafe after filter {point['unsafe']}/{point['accepted']} = {point['rate']:.3g}",
                              f"safe lost {point['safe_lost']:.3g}"], hoverinfo="x+text"),
        go.Scatter(x=[z[0] for z in zeros], y=[zero] * len(zeros), mode="markers",
                   marker=dict(ZERO, color=[z[2] for z in zeros]), name="exactly 0 (on the axis' 0)",
                   hovertext=[f"{what[z[1]]} = 0 at t = {z[0]:.3g}" for z in zeros], hoverinfo="text",
                   showlegend=True),
        *(go.Scatter(x=budgets, y=result.success_curve(r, attack).tolist(), mode="lines+markers",
                     line=dict(color=ATTACK_COLORS[attack]), name=ATTACK_NAMES[attack], legend="legend2")
          for attack in ATTACKS),
        go.Scatter(x=[budget] * len(ATTACKS), y=[float(result.success_curve(r, a)[budget]) for a in ATTACKS],
                   mode="markers", marker=CURRENT, name="current budget", legend="legend2"),
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
    """Three panes: the filter on the test split with the current threshold, attack success vs
    budget (the oracle's label kept), the tool's saliency; a legend under each of the top panes."""
    fig = make_subplots(rows=2, cols=2, specs=[[{}, {}], [{"colspan": 2}, None]], vertical_spacing=0.3,
                        row_heights=[0.58, 0.42], horizontal_spacing=0.12,
                        subplot_titles=("filter vs threshold (test split)", "attack success vs budget",
                                        "the tool: saliency"))
    for trace, (row, col) in zip(panel_traces(result, r, threshold, budget, sal, point), PANEL_CELLS, strict=True):
        fig.add_trace(trace, row, col)
    fig.update_xaxes(type="log", title_text="threshold", exponentformat="power", row=1, col=1)
    zero = panel_zero(result, r, point)  # the rate axis: a "0" tick a decade under the data, then powers of ten
    decades = range(round(math.log10(zero)) + 1, 1)
    fig.update_yaxes(type="log", title_text="rate", exponentformat="power", row=1, col=1,
                     tickvals=[zero, *(10.0**k for k in decades)],
                     ticktext=["0", *(f"10<sup>{k}</sup>" if k else "1" for k in decades)],
                     range=[math.log10(zero) - 0.3, 0.15])
    fig.add_hline(y=zero * 10**0.5, line=dict(color="#bbb", width=1, dash="dot"), row=1, col=1)  # the axis break
    fig.update_xaxes(title_text="budget (edits)", dtick=1, row=1, col=2)
    fig.update_yaxes(range=[-0.02, 1.02], title_text="success (label kept)", row=1, col=2)
    below = fig.layout.yaxis.domain[0] - 0.07  # under the top panes' axis titles
    for name, axis in (("legend", fig.layout.xaxis), ("legend2", fig.layout.xaxis2)):
        fig.update_layout({name: dict(x=axis.domain[0], y=below, xanchor="left", yanchor="top", orientation="v",
                                      font=dict(size=11))})
    return themed(fig, width=1000, height=860)
