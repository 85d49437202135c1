"""Numbers for the docs' claims table, measured from a `GoldilocksResult` (JSON-able)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from workbench.goldilocks.config import RANK_BY
from workbench.goldilocks.model import INIT_SCHEMES
from workbench.goldilocks.preregistration import preregistered
from workbench.goldilocks.result import GoldilocksResult
from workbench.goldilocks.scoring import reliability
from workbench.goldilocks.selection import (
    SelectionTest,
    association,
    selection_test,
    steps_to_target,
)
from workbench.tensor.curvature import eigvals_positive_fraction, eigvals_trace_ratio


def _r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def curve_peak(ratios: tuple[float, ...], curve: Tensor, baseline: float = 0.0) -> dict[str, Any]:
    """Where a curve over the ratios r/r_init `ratios` peaks (`peak_ratio`, a ratio), its value there and
    at the ratio nearest 1 (r_init), and the range of ratios where it stays ≥ halfway from `baseline` to its
    peak (the 'zone' as measured, `half_peak_range`, ratios).

    The baseline is what no structure gives: 0 for Tr/‖H‖, 0.5 for the positive share (a random
    symmetric matrix). Half of the peak itself would be meaningless for the share: with a peak
    below 1, half of it lies under the 0.5 every random matrix reaches."""
    i = int(torch.argmax(curve))
    at_one = min(range(len(ratios)), key=lambda k: abs(math.log(ratios[k])))
    peak = float(curve[i])
    level = baseline + (peak - baseline) / 2
    half = [ratios[k] for k in range(len(ratios)) if peak > baseline and float(curve[k]) >= level]
    return {"peak_ratio": ratios[i], "peak": _r(peak), "at_r_init": _r(curve[at_one]),
            "at_smallest_r": _r(curve[0]), "at_largest_r": _r(curve[-1]), "baseline": baseline,
            "half_peak_range": [min(half), max(half)] if half else None}


def _curvature(result: GoldilocksResult, surface: str, geodesic: bool = True) -> dict[str, Any]:
    c = result.config
    eigs = result.eigs(surface, geodesic)
    tr = eigvals_trace_ratio(eigs).mean((1, 2))          # [A, R]: mean over seeds and bases
    pos = eigvals_positive_fraction(eigs).mean((1, 2))
    return {act: {"trace_ratio": curve_peak(c.ratios, tr[a]), "positive_fraction": curve_peak(c.ratios, pos[a], 0.5),
                  "trace_ratio_curve": [_r(x) for x in tr[a].tolist()],
                  "positive_fraction_curve": [_r(x) for x in pos[a].tolist()]}
            for a, act in enumerate(c.activations)}


def _dims(result: GoldilocksResult) -> dict[str, Any]:
    """Tr/(√d‖H_d‖) per d of `compare_dims`: its peak and curve (mean over the nested planes)."""
    c = result.config
    normalized, pos = result.dims_ratio.mean(2), result.dims_positive.mean(2)  # [A, K, R]
    return {act: {str(d): {"normalized_trace_ratio": curve_peak(c.ratios, normalized[a, k]),
                           "positive_fraction": curve_peak(c.ratios, pos[a, k], 0.5),
                           "normalized_curve": [_r(x) for x in normalized[a, k].tolist()]}
                  for k, d in enumerate(c.compare_dims)}
            for a, act in enumerate(c.activations)}


def init_ratios(result: GoldilocksResult) -> dict[str, float]:
    """The ratio r/r_init of every named init scheme's radius to the config's r_init (where He and LeCun sit)."""
    spec = result.config.spec(result.config.activations[0])
    return {scheme: _r(spec.r_init(scheme) / result.r_init) for scheme in INIT_SCHEMES}


def _hyperplanes(result: GoldilocksResult) -> dict[str, Any]:
    c = result.config
    acc = result.plane_acc.mean(2)  # [A, T, Q]
    return {act: {str(d): {**curve_peak(c.train_ratios, acc[a, t]),
                           "accuracy_curve": [_r(x) for x in acc[a, t].tolist()]}
                  for t, d in enumerate(c.train_dims)}
            for a, act in enumerate(c.activations)}


def _nan_none(x: float) -> float | None:
    return None if math.isnan(x) else _r(x)


def _sphere_training(result: GoldilocksResult) -> dict[str, Any]:
    """Mean test accuracy per activation, d and training ratio r/r_init (`ratios`) on planes and on
    origin-centred spheres."""
    c = result.config
    out: dict[str, Any] = {"ratios": list(c.train_ratios), "dims": list(c.train_dims),
                           "full_space_accuracy": {act: _r(result.full_acc[a].mean())
                                                   for a, act in enumerate(c.activations)}}
    for surface in ("plane", "sphere"):
        acc = result.surface_acc(surface).mean(2)  # [A, T, Q]
        out[surface] = {act: {str(d): [_r(x) for x in acc[a, t].tolist()] for t, d in enumerate(c.train_dims)}
                        for a, act in enumerate(c.activations)}
    return out


def _intrinsic(result: GoldilocksResult) -> dict[str, Any]:
    """d₉₀(r) per surface, activation and training ratio r/r_init (`ratios`; None: no d of the grid reaches
    the target)."""
    c = result.config
    out: dict[str, Any] = {"fraction": c.intrinsic_fraction, "ratios": list(c.train_ratios), "dims": result.dims(),
                           "extended_ratios": list(c.d90_ratios) if c.d90_dims else [],
                           "max_dim_at": {f"{r:g}": (max(result.dims()) if r in c.d90_ratios and c.d90_dims
                                                     else max(c.train_dims)) for r in c.train_ratios}}
    for surface in ("plane", "sphere"):
        d90 = result.intrinsic_dimension(surface)
        out[surface] = {act: [_nan_none(x) for x in d90[a].tolist()] for a, act in enumerate(c.activations)}
    if c.d90_dims:  # mean test accuracy of the large-d extension per surface, activation, d and extended ratio
        out["extended_accuracy"] = {
            surface: {act: {str(d): [_r(x) for x in acc.mean(2)[a, t].tolist()] for t, d in enumerate(c.d90_dims)}
                      for a, act in enumerate(c.activations)}
            for surface, acc in (("plane", result.d90_plane_acc), ("sphere", result.d90_sphere_acc))}
    return out


def selection_tests(result: GoldilocksResult, outcome: str = "loss_auc") -> dict[str, SelectionTest]:
    """The top-vs-rest test of the inits at r_init for each ranking measure (the configured one is
    the pre-registered one), on `outcome`: 'loss_auc' (area under the training-loss curve) or
    'steps' (steps to the target accuracy)."""
    c = result.config
    rows = result.selection_groups()["at_r_init"]
    values = _outcome(result, outcome)[rows]
    censored_at = result.sel_curves.shape[-1] * c.selection_eval_every if outcome == "steps" else None
    return {name: selection_test(result.sel_measures[rows, k].double(), values, c.selection_top,
                                 higher_is_better=name != "initial_loss", censored_at=censored_at)
            for k, name in enumerate(RANK_BY)}


def _outcome(result: GoldilocksResult, outcome: str) -> Tensor:
    c = result.config
    if outcome == "loss_auc":
        return result.loss_auc()
    if outcome == "steps":
        return steps_to_target(result.sel_curves, c.selection_target, c.selection_eval_every)
    raise ValueError(f"`outcome` must be 'loss_auc' or 'steps'; got {outcome!r}")


RETEST_COLUMNS = {"trace_ratio": (0, 1), "positive_fraction": (2, 3)}  # sel_retest columns of a ranker


def _ranker_reliability(result: GoldilocksResult, name: str, rows: slice) -> float | None:
    """Spearman–Brown test–retest reliability of a ranker over `rows`: two probe sets (trace ratio)
    or two halves of the planes (positive share); 1 for the initial loss (exact); None for Tr H
    (its two sets are not stored)."""
    if name == "initial_loss":
        return 1.0
    if name not in RETEST_COLUMNS:
        return None
    i, j = RETEST_COLUMNS[name]
    return _nan_none(reliability(result.sel_retest[rows, i], result.sel_retest[rows, j])["spearman_brown"])


def _selection(result: GoldilocksResult) -> dict[str, Any]:
    c = result.config
    groups = result.selection_groups()
    auc = result.loss_auc()
    out: dict[str, Any] = {"activation": c.selection_activation, "inits": c.selection_inits, "top": c.selection_top,
                           "controls": c.selection_controls, "control_ratios": list(c.selection_control_ratios),
                           "estimator": c.selection_estimator, "common_probes": c.selection_common_probes,
                           "probes_per_score": 2 * c.selection_probes, "planes": c.selection_planes,
                           "target_accuracy": c.selection_target, "rank_by": c.selection_rank_by,
                           "outcome": "steps to the target accuracy (pre-registered); the area under the "
                                      "training-loss curve beside it"}
    for group, rows in groups.items():
        if rows.stop <= rows.start + 2:
            continue
        rel = reliability(result.sel_retest[rows, 0], result.sel_retest[rows, 1])
        block: dict[str, Any] = {"reliability": {k: _r(v) for k, v in rel.items()},
                                 "ranker_reliability": {name: _ranker_reliability(result, name, rows)
                                                        for name in RANK_BY}}
        for k, name in enumerate(RANK_BY):
            block[name] = {k2: _r(v, 6) for k2, v in
                           association(result.sel_measures[rows, k], auc[rows], name != "initial_loss").items()}
        # the init's ratio r/r_init; ρ < 0: inits at larger radii train faster (what the positive control varies)
        block["ratio"] = {k2: _r(v, 6) for k2, v in association(result.sel_ratios[rows], auc[rows]).items()}
        out[group] = block
    for outcome in ("loss_auc", "steps"):
        for name, t in selection_tests(result, outcome).items():
            out["at_r_init"][f"{name}_top_vs_rest_{outcome}"] = {
                "median_top": _r(torch.tensor(t.top_steps).median(), 5),
                "median_rest": _r(torch.tensor(t.rest_steps).median(), 5), "mann_whitney_u": _r(t.u_statistic, 2),
                "p_value": _r(t.p_value, 6), "spearman_rho": _r(t.spearman_rho, 4), "censored": t.censored}
    rows = groups["at_r_init"]
    used = _ranker_reliability(result, c.selection_rank_by, rows)
    out["reliability"] = used  # of the score the pre-registered test ranks by
    steps = _outcome(result, "steps")[rows]
    test = out["at_r_init"][f"{c.selection_rank_by}_top_vs_rest_steps"]
    out["preregistered"] = {"ranker": c.selection_rank_by,
                            **preregistered(test["p_value"], used if used is not None else 0.0, steps, c.selection_top)}
    return out


def _density(result: GoldilocksResult) -> dict[str, Any]:
    """Per activation and ratio r/r_init (keyed by its value) of the SLQ densities: the extreme Ritz
    values (≈ λ_min, λ_max of the full-space Hessian), the negative share of the spectral mass and the
    mean eigenvalue Tr H/D."""
    c = result.config
    out: dict[str, Any] = {"probes": c.density_probes, "lanczos_steps": c.density_steps}
    for a, act in enumerate(c.activations):
        rows = {}
        for z, i in enumerate(int(i) for i in result.density_at):
            nodes, weights = result.density_nodes[a, z].double(), result.density_weights[a, z].double()
            live = weights > 0
            rows[f"{c.ratios[i]:g}"] = {
                "lambda_min": _r(float(nodes[live].min())), "lambda_max": _r(float(nodes[live].max())),
                "negative_mass": _r(float((weights * (nodes < 0)).sum(-1).mean())),
                "mean_eigenvalue": _r(float((weights * nodes).sum(-1).mean()))}
        out[act] = rows
    return out


def summarize(result: GoldilocksResult) -> dict[str, Any]:
    """Peaks of Tr/‖H‖ and positive share over r/r_init (plane and sphere, per activation), the
    hyperplane-training accuracy peaks, the init-selection tests, and the stage timings."""
    c = result.config
    out: dict[str, Any] = {
        "dataset": c.dataset, "widths": list(c.widths), "n_params": c.n_params, "init": c.init,
        "r_init": _r(result.r_init), "hessian_dim": c.hessian_dim, "max_trace_ratio": _r(math.sqrt(c.hessian_dim)),
        "seeds": c.seeds, "bases": c.bases, "ratios": list(c.ratios),
        "init_ratios": init_ratios(result), "float64_from": c.float64_from,
        "hessian_batch": c.hessian_batch,
        "plane": _curvature(result, "plane"),
        "stage_seconds": result.stage_seconds,
    }
    if c.sphere:
        out["sphere"] = _curvature(result, "sphere")
        # the tangent plane alone (no geodesic term): what the sphere's curvature adds is the difference
        out["sphere_tangent_only"] = _curvature(result, "sphere", geodesic=False)
    if c.isotropic:
        out["isotropic"] = _curvature(result, "isotropic")
    if c.compare_dims:
        out["compare_dims"] = _dims(result)
    if c.density_steps:
        out["full_space_density"] = _density(result)
    if c.train_dims:
        out["hyperplane_training"] = _hyperplanes(result)
        out["sphere_training"] = _sphere_training(result)
        out["intrinsic_dimension"] = _intrinsic(result)
    if c.selection_inits:
        out["init_selection"] = _selection(result)
    return out
