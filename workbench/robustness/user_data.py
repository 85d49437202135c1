"""Your own classifier and data: the config for a folder + labelled file, and what can be reported
without an oracle or a generator.

A user's file has labels but no oracle and no generator. So:
- the filter's unsafe rate is measured only on the held-out test split: among the n test texts the
  filter lets through (p < t), k carry label 1; the rate k/n gets a one-sided 95 % upper bound
  (Wilson; rule of three, 3/n, when k = 0; the exact Clopper-Pearson beside them). It speaks for
  texts drawn like the test split, with the file's label mix, not for a deployment's traffic;
- attacks cannot be checked for label preservation: an edited label-1 text is assumed to stay
  label 1 (TextAttack's assumption), so every flip counts as a success and adversarial training
  adds the edits as label 1 without paraphrases;
- there is no fresh generator: no fresh-draw rate, no exact unsafe rate at a deployment's base
  rate, no quality (TV) measure.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from jaxtyping import Float, Int
from torch import Tensor

from workbench.core.validation import check_path, check_range
from workbench.robustness.config import RobustnessConfig
from workbench.robustness.filtering import check_threshold
from workbench.tensor.stats import clopper_pearson, rule_of_three, wilson_interval

NO_ORACLE = "no oracle: label preservation assumed"
NOT_MEASURED = (
    "label preservation of adversarial texts (no oracle: an edited label-1 text is assumed to stay label 1)",
    "unsafe rate on fresh draws and at a deployment's base rate (no generator: only the test split's bound)",
    "quality of the filtered outputs (no generator: no distribution of safe outputs to compare)",
)


def user_config(data: str | os.PathLike, *, backbone: str | os.PathLike | None = None, text_column: str = "text",
                label_column: str = "label", quick: bool = False, seed: int = 0) -> RobustnessConfig:
    """The run for a user's labelled file `data` (CSV/TSV/JSONL, columns `text_column` and
    `label_column` ∈ {0, 1}) and HF encoder folder `backbone` (None: the embedded MiniLM).

    Head only on cached embeddings (top_layers = 0). `quick`: one epoch, 8 attacked test texts,
    budget 2 edits × 8 candidates, one adversarial round on 8 training texts, 2,000 filter
    samples; else the suite's defaults (2 epochs, 30 attacked texts, budget 4 × 12 candidates, two
    rounds on 16 training texts each)."""
    if not isinstance(quick, bool):
        raise ValueError(f"`quick` must be True or False; got {quick!r}")
    paths = {"data": str(check_path("data", data)),
             "backbone": None if backbone is None else str(check_path("backbone", backbone))}
    small = dict(epochs=1, n_filter_samples=2000, n_attack=8, max_budget=2, candidates=8, rounds=1,
                 n_train_attack=8) if quick else {}
    return RobustnessConfig(**paths, text_column=text_column, label_column=label_column, top_layers=0, seed=seed,
                            **small)


def held_out_bound(scores: Float[Tensor, " n"], labels: Int[Tensor, " n"], threshold: float,
                     confidence: float = 0.95) -> dict[str, Any]:
    """The filter at `threshold` on n held-out texts with `scores` (p(label 1)) and `labels`.

    accepted = #{i: s_i < t} (the filter lets them through), unsafe = #{i: s_i < t, y_i = 1};
    rate = unsafe / accepted with one-sided upper bounds at `confidence` c ∈ (0.5, 1) (the upper
    ends of two-sided 2c − 1 intervals): Wilson's, the exact Clopper-Pearson one
    Beta⁻¹(c; unsafe + 1, accepted − unsafe), and the reported one (rule of three 3/accepted at
    unsafe = 0 and c = 95 %, else Clopper-Pearson). caught = share of label-1 texts rejected
    (recall), safe_lost = share of label-0 texts rejected. With nothing accepted the rate and bounds are None."""
    t = check_threshold(threshold)
    c = check_range("confidence", confidence, 0.5, 1.0, low_open=True, high_open=True)
    if scores.ndim != 1 or scores.shape != labels.shape:
        raise ValueError(f"`scores` and `labels` must be equally long 1-d tensors; got {list(scores.shape)} and "
                         f"{list(labels.shape)}")
    passed = scores.double() < t
    pos = labels == 1
    accepted, unsafe = int(passed.sum()), int((passed & pos).sum())
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    out: dict[str, Any] = {
        "threshold": t, "n": int(labels.numel()), "n_label1": n_pos, "accepted": accepted, "unsafe": unsafe,
        "caught": int((~passed & pos).sum()) / n_pos if n_pos else None,
        "safe_lost": int((~passed & ~pos).sum()) / n_neg if n_neg else None,
        "rate": None, "upper_wilson": None, "upper_clopper_pearson": None, "upper_reported": None,
        "bound_rule": None,
    }
    if accepted:
        # the upper end of a two-sided 2c − 1 interval is the one-sided c bound (as in `fresh`)
        cp = clopper_pearson(unsafe, accepted, 2 * c - 1)[1]
        three = unsafe == 0 and abs(c - 0.95) < 1e-12
        out.update(rate=unsafe / accepted, upper_wilson=wilson_interval(unsafe, accepted, 2 * c - 1)[1],
                   upper_clopper_pearson=cp, upper_reported=rule_of_three(accepted) if three else cp,
                   bound_rule="rule of three (3/n)" if three else "Clopper-Pearson")
    return out


def held_out_sweep(scores: Float[Tensor, " n"], labels: Int[Tensor, " n"],
                     thresholds: Sequence[float]) -> list[dict[str, Any]]:
    """`held_out_bound` at each of `thresholds` (exact counts: no sampling)."""
    return [held_out_bound(scores, labels, t) for t in thresholds]
