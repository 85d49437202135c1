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
- selecting inits by local convexity trains faster: the pre-registered test of
  `workbench.goldilocks.preregistration` (steps to the target accuracy, one-sided Mann–Whitney of
  the top-ranked vs the rest, α = 0.05), judged only when the ranking score's test–retest
  reliability (Spearman–Brown) is ≥ `RELIABLE` (below it → "not testable here"): p < α →
  "reproduced"; else power ≥ 0.8 for the pilot's effect → "not reproduced"; else "not testable
  here". The other rankers (positive share on planes, initial loss, Tr H) are shown beside it.
- d₉₀ on the hypersurfaces (in the overlap row): the numbers per radius; "> d" where no d of the grid
  reaches 90 % of the full-space accuracy.
"""

from __future__ import annotations

from typing import Any

from workbench.core.claims import Claim, table
from workbench.goldilocks.preregistration import verdict as preregistered_verdict

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


def _d90_text(m: dict[str, Any]) -> str:
    """d₉₀ per surface and activation at the extended ratios ('> max d' where the grid never reaches it)."""
    i = m.get("intrinsic_dimension")
    if not i or not i.get("extended_ratios"):
        return ""
    at = [i["ratios"].index(r) for r in i["extended_ratios"]]
    parts = []
    for surface in ("plane", "sphere"):
        for act in ("relu", "tanh"):
            vals = [i[surface][act][k] for k in at]
            top = [i["max_dim_at"][f"{i['ratios'][k]:g}"] for k in at]
            parts.append(f"{surface} {act} " + ", ".join(f"{v:g}" if v is not None else f"> {t}"
                                                         for v, t in zip(vals, top, strict=True)))
    radii = ", ".join(f"{r:g}" for r in i["extended_ratios"])
    return f". d₉₀ (90 % of full space) at {radii} r_init: " + "; ".join(parts)


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
                 f"sphere training accuracy at d = {d}: " + "; ".join(parts) + _d90_text(m),
                 _setting(m, f"half-peak range {lo:g}–{hi:g} r_init"),
                 "reproduced" if all(ok) else "partly" if any(ok) else "not reproduced")


def _selection(m: dict[str, Any]) -> Claim:
    s = m["init_selection"]
    at, pre = s["at_r_init"], s["preregistered"]
    steps = at[f"{s['rank_by']}_top_vs_rest_steps"]
    beside = "; ".join(f"{name}: p = {at[f'{name}_top_vs_rest_steps']['p_value']:.2g}" for name in
                       ("positive_fraction", "initial_loss", "trace") if f"{name}_top_vs_rest_steps" in at)
    measured = (f"pre-registered: score {s['rank_by']} ({s['estimator']}, {s['probes_per_score']} products, "
                f"test–retest reliability {s['reliability']:.2f}); top {s['top']} of {s['inits']} inits vs the rest, "
                f"median steps to {s['target_accuracy']:.0%} accuracy {steps['median_top']:g} vs "
                f"{steps['median_rest']:g}, one-sided Mann–Whitney p = {pre['p_value']:.2g} (α = {pre['alpha']:g}); "
                f"power {pre['power']:.2f} for the pilot's effect (ρ = {pre['expected_rho']:.3f} at this "
                f"reliability). Beside it, same outcome and test: {beside}")
    verdict = (f"not testable here (reliability {s['reliability']:.2f} < {RELIABLE:g})" if s["reliability"] < RELIABLE
               else preregistered_verdict(pre))
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
