"""The filter of a finished run, probed live: at any threshold, under attack at any budget, and on
any text (the saliency tool), one question at a time.

A `FilterProbe` is what a panel or a notebook cell asks; it keeps the generator's group weights,
each round's rebuilt classifier and the tool's readings, so moving a slider only computes what
changed. Everything it returns is the experiment's own computation (`filtering.sweep_point`,
`filtering.confusion`, `RobustnessResult.success_curve`, `attacks.saliency_tool`), at other
arguments.

    probe = FilterProbe(result)
    probe.point(0, 0.01).filter["upper"], probe.success(1, "hotflip", 2), probe.saliency(0, text).prob
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from jaxtyping import Bool, Float
from torch import Tensor

from workbench.core.validation import check_choice, check_int, check_range, check_text
from workbench.robustness.attacks import ATTACKS, Saliency, saliency_tool, whole_word_mask
from workbench.robustness.classifier import Classifier
from workbench.robustness.filtering import confusion, group_weights, sweep_point
from workbench.robustness.result import RobustnessResult

# Prompts per live filter sample: ten times QUICK's `n_filter_samples`, so a slider's point has a
# tighter bound than the sweep it is drawn on, and still takes well under a second.
POINT_SAMPLES = 100_000
TOOL_SWAPS = 3  # the tool's best swaps per token (`saliency_tool`'s per_token)


@dataclass(frozen=True)
class ThresholdPoint:
    """The filter of round `round` at `threshold`.

    `filter`: `filtering.sweep_point`: `samples` prompts (groups uniform) filtered for real, with
    n, accepted, unsafe (injurious accepted completions), refused (out of resamples), draws,
    rate = unsafe / accepted, exact_rate (q(t), no sampling), wilson / clopper_pearson / upper (95 %
    upper bounds on the rate), mean_draws (per prompt) and safe_lost (share of the generator's safe
    mass rejected). `counts`: the test split at `threshold` (flagged = score ≥ threshold): tp, fp,
    fn, tn."""

    round: int
    threshold: float
    filter: dict[str, float | int]
    counts: dict[str, int]


@dataclass(frozen=True)
class TokenCount:
    """How much of a text the classifier reads: `tokens` word pieces ([CLS] and [SEP] included)
    against `max_length`; past it the rest is cut off before scoring."""

    tokens: int
    max_length: int

    @property
    def truncated(self) -> bool:
        return self.tokens > self.max_length


class FilterProbe:
    """Live questions to the filter of `result` (every round's classifier and scores).

    `samples`: prompts per `point`; `swaps`: the tool's best swaps per token. Each argument is
    checked (ValueError naming it and its range) before anything is computed."""

    def __init__(self, result: RobustnessResult, samples: int = POINT_SAMPLES, swaps: int = TOOL_SWAPS) -> None:
        if not isinstance(result, RobustnessResult):
            raise ValueError(f"`result` must be a RobustnessResult; got {type(result).__name__}")
        self.result = result
        self.samples = check_int("samples", samples, low=1)
        self.swaps = check_int("swaps", swaps, low=1, high=50)
        self.weights: Float[Tensor, "g N"] = group_weights(result.gen_weight, result.group)
        self._test: Bool[Tensor, " N"] = result.mask("test")
        self._classifiers: dict[int, Classifier] = {}
        self._vocab_ok: Bool[Tensor, " V"] | None = None  # the tokenizer's whole words: every round shares it
        self._saliency: dict[tuple[int, str], Saliency] = {}
        # A kernel may deliver widget events on another thread than the one running cells. Without
        # the lock two of them could each rebuild a round's classifier (a backbone load) or race on
        # the caches; the filter sample needs none (its own generator, nothing shared is written).
        self._lock = threading.RLock()

    # --- arguments -------------------------------------------------------------------------------
    def check_round(self, round_: object) -> int:
        """0 = before adversarial training, … config.rounds = after the last round."""
        return check_int("round", round_, low=0, high=self.result.config.rounds)

    @staticmethod
    def check_threshold(threshold: object) -> float:
        """A score threshold in (0, 1]: flagged = p(injurious) ≥ threshold (0 would flag everything)."""
        return check_range("threshold", threshold, 0.0, 1.0, low_open=True)

    def check_budget(self, budget: object) -> int:
        return check_int("budget", budget, low=0, high=self.result.config.max_budget)

    # --- the filter ------------------------------------------------------------------------------
    def point(self, round_: int, threshold: float) -> ThresholdPoint:
        """A fresh filter sample of `samples` prompts with round `round_`'s scores at `threshold`
        (seeded with the config's seed: the same arguments give the same point), and the test
        split's confusion counts there."""
        r, t = self.check_round(round_), self.check_threshold(threshold)
        c, scores, labels = self.result.config, self.result.scores[r], self.result.labels
        sample = sweep_point(self.weights, scores, labels, t, self.samples, c.max_resamples, c.seed)
        return ThresholdPoint(r, t, sample, confusion(scores[self._test], labels[self._test], t))

    def success(self, round_: int, attack: str, budget: int) -> float:
        """Share of the K attacked held-out texts that `attack` fooled within `budget` edits against
        round `round_`'s classifier (the oracle's label kept, when there is an oracle)."""
        r, a, b = self.check_round(round_), check_choice("attack", attack, ATTACKS), self.check_budget(budget)
        return float(self.result.success_curve(r, a)[b])

    # --- the classifier and the tool -------------------------------------------------------------
    def classifier(self, round_: int) -> Classifier:
        """Round `round_`'s classifier, rebuilt once (it loads the backbone folder)."""
        r = self.check_round(round_)
        with self._lock:
            if r not in self._classifiers:
                self._classifiers[r] = self.result.classifier(r)
            return self._classifiers[r]

    def saliency(self, round_: int, text: str) -> Saliency:
        """The tool on `text` with round `round_`'s classifier: token saliency, the score and the
        `swaps` best whole-word swaps per token (`attacks.saliency_tool`), once per (round, text)."""
        r, text = self.check_round(round_), check_text("text", text)
        with self._lock:
            if (r, text) not in self._saliency:
                clf = self.classifier(r)
                if self._vocab_ok is None:
                    self._vocab_ok = whole_word_mask(clf)
                self._saliency[(r, text)] = saliency_tool(clf, text, per_token=self.swaps, vocab_ok=self._vocab_ok)
            return self._saliency[(r, text)]

    def token_count(self, round_: int, text: str) -> TokenCount:
        """The word pieces of `text` (untruncated) against what round `round_`'s classifier reads."""
        r, text = self.check_round(round_), check_text("text", text)
        clf = self.classifier(r)
        return TokenCount(len(clf.tokenizer(text)["input_ids"]), clf.max_length)
