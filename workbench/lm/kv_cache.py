"""KV caches for decoding on the CPU: room reserved up front, and caches of row groups joined.

transformers' `DynamicLayer` appends a decoding step's keys and values with `torch.cat`, which
copies the layer's whole cache into a fresh allocation at every step: on the 4-layer d-256 Llama of
`BENCH steered_generation` (32 rows, ~160 positions) 1,168 such copies of up to 5 MB each per call.
`ReservedLayer` keeps keys and values in buffers [batch, heads, capacity, head_dim] and hands out
the views [:, :, :n]; a step writes its token in place. `reserve(cache, extra)` swaps a returned
cache's plain layers for reserved ones with room for `extra` more positions.

`joined(parts, batch, width)` builds one left-padded cache from the caches of prompt forwards that
ran on groups of rows with different widths (`workbench.lm.prefill` runs rows of similar length
together instead of padding every row to the longest): each row's prefix and rest positions land
right-aligned in `width` columns, the pads before them zero (the decoding mask hides them).

Only caches whose layers are all plain `DynamicLayer`s are touched (`plain_layers`); sliding-window
and hybrid caches keep transformers' own layers.
"""

from __future__ import annotations

from jaxtyping import Float
from torch import Tensor
from transformers.cache_utils import DynamicCache, DynamicLayer


class ReservedLayer(DynamicLayer):
    """A `DynamicLayer` whose keys and values are views into buffers with room to grow (module
    docstring); past the room it doubles the buffers once, so it never fails where DynamicLayer
    would not."""

    def __init__(self, keys: Float[Tensor, "b h n d"], values: Float[Tensor, "b h n dv"], capacity: int) -> None:
        super().__init__()
        self.device, self.is_initialized = keys.device, True
        self._set(keys, values, max(capacity, keys.shape[-2]))

    @classmethod
    def adopt(cls, keys: Float[Tensor, "b h cap d"], values: Float[Tensor, "b h cap dv"], n: int) -> ReservedLayer:
        """A layer on buffers whose first n positions hold the cache (no copy)."""
        layer = cls.__new__(cls)
        DynamicLayer.__init__(layer)
        layer.device, layer.is_initialized = keys.device, True
        layer._keys, layer._values = keys, values
        layer._view(n)
        return layer

    def _set(self, keys: Tensor, values: Tensor, capacity: int) -> None:
        # positions past n are written by `update` before anything reads them: no zeroing
        n = keys.shape[-2]
        self._keys = keys.new_empty(*keys.shape[:-2], capacity, keys.shape[-1])
        self._values = values.new_empty(*values.shape[:-2], capacity, values.shape[-1])
        self._keys[..., :n, :], self._values[..., :n, :] = keys, values
        self._view(n)

    @property
    def capacity(self) -> int:
        return self._keys.shape[-2]

    def _view(self, n: int) -> None:
        self.keys, self.values = self._keys[..., :n, :], self._values[..., :n, :]

    def update(self, key_states: Tensor, value_states: Tensor, *_args: object, **_kwargs: object
               ) -> tuple[Tensor, Tensor]:
        n, t = self.keys.shape[-2], key_states.shape[-2]
        if n + t > self.capacity:
            self._set(self.keys, self.values, 2 * (n + t))
        self._keys[..., n:n + t, :] = key_states
        self._values[..., n:n + t, :] = value_states
        self._view(n + t)
        return self.keys, self.values

    def reserve(self, extra: int) -> None:
        if self.keys.shape[-2] + extra > self.capacity:
            self._set(self.keys, self.values, self.keys.shape[-2] + extra)

    def batch_select_indices(self, indices: Tensor) -> None:
        n = self.keys.shape[-2]
        self._keys, self._values = self._keys[indices], self._values[indices]
        self._view(n)

    def batch_repeat_interleave(self, repeats: int) -> None:
        n = self.keys.shape[-2]
        self._keys = self._keys.repeat_interleave(repeats, dim=0)
        self._values = self._values.repeat_interleave(repeats, dim=0)
        self._view(n)

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:  # DynamicLayer's rule: only negative counts (tokens to drop)
            raise ValueError(f"`crop` takes a negative number of tokens to remove; got {tokens_to_remove}")
        self._view(self.keys.shape[-2] - abs(tokens_to_remove))


def plain_layers(cache: object) -> bool:
    """Whether `cache` is a DynamicCache whose layers are all initialised plain (or reserved)
    `DynamicLayer`s: the caches this module may rebuild."""
    layers = getattr(cache, "layers", None)
    return (isinstance(cache, DynamicCache) and bool(layers)
            and all(type(layer) in (DynamicLayer, ReservedLayer) and layer.is_initialized for layer in layers))


def reserve(cache: dict, extra: int) -> dict:
    """`cache` ({keyword: Cache}, as `workbench.lm.forward.next_cache` returns it) with room for
    `extra` more positions in every layer, in place; other kinds of cache are returned as they are."""
    for value in cache.values():
        if plain_layers(value):
            for i, layer in enumerate(value.layers):
                if isinstance(layer, ReservedLayer):
                    layer.reserve(extra)
                else:
                    value.layers[i] = ReservedLayer(layer.keys, layer.values, layer.keys.shape[-2] + extra)
    return cache


def joined(parts: list[tuple[Tensor, DynamicCache, int, list[int], int]], batch: int, width: int,
           room: int = 0) -> DynamicCache:
    """One cache of `batch` rows × `width` positions from `parts` (rows, cache, k, rests, w): row j
    of a part's cache holds k prefix positions, w − rests[j] pads, then rests[j] real positions (the
    [prefix | pads | rest] layout of `workbench.lm.prefill`'s group forwards); in the joined cache
    row rows[j] holds them right-aligned, [pads | prefix | rest], the layout of a plain left-padded
    prompt pass. Pads are zero (masked, but they must be finite); `room` more positions are
    reserved for decoding. Every part must satisfy `plain_layers`."""
    first = parts[0][1]
    out = DynamicCache()
    out.layers = []
    for layer in range(len(first.layers)):
        keys, values = first.layers[layer].keys, first.layers[layer].values
        k_all = keys.new_empty(batch, keys.shape[1], width + room, keys.shape[-1])
        v_all = values.new_empty(batch, values.shape[1], width + room, values.shape[-1])
        k_all[:, :, :width], v_all[:, :, :width] = 0, 0
        for rows, cache, k, rests, w in parts:
            src_k, src_v = cache.layers[layer].keys, cache.layers[layer].values
            for j, (row, r) in enumerate(zip(rows.tolist(), rests)):
                at = width - k - r
                k_all[row, :, at:at + k], v_all[row, :, at:at + k] = src_k[j, :, :k], src_v[j, :, :k]
                k_all[row, :, width - r:width] = src_k[j, :, k + w - r:k + w]
                v_all[row, :, width - r:width] = src_v[j, :, k + w - r:k + w]
        out.layers.append(ReservedLayer.adopt(k_all, v_all, width))
    return out


def prefix_copy(cache: DynamicCache, rows: Tensor, extra: int) -> DynamicCache:
    """A new cache holding rows `rows` (repeats allowed) of `cache`, with room for `extra` more
    positions: each row group's forward continues from its own copy of the shared prefix."""
    out = DynamicCache()
    out.layers = [ReservedLayer(layer.keys[rows], layer.values[rows], layer.keys.shape[-2] + extra)
                  for layer in cache.layers]
    return out
