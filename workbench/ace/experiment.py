"""`run(config) -> AceResult`: per model, the refusal direction per layer, held-out rates, the α
sweep (ACE and ActAdd), the method comparison, the layer sweep and the projection picture."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from workbench.ace.coherence import LikelihoodJudge
from workbench.ace.config import (
    CHAT_ARCH,
    LAYER_METHODS,
    METHOD_SETTINGS,
    SWEEP_METHODS,
    AceConfig,
    band,
    comparison_settings,
)
from workbench.ace.judge_check import judge_accuracy
from workbench.ace.judges import SKIPPED, verdict_codes
from workbench.ace.live import Judged, Steering, steered_completions, steered_settings
from workbench.ace.methods import steering_method
from workbench.ace.models import (
    PARALLEL_TRAINING_WORK,
    toy_parameters,
    train_embedded_models,
    training_work,
)
from workbench.ace.prompt_sets import prompt_rows, prompt_sets
from workbench.ace.result import AceResult
from workbench.ace.session import ModelSession, check_context, check_steerable_layer, open_session, steerable
from workbench.ace.sites import SiteDirections, unembedding_cosine
from workbench.core.cache import ArtifactCache
from workbench.core.executor import Executor, as_executor, map_cells
from workbench.core.seeding import choose_device
from workbench.core.threads import folder_parameters, thread_policy, torch_threads
from workbench.core.validation import check_int
from workbench.lm.folders import check_causal_lm_folder, folder_facts
from workbench.tensor.separation import separation_auc


def _focus(config: AceConfig, n_layers: int) -> int:
    """The block of the one-layer views (figure 4, the one-layer variant, Arditi's direction): the
    configured one, else the middle block."""
    if isinstance(config.layer, int):
        return check_int("layer", config.layer, low=0, high=n_layers - 1)
    return n_layers // 2


def site_directions(config: AceConfig, session: ModelSession, prompts: dict[str, list[str]],
                    focus: int) -> tuple[SiteDirections, list[bool]]:
    """Every site's r = μ⁺ − μ⁻ and μ⁻ from one activation pass per prompt set, and which residual
    layers have a non-zero direction (checked for the configured layer before any generation)."""
    L, names = session.n_layers, [*session.hook_names, *session.sublayer_names]
    pos = session.activations(prompts["harmful_direction"], config.batch_size, names)
    neg = session.activations(prompts["harmless_direction"], config.batch_size, names)
    mu_neg = neg.mean(0)
    direction = pos.mean(0) - mu_neg  # [L + 2L, d]
    ok = steerable(direction[:L], torch.cat([pos, neg])[:, :L])
    check_steerable_layer(ok, focus, session.hook_names)
    d = direction.shape[-1]
    sub = slice(L, None) if session.sublayer_names else slice(0, 0)
    table = SiteDirections(session.hook_names, direction[:L], mu_neg[:L], session.sublayer_names,
                           direction[sub] if session.sublayer_names else torch.zeros(0, d),
                           mu_neg[sub] if session.sublayer_names else torch.zeros(0, d), session.input_names, focus)
    table.sites(config.sites, config.layer if config.layer is not None else focus)  # a zero direction fails now
    return table, ok


class _Runner:
    """Judged completions of the harmful + harmless eval prompts in one generation call per
    (edits, positions, temperature), remembered so a setting shared by two views runs once."""

    def __init__(self, config: AceConfig, session: ModelSession, prompts: dict[str, list[str]],
                 table: SiteDirections) -> None:
        self.config, self.session, self.table = config, session, table
        self.harmful, self.harmless = prompts["harmful_eval"], prompts["harmless_eval"]
        self.memo: dict[tuple, tuple[Tensor, Tensor, list[str]]] = {}

    @staticmethod
    def key(steering: Steering, temperature: float) -> tuple:
        """Equal keys, equal completions: the method's `edit_key`, positions and temperature — no
        positions for an edit-free key (the unsteered model, ActAdd at α = 0): nothing is edited anywhere."""
        key = steering_method(steering.method).edit_key(steering.alpha, steering.sites, steering.layer)
        return (*key, temperature) if key == ("none",) else (*key, steering.positions, temperature)

    def prefetch(self, jobs: list[tuple[Steering, float]], progress: bool = False) -> None:
        """Run every (steering, temperature) not yet remembered, one generation pass per
        (positions, temperature): rows = settings × prompts × samples (`steered_settings`)."""
        todo: dict[tuple, tuple[Steering, float]] = {}
        for steering, temperature in jobs:
            todo.setdefault(self.key(steering, temperature), (steering, temperature))
        groups: dict[tuple[str, float], list[tuple[tuple, Steering]]] = {}
        for key, (steering, temperature) in todo.items():
            if key not in self.memo:
                groups.setdefault((steering.positions, temperature), []).append((key, steering))
        c = self.config
        for (_positions, temperature), members in groups.items():
            out = steered_settings(self.session, self.table, self.harmful + self.harmless, [s for _, s in members],
                                   c.max_new_tokens, c.batch_size, temperature, c.samples_at(temperature), progress)
            for (key, _), judged in zip(members, out):
                self.memo[key] = self._codes(judged)

    @staticmethod
    def _codes(out: Judged) -> tuple[Tensor, Tensor, list[str]]:
        return (verdict_codes(out.verdicts).reshape(2, -1),
                torch.tensor(out.refuses, dtype=torch.int64).reshape(2, -1), out.texts)

    def judged(self, steering: Steering, temperature: float) -> tuple[Tensor, Tensor, list[str]]:
        """(verdict codes [S, N·k], refuses-anywhere 0/1 [S, N·k], completions) with k samples per
        prompt (prompt-major: prompt i's samples are entries i·k … i·k + k − 1)."""
        key = self.key(steering, temperature)
        if key not in self.memo:
            c = self.config
            out = steered_completions(self.session, self.table, self.harmful + self.harmless, steering,
                                      c.max_new_tokens, c.batch_size, temperature, c.samples_at(temperature))
            self.memo[key] = self._codes(out)
        return self.memo[key]


def _jobs(config: AceConfig, main_layer: int | str, settings: list, ok: list[bool]) -> list[tuple[Steering, float]]:
    """Every (steering, temperature) `_run_model` reads, in its order: the baseline, the α sweep,
    the method comparison per setting and the layer sweep (when asked, at steerable layers)."""
    jobs = [(Steering("none", 0.0, config.sites, main_layer, config.positions), 0.0)]
    jobs += [(Steering(method, alpha, config.sites, main_layer, config.positions), config.temperature)
             for method in SWEEP_METHODS for alpha in config.alphas]
    jobs += [(Steering(method, alpha, s.sites, s.layer, s.positions), s.temperature)
             for s in settings if s.runs for _title, method, alpha in METHOD_SETTINGS]
    if config.layer_sweep:
        jobs += [(Steering(method, 0.0, "residual", li, config.positions), 0.0)
                 for li, steerable_here in enumerate(ok) if steerable_here for method in LAYER_METHODS]
    return jobs


def _padded(codes: Tensor, width: int) -> Tensor:
    return torch.cat([codes, torch.full((*codes.shape[:-1], width - codes.shape[-1]), SKIPPED, dtype=codes.dtype)], -1)


def _run_model(
    config: AceConfig, session: ModelSession, prompts: dict[str, list[str]], progress: bool
) -> dict[str, Any]:
    config = replace(config, sites=session.sites)  # "auto" resolved on this model (ModelSession.sites)
    L = session.n_layers
    focus = _focus(config, L)
    table, ok = site_directions(config, session, prompts, focus)
    main_layer = config.layer if config.layer is not None else focus
    runner = _Runner(config, session, prompts, table)
    auc, evals = _separation(config, session, table, runner)  # before any verdict: it chooses the band
    blocks = band(auc[:L].tolist())
    settings = [s for s in comparison_settings(config, focus, blocks)
                if s.sites != "sublayers" or session.sublayer_names]
    n = len(runner.harmful)
    width = n * max(config.samples_at(t) for t in (config.temperature, *config.sample_temperatures))

    def judged(method: str, alpha: float, sites: str, layer: int | str, positions: str, temperature: float):
        return runner.judged(Steering(method, alpha, sites, layer, positions), temperature)

    runner.prefetch(_jobs(config, main_layer, settings, ok), progress)  # a few large passes, not one per setting

    total = 1 + len(SWEEP_METHODS) * len(config.alphas) + len(settings) * len(METHOD_SETTINGS) + L * len(LAYER_METHODS)
    bar = tqdm(total=total, desc=f"steering {session.label}", disable=not progress, leave=False)
    baseline = judged("none", 0.0, config.sites, main_layer, config.positions, 0.0)[0]
    bar.update()
    sweep, sweep_refusal = [], []
    for method in SWEEP_METHODS:
        rows, any_rows = [], []
        for alpha in config.alphas:
            codes, refuses, _ = judged(method, alpha, config.sites, main_layer, config.positions, config.temperature)
            rows.append(codes)
            any_rows.append(refuses)
            bar.update()
        sweep.append(torch.stack(rows))
        sweep_refusal.append(torch.stack(any_rows))
    sweep_score = _sweep_scores(config, session, runner, main_layer)
    methods, methods_refusal, examples = _comparison(config, runner, settings, width, bar)
    layer_rows = []
    for li in range(L):
        row = []
        for method in LAYER_METHODS:
            if not ok[li] or not config.layer_sweep:  # no direction to steer along, or not asked: marked
                row.append(torch.full((n,), SKIPPED, dtype=torch.int64))
            else:
                row.append(judged(method, 0.0, "residual", li, config.positions, 0.0)[0][0])
            bar.update()
        layer_rows.append(torch.stack(row))
    bar.close()
    rhat = table.residual[focus] / table.residual[focus].norm()
    projection = (evals[:, focus] @ rhat).reshape(2, n)
    unembed, gain = session.unembedding()
    cosine = unembedding_cosine(table.residual, unembed, gain, session.refusal_ids, session.answer_ids)
    return {"direction": table.residual, "mu_neg": table.residual_mu_neg, "sub_direction": _sub(table, L, "sublayer"),
            "sub_mu_neg": _sub(table, L, "sublayer_mu_neg"), "baseline": baseline, "sweep": torch.stack(sweep),
            "sweep_refusal": torch.stack(sweep_refusal), "sweep_score": sweep_score,
            "methods": methods, "methods_refusal": methods_refusal,
            "layer_sweep": torch.stack(layer_rows), "projection": projection, "unembed_cosine": cosine.float(),
            "separation_auc": auc, "hook_names": list(session.hook_names), "prompts": prompts,
            "layer": focus, "settings": [setting.as_dict() for setting in settings], "examples": examples,
            "sublayer_names": list(session.sublayer_names), "input_names": list(session.input_names)}


def _sweep_scores(config: AceConfig, session: ModelSession, runner: _Runner, main_layer: int | str) -> Tensor:
    """The logit refusal score of every eval prompt at every (sweep method, α): [M, A, S, N], in
    one pass over the rows (setting × prompt)."""
    settings = [runner.table.edits(method, alpha, config.sites, main_layer)
                for method in SWEEP_METHODS for alpha in config.alphas]
    scores = session.scores_settings(runner.harmful + runner.harmless, settings, config.positions, config.batch_size)
    return scores.view(len(SWEEP_METHODS), len(config.alphas), 2, len(runner.harmful)).float()


def _comparison(config: AceConfig, runner: _Runner, settings: list, width: int,
                bar: tqdm) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """Figure 2's table: verdicts and binary refusals [C, K, S, width] of every METHOD_SETTINGS
    entry in every comparison setting (SKIPPED for an empty band and past a setting's completions),
    and the first three completions of each set as examples."""
    n = len(runner.harmful)
    methods, methods_refusal, examples = [], [], {}
    for setting in settings:
        rows, any_rows = [], []
        for title, method, alpha in METHOD_SETTINGS:
            bar.update()
            if not setting.runs:  # an empty band: recorded as not measured
                rows.append(torch.full((2, width), SKIPPED, dtype=torch.int64))
                any_rows.append(torch.full((2, width), SKIPPED, dtype=torch.int64))
                continue
            codes, refuses, texts = runner.judged(
                Steering(method, alpha, setting.sites, setting.layer, setting.positions), setting.temperature)
            rows.append(_padded(codes, width))
            any_rows.append(_padded(refuses, width))
            k = config.samples_at(setting.temperature)
            examples[f"{title} [{setting.name}]"] = {"harmful": texts[: 3 * k : k],
                                                     "harmless": texts[n * k : n * k + 3 * k : k]}
        methods.append(torch.stack(rows))
        methods_refusal.append(torch.stack(any_rows))
    return torch.stack(methods), torch.stack(methods_refusal), examples


def _separation(config: AceConfig, session: ModelSession, table: SiteDirections,
                runner: _Runner) -> tuple[Tensor, Tensor]:
    """(held-out AUC of r̂·v, harmful vs harmless eval prompts at the last prompt token, at every
    residual site then every sublayer site — ½ each for a model without sublayer sites — [3L];
    the eval prompts' residual activations [2N, L, d], harmful first) from one activation pass."""
    L, n = session.n_layers, len(runner.harmful)
    names = [*session.hook_names, *session.sublayer_names]
    directions = torch.cat([table.residual, table.sublayer]) if session.sublayer_names else table.residual
    acts = session.activations(runner.harmful + runner.harmless, config.batch_size, names)
    auc = separation_auc(directions, acts[:n], acts[n:]).float()
    auc = auc if session.sublayer_names else torch.cat([auc, torch.full((2 * L,), 0.5)])
    return auc, acts[:, :L]


def _sub(table: SiteDirections, L: int, field: str) -> Tensor:
    """A sublayer tensor [2L, d] (zeros for a model without sublayer hooks, so models stack)."""
    value = getattr(table, field)
    return value if value.shape[0] == 2 * L else torch.zeros(2 * L, table.residual.shape[-1])


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


# SmolLM2-135M-Instruct's parameters (workbench.lm.gguf facts): the thread policy's work for the chat model
CHAT_PARAMETERS = 134_515_008


def _parameters(config: AceConfig, arch: str | None) -> int | None:
    """About how many parameters the model has: the thread policy's work (None: unknown)."""
    if arch == CHAT_ARCH:
        return CHAT_PARAMETERS
    if config.is_embedded:
        return toy_parameters(config)
    return folder_parameters(config.model)


def _model_cell(config: AceConfig, index: int, cache_root: Path | None, prompts: dict[str, list[str]],
                lines: dict[str, list[int]] | None, device: str | None,
                progress: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """One model's measurements and facts (a cell of the per-model grid)."""
    arch = config.runs()[index][0] if config.is_embedded else None
    # tiny embedded models: one thread on the CPU (core.threads); a Ray cell applies the same policy
    with thread_policy(device, _parameters(config, arch)) as threads:
        session = open_session(config, index, cache_root, progress, device)
        check_context(session, prompts, lines, config.max_new_tokens)
        measured = _run_model(config, session, prompts, progress)
    facts = folder_facts(session.folder)
    judge = _judge_facts(session)
    kept = ("train_seconds", "final_loss", "harmless_unchanged", "trainable_parameters")
    return measured, {"folder": str(session.folder), "arch": arch, "threads": threads, "sites": session.sites,
                      "sublayer_names": measured.pop("sublayer_names"), "input_names": measured.pop("input_names"),
                      **{k: facts.get(k) for k in kept}, "judge": judge,
                      "d_model": int(measured["direction"].shape[-1])}


def _judge_facts(session: ModelSession) -> dict[str, Any]:
    """The judge's name, and for a judge of real text its thresholds (greedy, and each sampling
    temperature the run judged: {"0": …, "1.5": …}) and its accuracy on the project's labelled
    check set (`workbench.ace.judge_check`: refusal / answer / broken; greedy text)."""
    judge = session.judge
    out: dict[str, Any] = {"name": type(judge).__name__}
    if isinstance(judge, LikelihoodJudge):
        with torch_threads(session.threads):
            check = judge_accuracy(judge)
        out.update(threshold=round(judge.threshold, 4),
                   thresholds={f"{t:g}": round(v, 4) for t, v in sorted(judge.thresholds.items())},
                   check_accuracy=round(check["accuracy"], 4),
                   check_per_label={k: round(v, 4) for k, v in check["per_label"].items()}, check_rows=check["n"])
    return out


def _model_prompts(config: AceConfig) -> tuple[list[dict[str, list[str]]], dict[str, list[int]] | None]:
    """Each model's prompt sets (embedded: by arch; real: the user's files, with their line numbers)."""
    if config.is_embedded:
        return [prompt_sets(config, arch) for arch, _ in config.runs()], None
    rows = prompt_rows(config)
    prompts = {key: [row.text for row in part] for key, part in rows.items()}
    return [prompts], {key: [row.line for row in part] for key, part in rows.items()}


def _run(config: AceConfig, progress: bool, cache: ArtifactCache | None, device: str | torch.device | None,
         executor: Executor) -> AceResult:
    start = time.perf_counter()
    cache_root = cache.root if cache is not None else None
    if not config.is_embedded:
        check_causal_lm_folder(config.model)  # before reading prompt files: the likelier mistake first
    prompts, lines = _model_prompts(config)
    toys = [(arch, i) for arch, i in config.runs() if arch != CHAT_ARCH] if config.is_embedded else []
    local_cpu = executor.kind == "local" and device is not None and torch.device(device).type == "cpu"
    if local_cpu and training_work(config) >= PARALLEL_TRAINING_WORK:
        # tiny models train on one thread each (core.threads): two processes use both cores
        train_embedded_models(config, toys, cache_root, min(2, os.cpu_count() or 1), progress)
    cells = [(config, index, cache_root, prompts[index], lines, None if device is None else str(device))
             for index in range(len(config.labels()))]
    out = map_cells(_model_cell, cells, executor, progress=progress, description="ace models")
    labels = list(config.labels())
    per_model = dict(zip(labels, (measured for measured, _ in out)))
    models = {label: facts for label, (_, facts) in zip(labels, out)}

    def stack(key: str) -> Tensor:
        return torch.stack([m[key] for m in per_model.values()]).contiguous()

    def each(key: str) -> dict[str, Any]:
        return {label: m[key] for label, m in per_model.items()}

    return AceResult(
        config=config, direction=each("direction"), mu_neg=each("mu_neg"), sub_direction=each("sub_direction"),
        sub_mu_neg=each("sub_mu_neg"), baseline=stack("baseline"), sweep=stack("sweep"),
        sweep_refusal=stack("sweep_refusal"), sweep_score=stack("sweep_score"), methods=stack("methods"),
        methods_refusal=stack("methods_refusal"), layer_sweep=each("layer_sweep"), projection=stack("projection"),
        unembed_cosine=each("unembed_cosine"), separation_auc=each("separation_auc"), labels=labels,
        layer=each("layer"), settings=each("settings"), hook_names=each("hook_names"), prompts=each("prompts"),
        examples=each("examples"), models=models, seconds=round(time.perf_counter() - start, 2),
    )
