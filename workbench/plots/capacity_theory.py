"""The capacity suite's conceptual figures, computed exactly (no training): the marginal benefit
of capacity for k < 3, k = 3 and k > 3 with the threshold the optimum sets, and the phase diagram
of one feature's regime over its importance and the kurtosis."""

from __future__ import annotations

import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from workbench.capacity.analysis import exact_regimes
from workbench.capacity.loss import marginal_loss
from workbench.capacity.optimum import allocation_grid, optimal_allocation
from workbench.capacity.train import importances
from workbench.plots.theme import REGIME_COLORS, reference_line, themed

CASES = ((2.0, "k = 2: increasing returns,<br>all or nothing"),
         (3.0, "k = 3: constant returns,<br>degenerate"),
         (6.0, "k = 6: diminishing returns,<br>water-filling"))
SHOWN_CURVES = 7


def marginal_benefit(n: int = 20, d: int = 10, decay: float = 0.9) -> go.Figure:
    """−∂L_i/∂C_i over C ∈ [0, 1] for a few features (v_i = decay^i), one panel per kurtosis case,
    each feature's optimal C_i marked on its curve and, for k > 3, the threshold T they all meet."""
    v = importances(n, decay).double()
    C = torch.linspace(0, 1, 101, dtype=torch.float64)
    fig = make_subplots(rows=1, cols=len(CASES), subplot_titles=[title for _, title in CASES], horizontal_spacing=0.08)
    shade = lambda i: f"rgba(59,111,182,{1 - 0.8 * i / n:.2f})"  # noqa: E731 - darker = more important
    for col, (k, _title) in enumerate(CASES, start=1):
        best = optimal_allocation(v, k, d)
        for i in sorted({round(j * (n - 1) / (SHOWN_CURVES - 1)) for j in range(SHOWN_CURVES)}):
            benefit = -marginal_loss(C, v[i].expand_as(C), k)
            fig.add_trace(
                go.Scatter(
                    x=C.tolist(),
                    y=benefit.tolist(),
                    mode="lines",
                    line=dict(color=shade(i)),
                    name=f"v = {decay:g}^{i}",
                    legendgroup=str(i),
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
            at = float(-marginal_loss(best[i:i + 1], v[i:i + 1], k))
            fig.add_trace(go.Scatter(x=[float(best[i])], y=[at], mode="markers", showlegend=False,
                                     marker=dict(size=9, color=shade(i), line=dict(width=1, color="#222")),
                                     hovertemplate=f"feature {i}: C* = %{{x:.3f}}<extra></extra>"), row=1, col=col)
        if k > 3:
            poly = (best > 1e-9) & (best < 1 - 1e-9)
            threshold = float(-marginal_loss(best[poly][:1], v[poly][:1], k))
            reference_line(fig, y=threshold, text="threshold T", log=True, line=dict(color="#d1603d"),
                           row=1, col=col, font=dict(color="#d1603d"))
        fig.update_xaxes(title_text="capacity C", range=[-0.03, 1.03], row=1, col=col)
    fig.update_yaxes(title_text="marginal benefit −∂L_i/∂C_i", type="log", row=1, col=1)
    for col in (2, 3):
        fig.update_yaxes(type="log", row=1, col=col)
    fig.update_layout(
        title=f"Why the regimes: the benefit of more capacity (n = {n}, d = {d}; dots: the exact optimum)",
        legend_title="importance",
        margin=dict(t=110),
    )
    return themed(fig, width=1150, height=440)


def probe_phase_diagram(n: int = 20, d: int = 10, decay: float = 0.9, points: int = 61) -> go.Figure:
    """One probe feature's regime at the exact optimum over (kurtosis, its importance), beside n − 1
    background features of importances decay^j."""
    background = importances(n - 1, decay).double()
    ks = torch.logspace(0.0414, 2.0, points, dtype=torch.float64)       # 1.1 … 100
    probe = torch.logspace(-2.0, 0.5, points, dtype=torch.float64)      # relative to the top background feature
    kk, pp = torch.meshgrid(ks, probe, indexing="xy")                   # [probe, k]
    v = torch.cat([pp.reshape(-1, 1), background.expand(pp.numel(), -1)], 1)
    C = allocation_grid(v, kk.reshape(-1), d)[:, 0].reshape(pp.shape)
    regime = exact_regimes(C)
    names = ("ignored", "polysemantic", "monosemantic")
    scale = [[0, REGIME_COLORS[names[0]]], [1 / 3, REGIME_COLORS[names[0]]], [1 / 3, REGIME_COLORS[names[1]]],
             [2 / 3, REGIME_COLORS[names[1]]], [2 / 3, REGIME_COLORS[names[2]]], [1, REGIME_COLORS[names[2]]]]
    fig = go.Figure(go.Heatmap(
        x=ks.tolist(), y=probe.tolist(), z=regime.tolist(), zmin=-0.5, zmax=2.5, colorscale=scale,
        customdata=C.tolist(), hovertemplate="k = %{x:.3g}, v = %{y:.3g}: C = %{customdata:.3f}<extra></extra>",
        colorbar=dict(tickvals=[0, 1, 2], ticktext=list(names), title="probe feature"),
    ))
    reference_line(fig, y=float(background[d - 1]), text=f"v of the {d}th background feature", log=True,
                   line=dict(dash="dot", color="#222"), yanchor="top", font=dict(size=12))
    fig.update_layout(
        title=f"One feature's regime at the exact optimum (beside {n - 1} features v = {decay:g}^j, d = {d})",
        xaxis=dict(title="kurtosis k", type="log"), yaxis=dict(title="the feature's importance v", type="log"),
    )
    return themed(fig, width=760, height=520)
