"""Numbers for the docs' claims table, measured from a `RobustnessResult` (JSON-able)."""

from __future__ import annotations

from typing import Any

from workbench.robustness.attacks import ATTACKS, TRAINED_ATTACKS
from workbench.robustness.conservative import at_threshold, conservative
from workbench.robustness.filtering import group_weights, safe_lost
from workbench.robustness.in_distribution import paired_auc_test
from workbench.robustness.result import RobustnessResult
from workbench.robustness.survival import kaplan_meier, median_effort, paired_effort_test
from workbench.robustness.user_data import NO_ORACLE, NOT_MEASURED, held_out_bound


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


def _rounded(d: dict[str, Any]) -> dict[str, Any]:
    """Floats to 6 significant digits, nested dicts included."""
    return {k: _r(v) if isinstance(v, float) else _rounded(v) if isinstance(v, dict) else v for k, v in d.items()}


def effort_summary(result: RobustnessResult, round_: int, attack: str) -> dict[str, Any]:
    """Queries to the first oracle-valid success per attacked text (censored at the budget), the
    Kaplan-Meier curve and its median."""
    e = result.effort[round_, ATTACKS.index(attack)].tolist()
    budget = result.config.query_budget
    times, fooled = [budget if q < 0 else q for q in e], [q >= 0 for q in e]
    q, surv = kaplan_meier(times, fooled)
    return {"queries": e, "budget": budget, "fooled": sum(fooled), "n": len(e), "km_queries": q.tolist(),
            "km_survival": [_r(x, 4) for x in surv.tolist()], "median_queries": median_effort(q, surv),
            "survival_at_budget": _r(float(surv[-1]) if len(surv) else 1.0, 4)}


def effort_to_failure(result: RobustnessResult) -> dict[str, Any]:
    """Per attack: effort per round and the paired test of round 0 against the last round (the
    same texts), and whether the attack was trained on."""
    c, budget = result.config, result.config.query_budget
    out = {}
    for a in ATTACKS:
        rounds = {f"round {r}": effort_summary(result, r, a) for r in range(c.rounds + 1)}
        entry: dict[str, Any] = {"trained_on": a in TRAINED_ATTACKS, **rounds}
        if c.rounds > 0:
            first, last = ([budget if q < 0 else q for q in result.effort[r, ATTACKS.index(a)].tolist()]
                           for r in (0, c.rounds))
            entry["paired_test_round0_vs_last"] = _rounded(paired_effort_test(first, last))
        out[a] = entry
    return out


def flagged_by_category(result: RobustnessResult, r: int) -> dict[str, Any]:
    """At round r's threshold: the share flagged per category, on the test split and (for the
    injurious categories: the misses that matter) on the scored fresh draws."""
    t = float(result.thresholds[r])
    test = result.mask("test").tolist()
    out: dict[str, Any] = {"test": {}, "fresh_missed": {}}
    for c in sorted(set(result.categories)):
        idx = [i for i, (k, ok) in enumerate(zip(result.categories, test)) if k == c and ok]
        if idx:
            out["test"][c] = {"flagged": int((result.scores[r][idx] >= t).sum()), "n": len(idx)}
    cats = result.fresh_info.get("categories", [])
    for c in sorted({k for k, y in zip(cats, result.fresh_labels.tolist()) if y == 1}):
        idx = [i for i, k in enumerate(cats) if k == c and int(result.fresh_labels[i]) == 1]
        out["fresh_missed"][c] = {"missed": int((result.fresh_scores[r][idx] < t).sum()), "n": len(idx)}
    return out


def round_summary(result: RobustnessResult, r: int) -> dict[str, Any]:
    info = result.rounds_info[r]
    f = info["filter"]
    W = group_weights(result.gen_weight, result.group)
    val_safe = result.mask("val") & (result.labels == 0)
    t = float(result.thresholds[r])
    filtered = {"unsafe": f["unsafe"], "accepted": f["accepted"], "rate": _r(f["rate"]),
                "exact_rate": _r(f["exact_rate"]), "upper_95_wilson": _r(f["wilson"]),
                "upper_95_clopper_pearson": _r(f["clopper_pearson"]), "upper_95_reported": _r(f["upper"]),
                "refused": f["refused"], "mean_draws_per_prompt": _r(f["mean_draws"], 4)}
    user: dict[str, Any] = {}
    if not result.has_oracle:
        # the sample redraws the few test texts: a bound over draws would count one text many times
        filtered = {k: v for k, v in filtered.items() if not k.startswith("upper_95")}
        filtered["note"] = "draws resampled from the test split; its bound is `test_split_bound` (one per text)"
        test = result.mask("test")
        user["test_split_bound"] = _rounded(held_out_bound(result.scores[r][test], result.labels[test], t))
    return {
        "threshold": _r(t),
        "base_unsafe_rate": _r(info["base_unsafe_rate"]),
        "filtered_unsafe": filtered,
        **user,
        "safe_lost_val": _r(float((result.scores[r][val_safe] >= t).float().mean()), 4),
        "safe_lost_generator": _r(safe_lost(W, result.scores[r].double(), result.labels, t), 4),
        "test_metrics": {k: (_r(v, 4) if isinstance(v, float) else v) for k, v in info["test_metrics"].items()},
        "attacks": {a: attack_summary(result, r, a) for a in ATTACKS},
        "adversarial_added_after": info["adversarial_added"],
        "adversarial_injurious_after": info["adversarial_injurious"],
        "adversarial_paraphrases_after": info.get("adversarial_paraphrases", 0),
        # this round's paraphrases of its adversarial examples, scored by this round's classifier
        "paraphrase_attack": _rounded(info["paraphrase_attack"]) if info.get("paraphrase_attack") else None,
        "by_category": flagged_by_category(result, r),
        **({"unsafe_after_filter": _rounded(info["fresh"]["unsafe_after_filter"]),
            "quality": _rounded(info["fresh"]["quality"])}
           if info.get("fresh") else {}),
    }


def _in_distribution(result: RobustnessResult) -> dict[str, Any]:
    """Round 0 against the last round on the test split (`paired_auc_test`)."""
    test = result.mask("test")
    out = paired_auc_test(result.labels[test], result.scores[0][test], result.scores[-1][test],
                          seed=result.config.seed)
    return {**_rounded(out), "ci95": [_r(x) for x in out["ci95"]], "rounds": [0, result.config.rounds]}


def summarize(result: RobustnessResult) -> dict[str, Any]:
    """`fresh_share` (share of fresh draws not verbatim in train or test), `unsafe_after_filter`
    (round 0's classifier on the fresh draws: count, draws, bound), `conservative` and
    `default_threshold` (`workbench.robustness.conservative`: the unsafe rate with its bound, safe
    share rejected, redraws and TV distance at each threshold), `effort_to_failure` (per attack
    and round); per round: threshold, the filter on fresh draws and on the test split, quality,
    in-distribution metrics, attack success vs budget; plus sizes and timings. A user's file (no
    oracle) adds `oracle` ("no oracle: label preservation assumed"), `not_measured`, and per round
    `test_split_bound` (`user_data.held_out_bound` at the round's threshold); its sampled filter
    keeps no bound (the draws repeat the few test texts) and the fresh-draw keys are None."""
    c = result.config
    sizes = {s: int(result.mask(s).sum()) for s in ("train", "val", "test")}
    fresh = result.rounds_info[0].get("fresh")
    # a user's file: say once what could not be measured (the story corpus's keys stay as they were)
    user = {} if result.has_oracle else {"oracle": NO_ORACLE, "not_measured": list(NOT_MEASURED)}
    return {
        **user,
        "fresh_share": _r(result.fresh_info["fresh_share"]) if fresh else None,
        "fresh_share_completion": _r(result.fresh_info["fresh_share_completion"]) if fresh else None,
        "unsafe_after_filter": _rounded(fresh["unsafe_after_filter"]) if fresh else None,
        # both filter claims at one threshold: the conservative one, and the default as a second row
        "conservative": _rounded(conservative(result)) if fresh else None,
        "default_threshold": _rounded(at_threshold(result, float(result.thresholds[0]))) if fresh else None,
        "in_distribution": _in_distribution(result),
        "effort_to_failure": effort_to_failure(result),
        "backbone": c.backbone or "all-MiniLM-L6-v2 (embedded)",
        "data": c.data or "story corpus (oracle)",
        "top_layers": c.top_layers, "n_texts": len(result.texts), "splits": sizes,
        "unsafe_in_corpus": int(result.labels.sum()), "n_filter_samples": c.n_filter_samples,
        "max_safe_lost": c.max_safe_lost, "max_budget": c.max_budget, "rounds": c.rounds,
        "per_round": [round_summary(result, r) for r in range(c.rounds + 1)],
        "seconds": result.seconds,
    }
