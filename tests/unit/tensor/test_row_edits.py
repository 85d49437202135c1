"""RowEdits: row i of a batch gets edit i — the same numbers as that row's own SteeringEdit (identity
rows, project=False rows, bf16), `take` for sub-batches and repeats, a table stored once, clear
errors; a Steerer carries it with the rows of the current batch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from workbench.tensor.hooks import steer
from workbench.tensor.row_edits import RowEdits
from workbench.tensor.steering import SteeringEdit, make_edit

D = 16


def _edits(seed: int = 0) -> list[SteeringEdit | None]:
    g = torch.Generator().manual_seed(seed)
    r, mu = 3 * torch.randn(D, generator=g), torch.randn(D, generator=g)
    return [make_edit("ace", r, mu, 0.7), None, make_edit("actadd", r, alpha=-1.5),
            make_edit("directional_ablation", torch.randn(D, generator=g)), make_edit("affine_ablation", r, mu),
            make_edit("ace", torch.randn(D, generator=g), mu, 2.0)]


def _per_row(edits, v):
    return torch.stack([v[i] if e is None else e.apply(v[i]) for i, e in enumerate(edits)])


@pytest.mark.parametrize("shape", [(D,), (5, D), (2, 3, D)])
def test_apply_equals_each_rows_own_edit(shape):
    edits = _edits()
    rows = RowEdits.stack(edits, D)
    v = 4 * torch.randn(len(edits), *shape, generator=torch.Generator().manual_seed(1))
    got = rows.apply(v)
    assert got.shape == v.shape
    torch.testing.assert_close(got, _per_row(edits, v), rtol=1e-6, atol=1e-5)
    assert torch.equal(got[1], v[1])  # the identity row is untouched, bit for bit
    assert torch.equal(got[2], edits[2].apply(v[2]))  # project=False: v + α r, the same additions


def test_bf16_uses_the_fp32_parts_and_matches_steering_edit():
    edits = _edits(2)
    rows = RowEdits.stack(edits, D)
    v = (4 * torch.randn(len(edits), 7, D, generator=torch.Generator().manual_seed(3))).bfloat16()
    got = rows.apply(v)
    assert got.dtype == torch.bfloat16
    for i, edit in enumerate(edits):
        if edit is not None:  # the parts are SteeringEdit's, cast from float32
            rhat, offset, shift = rows.parts(v)
            assert torch.equal(rhat[i], edit.parts(v)[0] if edit.project else torch.zeros_like(rhat[i]))
            assert torch.equal(offset[i], edit.parts(v)[1]) and torch.equal(shift[i], edit.parts(v)[2])
    # in bf16 the batched dot product rounds as SteeringEdit's matrix-vector product (here, on the CPU)
    assert torch.equal(got, _per_row(edits, v))


def test_take_selects_and_repeats_rows_and_the_table_is_stored_once():
    edits = _edits()
    rows = RowEdits.stack([edits[k % 3] for k in range(30)], D)
    assert len(rows) == 30 and rows.rhat.shape == (3, D)  # three distinct edits: three entries
    v = torch.randn(4, 2, D)
    sub = rows.take([5, 0, 0, 4])
    assert len(sub) == 4 and sub.rhat is rows.rhat
    expected = torch.stack([e.apply(x) if e is not None else x for e, x in zip([edits[2], edits[0], edits[0],
                                                                                 edits[1]], v)])
    torch.testing.assert_close(sub.apply(v), expected, rtol=1e-6, atol=1e-5)
    torch.testing.assert_close(sub.take(torch.tensor([1, 3])).apply(v[[1, 3]]), expected[[1, 3]])


def test_bad_inputs_raise_clear_errors():
    edits = _edits()
    with pytest.raises(ValueError, match=r"`edits\[0\]` has width 16 but `width` is 8"):
        RowEdits.stack(edits, 8)
    with pytest.raises(ValueError, match=r"`edits\[1\]` must be a SteeringEdit or None"):
        RowEdits.stack([edits[0], "ace"], D)
    with pytest.raises(ValueError, match="non-empty sequence"):
        RowEdits.stack([], D)
    rows = RowEdits.stack(edits, D)
    with pytest.raises(ValueError, match=r"for hook 'h' holds 6 rows but the batch has 2"):
        rows.apply(torch.randn(2, D), hook="h")
    with pytest.raises(ValueError, match="has width 16 but the activation has width 4"):
        rows.apply(torch.randn(6, 4))
    with pytest.raises(ValueError, match="`rows` must index the 6 rows"):
        rows.take([6])
    with pytest.raises(ValueError, match="`index` must hold entries"):
        RowEdits(rows.rhat, rows.offset, rows.shift, torch.tensor([0, 9]))
    with pytest.raises(ValueError, match="must agree"):
        RowEdits(rows.rhat, rows.offset[:2], rows.shift)


class _Two(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(D, D), nn.Linear(D, D)

    def forward(self, x):
        return self.b(self.a(x))


def test_a_steerer_takes_the_rows_of_the_current_batch():
    torch.manual_seed(0)
    model = _Two()
    edits = _edits()
    rows = RowEdits.stack(edits, D)
    x = torch.randn(6, 3, D)
    with steer(model, {"a": rows}):
        whole = model(x)  # no `rows` call: the batch is rows 0 … 5
    with steer(model, {"a": rows}) as steerer:
        steerer.rows([4, 1])
        part = model(x[[4, 1]])
        steerer.rows(None)
        again = model(x)
    expected = model.b(_per_row(edits, model.a(x)))
    torch.testing.assert_close(whole, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(part, expected[[4, 1]], rtol=1e-5, atol=1e-5)
    assert torch.equal(again, whole)
    with steer(model, {"a": rows}), pytest.raises(ValueError, match=r"hook 'a' holds 6 rows but the batch has 2"):
        model(x[:2])
