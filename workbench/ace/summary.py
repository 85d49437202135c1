"""Numbers for the docs' claims table, measured from an `AceResult` (JSON-able)."""

from __future__ import annotations

from typing import Any

from workbench.ace.config import LAYER_METHODS, METHOD_SETTINGS, SWEEP_METHODS
from workbench.ace.judges import VERDICTS
from workbench.ace.result import AceResult


def _r(x: float) -> float:
    return round(float(x), 4)


def summarize(result: AceResult) -> dict[str, Any]:
    """Per model: held-out rates, refusal rates at α = 0 and 1 (ACE and ActAdd, harmful and
    harmless), verdict shares per method, the layer sweep, r̂·μ⁻ and training facts."""
    c = result.config
    out: dict[str, Any] = {"layer": result.layer, "hook": result.hook_names[result.layer], "positions": c.positions,
                           "n_eval": int(result.baseline.shape[-1]), "alphas": list(c.alphas),
                           "seconds": result.seconds, "models": {}}
    for m, label in enumerate(result.labels):
        sweep = {}
        for k, method in enumerate(SWEEP_METHODS):
            rates = result.refusal_rate(result.sweep[m, k])  # [A, S]
            scores = result.sweep_score[m, k].mean(-1)
            sweep[method] = {
                "refusal_harmful": [_r(x) for x in rates[:, 0]],
                "refusal_harmless": [_r(x) for x in rates[:, 1]],
                "mean_refusal_score_harmful": [_r(x) for x in scores[:, 0]],
                "mean_refusal_score_harmless": [_r(x) for x in scores[:, 1]],
            }
        at = {}
        for alpha in (0.0, 1.0):
            i = result.alpha_index(alpha)
            at[f"alpha={alpha:g}"] = {
                method: {"harmful": sweep[method]["refusal_harmful"][i], "harmless": sweep[method]["refusal_harmless"][i]}
                for method in SWEEP_METHODS
            }
        methods = {}
        for k, (title, _method, _alpha) in enumerate(METHOD_SETTINGS):
            methods[title] = {
                prompt_set: {v: _r(result.share(result.methods[m, k, s], v)) for v in VERDICTS}
                for s, prompt_set in enumerate(("harmful", "harmless"))
            }
        methods_alt = {}
        for k, (title, _method, _alpha) in enumerate(METHOD_SETTINGS):
            methods_alt[title] = {
                prompt_set: {v: _r(result.share(result.methods_alt[m, k, s], v)) for v in VERDICTS}
                for s, prompt_set in enumerate(("harmful", "harmless"))
            }
        layers = {method: [_r(x) for x in result.refusal_rate(result.layer_sweep[m, :, k])]
                  for k, method in enumerate(LAYER_METHODS)}
        info = result.models.get(label, {})
        out["models"][label] = {
            "held_out": {k: _r(v) for k, v in result.held_out_rates(m).items()},
            "refusal_at": at,
            "sweep": sweep,
            "methods": methods,
            f"methods_positions_{result.alt_positions}": methods_alt,
            "layer_sweep_refusal_harmful": layers,
            "reference_coordinate": _r(result.reference_coordinate(m)),
            "direction_norm": _r(result.direction[m, result.layer].norm()),
            "train_seconds": info.get("train_seconds"),
            "final_loss": info.get("final_loss"),
        }
    return out
