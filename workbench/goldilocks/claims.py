"""The goldilocks suite's claims table, rendered from the measurements (`summarize`'s JSON) by stated rules.

Radii are ratios r / r_init. A curve "has a zone" when its peak lies strictly inside the radius grid
and is at least `ZONE_FACTOR` times the curve at both ends of the grid. Rules, fixed before the numbers:
- the zone (Tr(H)/‖H‖ large at a range of radii, ReLU): the plane curve has a zone, for the Xavier
  direction and for the isotropic arm → "reproduced"; one of them → "partly"; neither → "not reproduced".
- excess of positive eigenvalues there (on the hypersurfaces, the paper's measure): the share of
  positive eigenvalues of the ReLU plane Hessian peaks inside the grid, ≥ `MASS_GAP` above the share
  at both ends → "reproduced"; the full-space spectral density is shown beside it.
- not observed for tanh (the seed's abstract): tanh's plane curve has no zone → "reproduced"; it has
  one → "not reproduced (tanh shows a zone)".
- hyperspheres as hyperplanes: the sphere curve (Hessian with the geodesic term) has a zone →
  "reproduced"; else "not reproduced"; the tangent-plane Hessian is shown beside it.
- common inits in the zone: r_init and the He and LeCun radii inside the ReLU plane curve's
  half-peak range → "reproduced"; some → "partly".
- accuracy on hypersurfaces follows the zone: the best origin-centred-sphere training accuracy at the
  largest dimension lies at a radius inside the half-peak range → "reproduced", else "not reproduced".
- selecting inits by local convexity trains faster: judged only when the score's test–retest
  reliability (Spearman–Brown) is ≥ `RELIABLE`; below it → "not testable here", the numbers shown.
"""

from __future__ import annotations

from typing import Any

from workbench.core.claims import Claim, table

ZONE_FACTOR = 2.0
MASS_GAP = 0.1
RELIABLE = 0.8

PAPER = ("FC nets on MNIST and CIFAR-10, several widths and depths; random low-dimensional hyperplanes and "
         "hyperspheres")
QUOTES = {
    "zone": "a large value of Tr(H)/|H| at a well defined range of configuration space radii, corresponding to a "
            "thick, hollow, spherical shell we refer to as the Goldilocks zone",
    "positive": "an unusual excess of the number of positive eigenvalues of H",
    "tanh": "The effect is not observed for the tanh non-linearity (the seed's AAAI abstract; an arXiv version "
            "says it is observed with ReLU and tanh)",
    "sphere": "(the abstract's) random, low-dimensional hyperplanes and hyperspheres: the zone on hyperspheres too",
    "inits": "common initialization techniques initialize neural networks in this particular region of unusually "
             "high convexity",
    "overlap": "the high and stable accuracy reached when optimizing on random, low-dimensional hypersurfaces is "
               "directly related to the overlap between the hypersurface and the Goldilocks zone",
    "selection": "selecting for high measures of local convexity such as Tr(H)/|H|, number of positive eigenvalues "
                 "of H, or low initial loss, leads to statistically significantly faster training on MNIST",
}


def _has_zone(curve: dict[str, Any], ratios: list[float]) -> bool:
    inside = ratios[0] < curve["peak_ratio"] < ratios[-1]
    ends = max(curve["at_smallest_r"], curve["at_largest_r"])
    return inside and curve["peak"] >= ZONE_FACTOR * ends


def _curve_text(name: str, c: dict[str, Any], ratios: list[float]) -> str:
    lo, hi = c["half_peak_range"]
    return (f"{name}: peak {c['peak']:.2f} at {c['peak_ratio']:g} r_init (at r_init {c['at_r_init']:.2f}; at "
            f"{ratios[0]:g} and {ratios[-1]:g} r_init {c['at_smallest_r']:.2f} and {c['at_largest_r']:.2f}; half-peak "
            f"range {lo:g}–{hi:g} r_init)")


def _setting(m: dict[str, Any], extra: str) -> str:
    return (f"{m['dataset']}, {m['widths']} hidden, {m['n_params']:,} parameters; d = {m['hessian_dim']} planes, "
            f"{m['seeds']} seeds × {m['bases']} planes; {extra}")


def _zone(m: dict[str, Any]) -> Claim:
    r = m["ratios"]
    arms = [("Xavier direction", m["plane"]["relu"]["trace_ratio"]),
            ("isotropic", m["isotropic"]["relu"]["trace_ratio"])]
    ok = [_has_zone(c, r) for _, c in arms]
    verdict = "reproduced" if all(ok) else "partly" if any(ok) else "not reproduced"
    return Claim(QUOTES["zone"], PAPER, "; ".join(_curve_text(n, c, r) for n, c in arms),
                 _setting(m, "ReLU, Tr(H_d)/‖H_d‖ on planes through the init direction"), verdict)


def _positive(m: dict[str, Any]) -> Claim:
    pos = m["plane"]["relu"]["positive_fraction"]
    r = m["ratios"]
    ok = r[0] < pos["peak_ratio"] < r[-1] and pos["peak"] >= max(pos["at_smallest_r"], pos["at_largest_r"]) + MASS_GAP
    dens = m["full_space_density"]["relu"]
    keys = sorted(dens, key=float)
    full = ", ".join(f"{dens[k]['negative_mass']:.2f} at {k} r_init" for k in keys)
    measured = (f"positive share of the plane Hessian's eigenvalues: {pos['peak']:.2f} at {pos['peak_ratio']:g} "
                f"r_init, {pos['at_smallest_r']:.2f} at {r[0]:g}, {pos['at_largest_r']:.2f} at {r[-1]:g}; full space, "
                f"negative share of the spectral mass: {full}")
    density = m["full_space_density"]
    return Claim(QUOTES["positive"], PAPER, measured,
                 _setting(m, f"ReLU; SLQ {density['probes']} probe × {density['lanczos_steps']} steps"),
                 "reproduced" if ok else "not reproduced")


def _tanh(m: dict[str, Any]) -> Claim:
    c = m["plane"]["tanh"]["trace_ratio"]
    verdict = "not reproduced (tanh shows a zone)" if _has_zone(c, m["ratios"]) else "reproduced"
    return Claim(QUOTES["tanh"], PAPER + ", tanh", _curve_text("tanh", c, m["ratios"]), _setting(m, "tanh"), verdict)


def _sphere(m: dict[str, Any]) -> Claim:
    r = m["ratios"]
    geodesic, tangent = m["sphere"]["relu"]["trace_ratio"], m["sphere_tangent_only"]["relu"]["trace_ratio"]
    measured = f"{_curve_text('with the geodesic term', geodesic, r)}; {_curve_text('tangent plane alone', tangent, r)}"
    return Claim(QUOTES["sphere"], PAPER, measured, _setting(m, "ReLU, origin-centred spheres"),
                 "reproduced" if _has_zone(geodesic, r) else "not reproduced")


def _inits(m: dict[str, Any]) -> Claim:
    lo, hi = m["plane"]["relu"]["trace_ratio"]["half_peak_range"]
    inside = {name: lo <= ratio <= hi for name, ratio in m["init_ratios"].items()}
    measured = (f"half-peak range {lo:g}–{hi:g} r_init (ReLU plane); "
                + ", ".join(f"{name} at {ratio:g} r_init" for name, ratio in m["init_ratios"].items()))
    ok = list(inside.values())
    return Claim(QUOTES["inits"], "Xavier / He style inits", measured, _setting(m, f"ReLU; r_init = {m['r_init']:g}"),
                 "reproduced" if all(ok) else "partly" if any(ok) else "not reproduced")


def _overlap(m: dict[str, Any]) -> Claim:
    t = m["sphere_training"]
    d = str(max(t["dims"]))
    lo, hi = m["plane"]["relu"]["trace_ratio"]["half_peak_range"]
    parts, ok = [], []
    for act in ("relu", "tanh"):
        acc = t["sphere"][act][d]
        best = max(range(len(acc)), key=acc.__getitem__)
        ok.append(lo <= t["ratios"][best] <= hi)
        parts.append(f"{act}: best {acc[best]:.2f} at {t['ratios'][best]:g} r_init, {acc[0]:.2f} at "
                     f"{t['ratios'][0]:g}, {acc[-1]:.2f} at {t['ratios'][-1]:g} (full space "
                     f"{t['full_space_accuracy'][act]:.2f})")
    return Claim(QUOTES["overlap"], "origin-centred spheres θ = M w, ‖w‖ = r (CS229 reproduction), d 300–10,000",
                 f"sphere training accuracy at d = {d}: " + "; ".join(parts),
                 _setting(m, f"half-peak range {lo:g}–{hi:g} r_init"),
                 "reproduced" if all(ok) else "partly" if any(ok) else "not reproduced")


def _selection(m: dict[str, Any]) -> Claim:
    s = m["init_selection"]
    at = s["at_r_init"]
    rel = at["reliability"]["spearman_brown"]
    steps = at[f"{s['rank_by']}_top_vs_rest_steps"]
    measured = (f"score {s['rank_by']} ({s['probes_per_score']} probes) test–retest reliability {rel:.2f} "
                f"(Spearman–Brown); top {s['top']} of {s['inits']} inits vs the rest: median steps to "
                f"{s['target_accuracy']:.0%} accuracy {steps['median_top']:g} vs {steps['median_rest']:g} "
                f"(Mann–Whitney p = {steps['p_value']:.2g}); Spearman ρ of the score with the loss area "
                f"{at[s['rank_by']]['spearman_rho']:.2f}")
    verdict = (f"not testable here (reliability {rel:.2f} < {RELIABLE:g})" if rel < RELIABLE
               else "reproduced" if steps["p_value"] < 0.05 and steps["median_top"] < steps["median_rest"]
               else "not reproduced")
    return Claim(QUOTES["selection"], "MNIST; number of inits, planes and test not read", measured,
                 _setting(m, f"{s['activation']}, inits at exactly r_init"), verdict)


def claims(measurements: dict[str, Any]) -> str:
    """The claims table of docs/goldilocks.md from `summarize`'s measurements (module docstring: rules)."""
    m = measurements
    rows = [_zone(m), _positive(m), _tanh(m), _sphere(m), _inits(m)]
    if m.get("sphere_training"):
        rows.append(_overlap(m))
    if m.get("init_selection"):
        rows.append(_selection(m))
    return table(rows)
