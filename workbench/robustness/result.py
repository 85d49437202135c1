"""`RobustnessResult` (every round's classifier, scores, filter and attack outcomes) and the cached
embeddings of a text set, both saved as safetensors + JSON."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from workbench.core.result import ArtifactError, Result, expect_shape
from workbench.robustness.attacks import ATTACKS
from workbench.robustness.config import RobustnessConfig


@dataclass(frozen=True)
class EmbeddingKey:
    """What a cached embedding matrix depends on."""

    backbone: str
    texts_sha256: str
    n_texts: int
    max_length: int


@dataclass(frozen=True)
class Embeddings(Result):
    kind: ClassVar[str] = "RobustnessEmbeddings"
    value_sources: ClassVar[dict[str, str]] = {"embeddings": "`backbone`"}
    config: EmbeddingKey
    embeddings: Float[Tensor, "n d"]

    def validate(self) -> None:
        if self.embeddings.ndim != 2 or self.embeddings.shape[0] != self.config.n_texts:
            raise ArtifactError(f"tensor `embeddings` has shape {list(self.embeddings.shape)}; "
                                f"expected [{self.config.n_texts}, d]")


@dataclass(frozen=True)
class RobustnessResult(Result):
    """Axes: R = rounds + 1 (round 0 = before adversarial training), N texts, A attacks
    (ATTACKS order), K attacked test texts, P trainable parameters (head + top layers).

    labels, split (0 train / 1 val / 2 test), group (setting), gen_weight: per text [N].
    scores [R, N]: p(injurious) of every text by each round's classifier.
    thresholds [R]: each round's chosen threshold. params [R, P]: each round's trainable weights.
    attack_index [K]: attacked texts. success_at [R, A, K]: substitutions until p < threshold
    (−1: not within max_budget). preserved [R, A, K]: oracle label of the text at success (or of the
    last text tried) is still injurious (1), else 0; −1 without an oracle.
    effort [R, A, K]: classifier queries until the first oracle-valid success (−1: censored at
    1 + max_budget · candidates). fresh_scores [R, F], fresh_labels [F]: the scored fresh draws
    (every unsafe one of `n_fresh`, a sample of safe ones); fresh_info: their categories and
    templates, the draw count and the shares not seen in train or test.
    texts: the N texts. rounds_info: per round, JSON (filter outcome, sweep, metrics, examples).
    """

    kind: ClassVar[str] = "RobustnessResult"
    value_sources: ClassVar[dict[str, str]] = dict.fromkeys(
        ("scores", "thresholds", "params"), "`lr`, `lr_layers` and `epochs` (training that diverged)")

    config: RobustnessConfig
    labels: Int[Tensor, " N"]
    split: Int[Tensor, " N"]
    group: Int[Tensor, " N"]
    gen_weight: Float[Tensor, " N"]
    scores: Float[Tensor, "R N"]
    thresholds: Float[Tensor, " R"]
    params: Float[Tensor, "R P"]
    attack_index: Int[Tensor, " K"]
    success_at: Int[Tensor, "R A K"]
    preserved: Int[Tensor, "R A K"]
    effort: Int[Tensor, "R A K"]
    fresh_scores: Float[Tensor, "R F"]
    fresh_labels: Int[Tensor, " F"]
    fresh_info: dict[str, Any]
    texts: list[str]
    categories: list[str]
    has_oracle: bool
    rounds_info: list[dict[str, Any]]
    seconds: dict[str, float]

    def validate(self) -> None:
        c = self.config
        N, R, A = len(self.texts), c.rounds + 1, len(ATTACKS)
        for name in ("labels", "split", "group", "gen_weight"):
            expect_shape(name, getattr(self, name), (N,))
        expect_shape("scores", self.scores, (R, N))
        expect_shape("thresholds", self.thresholds, (R,))
        if self.params.ndim != 2 or self.params.shape[0] != R:
            raise ArtifactError(f"tensor `params` has shape {list(self.params.shape)}; expected [{R}, P]")
        K = self.attack_index.shape[0]
        expect_shape("success_at", self.success_at, (R, A, K))
        expect_shape("preserved", self.preserved, (R, A, K))
        expect_shape("effort", self.effort, (R, A, K))
        F = self.fresh_labels.shape[0]
        expect_shape("fresh_scores", self.fresh_scores, (R, F))
        if len(self.rounds_info) != R:
            raise ArtifactError(f"`rounds_info` has {len(self.rounds_info)} rounds; the config implies {R}")

    # --- views ------------------------------------------------------------------------------
    def mask(self, split: str) -> torch.Tensor:
        return self.split == ("train", "val", "test").index(split)

    def success_curve(self, round_: int, attack: str, preserve: bool = True) -> Float[Tensor, " B"]:
        """Share of attacked texts fooled within b = 0 … max_budget substitutions (with the oracle
        label kept when `preserve` and an oracle exists)."""
        a = ATTACKS.index(attack)
        s = self.success_at[round_, a]
        ok = s >= 0
        if preserve and self.has_oracle:
            ok = ok & (self.preserved[round_, a] == 1)
        budgets = torch.arange(self.config.max_budget + 1)
        return ((s[None, :] <= budgets[:, None]) & ok[None, :]).float().mean(1)

    def classifier(self, round_: int = -1, device: str | torch.device = "cpu"):
        """Rebuild round `round_`'s classifier (loads the backbone folder)."""
        from workbench.robustness.classifier import Classifier

        clf = Classifier(self.config.backbone, self.config.max_length, device=device)
        clf.set_flat(self.params[round_], self.config.top_layers)
        return clf
