"""The paired AUC test (`workbench.robustness.in_distribution`): point AUCs against sklearn, no change
for identical scores, a clear change detected, and bad inputs refused before any resample."""

from __future__ import annotations

import pytest
import torch
from sklearn.metrics import roc_auc_score

from workbench.robustness.in_distribution import paired_auc_test


def data(n: int = 300, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(n, generator=g) < 0.3).long()
    scores = labels.double() * 0.6 + torch.rand(n, generator=g, dtype=torch.double)
    return labels, scores


def test_point_aucs_are_sklearns_and_identical_scores_change_nothing() -> None:
    labels, scores = data()
    out = paired_auc_test(labels, scores, scores, resamples=200)
    assert out["auc_before"] == pytest.approx(roc_auc_score(labels.numpy(), scores.numpy()))
    assert out["delta"] == 0.0 and out["ci95"] == [0.0, 0.0] and out["p_value"] == 1.0


def test_a_better_classifier_on_the_same_texts_is_detected() -> None:
    labels, scores = data()
    g = torch.Generator().manual_seed(1)
    better = labels.double() * 1.5 + torch.rand(len(labels), generator=g, dtype=torch.double)
    out = paired_auc_test(labels, scores, better, resamples=500, seed=3)
    assert out["auc_after"] == pytest.approx(roc_auc_score(labels.numpy(), better.numpy()))
    assert out["delta"] > 0 and out["ci95"][0] > 0 and out["p_value"] < 0.01
    assert paired_auc_test(labels, scores, better, resamples=500, seed=3) == out  # seeded


def test_bad_inputs_name_the_parameter() -> None:
    labels, scores = data(20)
    with pytest.raises(ValueError, match="`resamples`"):
        paired_auc_test(labels, scores, scores, resamples=10)
    with pytest.raises(ValueError, match="`labels`"):
        paired_auc_test(torch.zeros(20, dtype=torch.long), scores, scores)
    with pytest.raises(ValueError, match="one score per text"):
        paired_auc_test(labels, scores[:5], scores)
