"""Install activation edits and recorders on hook points of a TransformerLens `TransformerBridge`
(names like ``blocks.3.hook_resid_pre``) or on submodules of any `nn.Module` (names from
`named_modules()`), and remove them when the context ends.

Both paths use plain torch forward hooks (a bridge's hook points are `nn.Module`s whose forward
is the identity), so a hook returning a tensor replaces the point's output, and every handle is
removed precisely — hooks anyone else attached stay.

Positions. Each forward sees hidden states [batch, T, d] covering absolute positions
`offset … offset+T−1`; whoever runs the forwards says which: `Steerer.begin(P, mask)` before a
batch's prompt forward, `Steerer.at(offset, mask)` before each later one (a stand-alone forward
keeps offset 0). Generation and last-token scoring in `workbench.lm.generate` do this themselves
(they take `edits=` and `positions=`); nothing else sets a steerer's state. With `prompt_length`
P, "prompt" edits positions < P and "generated" positions ≥ P. With an `attention_mask`
[batch, ≥ P] (left padding: 0 on pads), padded positions are never edited.

Rows. An edit may be a `RowEdits` (a different edit per row, workbench.tensor.row_edits) instead
of one `SteeringEdit` for all rows. Its rows are those of the whole call; `Steerer.rows(indices)`
says which of them the current batch holds (in batch order), and each RowEdits is `take`n to them
once per call of `rows`. Without `rows` (or after `rows(None)`) a batch is rows 0 … b−1.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor, nn

from workbench.tensor.positions import POSITIONS
from workbench.tensor.row_edits import RowEdits
from workbench.tensor.steering import SteeringEdit

Edit = SteeringEdit | RowEdits


def hook_points(model: nn.Module) -> dict[str, nn.Module]:
    """Every hookable name of `model`: a bridge's hook points (with their aliases) or, for a plain
    module, its named submodules."""
    hook_dict = getattr(model, "hook_dict", None)
    if isinstance(hook_dict, Mapping) and hook_dict:
        return dict(hook_dict)
    return {name: mod for name, mod in model.named_modules() if name}


def resolve(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    """Map each name to its module; an unknown name raises ValueError listing valid ones."""
    points = hook_points(model)
    out = {}
    for name in names:
        if name not in points:
            resid = sorted(n for n in points if "resid" in n)
            shown = resid[:12] or sorted(points)[:12]
            raise ValueError(
                f"`hook` {name!r} is not a hook point of this {type(model).__name__}; valid names include "
                f"{shown} ({len(points)} in all; see workbench.tensor.hooks.hook_points(model))"
            )
        out[name] = points[name]
    return out


def _first(output: object) -> Tensor:
    return output[0] if isinstance(output, tuple) else output  # type: ignore[index]


def _replace_first(output: object, value: Tensor) -> object:
    return (value, *output[1:]) if isinstance(output, tuple) else value  # type: ignore[index]


class Steerer:
    """Context manager applying one `SteeringEdit` or `RowEdits` per hook name (several layers at
    once is several names). `begin`, `at` and `rows` move it between forwards (the LM layer's
    generation loop calls them); `offset`, `prompt_length`, `attention_mask` and `row_index` are
    read-only outside those."""

    def __init__(
        self,
        model: nn.Module,
        edits: Mapping[str, Edit],
        positions: str = "all",
        prompt_length: int | None = None,
        attention_mask: Tensor | None = None,
        targets: Mapping[str, tuple[nn.Module, str]] | None = None,
    ) -> None:
        """`targets` (optional): {name: (module, "output" | "input")} — edit that module's output,
        or its input hidden states (first positional argument or `hidden_states=`), instead of
        the output of the hook point `name` resolves to (the LM layer's bridge-free fast path)."""
        if positions not in POSITIONS:
            raise ValueError(f"`positions` must be one of {POSITIONS}; got {positions!r}")
        for name, edit in edits.items():
            if not isinstance(edit, (SteeringEdit, RowEdits)):
                raise ValueError(f"`edits[{name!r}]` must be a SteeringEdit or RowEdits; got {type(edit).__name__}")
        self.model = model
        if targets is not None and set(targets) != set(edits):
            raise ValueError(f"`targets` must name exactly the edited hooks {sorted(edits)}; got {sorted(targets)}")
        self.targets = (
            dict(targets) if targets is not None else {n: (m, "output") for n, m in resolve(model, list(edits)).items()}
        )
        self.edits = dict(edits)
        self.row_index: Tensor | None = None
        self._current: dict[str, Edit] = dict(self.edits)  # RowEdits taken to the current batch's rows
        self.positions = positions
        self.prompt_length = prompt_length
        self.attention_mask = attention_mask
        self.offset = 0
        # {hook name: shape of the first activation it edited}: which edits reached the forward
        self.seen: dict[str, tuple[int, ...]] = {}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def begin(self, prompt_length: int, attention_mask: Tensor | None = None) -> None:
        """A new batch: its prompt is `prompt_length` tokens wide (mask [batch, P], 0 on left
        pads) and the next forward covers positions 0 … T−1."""
        self.prompt_length, self.attention_mask, self.offset = prompt_length, attention_mask, 0

    def at(self, offset: int, attention_mask: Tensor | None = None) -> None:
        """The next forward covers absolute positions offset … offset+T−1; `attention_mask`
        [batch, ≥ offset+T or P] marks the real ones (positions past its width count as real)."""
        self.offset, self.attention_mask = offset, attention_mask

    def rows(self, indices: Tensor | Sequence[int] | None) -> None:
        """The next forwards' batch holds these rows (indices into every RowEdits' rows, in batch
        order); None: rows 0 … b−1. SteeringEdits ignore it."""
        self.row_index = None if indices is None else torch.as_tensor(indices, dtype=torch.long).cpu()
        self._current = {name: edit.take(self.row_index) if isinstance(edit, RowEdits) and indices is not None
                         else edit for name, edit in self.edits.items()}

    def row_classes(self, batch: int) -> Tensor:
        """Long [batch]: a class per row of the current batch (0, 1, …), equal exactly for rows
        whose edits are the same at every hook (a RowEdits row's table entry; a SteeringEdit is
        every row's). Rows of one class compute the same activations on the same tokens."""
        columns = [edit.index for edit in self._current.values() if isinstance(edit, RowEdits)]
        if not columns:
            return torch.zeros(batch, dtype=torch.long)
        return torch.unique(torch.stack(columns, 1), dim=0, return_inverse=True)[1]

    def batch_rows(self, batch: int) -> Tensor:
        """The rows the current batch of `batch` rows holds (`rows`, or 0 … batch−1)."""
        return torch.arange(batch) if self.row_index is None else self.row_index

    def selection(self, batch: int, length: int, device: torch.device) -> Tensor | None:
        """Bool [batch, length] of the positions to edit in the current forward; None = all."""
        past_mask = self.attention_mask is None or self.offset >= self.attention_mask.shape[1]
        if past_mask and (self.positions == "all" or self.prompt_length is None):
            return None  # the common decoding step: one new, real token — no tensor work
        pos = torch.arange(self.offset, self.offset + length, device=device)
        keep: Tensor | None = None
        if self.positions != "all" and self.prompt_length is not None:
            in_prompt = pos < self.prompt_length
            keep = (in_prompt if self.positions == "prompt" else ~in_prompt).expand(batch, length)
        if self.attention_mask is not None:
            mask = self.attention_mask.to(device)
            width = mask.shape[1]
            real = torch.ones(batch, length, dtype=torch.bool, device=device)
            # pos is the contiguous range offset … offset+length−1, so the part inside the mask is
            # its first n positions: host arithmetic, where `bool(tensor.any())` would sync the
            # device at every hook of every forward of a generation loop
            n_inside = max(0, min(length, width - self.offset))
            if n_inside:
                real[:, :n_inside] = mask[:, self.offset:self.offset + n_inside].bool()
            keep = real if keep is None else keep & real
        return keep

    def _edited(self, name: str, v: Tensor) -> Tensor:
        if name not in self.seen:
            self.seen[name] = tuple(v.shape)
        edit = self._current[name]
        if v.shape[-1] != edit.width:
            raise ValueError(
                f"the `direction` for hook {name!r} has width {edit.width}, "
                f"but the activation there has width {v.shape[-1]}"
            )
        edited = edit.apply(v, hook=name) if isinstance(edit, RowEdits) else edit.apply(v)
        if v.ndim == 3:
            keep = self.selection(v.shape[0], v.shape[1], v.device)
            if keep is not None:
                edited = torch.where(keep.unsqueeze(-1), edited, v)
        return edited

    def _hook(self, name: str):
        def fn(_module: nn.Module, _args: object, output: object) -> object:
            return _replace_first(output, self._edited(name, _first(output)))

        return fn

    def _pre_hook(self, name: str):
        def fn(_module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            if args:
                return (self._edited(name, args[0]), *args[1:]), kwargs
            return args, {**kwargs, "hidden_states": self._edited(name, kwargs["hidden_states"])}

        return fn

    def __enter__(self) -> "Steerer":
        try:
            for name, (module, where) in self.targets.items():
                if where == "input":
                    handle = module.register_forward_pre_hook(self._pre_hook(name), with_kwargs=True)
                else:
                    handle = module.register_forward_hook(self._hook(name))
                self._handles.append(handle)
        except Exception:
            self.remove()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def steer(
    model: nn.Module,
    edits: Mapping[str, Edit],
    positions: str = "all",
    prompt_length: int | None = None,
    attention_mask: Tensor | None = None,
    targets: Mapping[str, tuple[nn.Module, str]] | None = None,
) -> Steerer:
    """`with steer(model, {"blocks.2.hook_resid_pre": edit}): model(...)` — see `Steerer`."""
    return Steerer(model, edits, positions, prompt_length, attention_mask, targets)


@contextmanager
def record(model: nn.Module, names: Sequence[str], position: int | None = -1) -> Iterator[dict[str, list[Tensor]]]:
    """Record the output of each named point on every forward inside the context.

    Yields {name: [tensor per forward]}; with `position` (default −1, the last token: the end of
    a left-padded prompt) only that position is kept, shape [batch, d]; None keeps [batch, T, d].
    """
    modules = resolve(model, list(names))
    store: dict[str, list[Tensor]] = {name: [] for name in names}
    handles = []

    def make(name: str):
        def fn(_m: nn.Module, _a: object, output: object) -> None:
            v = _first(output).detach()
            store[name].append(v[:, position] if position is not None else v)

        return fn

    try:
        for name, module in modules.items():
            handles.append(module.register_forward_hook(make(name)))
        yield store
    finally:
        for h in handles:
            h.remove()
