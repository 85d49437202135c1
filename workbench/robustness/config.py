"""Configuration of the robustness experiment (frozen, validated on construction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from workbench.core.validation import POSITIVE, Int, Number, Text, check_fields, param

SHARE = Number(0.0, 1.0, low_open=True, high_open=True)
EXISTING = Text(optional=True, path=True, must_exist=True)  # a local file or folder, or None


@dataclass(frozen=True)
class RobustnessConfig:
    """One run: corpus → classifier → filter → attacks → adversarial-training rounds.

    Corpus: `n_stories` distinct stories (prompt + completion, from the seen part of the grammar), a
        share `corpus_unsafe_share` injurious; split 50/20/30 % train/val/test (stratified by category).
    Fresh generator: `n_fresh` draws from the whole grammar (held-out templates and words included)
        with base unsafe rate `unsafe_rate`; every unsafe draw and `n_fresh_safe` safe ones are scored.
    Classifier: `top_layers` top encoder layers fine-tuned with the head (0: head only, on cached
        embeddings), `epochs` passes at learning rate `lr` (head) / `lr_layers` (encoder), batch
        `batch_size`; `max_length` tokens.
    Filter: threshold = the lowest one rejecting at most `max_safe_lost` of the validation safe
        completions; `n_filter_samples` prompts, at most `max_resamples` resamples each. The
        conservative threshold (`workbench.robustness.conservative`): the same rule at the larger
        stated cost `conservative_safe_lost`, measured on the fresh draws with the round-0 classifier.
    Attacks: `n_attack` injurious test stories per round, budgets 0 … `max_budget` edits,
        `candidates` scored per step in one batch (effort censored at 1 + max_budget · candidates
        queries).
    Adversarial training: `rounds` rounds; each attacks `n_train_attack` injurious training
        stories with the trained attacks, adds the finds labelled by the oracle and `n_paraphrase`
        paraphrases of each (weight `adv_weight`) and retrains.
    Real path: `backbone` (an HF encoder folder; None = the embedded all-MiniLM-L6-v2), `head` (a
        safetensors head to start from instead of training round 0), `data` (CSV/JSONL with columns
        `text_column`, `label_column` ∈ {0, 1}; None = the story corpus, the only one with an oracle).
    """

    n_stories: int = param(1500, Int(100, 20000))
    corpus_unsafe_share: float = param(0.3, SHARE)
    unsafe_rate: float = param(0.024, SHARE)
    # 300,000 draws: ≈ 7,200 unsafe ones, so zero passing gives a bound near 1e-5 < the paper's 3e-5
    n_fresh: int = param(300_000, Int(100, 10_000_000))
    n_fresh_safe: int = param(1000, Int(10))
    top_layers: int = param(0, Int(0, 48))
    epochs: int = param(2, Int(1))
    lr: float = param(1e-2, POSITIVE)
    lr_layers: float = param(5e-5, POSITIVE)
    batch_size: int = param(32, Int(1))
    max_length: int = param(64, Int(8, 4096))
    max_safe_lost: float = param(0.05, Number(0.0, 1.0, high_open=True))
    # fixed before measuring: 5 × the default's cost in lost safe validation completions
    conservative_safe_lost: float = param(0.25, Number(0.0, 1.0, high_open=True))
    n_filter_samples: int = param(100_000, Int(1))
    max_resamples: int = param(100, Int(0))
    n_attack: int = param(30, Int(1))
    max_budget: int = param(4, Int(0, 64))
    candidates: int = param(12, Int(1))
    rounds: int = param(2, Int(0, 10))
    n_train_attack: int = param(16, Int(1))
    n_paraphrase: int = param(2, Int(0, 20))
    adv_weight: float = param(3.0, POSITIVE)
    seed: int = param(0, Int(0))
    # "" is refused too: Path("") is the working directory, which exists
    backbone: str | None = param(None, EXISTING)
    head: str | None = param(None, EXISTING)
    data: str | None = param(None, EXISTING)
    text_column: str = param("text", Text())
    label_column: str = param("label", Text())

    def __post_init__(self) -> None:
        # every rule is declared beside its field; check_fields also stores reals as floats
        check_fields(self)

    @property
    def query_budget(self) -> int:
        """Where the effort to first failure is censored: the original plus every candidate of
        `max_budget` steps, 1 + max_budget · candidates classifier queries."""
        return 1 + self.max_budget * self.candidates

    @classmethod
    def quick(cls) -> Self:
        """Head only on cached embeddings, a small corpus, one round (well under a minute)."""
        return cls(n_stories=600, top_layers=0, epochs=1, n_filter_samples=20_000, n_fresh=5000, n_fresh_safe=200,
                   n_attack=8, max_budget=2, candidates=8, rounds=1, n_train_attack=8)
