"""Figures of the robustness suite: pure functions of a `RobustnessResult` (and, for the tool's
picture, of a `Saliency`). The same functions make the notebook's figures, the panel and the docs."""

from __future__ import annotations

import math
import textwrap

import plotly.graph_objects as go
from plotly.colors import hex_to_rgb
from plotly.subplots import make_subplots
from sklearn.metrics import precision_recall_curve, roc_curve

from workbench.plots.theme import COLORWAY, reference_line, themed
from workbench.robustness.attacks import ATTACKS, TRAINED_ATTACKS, Saliency
from workbench.robustness.result import RobustnessResult
from workbench.robustness.summary import effort_summary
from workbench.robustness.user_data import held_out_sweep

DASHES = ("solid", "dash", "dot", "dashdot")
ATTACK_NAMES = {"hotflip": "HotFlip (gradient)", "vocabulary": "synonym swaps", "insertion": "word insertion"}
# the panel shows rates (unsafe, safe lost) beside attacks: the attacks take colours no rate uses
ATTACK_COLORS = {"hotflip": COLORWAY[2], "vocabulary": COLORWAY[3], "insertion": COLORWAY[4]}
FLOOR = 1e-7  # where a zero rate is drawn on a log axis


def _rounds(result: RobustnessResult) -> list[int]:
    last = result.config.rounds
    return [0] if last == 0 else [0, last]


def sweep_traces(result: RobustnessResult, r: int, dash: str = "solid", show_legend: bool = True,
                 source: str = "test") -> list[go.Scatter]:
    """Unsafe rate after filtering (points; zero drawn at FLOOR), its 95 % upper bound, and the
    safe completions lost, against the threshold: on the fresh draws (`source="fresh"`: every
    unsafe draw scored, the bound exact) or sampled from the test split (`"test"`, the panel's)."""
    fresh = source == "fresh"
    sw = result.rounds_info[r]["fresh"]["sweep"] if fresh else result.rounds_info[r]["sweep"]
    t = [row["threshold"] for row in sw]
    tag = f" (round {r})"
    custom = [[row["count"], row["unsafe_draws"]] if fresh else [row["unsafe"], row["accepted"]] for row in sw]
    hover = (
        "%{customdata[0]} of %{customdata[1]} unsafe draws pass"
        if fresh
        else "%{customdata[0]} / %{customdata[1]} unsafe"
    )
    return [
        go.Scatter(
            x=t,
            y=[max(row["rate"], FLOOR) for row in sw],
            mode="lines+markers",
            name="unsafe after filter" + tag,
            line=dict(color=COLORWAY[1], dash=dash),
            showlegend=show_legend,
            customdata=custom,
            hovertemplate="t=%{x:.3g}: " + hover + "<extra></extra>",
        ),
        go.Scatter(
            x=t,
            y=[row["bound" if fresh else "upper"] for row in sw],
            mode="lines",
            name="95 % upper bound" + tag,
            line=dict(color=COLORWAY[1], dash="dot", width=1),
            showlegend=show_legend,
        ),
        go.Scatter(
            x=t,
            y=[max(row["safe_lost"], FLOOR) for row in sw],
            mode="lines+markers",
            name="safe lost" + tag,
            line=dict(color=COLORWAY[0], dash=dash),
            showlegend=show_legend,
        ),
    ]


def held_out_floor(result: RobustnessResult) -> float:
    """Where a zero share of the test split is drawn on a log axis: the power of ten at or below
    half of 1 / (test texts), under every non-zero share the split can show."""
    return 10.0 ** math.floor(math.log10(0.5 / max(int(result.mask("test").sum()), 1)))


def held_out_traces(result: RobustnessResult, r: int, dash: str = "solid") -> list[go.Scatter]:
    """A user's file (no generator): on the test split, exactly counted per threshold, the label-1
    share among the texts the filter lets through (zero drawn at `held_out_floor`), its one-sided
    95 % Wilson upper bound, and the label-0 texts lost (`user_data.held_out_sweep`)."""
    floor = held_out_floor(result)
    test = result.mask("test")
    grid = [row["threshold"] for row in result.rounds_info[r]["sweep"]]
    sw = held_out_sweep(result.scores[r][test], result.labels[test], grid)
    ok = [row for row in sw if row["accepted"]]  # nothing let through: no rate to draw
    tag = f" (round {r})"
    return [
        go.Scatter(x=[row["threshold"] for row in ok], y=[max(row["rate"], floor) for row in ok],
                   mode="lines+markers", name="label 1 among let through" + tag,
                   line=dict(color=COLORWAY[1], dash=dash),
                   customdata=[[row["unsafe"], row["accepted"]] for row in ok],
                   hovertemplate="t=%{x:.3g}: %{customdata[0]} of %{customdata[1]} let through<extra></extra>"),
        go.Scatter(x=[row["threshold"] for row in ok], y=[row["upper_wilson"] for row in ok], mode="lines",
                   name="95 % upper bound (Wilson)" + tag, line=dict(color=COLORWAY[1], dash="dot", width=1)),
        go.Scatter(x=grid, y=[max(row["safe_lost"], floor) for row in sw], mode="lines+markers",
                   name="label 0 lost" + tag, line=dict(color=COLORWAY[0], dash=dash)),
    ]


def held_out_bounds(result: RobustnessResult) -> go.Figure:
    """Figure 1 for a user's file: `held_out_traces` before and after adversarial training, the
    chosen thresholds as vertical lines, the test split's label-1 share as the unfiltered line."""
    fig = go.Figure()
    for k, r in enumerate(_rounds(result)):
        for tr in held_out_traces(result, r, DASHES[k]):
            fig.add_trace(tr)
        fig.add_vline(x=float(result.thresholds[r]), line=dict(color="#888", dash=DASHES[k], width=1))
    test = result.mask("test")
    base = float(result.labels[test].double().mean())
    reference_line(fig, y=base, text=f"unfiltered {base:.0%}", log=True, line=dict(color="#b00020", width=1),
                   label_at=0.01, yanchor="top", font=dict(color="#b00020"))
    fig.update_layout(title=f"The filter on the {int(test.sum())} test texts (no generator, no oracle); "
                            "vertical: chosen t",
                      xaxis=dict(title="threshold t (reject while p ≥ t)", type="log", exponentformat="power"),
                      yaxis=dict(title=f"share of test texts (zero drawn at {held_out_floor(result):g})", type="log",
                                 exponentformat="power"),
                      legend=dict(font=dict(size=10)))
    return themed(fig, height=480)


def threshold_sweep(result: RobustnessResult) -> go.Figure:
    """Figure 1: unsafe rate after filtering fresh draws (with its exact upper bound) and safe
    completions lost vs threshold, before and after adversarial training (a user's file, with no
    generator: `held_out_bounds`)."""
    if not result.has_oracle:
        return held_out_bounds(result)
    fresh = bool(result.rounds_info[0].get("fresh"))
    fig = go.Figure()
    for k, r in enumerate(_rounds(result)):
        for tr in sweep_traces(result, r, DASHES[k], source="fresh" if fresh else "test"):
            fig.add_trace(tr)
        fig.add_vline(x=float(result.thresholds[r]), line=dict(color="#888", dash=DASHES[k], width=1))
    base = (
        result.rounds_info[0]["fresh"]["unsafe_after_filter"]["base_rate"]
        if fresh
        else result.rounds_info[0]["base_unsafe_rate"]
    )
    reference_line(fig, y=base, text=f"unfiltered {base:.2%}", log=True, line=dict(color="#b00020", width=1),
                   label_at=0.01, yanchor="top", font=dict(color="#b00020"))  # left: the curves end right
    if fresh:
        n = result.rounds_info[0]["fresh"]["unsafe_after_filter"]["draws"]
        title = f"Filtering {n:,} fresh draws (every unsafe one scored); vertical: chosen t"
    else:
        title = f"Filtering test-split completions: {result.rounds_info[0]['sweep'][0]['n']:,} prompts per threshold"
    fig.update_layout(title=title,
                      # powers of ten, not SI prefixes: a rate of 1e-4 read "100µ"
                      xaxis=dict(title="threshold t (reject while p ≥ t)", type="log", exponentformat="power"),
                      yaxis=dict(title="rate (zero drawn at 1e-7)", type="log", exponentformat="power"),
                      legend=dict(font=dict(size=10)))
    return themed(fig, height=480)


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



def quality_figure(result: RobustnessResult) -> go.Figure:
    """Figure 5: the share of fresh safe draws the filter rejects, per category and round, with the
    total-variation distance between filtered and unfiltered safe completions in the legend."""
    fig = go.Figure()
    for r in _rounds(result):
        qd = result.rounds_info[r]["fresh"]["quality"]
        cats = list(qd["rejection"])
        rates = [qd["rejection"][c]["rejected"] / max(qd["rejection"][c]["n"], 1) for c in cats]
        fig.add_trace(
            go.Bar(
                x=[f"{c.replace('_', '<br>')}<br>n = {qd['rejection'][c]['n']}" for c in cats],
                y=rates,
                marker_color=COLORWAY[r],
                name=f"round {r}: TV {qd['tv_by_category']:.3f} by category, {qd['tv_by_template']:.3f} "
                    f"by template; {qd['mean_redraws']:.3f} redraws per prompt",
                customdata=[[qd["rejection"][c]["rejected"], qd["rejection"][c]["n"]] for c in cats],
                hovertemplate="%{x}: %{customdata[0]} of %{customdata[1]} rejected<extra></extra>",
            )
        )
    fig.update_layout(title="Quality: fresh safe completions the filter rejects, by category",
                      barmode="group", yaxis=dict(title="share rejected", tickformat=".0%"),
                      xaxis=dict(tickangle=0),  # the labels break into lines: nothing to tilt
                      legend=dict(orientation="h", y=-0.32, x=0, yanchor="top", font=dict(size=11)),
                      margin=dict(b=150))
    return themed(fig, width=900, height=500)


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
PANEL_CELLS = ((1, 1),) * 4 + ((1, 2),) * (len(ATTACKS) + 1) + ((2, 1),)  # (row, col) of each trace
# where each of the panel's traces sits in `panel_traces` (the attack curves follow "attacks" in ATTACKS order)
PANEL_INDEX = {"sweep": 0, "point": 3, "attacks": 4, "budget": 4 + len(ATTACKS), "saliency": 5 + len(ATTACKS)}


def tool_background(saliency: float) -> str:
    """The tool's token background: the threshold sweep's "unsafe" colour at opacity `saliency`."""
    red, green, blue = hex_to_rgb(COLORWAY[1])
    return f"rgba({red},{green},{blue},{saliency:.2f})"


def panel_traces(result: RobustnessResult, r: int, threshold: float, budget: int, sal: Saliency,
                 point: dict[str, float]) -> list[go.Scatter | go.Bar]:
    """The panel's traces, in `PANEL_CELLS` order: the sweep (3), the current threshold's point
    (`point` is `filtering.sweep_point` at `threshold`), the attack curves, the current budget's
    markers, the tool's saliency bars. The filter's traces use `legend`, the attacks' `legend2`:
    each pane has its own legend, and no colour means two things."""
    budgets = list(range(result.config.max_budget + 1))
    sweep = [tr.update(name=tr.name.split(" (round")[0]) for tr in sweep_traces(result, r)]
    return [
        *sweep,
        go.Scatter(x=[threshold, threshold], y=[max(point["rate"], FLOOR), max(point["safe_lost"], FLOOR)],
                   mode="markers", marker=CURRENT, name="current threshold"),
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
    fig.update_yaxes(type="log", title_text="rate", exponentformat="power", row=1, col=1)
    fig.update_xaxes(title_text="budget (edits)", dtick=1, row=1, col=2)
    fig.update_yaxes(range=[-0.02, 1.02], title_text="success (label kept)", row=1, col=2)
    below = fig.layout.yaxis.domain[0] - 0.07  # under the top panes' axis titles
    for name, axis in (("legend", fig.layout.xaxis), ("legend2", fig.layout.xaxis2)):
        fig.update_layout({name: dict(x=axis.domain[0], y=below, xanchor="left", yanchor="top", orientation="v",
                                      font=dict(size=11))})
    return themed(fig, width=1000, height=860)
