"""`AceResult`: directions, verdicts, refusal scores and projections of one `AceConfig` run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from workbench.ace.config import LAYER_METHODS, METHOD_SETTINGS, SWEEP_METHODS, AceConfig
from workbench.ace.judges import SKIPPED, VERDICTS
from workbench.tensor.result import ArtifactError, Result, expect_shape
from workbench.tensor.steering import SteeringEdit, make_edit
from workbench.tensor.validation import check_int


def alternative_positions(positions: str) -> str:
    """The positions setting figure 2 compares against: "prompt" for "all", else "all"."""
    return "prompt" if positions == "all" else "all"


def steering_edits(hook_name: str, method: str, direction: Float[Tensor, " d"], mu_neg: Float[Tensor, " d"],
                   alpha: float) -> dict[str, SteeringEdit] | None:
    """The `edits` argument of generation for one layer's `method` at `alpha`: {hook_name:
    make_edit(method, r, μ⁻, α)} with r = μ⁺ − μ⁻ and μ⁻ of that layer, or None for "none".
    The one place the experiment and the widget turn a direction into an edit."""
    edit = make_edit(method, direction, mu_neg, alpha)
    return None if edit is None else {hook_name: edit}


@dataclass(frozen=True)
class AceResult(Result):
    """Axes: M models (`labels`), L layers, d width, S = 2 prompt sets (0 harmful, 1 harmless),
    N eval prompts per set, A alphas, K = len(METHOD_SETTINGS), verdict codes 0 refusal,
    1 compliance, 2 incoherent.

    direction [M, L, d] = μ⁺ − μ⁻ at the last prompt token; mu_neg [M, L, d] = μ⁻.
    baseline [M, S, N]: verdicts unsteered (the held-out refusal / answer rates).
    sweep [M, 2, A, S, N] and sweep_score [M, 2, A, S, N]: verdicts and logit refusal scores for
        SWEEP_METHODS (ACE, ActAdd) at each α, at `layer`.
    methods [M, K, S, N]: verdicts per METHOD_SETTINGS at `layer`, edits at `config.positions`;
    methods_alt [M, K, S, N]: the same with edits at `alt_positions` ("prompt" when the config
        says "all", else "all").
    layer_sweep [M, L, 2, N]: harmful prompts' verdicts under LAYER_METHODS at α = 0 per layer
        (SKIPPED, −1, at a layer whose direction is zero: nothing to steer along there).
    projection [M, S, N]: r̂·v of the unsteered eval prompts at `layer`.
    """

    kind: ClassVar[str] = "AceResult"
    value_sources: ClassVar[dict[str, str]] = {
        "sweep_score": "`alphas` (α·r must stay finite in the model's `dtype`)", "direction": "`dtype`",
        "mu_neg": "`dtype`", "projection": "`dtype`"}

    config: AceConfig
    direction: Float[Tensor, "M L d"]
    mu_neg: Float[Tensor, "M L d"]
    baseline: Int[Tensor, "M S N"]
    sweep: Int[Tensor, "M 2 A S N"]
    sweep_score: Float[Tensor, "M 2 A S N"]
    methods: Int[Tensor, "M K S N"]
    methods_alt: Int[Tensor, "M K S N"]
    layer_sweep: Int[Tensor, "M L 2 N"]
    projection: Float[Tensor, "M S N"]
    labels: list[str]
    layer: int
    hook_names: list[str]
    prompts: dict[str, list[str]]
    examples: dict[str, Any]
    models: dict[str, Any]
    seconds: float

    def validate(self) -> None:
        M, (L, d) = len(self.labels), tuple(self.direction.shape[1:])
        N, A, K = self.baseline.shape[-1], len(self.config.alphas), len(METHOD_SETTINGS)
        expect_shape("direction", self.direction, (M, L, d))
        expect_shape("mu_neg", self.mu_neg, (M, L, d))
        expect_shape("baseline", self.baseline, (M, 2, N))
        expect_shape("sweep", self.sweep, (M, len(SWEEP_METHODS), A, 2, N))
        expect_shape("sweep_score", self.sweep_score, (M, len(SWEEP_METHODS), A, 2, N))
        expect_shape("methods", self.methods, (M, K, 2, N))
        expect_shape("methods_alt", self.methods_alt, (M, K, 2, N))
        expect_shape("layer_sweep", self.layer_sweep, (M, L, len(LAYER_METHODS), N))
        expect_shape("projection", self.projection, (M, 2, N))
        if not 0 <= self.layer < L or len(self.hook_names) != L:
            raise ArtifactError(f"`layer` {self.layer} / hook_names {len(self.hook_names)} do not fit L={L}")

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

    def held_out_rates(self, model: str | int) -> dict[str, float]:
        """Unsteered: refusal rate on held-out harmful prompts, answer (compliance) rate on harmless."""
        m = self.model_index(model)
        return {"harmful_refusal": float(self.share(self.baseline[m, 0], "refusal")),
                "harmless_answer": float(self.share(self.baseline[m, 1], "compliance"))}

    def alpha_index(self, alpha: float) -> int:
        alphas = self.config.alphas
        return min(range(len(alphas)), key=lambda i: abs(alphas[i] - alpha))

    def direction_unit(self, model: str | int, layer: int | None = None) -> Float[Tensor, "d"]:
        m, li = self.model_index(model), self.layer if layer is None else layer
        r = self.direction[m, li]
        return r / r.norm()

    def reference_coordinate(self, model: str | int, layer: int | None = None) -> float:
        """r̂·μ⁻: where the harmless mean sits along the direction (0 would make ablations agree)."""
        m, li = self.model_index(model), self.layer if layer is None else layer
        return float(self.direction_unit(m, li) @ self.mu_neg[m, li])

    def edits(self, model: str | int, method: str, alpha: float = 0.0,
              layer: int | None = None) -> dict[str, SteeringEdit] | None:
        """{hook name of `layer`: the `method` edit at `alpha`} from model `model`'s direction and
        μ⁻ at that layer (None: the result's `layer`), or None for "none" — what
        `ModelSession.complete(…, edits)` takes."""
        m, L = self.model_index(model), len(self.hook_names)
        li = self.layer if layer is None else check_int("layer", layer, low=0, high=L - 1)
        if method != "none" and float(self.direction[m, li].norm()) == 0.0:
            raise ValueError(f"`layer` {li} ({self.hook_names[li]!r}) has a zero refusal direction: harmful and "
                             "harmless prompts reach it with the same activation, so there is nothing to steer along")
        return steering_edits(self.hook_names[li], method, self.direction[m, li], self.mu_neg[m, li], alpha)

    @property
    def alt_positions(self) -> str:
        return alternative_positions(self.config.positions)

    def alphas_tensor(self) -> Tensor:
        return torch.tensor(self.config.alphas)
