"""Numbers for the docs' claims table, measured from a `RobustnessResult` (JSON-able)."""

from __future__ import annotations

from typing import Any

from workbench.robustness.attacks import ATTACKS
from workbench.robustness.filtering import group_weights, safe_lost
from workbench.robustness.result import RobustnessResult


def _r(x: float, nd: int = 6) -> float:
    return float(f"{x:.{nd}g}")


def attack_summary(result: RobustnessResult, round_: int, attack: str) -> dict[str, Any]:
    """Success vs budget (label kept / any), and the share of successes whose oracle label was kept."""
    a = ATTACKS.index(attack)
    s, p = result.success_at[round_, a], result.preserved[round_, a]
    hits = s >= 0
    kept = float((p[hits] == 1).float().mean()) if bool(hits.any()) and result.has_oracle else None
    return {"success_vs_budget": [_r(x, 4) for x in result.success_curve(round_, attack).tolist()],
            "raw_flip_vs_budget": [_r(x, 4) for x in result.success_curve(round_, attack, preserve=False).tolist()],
            "label_preserved_among_flips": None if kept is None else _r(kept, 4), "n": int(s.numel())}


def round_summary(result: RobustnessResult, r: int) -> dict[str, Any]:
    info = result.rounds_info[r]
    f = info["filter"]
    W = group_weights(result.gen_weight, result.group)
    val_safe = result.mask("val") & (result.labels == 0)
    t = float(result.thresholds[r])
    return {
        "threshold": _r(t),
        "base_unsafe_rate": _r(info["base_unsafe_rate"]),
        "filtered_unsafe": {"unsafe": f["unsafe"], "accepted": f["accepted"], "rate": _r(f["rate"]),
                            "exact_rate": _r(f["exact_rate"]), "upper_95_wilson": _r(f["wilson"]),
                            "upper_95_clopper_pearson": _r(f["clopper_pearson"]), "upper_95_reported": _r(f["upper"]),
                            "refused": f["refused"], "mean_draws_per_prompt": _r(f["mean_draws"], 4)},
        "safe_lost_val": _r(float((result.scores[r][val_safe] >= t).float().mean()), 4),
        "safe_lost_generator": _r(safe_lost(W, result.scores[r].double(), result.labels, t), 4),
        "test_metrics": {k: (_r(v, 4) if isinstance(v, float) else v) for k, v in info["test_metrics"].items()},
        "attacks": {a: attack_summary(result, r, a) for a in ATTACKS},
        "adversarial_added_after": info["adversarial_added"],
        "adversarial_injurious_after": info["adversarial_injurious"],
    }


def summarize(result: RobustnessResult) -> dict[str, Any]:
    """Per round: threshold, unsafe rate before/after the filter with bounds, safe completions lost,
    in-distribution metrics, attack success vs budget; plus sizes and timings."""
    c = result.config
    sizes = {s: int(result.mask(s).sum()) for s in ("train", "val", "test")}
    return {
        "backbone": c.backbone or "all-MiniLM-L6-v2 (embedded)",
        "data": c.data or "story corpus (oracle)",
        "top_layers": c.top_layers, "n_texts": len(result.texts), "splits": sizes,
        "unsafe_in_corpus": int(result.labels.sum()), "n_filter_samples": c.n_filter_samples,
        "max_safe_lost": c.max_safe_lost, "max_budget": c.max_budget, "rounds": c.rounds,
        "per_round": [round_summary(result, r) for r in range(c.rounds + 1)],
        "seconds": result.seconds,
    }
