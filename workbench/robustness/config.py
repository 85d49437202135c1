"""Configuration of the robustness experiment (frozen, validated on construction)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

from workbench.tensor.validation import check_int, check_range, check_text


@dataclass(frozen=True)
class RobustnessConfig:
    """One run: corpus → classifier → filter → attacks → adversarial-training rounds.

    Corpus: `n_stories` distinct completions, a share `corpus_unsafe_share` injurious; split
        50/20/30 % train/val/test (stratified by category). The generator draws held-out (test)
        completions with base unsafe rate `unsafe_rate`.
    Classifier: `top_layers` top encoder layers fine-tuned with the head (0: head only, on cached
        embeddings), `epochs` passes at learning rate `lr` (head) / `lr_layers` (encoder), batch
        `batch_size`; `max_length` tokens.
    Filter: threshold = the lowest one rejecting at most `max_safe_lost` of the validation safe
        completions; `n_filter_samples` prompts, at most `max_resamples` resamples each.
    Attacks: `n_attack` injurious test completions per round, budgets 0 … `max_budget`
        substitutions, `candidates` scored per step in one batch.
    Adversarial training: `rounds` rounds; each attacks `n_train_attack` injurious training
        completions, adds the finds labelled by the oracle (weight `adv_weight`) and retrains.
    Real path: `backbone` (an HF encoder folder; None = the embedded all-MiniLM-L6-v2), `head` (a
        safetensors head to start from instead of training round 0), `data` (CSV/JSONL with columns
        `text_column`, `label_column` ∈ {0, 1}; None = the story corpus, the only one with an oracle).
    """

    n_stories: int = 2000
    corpus_unsafe_share: float = 0.3
    unsafe_rate: float = 0.03
    top_layers: int = 1
    epochs: int = 2
    lr: float = 1e-2
    lr_layers: float = 5e-5
    batch_size: int = 32
    max_length: int = 48
    max_safe_lost: float = 0.05
    n_filter_samples: int = 1_000_000
    max_resamples: int = 100
    n_attack: int = 30
    max_budget: int = 3
    candidates: int = 48
    rounds: int = 2
    n_train_attack: int = 40
    adv_weight: float = 3.0
    seed: int = 0
    backbone: str | None = None
    head: str | None = None
    data: str | None = None
    text_column: str = "text"
    label_column: str = "label"

    def __post_init__(self) -> None:
        check_int("n_stories", self.n_stories, low=100, high=20000)
        check_range("corpus_unsafe_share", self.corpus_unsafe_share, 0.0, 1.0, low_open=True, high_open=True)
        check_range("unsafe_rate", self.unsafe_rate, 0.0, 1.0, low_open=True, high_open=True)
        check_int("top_layers", self.top_layers, low=0, high=48)
        check_int("epochs", self.epochs, low=1)
        check_range("lr", self.lr, low=0.0, low_open=True)
        check_range("lr_layers", self.lr_layers, low=0.0, low_open=True)
        check_int("batch_size", self.batch_size, low=1)
        check_int("max_length", self.max_length, low=8, high=4096)
        check_range("max_safe_lost", self.max_safe_lost, 0.0, 1.0, high_open=True)
        check_int("n_filter_samples", self.n_filter_samples, low=1)
        check_int("max_resamples", self.max_resamples, low=0)
        check_int("n_attack", self.n_attack, low=1)
        check_int("max_budget", self.max_budget, low=0, high=64)
        check_int("candidates", self.candidates, low=1)
        check_int("rounds", self.rounds, low=0, high=10)
        check_int("n_train_attack", self.n_train_attack, low=1)
        check_range("adv_weight", self.adv_weight, low=0.0, low_open=True)
        check_int("seed", self.seed, low=0)
        for name in ("backbone", "head", "data"):
            value = getattr(self, name)
            # "" is refused too: Path("") is the working directory, which exists
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"`{name}` must be a non-empty path string or None; got {value!r}")
            if value is not None and not Path(value).exists():
                raise FileNotFoundError(f"`{name}` {value!r} does not exist")
        for name in ("text_column", "label_column"):
            check_text(name, getattr(self, name))
        for name in ("corpus_unsafe_share", "unsafe_rate", "lr", "lr_layers", "max_safe_lost", "adv_weight"):
            object.__setattr__(self, name, float(getattr(self, name)))

    @classmethod
    def quick(cls) -> Self:
        """Head only on cached embeddings, a small corpus, one round (well under a minute)."""
        return cls(n_stories=600, top_layers=0, epochs=1, n_filter_samples=200_000, n_attack=10,
                   max_budget=2, candidates=32, rounds=1, n_train_attack=12)
