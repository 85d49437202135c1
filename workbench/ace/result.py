"""`AceResult`: directions, verdicts, refusal scores and projections of one `AceConfig` run."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from workbench.ace.config import (
    ALL_LAYERS,
    AUTO_SITES,
    LAYER_METHODS,
    METHOD_SETTINGS,
    SETS,
    SITE_CHOICES,
    SWEEP_METHODS,
    AceConfig,
)
from workbench.ace.judges import SKIPPED, VERDICTS
from workbench.ace.methods import SteeringMethod
from workbench.ace.sites import SiteDirections
from workbench.core.result import ArtifactError, Result, expect_shape
from workbench.core.validation import check_choice, check_int
from workbench.tensor.steering import SteeringEdit


@dataclass(frozen=True)
class AceResult(Result):
    """Axes: M models (`labels`: one per architecture and instance), L layers and d width (per
    model: the per-model fields are dicts keyed by label, since a real model and a toy differ in
    both), S = 2 prompt sets (0 harmful, 1 harmless), N eval prompts per set, A alphas, K =
    len(METHOD_SETTINGS), C comparison settings (`settings`), X completions per set (N × samples
    per prompt, prompt-major; SKIPPED −1 pads a setting with fewer), verdict codes 0 refusal, 1
    compliance, 2 incoherent; "refusal" 0/1 = the binary judge (refusal anywhere, `Judge.refuses`).

    Per model (dict label → tensor):
    direction [L, d] = μ⁺ − μ⁻ at the last prompt token at each block's residual hook; mu_neg
        [L, d] = μ⁻; sub_direction / sub_mu_neg [2L, d] the same at the sublayer sites (attn_0,
        mlp_0, attn_1, …; zeros for a model without them).
    layer_sweep [L, 2, N]: harmful prompts' greedy verdicts under LAYER_METHODS at α = 0 with one
        block's residual hook edited (SKIPPED at a layer whose direction is zero or not run).
    unembed_cosine [L]: cos(r̂_l, unembedding difference of refusal vs answer openers).
    separation_auc [L + 2L]: held-out AUC of r̂·v, harmful vs harmless eval prompts, at each
        residual site then each sublayer site (`workbench.tensor.separation`; ½ for zero
        directions; sublayer entries ½ for a model without sublayer sites).
    layer, hook_names, settings, prompts: the model's focus block, residual hook names,
        comparison settings and prompt sets.

    Stacked over models:
    baseline [M, S, N]: greedy verdicts unsteered (the held-out refusal / answer rates).
    sweep, sweep_refusal [M, 2, A, S, X] and sweep_score [M, 2, A, S, N]: verdicts, binary refusals
        and logit refusal scores for SWEEP_METHODS (ACE, ActAdd) at each α, on the configured
        sites × layer at the configured decoding.
    methods, methods_refusal [M, C, K, S, X]: per comparison setting, per METHOD_SETTINGS.
    projection [M, S, N]: r̂·v of the unsteered eval prompts at the model's focus block.
    """

    kind: ClassVar[str] = "AceResult"
    # NaN where a model has no one-token answer openers to compare refusal openers with
    may_be_nan: ClassVar[frozenset[str]] = frozenset({"unembed_cosine"})
    value_sources: ClassVar[dict[str, str]] = {
        "sweep_score": "`alphas` (α·r must stay finite in the model's `dtype`)", "direction": "`dtype`",
        "mu_neg": "`dtype`", "projection": "`dtype`"}

    config: AceConfig
    direction: dict[str, Float[Tensor, "L d"]]
    mu_neg: dict[str, Float[Tensor, "L d"]]
    sub_direction: dict[str, Float[Tensor, "L2 d"]]
    sub_mu_neg: dict[str, Float[Tensor, "L2 d"]]
    baseline: Int[Tensor, "M S N"]
    sweep: Int[Tensor, "M 2 A S X"]
    sweep_refusal: Int[Tensor, "M 2 A S X"]
    sweep_score: Float[Tensor, "M 2 A S N"]
    methods: Int[Tensor, "M C K S X"]
    methods_refusal: Int[Tensor, "M C K S X"]
    layer_sweep: dict[str, Int[Tensor, "L 2 N"]]
    projection: Float[Tensor, "M S N"]
    unembed_cosine: dict[str, Float[Tensor, " L"]]
    separation_auc: dict[str, Float[Tensor, " L3"]]
    labels: list[str]
    layer: dict[str, int]
    settings: dict[str, list[dict[str, Any]]]
    hook_names: dict[str, list[str]]
    prompts: dict[str, dict[str, list[str]]]
    examples: dict[str, Any]
    models: dict[str, Any]
    seconds: float

    def validate(self) -> None:
        M = len(self.labels)
        N, A, K = self.baseline.shape[-1], len(self.config.alphas), len(METHOD_SETTINGS)
        C = len(self.settings[self.labels[0]]) if self.labels and self.labels[0] in self.settings else -1
        X, Xc = self.sweep.shape[-1], self.methods.shape[-1]
        for field in ("direction", "mu_neg", "sub_direction", "sub_mu_neg", "layer_sweep", "unembed_cosine",
                      "separation_auc", "layer", "settings", "hook_names", "prompts"):
            if set(getattr(self, field)) != set(self.labels):
                raise ArtifactError(f"`{field}` must have one entry per model {self.labels}; "
                                    f"got {sorted(getattr(self, field))}")
        for label in self.labels:
            L, d = (tuple(self.direction[label].shape) + (0, 0))[:2]
            expect_shape(f"direction[{label!r}]", self.direction[label], (L, d))
            expect_shape(f"mu_neg[{label!r}]", self.mu_neg[label], (L, d))
            expect_shape(f"sub_direction[{label!r}]", self.sub_direction[label], (2 * L, d))
            expect_shape(f"sub_mu_neg[{label!r}]", self.sub_mu_neg[label], (2 * L, d))
            expect_shape(f"layer_sweep[{label!r}]", self.layer_sweep[label], (L, len(LAYER_METHODS), N))
            expect_shape(f"unembed_cosine[{label!r}]", self.unembed_cosine[label], (L,))
            expect_shape(f"separation_auc[{label!r}]", self.separation_auc[label], (3 * L,))
            if not 0 <= self.layer[label] < L or len(self.hook_names[label]) != L:
                raise ArtifactError(f"`layer` {self.layer[label]} / hook_names {len(self.hook_names[label])} of "
                                    f"{label!r} do not fit L={L}")
            if len(self.settings[label]) != C:
                raise ArtifactError(f"the models' comparison settings differ in number: {label!r} has "
                                    f"{len(self.settings[label])}, {self.labels[0]!r} {C}")
        expect_shape("baseline", self.baseline, (M, 2, N))
        expect_shape("sweep", self.sweep, (M, len(SWEEP_METHODS), A, 2, X))
        expect_shape("sweep_refusal", self.sweep_refusal, (M, len(SWEEP_METHODS), A, 2, X))
        expect_shape("sweep_score", self.sweep_score, (M, len(SWEEP_METHODS), A, 2, N))
        expect_shape("methods", self.methods, (M, C, K, 2, Xc))
        expect_shape("methods_refusal", self.methods_refusal, (M, C, K, 2, Xc))
        expect_shape("projection", self.projection, (M, 2, N))

    # --- views ------------------------------------------------------------------------------
    def model_index(self, label: str | int) -> int:
        if isinstance(label, int):
            if not 0 <= label < len(self.labels):
                raise ValueError(f"`model` index must be in [0, {len(self.labels) - 1}]; got {label}")
            return label
        if label not in self.labels:
            raise ValueError(f"`model` must be one of {self.labels}; got {label!r}")
        return self.labels.index(label)

    @staticmethod
    def share(codes: Tensor, verdict: str = "refusal") -> Tensor:
        """Share of the measured entries of the last axis equal to `verdict` (float; SKIPPED
        entries left out, NaN where none was measured)."""
        measured = (codes != SKIPPED).float()
        return (codes == VERDICTS.index(verdict)).float().sum(-1) / measured.sum(-1)

    def refusal_rate(self, codes: Tensor) -> Tensor:
        return self.share(codes, "refusal")

    @staticmethod
    def binary_rate(refusals: Tensor) -> Tensor:
        """Share of completions the binary judge calls refusals (SKIPPED entries left out)."""
        measured = (refusals != SKIPPED).float()
        return (refusals == 1).float().sum(-1) / measured.sum(-1)

    @property
    def method_names(self) -> list[str]:
        """The methods of figure 2's comparison, by name (e.g. "midpoint_projection")."""
        return [method for _title, method, _alpha in METHOD_SETTINGS]

    def groups(self) -> dict[str, list[int]]:
        """Model → the indices of its instances: labels "arch#i" share their arch (the run's facts
        say which), any other label is a model of its own. In `labels` order."""
        out: dict[str, list[int]] = {}
        for m, label in enumerate(self.labels):
            out.setdefault(self.models.get(label, {}).get("arch") or label, []).append(m)
        return out

    @staticmethod
    def pooled(codes: Tensor, members: list[int]) -> Tensor:
        """`codes` [M, …, X] of the instances `members` pooled along the last axis: [… , I·X]
        (every completion of every instance; a rate over it is the mean of the instances' rates)."""
        return torch.cat([codes[m] for m in members], dim=-1)

    def label(self, model: str | int) -> str:
        """The label of model `model` (a label or an index)."""
        return self.labels[self.model_index(model)]

    def sites(self, model: str | int) -> str:
        """Where model `model` was steered: the config's `sites`, "auto" resolved on that model."""
        return self.models[self.label(model)]["sites"]

    def n_layers(self, model: str | int) -> int:
        return len(self.hook_names[self.label(model)])

    def setting_index(self, name: str, model: str | int = 0) -> int:
        names = [s["name"] for s in self.settings[self.label(model)]]
        if name not in names:
            raise ValueError(f"`setting` must be one of {names}; got {name!r}")
        return names.index(name)

    def held_out_rates(self, model: str | int) -> dict[str, float]:
        """Unsteered: refusal rate on held-out harmful prompts, answer (compliance) rate on harmless."""
        m = self.model_index(model)
        return {"harmful_refusal": float(self.share(self.baseline[m, 0], "refusal")),
                "harmless_answer": float(self.share(self.baseline[m, 1], "compliance"))}

    def alpha_index(self, alpha: float) -> int:
        """Index of `alpha` in the swept `config.alphas`; ValueError when it was not run (no
        nearest-α stand-in: a number reported at α must have been measured at α)."""
        alphas = self.config.alphas
        hits = [i for i, a in enumerate(alphas) if math.isclose(a, alpha, rel_tol=0.0, abs_tol=1e-9)]
        if not hits:
            raise ValueError(f"`alpha` {alpha!r} was not run; the sweep ran {list(alphas)}")
        return hits[0]

    def direction_unit(self, model: str | int, layer: int | None = None) -> Float[Tensor, " d"]:
        label = self.label(model)
        r = self.direction[label][self.layer[label] if layer is None else layer]
        return r / r.norm()

    def reference_coordinate(self, model: str | int, layer: int | None = None) -> float:
        """r̂·μ⁻: where the harmless mean sits along the direction (0 would make ablations agree)."""
        label = self.label(model)
        li = self.layer[label] if layer is None else layer
        return float(self.direction_unit(label, li) @ self.mu_neg[label][li])

    def site_directions(self, model: str | int) -> SiteDirections:
        """Model `model`'s steering sites with their directions (what `edits` reads)."""
        label = self.label(model)
        info = self.models.get(label, {})
        subs = list(info.get("sublayer_names", []))
        sub, sub_mu = self.sub_direction[label], self.sub_mu_neg[label]
        return SiteDirections(self.hook_names[label], self.direction[label], self.mu_neg[label], subs,
                              sub if subs else sub[:0], sub_mu if subs else sub_mu[:0],
                              list(info.get("input_names", [])), self.layer[label])

    def edits(self, model: str | int, method: str | SteeringMethod, alpha: float = 0.0, layer: int | str | None = None,
              sites: str = "residual") -> dict[str, SteeringEdit] | None:
        """{hook name: the `method` edit at `alpha`} of model `model` on `sites` ("residual": the
        block's residual hook; "sublayers": its attention and MLP outputs; "auto": where the run
        steered this model, `sites(model)`) of `layer` (a block, "all"
        for every block with its own direction, None: the result's focus block `layer`), or None
        for "none" — what `ModelSession.complete(…, edits)` takes. Arditi's ablation ignores
        `sites` and `layer` (one direction everywhere). `method`: a name in
        `workbench.ace.methods.METHODS` or a `SteeringMethod` (applied as it is)."""
        check_choice("sites", sites, SITE_CHOICES)
        label = self.label(model)
        sites = self.sites(label) if sites == AUTO_SITES else sites
        L = self.n_layers(label)
        where = self.layer[label] if layer is None else layer
        if where != ALL_LAYERS:
            where = check_int("layer", where, low=0, high=L - 1)
        return self.site_directions(model).edits(method, alpha, sites, where)

    def sweep_curve(self, model: str | int, method: str, prompt_set: str) -> tuple[list[float], list[float]]:
        """(α values, refusal rate at each) of `method` (one of SWEEP_METHODS) on `prompt_set`'s
        prompts ("harmful" | "harmless"): one line of figure 1."""
        m = self.model_index(model)
        k, s = SWEEP_METHODS.index(check_choice("method", method, SWEEP_METHODS)), SETS.index(
            check_choice("prompt_set", prompt_set, SETS))
        return list(self.config.alphas), [float(x) for x in self.refusal_rate(self.sweep[m, k, :, s])]

    def alphas_tensor(self) -> Tensor:
        return torch.tensor(self.config.alphas)
