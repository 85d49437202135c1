"""The robustness suite's filter figures: the threshold sweep (figure 1; a user's file: the held-out
bounds) and the quality of what passes (figure 5), pure functions of a `RobustnessResult`, with the
sweep's traces the panel reuses. Imported by, and named in, `workbench.plots.robustness`."""

from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench.plots.theme import COLORWAY, reference_line, themed
from workbench.robustness.conservative import conservative_threshold
from workbench.robustness.fresh import quality, unsafe_after_filter
from workbench.robustness.result import RobustnessResult
from workbench.robustness.user_data import held_out_sweep

DASHES = ("solid", "dash", "dot", "dashdot")
FLOOR = 1e-7  # where a zero rate is drawn on a log axis
CONSERVATIVE_COLOR = COLORWAY[3]  # the conservative threshold t_c, in figures 1 and 5 (rounds take 0, 1, 2 …)


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
    generator: `held_out_bounds`). A zero rate is no point on the log axis: it is drawn in the "0"
    strip below it. Vertical lines: each round's chosen t and the conservative t_c, both named with
    their rule in the legend (t_c's measured unsafe rate starred)."""
    if not result.has_oracle:
        return held_out_bounds(result)
    fresh = bool(result.rounds_info[0].get("fresh"))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.88, 0.12], vertical_spacing=0.025)
    rounds = _rounds(result)
    for k, r in enumerate(rounds):
        for tr in sweep_traces(result, r, DASHES[k], source="fresh" if fresh else "test"):
            _split_zeros(fig, tr, -k)
        _threshold_line(fig, float(result.thresholds[r]), dict(color="#888", dash=DASHES[k], width=1),
                        f"round {r}: chosen t = {float(result.thresholds[r]):.3g} "
                        f"(≤ {result.config.max_safe_lost:.0%} of validation safe lost)")
    t_c = conservative_threshold(result)
    _threshold_line(fig, t_c, dict(color=CONSERVATIVE_COLOR, dash="dashdot", width=1.5),
                    f"conservative t_c = {t_c:.3g} (≤ {result.config.conservative_safe_lost:.0%} lost, round 0)")
    if fresh:
        at = unsafe_after_filter(result.fresh_scores[0], result.fresh_labels, result.config.n_fresh, t_c)
        fig.add_trace(go.Scatter(
            x=[t_c], y=[at["rate"] if at["rate"] > 0 else None], mode="markers", legendgroup="t_c",
            marker=dict(symbol="star", size=13, color=CONSERVATIVE_COLOR, line=dict(width=1, color="#222")),
            name=f"at t_c: {at['count']} of {at['unsafe_draws']:,} unsafe pass, {at['rate']:.4%} of accepted "
                 f"(bound {at['bound']:.4%})"), row=1, col=1)
    base = (
        result.rounds_info[0]["fresh"]["unsafe_after_filter"]["base_rate"]
        if fresh
        else result.rounds_info[0]["base_unsafe_rate"]
    )
    reference_line(fig, y=base, text=f"unfiltered {base:.2%}", log=True, line=dict(color="#b00020", width=1),
                   row=1, col=1, label_at=0.01, xref="x domain", yanchor="top",
                   font=dict(color="#b00020"))  # left: the curves end right
    if fresh:
        n = result.rounds_info[0]["fresh"]["unsafe_after_filter"]["draws"]
        title = f"Filtering {n:,} fresh draws (every unsafe one scored)"
    else:
        title = f"Filtering test-split completions: {result.rounds_info[0]['sweep'][0]['n']:,} prompts per threshold"
    fig.update_layout(title=title, legend=dict(font=dict(size=10)))
    # powers of ten, not SI prefixes: a rate of 1e-4 read "100µ"
    fig.update_xaxes(type="log", exponentformat="power")
    fig.update_xaxes(title_text="threshold t (reject while p ≥ t)", row=2, col=1)
    fig.update_yaxes(title_text="rate", type="log", exponentformat="power", row=1, col=1)
    fig.update_yaxes(range=[0.5 - len(rounds), 0.5], tickvals=[-k for k in range(len(rounds))], showgrid=False,
                     ticktext=[f"0, round {r}" for r in rounds], zeroline=False, row=2, col=1)
    return themed(fig, width=900, height=540)


def _split_zeros(fig: go.Figure, trace: go.Scatter, row_y: float) -> None:
    """`trace` on the log pane with its zeros (drawn at `FLOOR` by `sweep_traces`) taken out, and
    those zeros as markers in the "0" strip below, on its round's line `row_y` (same colour, the
    legend entry's group)."""
    ys = list(trace.y)
    zero = [i for i, y in enumerate(ys) if y <= FLOOR]
    group = trace.name
    fig.add_trace(trace.update(y=[None if i in zero else y for i, y in enumerate(ys)], legendgroup=group), 1, 1)
    if zero:
        fig.add_trace(go.Scatter(x=[trace.x[i] for i in zero], y=[row_y] * len(zero), mode="markers",
                                 marker=dict(color=trace.line.color, size=8, symbol="circle-open", line=dict(width=2)),
                                 name=f"{group}: 0", legendgroup=group, showlegend=False,
                                 hovertemplate="t=%{x:.3g}: 0 (none)<extra></extra>"), 2, 1)


def _threshold_line(fig: go.Figure, t: float, line: dict, name: str) -> None:
    """A vertical line at threshold `t` through both panes, named once in the legend."""
    for row in (1, 2):
        fig.add_vline(x=t, line=line, row=row, col=1, name=name, showlegend=row == 1,
                      legendgroup="t_c" if "t_c" in name else name)


def quality_figure(result: RobustnessResult) -> go.Figure:
    """Figure 5: the share of fresh safe draws the filter rejects, per category, at each round's chosen
    threshold and at the conservative t_c (round 0's classifier), each named with its threshold and the
    total-variation distance between filtered and unfiltered safe completions. A zero is written "0"
    on its bar's base and a share under 1 % is written out (a bar that short cannot be seen)."""
    t_c = conservative_threshold(result)
    base = result.rounds_info[0]["fresh"]["unsafe_after_filter"]["base_rate"]
    fi = result.fresh_info
    settings = [(f"round {r}, chosen t = {float(result.thresholds[r]):.3g}", result.rounds_info[r]["fresh"]["quality"],
                 COLORWAY[r]) for r in _rounds(result)]
    settings.append((f"round 0, conservative t_c = {t_c:.3g}",
                     quality(result.fresh_scores[0], result.fresh_labels, fi["categories"], fi["templates"], t_c, base),
                     CONSERVATIVE_COLOR))
    fig = go.Figure()
    for name, qd, color in settings:
        cats = list(qd["rejection"])
        rates = [qd["rejection"][c]["rejected"] / max(qd["rejection"][c]["n"], 1) for c in cats]
        fig.add_trace(
            go.Bar(
                x=[f"{c.replace('_', '<br>')}<br>n = {qd['rejection'][c]['n']}" for c in cats],
                y=rates,
                marker_color=color,
                name=f"{name}: TV {qd['tv_by_category']:.3f} by category, {qd['tv_by_template']:.3f} "
                    f"by template; {qd['mean_redraws']:.3f} redraws per prompt",
                text=["0" if v == 0 else f"{v:.1%}" if v < 0.01 else "" for v in rates],
                textposition="outside", textfont=dict(size=11, color=color), cliponaxis=False,
                customdata=[[qd["rejection"][c]["rejected"], qd["rejection"][c]["n"]] for c in cats],
                hovertemplate="%{x}: %{customdata[0]} of %{customdata[1]} rejected<extra></extra>",
            )
        )
    fig.update_layout(title=f"Quality: fresh safe completions the filter rejects, by category<br><sup>at each "
                            f"round's chosen t (≤ {result.config.max_safe_lost:.0%} of validation safe lost) and at "
                            f"the conservative t_c (≤ {result.config.conservative_safe_lost:.0%}); "
                            f"0: none rejected</sup>",
                      barmode="group", yaxis=dict(title="share rejected", tickformat=".0%", rangemode="tozero"),
                      xaxis=dict(tickangle=0),  # the labels break into lines: nothing to tilt
                      legend=dict(orientation="h", y=-0.32, x=0, yanchor="top", font=dict(size=11)),
                      margin=dict(t=90, b=170))
    return themed(fig, width=960, height=560)
