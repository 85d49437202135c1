"""`run(config) -> AceResult`: per model, the refusal direction per layer, held-out rates, the α
sweep (ACE and ActAdd), the method comparison, the layer sweep and the projection picture."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from workbench.ace.config import LAYER_METHODS, METHOD_SETTINGS, SWEEP_METHODS, AceConfig
from workbench.ace.judges import SKIPPED, verdict_codes
from workbench.ace.models import instruction_set
from workbench.ace.prompts import PromptRow, load_prompt_rows
from workbench.ace.result import AceResult, alternative_positions, steering_edits
from workbench.ace.session import ModelSession, check_context, check_steerable_layer, open_session, steerable
from workbench.lm.folders import check_causal_lm_folder, folder_facts
from workbench.tensor.cache import ArtifactCache
from workbench.tensor.executor import Executor, as_executor, map_cells
from workbench.tensor.seeding import choose_device
from workbench.tensor.threads import folder_parameters, thread_policy
from workbench.tensor.validation import check_int


def prompt_rows(config: AceConfig) -> dict[str, list[PromptRow]]:
    """The user's prompt files split into harmful/harmless × direction/eval, each prompt with its
    file and line (the real path only)."""
    out = {}
    for kind, path in (("harmful", config.harmful_file), ("harmless", config.harmless_file)):
        rows = load_prompt_rows(path, config.column, name=f"{kind}_file")
        if len(rows) < 2:
            raise ValueError(f"`{kind}_file` needs at least 2 prompts (direction and evaluation); got {len(rows)}")
        n_dir = min(config.n_direction, len(rows) // 2)
        out[f"{kind}_direction"] = rows[:n_dir]
        out[f"{kind}_eval"] = rows[n_dir:n_dir + config.n_eval]
    n = min(len(out["harmful_eval"]), len(out["harmless_eval"]))
    out["harmful_eval"], out["harmless_eval"] = out["harmful_eval"][:n], out["harmless_eval"][:n]
    return out


def prompt_sets(config: AceConfig) -> dict[str, list[str]]:
    """Raw requests: harmful/harmless × direction/eval."""
    if config.is_embedded:
        d = instruction_set(config)
        return {"harmful_direction": list(d.harmful_direction), "harmless_direction": list(d.harmless_direction),
                "harmful_eval": list(d.harmful_eval), "harmless_eval": list(d.harmless_eval)}
    return {key: [row.text for row in rows] for key, rows in prompt_rows(config).items()}


def _verdicts(session: ModelSession, requests: list[str], completions: list[str]) -> Tensor:
    return verdict_codes(session.judge(requests, completions))


def _run_model(config: AceConfig, session: ModelSession, prompts: dict[str, list[str]], progress: bool) -> dict[str, Any]:
    L = session.n_layers
    layer = L // 2 if config.layer is None else check_int("layer", config.layer, low=0, high=L - 1)
    harmful, harmless = prompts["harmful_eval"], prompts["harmless_eval"]
    pos = session.activations(prompts["harmful_direction"], config.batch_size)
    neg = session.activations(prompts["harmless_direction"], config.batch_size)
    mu_neg = neg.mean(0)
    direction = pos.mean(0) - mu_neg  # [L, d]
    ok = steerable(direction, torch.cat([pos, neg]))
    check_steerable_layer(ok, layer, session.hook_names)  # before any generation

    def run_edits(edits: dict | None, positions: str = config.positions) -> tuple[list[str], list[str]]:
        return (session.complete(harmful, edits, positions, config.max_new_tokens, config.batch_size),
                session.complete(harmless, edits, positions, config.max_new_tokens, config.batch_size))

    def verdict_pair(completions: tuple[list[str], list[str]]) -> Tensor:
        return torch.stack([_verdicts(session, harmful, completions[0]), _verdicts(session, harmless, completions[1])])

    def edits_at(method: str, alpha: float, li: int = layer) -> dict | None:
        return steering_edits(session.hook_names[li], method, direction[li], mu_neg[li], alpha)

    total = 1 + len(SWEEP_METHODS) * len(config.alphas) + 2 * len(METHOD_SETTINGS) + L * len(LAYER_METHODS)
    bar = tqdm(total=total, desc=f"steering {session.label}", disable=not progress, leave=False)
    baseline = verdict_pair(run_edits(None))
    bar.update()
    sweep, sweep_score = [], []
    for method in SWEEP_METHODS:
        rows, score_rows = [], []
        for alpha in config.alphas:
            edits = edits_at(method, alpha)
            rows.append(verdict_pair(run_edits(edits)))
            score_rows.append(torch.stack([session.scores(harmful, edits, config.positions, config.batch_size),
                                           session.scores(harmless, edits, config.positions, config.batch_size)]))
            bar.update()
        sweep.append(torch.stack(rows))
        sweep_score.append(torch.stack(score_rows))
    methods, examples = [], {}
    for title, method, alpha in METHOD_SETTINGS:
        completions = run_edits(edits_at(method, alpha))
        methods.append(verdict_pair(completions))
        examples[title] = {"harmful": completions[0][:4], "harmless": completions[1][:4]}
        bar.update()
    alt = alternative_positions(config.positions)
    methods_alt = []
    for title, method, alpha in METHOD_SETTINGS:  # the same comparison, edits at the other positions
        completions = run_edits(edits_at(method, alpha), alt)
        methods_alt.append(verdict_pair(completions))
        examples[f"{title} [{alt}]"] = {"harmful": completions[0][:2], "harmless": completions[1][:2]}
        bar.update()
    layer_rows = []
    for li in range(L):
        row = []
        for method in LAYER_METHODS:
            if not ok[li]:  # no direction to steer along: marked, not measured
                row.append(torch.full((len(harmful),), SKIPPED, dtype=torch.int64))
            else:
                edits = edits_at(method, 0.0, li)
                row.append(_verdicts(session, harmful, session.complete(harmful, edits, config.positions,
                                                                      config.max_new_tokens, config.batch_size)))
            bar.update()
        layer_rows.append(torch.stack(row))
    bar.close()
    rhat = direction[layer] / direction[layer].norm()
    evals = session.activations(harmful + harmless, config.batch_size)[:, layer]
    projection = (evals @ rhat).reshape(2, len(harmful))
    return {"direction": direction, "mu_neg": mu_neg, "baseline": baseline, "sweep": torch.stack(sweep),
            "sweep_score": torch.stack(sweep_score).float(), "methods": torch.stack(methods),
            "methods_alt": torch.stack(methods_alt),
            "layer_sweep": torch.stack(layer_rows), "projection": projection, "layer": layer, "examples": examples}


def run(config: AceConfig, *, progress: bool = True, device: str | torch.device | None = "cpu",
        executor: str | Executor = "local", cache: ArtifactCache | None = None) -> AceResult:
    """Train (or load) the models, then measure everything `AceResult` holds.

    The suite contract's signature (`workbench.suite`): models boot on `device` (None: CUDA when
    available; `config.device_map` overrides it for a model spread over GPUs); `executor="ray"`
    (or an `Executor`) measures each model in its own Ray task (each boots its model from the
    folder cache), with the same result; `cache` keeps the trained embedded models."""
    if not isinstance(config, AceConfig):
        raise ValueError(f"`config` must be an AceConfig; got {type(config).__name__}")
    if config.device_map is None:
        device = choose_device(device)  # a bad device fails here, before any training
    return _run(config, progress, cache, device, as_executor(executor))


def _parameters(config: AceConfig) -> int | None:
    """About how many parameters each model has: the thread policy's work (None: unknown)."""
    if config.is_embedded:  # Llama-shaped: attention 4d², MLP 3·d·d_mlp per layer (the word vocabulary is small)
        return config.n_layers * (4 * config.d_model**2 + 3 * config.d_model * config.d_mlp)
    return folder_parameters(config.model)


def _model_cell(config: AceConfig, index: int, cache_root: Path | None, prompts: dict[str, list[str]],
                lines: dict[str, list[int]] | None, device: str | None,
                progress: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """One model's measurements and facts (a cell of the per-model grid)."""
    # tiny embedded models: one thread on the CPU (tensor.threads); a Ray cell applies the same policy
    with thread_policy(device, _parameters(config)):
        session = open_session(config, index, cache_root, progress, device)
        check_context(session, prompts, lines, config.max_new_tokens)
        measured = _run_model(config, session, prompts, progress)
    facts = folder_facts(session.folder)
    return measured, {"folder": str(session.folder), "hook_names": session.hook_names,
                      "train_seconds": facts.get("train_seconds"), "final_loss": facts.get("final_loss"),
                      "d_model": int(measured["direction"].shape[-1])}


def _run(config: AceConfig, progress: bool, cache: ArtifactCache | None, device: str | torch.device | None,
         executor: Executor) -> AceResult:
    start = time.perf_counter()
    cache_root = cache.root if cache is not None else None
    if not config.is_embedded:
        check_causal_lm_folder(config.model)  # before reading prompt files: the likelier mistake first
    if config.is_embedded:
        prompts, lines = prompt_sets(config), None
    else:
        rows = prompt_rows(config)
        prompts = {key: [row.text for row in part] for key, part in rows.items()}
        lines = {key: [row.line for row in part] for key, part in rows.items()}
    cells = [(config, index, cache_root, prompts, lines, None if device is None else str(device))
             for index in range(len(config.labels()))]
    out = map_cells(_model_cell, cells, executor, progress=progress, description="ace models")
    per_model = [measured for measured, _ in out]
    models = {label: facts for label, (_, facts) in zip(config.labels(), out)}
    widths = {m["direction"].shape for m in per_model}
    if len(widths) > 1:
        raise ValueError(f"the models' direction shapes differ ({widths}); give models of one width and depth")

    def stack(key: str) -> Tensor:
        return torch.stack([m[key] for m in per_model]).contiguous()

    return AceResult(
        config=config, direction=stack("direction"), mu_neg=stack("mu_neg"), baseline=stack("baseline"),
        sweep=stack("sweep"), sweep_score=stack("sweep_score"), methods=stack("methods"), methods_alt=stack("methods_alt"),
        layer_sweep=stack("layer_sweep"), projection=stack("projection"), labels=list(config.labels()),
        layer=per_model[0]["layer"], hook_names=models[config.labels()[0]]["hook_names"], prompts=prompts,
        examples={label: m["examples"] for label, m in zip(config.labels(), per_model)}, models=models,
        seconds=round(time.perf_counter() - start, 2),
    )
