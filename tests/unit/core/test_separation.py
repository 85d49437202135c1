"""`workbench.tensor.separation`: the AUC against scikit-learn's roc_auc_score (the oracle), its
invariances, and its bad-input errors."""

import pytest
import torch
from sklearn.metrics import roc_auc_score

from workbench.tensor.separation import auc, separation_auc


def test_auc_matches_roc_auc_score_with_ties() -> None:
    g = torch.Generator().manual_seed(0)
    pos = torch.randint(0, 5, (3, 17), generator=g).float()  # small integers: many ties
    neg = torch.randint(0, 5, (3, 11), generator=g).float() - 1
    got = auc(pos, neg)
    for s in range(3):
        y = [1] * 17 + [0] * 11
        want = roc_auc_score(y, torch.cat([pos[s], neg[s]]).numpy())
        assert got[s].item() == pytest.approx(want, abs=1e-12)


def test_separation_auc_per_site_and_scale_invariant() -> None:
    g = torch.Generator().manual_seed(1)
    d = 8
    r = torch.randn(2, d, generator=g)
    neg = torch.randn(20, 2, d, generator=g)
    pos = torch.randn(20, 2, d, generator=g)
    pos[:, 0] += 10 * r[0] / r[0].norm()  # site 0 separates perfectly along r̂; site 1 is noise
    got = separation_auc(r, pos, neg)
    assert got[0].item() == 1.0
    assert 0.2 < got[1].item() < 0.8
    assert torch.equal(separation_auc(3.5 * r, pos, neg), got)  # r̂ and r order the same way
    assert separation_auc(-r, pos, neg)[0].item() == 0.0  # reversed direction: reversed order
    assert separation_auc(torch.zeros(2, d), pos, neg).tolist() == [0.5, 0.5]  # no direction: chance


def test_bad_shapes_name_the_argument() -> None:
    r = torch.randn(2, 4)
    with pytest.raises(ValueError, match="`positive` must be \\[n, sites, d\\]"):
        separation_auc(r, torch.randn(3, 2, 5), torch.randn(3, 2, 4))
    with pytest.raises(ValueError, match="at least one score"):
        auc(torch.randn(2, 0), torch.randn(2, 3))
