"""Numbers for the docs' claims table, measured from an `AceResult` (JSON-able).

`models` holds one entry per model (arch), its instances aggregated: every number is the mean over
the instances, `range` mirrors the tree with [min, max] of each number, and `per_instance` holds
each instance's own entry (`instance_summary`). A model measured once is its instance's entry, with
`instances` 1 and degenerate ranges.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from workbench.ace.config import LAYER_METHODS, METHOD_SETTINGS, SETS, SWEEP_METHODS
from workbench.ace.judges import VERDICTS
from workbench.ace.result import AceResult

# `refusal_at` reports these α values when the sweep ran them: removal (0), midpoint (½), induction (1)
REPORTED_ALPHAS = (0.0, 0.5, 1.0)


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
    """Per model (instances aggregated, module docstring): held-out rates, refusal rates at α = 0
    and 1 (ACE and ActAdd, harmful and harmless), the α sweep, verdict shares and binary refusal
    per method and comparison setting, the layer sweep, r̂·μ⁻, the unembedding cosines and the
    separation AUC per site, the judge and training facts — plus the machine they ran on."""
    out = instance_summary(result)
    groups: dict[str, list[str]] = {}
    for label in result.labels:
        groups.setdefault(_model_of(result, label), []).append(label)
    per_label = out["models"]
    out["models"] = {model: {**aggregate([per_label[label] for label in labels]),
                             "instances": len(labels), "range": spread([per_label[label] for label in labels]),
                             "per_instance": {label: per_label[label] for label in labels}}
                     for model, labels in groups.items()}
    out["machine"] = machine_facts()
    return out


def _model_of(result: AceResult, label: str) -> str:
    """The model an instance label belongs to: its arch ("smollm2#1" → "smollm2"), else the label."""
    return result.models.get(label, {}).get("arch") or label


def _fold(trees: list[Any], numbers: Callable[[list[float]], Any], other: Callable[[list[Any]], Any]) -> Any:
    """Walk equally shaped JSON trees together (dicts by the keys all share, equal-length lists
    element-wise): `numbers(leaves)` where every tree holds a finite number, else `other(leaves)`."""
    first = trees[0]
    if isinstance(first, dict):
        return {k: _fold([t[k] for t in trees], numbers, other)
                for k in first if all(isinstance(t, dict) and k in t for t in trees)}
    if isinstance(first, list) and all(isinstance(t, list) and len(t) == len(first) for t in trees):
        return [_fold([t[i] for t in trees], numbers, other) for i in range(len(first))]
    return numbers(trees) if all(_number(t) for t in trees) else other(trees)


def aggregate(trees: list[Any]) -> Any:
    """The mean over instances of every number in equally shaped JSON trees; a non-number is kept
    when all instances agree, else the list of them."""
    return _fold(trees, lambda xs: _r(sum(xs) / len(xs)), lambda xs: xs[0] if all(x == xs[0] for x in xs) else xs)


def spread(trees: list[Any]) -> Any:
    """[min, max] over instances of every number in equally shaped JSON trees (None elsewhere)."""
    return _fold(trees, lambda xs: [_r(min(xs)), _r(max(xs))], lambda xs: None)


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def machine_facts() -> dict[str, Any]:
    """Where the numbers were measured: CPU model, core count, torch and transformers versions
    (ACE's verdicts move with float rounding between CPUs: docs/ace.md)."""
    import platform

    import transformers

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__}


def instance_summary(result: AceResult) -> dict[str, Any]:
    """`summarize` before the instances are aggregated: `models` keyed by instance label."""
    c = result.config
    first = result.labels[0]
    out: dict[str, Any] = {"layer": c.layer, "sites": result.sites(first), "focus_layer": result.layer[first],
                           "hook": result.hook_names[first][result.layer[first]], "positions": c.positions,
                           "n_eval": int(result.baseline.shape[-1]), "alphas": list(c.alphas),
                           "temperature": c.temperature, "num_samples": c.num_samples,
                           "settings": result.settings[first], "seconds": result.seconds, "models": {}}
    for m, label in enumerate(result.labels):
        sweep = _sweep(result, m)
        at = {}
        for alpha in (a for a in REPORTED_ALPHAS if a in c.alphas):  # only α values that were run
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
            "sites": result.sites(m),
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
            "harmless_unchanged": info.get("harmless_unchanged"),
            "judge": info.get("judge"),
            "band": next((s["layer"] for s in result.settings[label] if isinstance(s["layer"], list)), None),
        }
    return out
