"""Numbers for the docs' claims table, measured from a `GoldilocksResult` (JSON-able)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from workbench.goldilocks.config import RANK_BY
from workbench.goldilocks.result import GoldilocksResult
from workbench.goldilocks.selection import SelectionTest, selection_test, steps_to_target
from workbench.tensor.curvature import eigvals_positive_fraction, eigvals_trace_ratio


def _r(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def curve_peak(radii: tuple[float, ...], curve: Tensor) -> dict[str, Any]:
    """Where a curve over r/r_init peaks, its value there and at the radius nearest r_init, and the
    radii where it stays ≥ half its peak (the 'zone' as measured)."""
    i = int(torch.argmax(curve))
    at_one = min(range(len(radii)), key=lambda k: abs(math.log(radii[k])))
    peak = float(curve[i])
    half = [radii[k] for k in range(len(radii)) if peak > 0 and float(curve[k]) >= peak / 2]
    return {"peak_radius": radii[i], "peak": _r(peak), "at_r_init": _r(curve[at_one]),
            "at_smallest_r": _r(curve[0]), "at_largest_r": _r(curve[-1]),
            "half_peak_range": [min(half), max(half)] if half else None}


def _curvature(result: GoldilocksResult, surface: str, geodesic: bool = True) -> dict[str, Any]:
    c = result.config
    eigs = result.eigs(surface, geodesic)
    tr = eigvals_trace_ratio(eigs).mean((1, 2))          # [A, R]: mean over seeds and bases
    pos = eigvals_positive_fraction(eigs).mean((1, 2))
    return {act: {"trace_ratio": curve_peak(c.radii, tr[a]), "positive_fraction": curve_peak(c.radii, pos[a]),
                  "trace_ratio_curve": [_r(x) for x in tr[a].tolist()]}
            for a, act in enumerate(c.activations)}


def _hyperplanes(result: GoldilocksResult) -> dict[str, Any]:
    c = result.config
    acc = result.plane_acc.mean(2)  # [A, T, Q]
    return {act: {str(d): {**curve_peak(c.train_radii, acc[a, t]),
                           "accuracy_curve": [_r(x) for x in acc[a, t].tolist()]}
                  for t, d in enumerate(c.train_dims)}
            for a, act in enumerate(c.activations)}


def _nan_none(x: float) -> float | None:
    return None if math.isnan(x) else _r(x)


def _sphere_training(result: GoldilocksResult) -> dict[str, Any]:
    """Mean test accuracy per activation, d and radius on planes and on origin-centred spheres."""
    c = result.config
    out: dict[str, Any] = {"radii": list(c.train_radii), "dims": list(c.train_dims),
                           "full_space_accuracy": {act: _r(result.full_acc[a].mean()) for a, act in enumerate(c.activations)}}
    for surface in ("plane", "sphere"):
        acc = result.surface_acc(surface).mean(2)  # [A, T, Q]
        out[surface] = {act: {str(d): [_r(x) for x in acc[a, t].tolist()] for t, d in enumerate(c.train_dims)}
                        for a, act in enumerate(c.activations)}
    return out


def _intrinsic(result: GoldilocksResult) -> dict[str, Any]:
    """d₉₀(r) per surface and activation (None: no d of the grid reaches the target)."""
    c = result.config
    out: dict[str, Any] = {"fraction": c.intrinsic_fraction, "radii": list(c.train_radii), "dims": list(c.train_dims)}
    for surface in ("plane", "sphere"):
        d90 = result.intrinsic_dimension(surface)
        out[surface] = {act: [_nan_none(x) for x in d90[a].tolist()] for a, act in enumerate(c.activations)}
    return out


def selection_tests(result: GoldilocksResult) -> dict[str, SelectionTest]:
    """The top-vs-rest test for each ranking measure (the configured one is the pre-registered one)."""
    c = result.config
    steps = steps_to_target(result.sel_curves, c.selection_target, c.selection_eval_every)
    censored_at = (result.sel_curves.shape[-1]) * c.selection_eval_every
    return {name: selection_test(result.sel_measures[:, k].double(), steps, c.selection_top,
                                 higher_is_better=name != "initial_loss", censored_at=censored_at)
            for k, name in enumerate(RANK_BY)}


def _selection(result: GoldilocksResult) -> dict[str, Any]:
    c = result.config
    out: dict[str, Any] = {"activation": c.selection_activation, "inits": c.selection_inits, "top": c.selection_top,
                           "target_accuracy": c.selection_target, "rank_by": c.selection_rank_by}
    for name, t in selection_tests(result).items():
        out[name] = {"median_steps_top": float(torch.tensor(t.top_steps).median()),
                     "median_steps_rest": float(torch.tensor(t.rest_steps).median()),
                     "median_difference": t.median_difference, "mann_whitney_u": _r(t.u_statistic, 2),
                     "p_value": _r(t.p_value, 5), "spearman_rho": _r(t.spearman_rho), "spearman_p": _r(t.spearman_p, 5),
                     "censored": t.censored}
    return out


def summarize(result: GoldilocksResult) -> dict[str, Any]:
    """Peaks of Tr/‖H‖ and positive share over r/r_init (plane and sphere, per activation), the
    hyperplane-training accuracy peaks, the init-selection tests, and the stage timings."""
    c = result.config
    out: dict[str, Any] = {
        "dataset": c.dataset, "widths": list(c.widths), "n_params": c.n_params, "init": c.init,
        "r_init": _r(result.r_init), "hessian_dim": c.hessian_dim, "max_trace_ratio": _r(math.sqrt(c.hessian_dim)),
        "seeds": c.seeds, "bases": c.bases, "radii": list(c.radii),
        "plane": _curvature(result, "plane"),
        "stage_seconds": result.stage_seconds,
    }
    if c.sphere:
        out["sphere"] = _curvature(result, "sphere")
        # the tangent plane alone (no geodesic term): what the sphere's curvature adds is the difference
        out["sphere_tangent_only"] = _curvature(result, "sphere", geodesic=False)
    if c.train_dims:
        out["hyperplane_training"] = _hyperplanes(result)
        out["sphere_training"] = _sphere_training(result)
        out["intrinsic_dimension"] = _intrinsic(result)
    if c.selection_inits:
        out["init_selection"] = _selection(result)
    return out
