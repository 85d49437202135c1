"""Numbers for the docs' claims table, measured from an `AceResult` (JSON-able)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from workbench.ace.config import LAYER_METHODS, METHOD_SETTINGS, SETS, SWEEP_METHODS
from workbench.ace.judges import VERDICTS
from workbench.ace.result import AceResult


def _r(x: float) -> float:
    return round(float(x), 4)


def _shares(result: AceResult, codes: Tensor, refusals: Tensor) -> dict[str, float]:
    """Three-way shares and the binary refusal rate of one prompt set's completions."""
    out = {v: _r(result.share(codes, v)) for v in VERDICTS}
    out["refuses_anywhere"] = _r(result.binary_rate(refusals))
    return out


def _sweep(result: AceResult, m: int) -> dict[str, Any]:
    sweep = {}
    for k, method in enumerate(SWEEP_METHODS):
        entry: dict[str, list[float]] = {}
        for s, prompt_set in enumerate(SETS):
            codes, refusals = result.sweep[m, k, :, s], result.sweep_refusal[m, k, :, s]
            entry[f"refusal_{prompt_set}"] = [_r(x) for x in result.share(codes, "refusal")]
            entry[f"incoherent_{prompt_set}"] = [_r(x) for x in result.share(codes, "incoherent")]
            entry[f"refuses_anywhere_{prompt_set}"] = [_r(x) for x in result.binary_rate(refusals)]
            entry[f"mean_refusal_score_{prompt_set}"] = [_r(x) for x in result.sweep_score[m, k, :, s].mean(-1)]
        sweep[method] = entry
    return sweep


def summarize(result: AceResult) -> dict[str, Any]:
    """Per model: held-out rates, refusal rates at α = 0 and 1 (ACE and ActAdd, harmful and
    harmless), the α sweep, verdict shares and binary refusal per method and comparison setting,
    the layer sweep, r̂·μ⁻, the unembedding cosines per layer and training facts."""
    c = result.config
    first = result.labels[0]
    out: dict[str, Any] = {"layer": c.layer, "sites": c.sites, "focus_layer": result.layer[first],
                           "hook": result.hook_names[first][result.layer[first]], "positions": c.positions,
                           "n_eval": int(result.baseline.shape[-1]), "alphas": list(c.alphas),
                           "temperature": c.temperature, "num_samples": c.num_samples,
                           "settings": result.settings[first], "seconds": result.seconds, "models": {}}
    for m, label in enumerate(result.labels):
        sweep = _sweep(result, m)
        at = {}
        for alpha in (0.0, 0.5, 1.0):
            i = result.alpha_index(alpha)
            at[f"alpha={alpha:g}"] = {
                method: {
                    "harmful": sweep[method]["refusal_harmful"][i],
                    "harmless": sweep[method]["refusal_harmless"][i],
                }
                for method in SWEEP_METHODS
            }
        methods = {
            setting["name"]: {
                title: {prompt_set: _shares(result, result.methods[m, ci, k, s], result.methods_refusal[m, ci, k, s])
                        for s, prompt_set in enumerate(SETS)}
                for k, (title, _method, _alpha) in enumerate(METHOD_SETTINGS)}
            for ci, setting in enumerate(result.settings[label])}
        layers = {method: [_r(x) for x in result.refusal_rate(result.layer_sweep[label][:, k])]
                  for k, method in enumerate(LAYER_METHODS)}
        info = result.models.get(label, {})
        sites = [*result.hook_names[label], *info.get("sublayer_names", [])]
        out["models"][label] = {
            "held_out": {k: _r(v) for k, v in result.held_out_rates(m).items()},
            "refusal_at": at,
            "sweep": sweep,
            "methods": methods,
            "layer_sweep_refusal_harmful": layers,
            "reference_coordinate": _r(result.reference_coordinate(m)),
            "direction_norm": _r(result.direction[label][result.layer[label]].norm()),
            "unembed_cosine": [_r(x) for x in result.unembed_cosine[label]],
            "separation_auc": {site: _r(x) for site, x in zip(sites, result.separation_auc[label])},
            "train_seconds": info.get("train_seconds"),
            "final_loss": info.get("final_loss"),
        }
    return out
