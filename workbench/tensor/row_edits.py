"""A different affine edit on every row of a batch: one forward carries a whole sweep of settings.

`SteeringEdit` applies one edit to every row. `RowEdits` holds a small table of edits (u entries,
each the parts of one `SteeringEdit` or the identity) and, for each of n rows, which entry it
takes; row i of an activation gets entry index[i]:

    apply(v)[i] = v[i] + (r̂ₖ·μₖ − r̂ₖ·v[i]) r̂ₖ + αₖ rₖ,   k = index[i]

with r̂ₖ = 0 for a project=False edit (so apply = v + α r) and r̂ₖ = 0, α rₖ = 0 for the identity:
the one formula covers all three. The table is stored once (a sweep of 18 settings over 1000
prompts is 18 entries, not 18 000 rows); `take(rows)` picks rows (a batch of a sorted call, or
rows repeated for several samples) by indexing `index` alone.

Precision: `stack` computes the table as `SteeringEdit.parts` does — in float32 (float64 if a
direction is float64) — and `apply` casts it to the activation's dtype once per (dtype, device):
the parts `SteeringEdit` uses for float32, bfloat16 and float16 activations, bit for bit (float64
activations get the float32 table widened, where `SteeringEdit` would recompute in float64). The
edit itself runs in the activation's dtype, as `SteeringEdit.apply`; the per-row dot product
r̂ₖ·v[i] is a batched matmul where `SteeringEdit.apply` does one matrix-vector product: in
float32 the two round differently (by about an ulp; so do two batch sizes of the same
matrix-vector product on the CPU), in bfloat16 they agree here bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from jaxtyping import Float, Int
from torch import Tensor

from workbench.core.validation import check_int
from workbench.tensor.steering import SteeringEdit


def _as_index(rows: Tensor | Sequence[int], name: str) -> Tensor:
    index = rows if isinstance(rows, Tensor) else torch.as_tensor(list(rows), dtype=torch.long)
    if index.ndim != 1 or (index.numel() and (index.is_floating_point() or index.dtype == torch.bool)):
        raise ValueError(f"`{name}` must be a 1-D list or tensor of row indices; got {tuple(index.shape)} "
                         f"{index.dtype}")
    return index.to(torch.long)


@dataclass(frozen=True, eq=False)
class RowEdits:
    """Per-row affine edits (module docstring): a table of u edits' parts and each row's entry.

    rhat   [u, d]  r̂ₖ (0 for project=False entries and the identity)
    offset [u]     r̂ₖ·μₖ
    shift  [u, d]  αₖ rₖ (0 for the identity)
    index  [n]     the entry of each row (long); None: row i takes entry i (n = u)

    Build it with `RowEdits.stack`; `take` selects rows, `apply` edits a batch of `len(self)` rows.
    """

    rhat: Float[Tensor, "u d"]
    offset: Float[Tensor, " u"]
    shift: Float[Tensor, "u d"]
    index: Int[Tensor, " n"] | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)  # the table per (dtype, device), shared
    _rows: dict = field(default_factory=dict, repr=False, compare=False)  # this one's rows per (dtype, device)

    def __post_init__(self) -> None:
        for name in ("rhat", "offset", "shift"):
            value = getattr(self, name)
            if not isinstance(value, Tensor) or not value.is_floating_point():
                raise ValueError(f"`{name}` must be a floating-point torch.Tensor; got {type(value).__name__}")
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"`{name}` must be finite")
        if self.rhat.ndim != 2 or self.shift.shape != self.rhat.shape or self.offset.shape != self.rhat.shape[:1]:
            raise ValueError(f"`rhat` [u, d], `offset` [u] and `shift` [u, d] must agree; got "
                             f"{tuple(self.rhat.shape)}, {tuple(self.offset.shape)}, {tuple(self.shift.shape)}")
        u = self.rhat.shape[0]
        if self.index is None:
            object.__setattr__(self, "index", torch.arange(u))
        index = _as_index(self.index, "index").cpu()
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= u):
            raise ValueError(f"`index` must hold entries in 0 … {u - 1}; got {index.min()} … {index.max()}")
        object.__setattr__(self, "index", index)

    @classmethod
    def stack(cls, edits: Sequence[SteeringEdit | None], width: int) -> RowEdits:
        """Row i does `edits[i]` (None: the identity). Each distinct edit object is one table entry,
        so the same `SteeringEdit` on many rows is stored once. Every edit must have width `width`."""
        width = check_int("width", width, low=1)
        if isinstance(edits, (str, bytes)) or not isinstance(edits, Sequence) or not edits:
            raise ValueError(f"`edits` must be a non-empty sequence of SteeringEdit or None; "
                             f"got {type(edits).__name__}")
        entries: dict[int, int] = {}
        table: list[SteeringEdit | None] = []
        index = []
        for row, edit in enumerate(edits):
            if edit is not None and not isinstance(edit, SteeringEdit):
                raise ValueError(f"`edits[{row}]` must be a SteeringEdit or None; got {type(edit).__name__}")
            if edit is not None and edit.width != width:
                raise ValueError(f"`edits[{row}]` has width {edit.width} but `width` is {width}")
            key = id(edit)
            if key not in entries:
                entries[key] = len(table)
                table.append(edit)
            index.append(entries[key])
        dtypes = [e.direction.dtype for e in table if e is not None]
        work = torch.float32
        for dtype in dtypes:
            work = torch.promote_types(work, dtype)
        rows = []
        for edit in table:
            if edit is None:
                zero = torch.zeros(width, dtype=work)
                rows.append((zero, torch.zeros((), dtype=work), zero))
            else:  # SteeringEdit.parts at its compute dtype: the numbers SteeringEdit.apply casts from
                rhat, offset, shift = edit.parts(torch.empty(0, dtype=work, device=edit.direction.device))
                rows.append((rhat.cpu(), offset.cpu(), shift.cpu()))
        return cls(torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows]),
                   torch.stack([r[2] for r in rows]), torch.tensor(index, dtype=torch.long))

    @property
    def width(self) -> int:
        return int(self.rhat.shape[1])

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def take(self, rows: Tensor | Sequence[int]) -> RowEdits:
        """The edits of `rows` (indices into this one's rows, repeats allowed): a sub-batch, or each
        row repeated once per sample. Shares the table (and its per-dtype cache)."""
        index = _as_index(rows, "rows").cpu()
        if index.numel() and (int(index.min()) < -len(self) or int(index.max()) >= len(self)):
            raise ValueError(f"`rows` must index the {len(self)} rows; got {index.min()} … {index.max()}")
        taken = RowEdits.__new__(RowEdits)  # the table is already checked: skip __post_init__
        for name, value in (("rhat", self.rhat), ("offset", self.offset), ("shift", self.shift),
                            ("index", self.index[index]), ("_cache", self._cache), ("_rows", {})):
            object.__setattr__(taken, name, value)
        return taken

    def parts(self, like: Tensor) -> tuple[Float[Tensor, "n d"], Float[Tensor, " n"], Float[Tensor, "n d"]]:
        """Per-row (r̂, r̂·μ, α r) in `like`'s dtype and device; the table is cast once per (dtype,
        device), the rows gathered once per `take`."""
        key = (like.dtype, like.device)
        table = self._cache.get(key)
        if table is None:
            table = self._cache[key] = tuple(t.to(device=like.device, dtype=like.dtype)
                                             for t in (self.rhat, self.offset, self.shift))
        rows = self._rows.get(key)
        if rows is None:
            index = self.index.to(like.device)
            rows = self._rows[key] = tuple(t[index] for t in table)
        return rows

    def apply(self, v: Float[Tensor, "b *pos d"], hook: str | None = None) -> Float[Tensor, "b *pos d"]:
        """Row i of `v` edited by entry index[i] (module docstring); b must be len(self). `hook`
        names the edited point in the error messages."""
        where = f" for hook {hook!r}" if hook is not None else ""
        if v.ndim < 2:
            raise ValueError(f"the activation{where} must be [batch, …, d]; got shape {tuple(v.shape)}")
        if v.shape[-1] != self.width:
            raise ValueError(f"the RowEdits{where} has width {self.width} but the activation has width {v.shape[-1]}")
        if v.shape[0] != len(self):
            raise ValueError(f"the RowEdits{where} holds {len(self)} rows but the batch has {v.shape[0]}")
        rhat, offset, shift = self.parts(v)
        b, d = v.shape[0], v.shape[-1]
        flat = v.reshape(b, -1, d)
        coef = offset[:, None, None] - torch.bmm(flat, rhat[:, :, None])  # [b, m, 1]
        return torch.addcmul(flat + shift[:, None], coef, rhat[:, None]).reshape(v.shape)


def check_row_edits(edits: Mapping[str, object] | None, n: int, what: str = "prompts") -> None:
    """Raise ValueError (before any compute) unless every RowEdits among the values of `edits`
    ({hook name: edit}) has one row for each of the `n` `what`; other values are not checked here."""
    if not isinstance(edits, Mapping):
        return  # None, or a wrong type that whoever installs the edits reports
    for name, edit in edits.items():
        if isinstance(edit, RowEdits) and len(edit) != n:
            raise ValueError(f"`edits[{name!r}]` is a RowEdits of {len(edit)} rows but there are {n} {what}: "
                             f"it needs one row for each")
