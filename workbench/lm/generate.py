"""Batched forwards and generation (greedy or sampled) for HF causal LMs or a TransformerBridge.

Batches are left-padded with an attention mask and position ids counted from each row's first
real token, so a padded row computes what it would alone. Three kinds of model:

    attention      the mask and position ids go to every forward; decoding reuses the KV cache
                   (through a bridge, with the `compat` shim where TransformerLens needs it);
    masked state   Mamba: the mask zeroes padded inputs at the prompt forward, so the state after
                   left padding is the state without it; decoding carries the state (`cache`);
    state          RWKV (also this project's v5.2, workbench.lm.rwkv5_hf): no mask — pads would flow
                   through the state — so the prompt forward runs
                   per group of equal real length (pads stripped) and the groups' states are
                   concatenated row by row; decoding then runs the whole batch one token at a time.

Every path is exact: cached decoding equals recomputing the whole sequence at every step
(`use_cache=False`), token for token (tests/unit/lm/test_cached_generation.py) — also where cached
decoding of an attention model saves work: rows sharing a prompt opening share its forward and
rows of similar length run their prompts together (`workbench.lm.prefill`), a row that emitted EOS
leaves the batch, each step writes into a reserved cache (`kv_cache`) and, on the CPU, attends per
run of rows past their shared pads (`grouped_attention`) through linear layers on oneDNN's packed
kernel (`packed`) — exact up to float rounding.

Steering lives here: `generate`, `generate_ids` and `last_token_logits` take `edits` ({hook name:
SteeringEdit or RowEdits}) and `positions` ("all" | "prompt" | "generated"), install the hooks for
the call (removed when it returns or raises) and tell the `Steerer` before each forward which
absolute positions it covers, which of them are prompt or padding and which rows of the call the
batch holds — callers never touch a steerer. A RowEdits gives each prompt its own edit (one row
per prompt; with `num_samples` > 1 every sample of a prompt gets the prompt's row), so one call
can carry a whole sweep of settings (`workbench.lm.batched.generate_settings`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn
from tqdm.auto import tqdm

from workbench.core.validation import check_choice, check_int
from workbench.lm.compat import prepare_cached_decoding
from workbench.lm.cpu import cpu_kernels
from workbench.lm.decoding import decode_dropping_finished
from workbench.lm.fastpath import fast_targets, unbridged
from workbench.lm.fired import first_forward_check
from workbench.lm.forward import (
    context_length,
    device_of,
    forward,
    hf_model,
    is_recurrent,
    left_padded,
    next_cache,
    pad_id,
    takes_mask,
)
from workbench.lm.kv_cache import reserve
from workbench.lm.prefill import shared_prefill
from workbench.lm.sampling import NonFiniteLogitsError, Sampling, next_tokens, row_uniforms
from workbench.tensor.hooks import POSITIONS, Steerer, record, resolve, steer
from workbench.tensor.row_edits import RowEdits, check_row_edits
from workbench.tensor.steering import SteeringEdit

Edits = Mapping[str, SteeringEdit | RowEdits] | None


def check_fits(model: nn.Module, widths: Sequence[tuple[int, int]], max_new_tokens: int, name: str = "prompts") -> None:
    """Raise ValueError (before any compute) when a prompt of (row, width) tokens plus
    `max_new_tokens` exceeds the model's context: positions past it have no embedding (an
    IndexError inside torch, OPT) or were never trained (Llama runs on silently)."""
    limit = context_length(model)
    if limit is None:
        return
    over = [(row, width) for row, width in widths if width + max_new_tokens > limit]
    if over:
        shown = ", ".join(f"row {row} ({width} tokens)" for row, width in over[:5])
        raise ValueError(f"`{name}`: {len(over)} prompt(s) do not fit the model's context of {limit} positions with "
                         f"`max_new_tokens`={max_new_tokens} more: {shown}; prompts are refused, not truncated")


def check_prompts(prompts: Sequence[str], name: str = "prompts") -> list[str]:
    if isinstance(prompts, str) or not isinstance(prompts, Sequence) or not prompts:
        raise ValueError(f"`{name}` must be a non-empty list of strings; got {type(prompts).__name__}")
    bad = [i for i, p in enumerate(prompts) if not isinstance(p, str) or not p.strip()]
    if bad:
        raise ValueError(f"`{name}` must hold non-empty strings; rows {bad[:5]} are not")
    return list(prompts)


def batches(
    tokenizer, prompts: Sequence[str], batch_size: int, pad: bool = True, device: torch.device | str = "cpu"
) -> Iterator[tuple[list[int], Int[Tensor, "b p"], Int[Tensor, "b p"]]]:
    """(row indices, left-padded input_ids, attention_mask) per batch; rows sorted by length so a
    batch pads little. `pad=False` puts only equal-length prompts together."""
    check_int("batch_size", batch_size, low=1)
    encoded = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in check_prompts(prompts)]
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i]), i))
    groups: list[list[int]] = []
    for i in order:
        if groups and len(groups[-1]) < batch_size and (pad or len(encoded[groups[-1][0]]) == len(encoded[i])):
            groups[-1].append(i)
        else:
            groups.append([i])
    for rows in groups:
        ids, mask = left_padded([encoded[i] for i in rows], pad_id(tokenizer))
        yield rows, ids.to(device), mask.to(device)


def _merge_states(states: list[list[Tensor]], order: Tensor) -> list[Tensor]:
    """RWKV states (a list of [rows, …] tensors per group) joined along the batch, rows put back
    in batch order (`order[j]` = position of batch row j in the concatenation)."""
    return [torch.cat(parts, 0)[order] for parts in zip(*states)]


def _length_groups(mask: Int[Tensor, "b p"]) -> list[Tensor]:
    """Row indices grouped by real (unpadded) length."""
    lengths = mask.sum(1)
    return [torch.nonzero(lengths == n).flatten() for n in torch.unique(lengths)]


def _prefill(model: nn.Module, ids: Int[Tensor, "b t"], mask: Int[Tensor, "b t"], steerer: Steerer | None,
             prompt_width: int) -> tuple[Float[Tensor, "b vocab"], dict]:
    """Logits after the last token of each (left-padded) row and the cache to continue from.

    The rows cover absolute positions 0 … t−1 of a batch whose prompt is `prompt_width` wide (t >
    prompt_width when recomputing a sequence with generated tokens)."""
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    if takes_mask(model):
        if steerer is not None:
            steerer.begin(prompt_width, mask[:, :prompt_width])
            steerer.at(0, mask)
        out = forward(model, ids, mask, positions, {})
        return out.logits[:, -1], next_cache(out)
    width = ids.shape[1]
    logits, states, rows = [], [], []
    previous = steerer.row_index if steerer is not None else None
    batch_rows = steerer.batch_rows(ids.shape[0]) if steerer is not None else None
    try:
        for group in _length_groups(mask):
            n = int(mask[group[0]].sum())
            if steerer is not None:  # the group's real tokens sit at absolute positions width−n … width−1
                steerer.begin(prompt_width, None)
                steerer.at(width - n, None)
                steerer.rows(batch_rows[group.cpu()])  # a RowEdits follows its rows into the group
            out = forward(model, ids[group, width - n:], None, None, {})
            logits.append(out.logits[:, -1])
            states.append(list(out.state))
            rows.append(group)
    finally:
        if steerer is not None:
            steerer.rows(previous)
    order = torch.argsort(torch.cat(rows))
    return torch.cat(logits)[order], {"state": _merge_states(states, order)}


def _prompt_forward(model: nn.Module, ids: Int[Tensor, "b p"], mask: Int[Tensor, "b p"], steerer: Steerer | None,
                    cached: bool, keep_cache: bool = True, room: int = 0
                    ) -> tuple[Float[Tensor, "b vocab"], dict, Int[Tensor, "b p"]]:
    """(logits after each row's prompt, the cache, the mask to decode with) of a prompt batch.
    Rows sharing a prompt, or its opening, share its forward and rows of similar length run
    together (`workbench.lm.prefill`); the uncached path recomputes every row from position 0 and
    stays the plain one, the oracle of the tests. `keep_cache` False: only the logits are read;
    `room`: the decoding steps to reserve cache positions for."""
    shared = (shared_prefill(model, ids, mask, steerer, keep_cache, room) if cached and not is_recurrent(model)
              else None)
    if shared is not None:
        return shared
    logits, cache = _prefill(model, ids, mask, steerer, ids.shape[1])
    return logits, cache, mask


def use_cache_for(model: nn.Module, use_cache: bool | None) -> bool:
    """Whether to decode through the model's cache (default: yes, exact on every kind, see the
    module docstring). A bridge's attention modules get the `compat` shim first when the installed
    TransformerLens needs it, an RWKV model the batched one-token fix (`boot` already did both;
    other models get them here, once)."""
    cached = True if use_cache is None else bool(use_cache)
    if cached:
        prepare_cached_decoding(model)
    return cached


@contextmanager
def _steering(model: nn.Module, edits: Edits, positions: str) -> Iterator[Steerer | None]:
    """The `Steerer` of `edits` at `positions`, its hooks installed for the block (None: no edits),
    the bridge's components bypassed where `fastpath` says that changes nothing."""
    check_choice("positions", positions, POSITIONS)  # checked with or without edits: one rule for callers
    if edits is not None and not isinstance(edits, Mapping):
        raise ValueError(f"`edits` must be a mapping {{hook name: SteeringEdit or RowEdits}} or None; "
                         f"got {type(edits).__name__}")
    if edits:  # names and widths checked against the bridge before it is taken apart
        resolve(model, list(edits))
    # the HF block of each edit, found through the bridge before its components are swapped out
    targets = fast_targets(model, edits)
    with unbridged(model) if targets is not None else nullcontext(), _naming_non_finite(edits):
        if not edits:
            yield None
            return
        d_model = getattr(getattr(model, "cfg", None), "d_model", None)
        with steer(model, edits, positions, targets=targets) as steerer, \
                first_forward_check(hf_model(model), steerer, None if d_model is None else int(d_model)):
            yield steerer


@contextmanager
def _naming_non_finite(edits: Edits) -> Iterator[None]:
    """Non-finite logits re-raised as a ValueError naming what produced them: the edits, or the model."""
    try:
        yield
    except NonFiniteLogitsError as err:
        if edits:
            raise ValueError(f"`edits`: {err}; produced by the edits at {sorted(edits)} (α·r too large for the "
                             "model's dtype, or a NaN direction?)") from None
        raise ValueError(f"{err}; produced by the unsteered model (check its weights and `dtype`)") from None


def _generate_ids(model: nn.Module, ids: Int[Tensor, "b p"], mask: Int[Tensor, "b p"], max_new_tokens: int,
                  eos_token_id: int | None, steerer: Steerer | None, cached: bool, sampling: Sampling,
                  uniforms: Float[Tensor, "b new"] | None) -> Int[Tensor, "b new"]:
    """`generate_ids` with the hooks already installed (`steerer` None: unsteered)."""
    P = ids.shape[1]
    logits, cache, mask = _prompt_forward(model, ids, mask, steerer, cached, room=max_new_tokens)
    prompt_mask = mask
    if cached and steerer is not None:  # decoding: the prompt mask stays, positions past it are generated
        steerer.begin(P, prompt_mask)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, -1:]
    if cached and not is_recurrent(model) and eos_token_id is not None:
        return decode_dropping_finished(model, logits, cache, mask, positions, max_new_tokens, eos_token_id,
                                         steerer, sampling, uniforms)
    new: list[Tensor] = []
    done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    reserve(cache, max_new_tokens)
    for step in range(max_new_tokens):
        token = next_tokens(logits, sampling, None if uniforms is None else uniforms[:, step])
        if eos_token_id is not None:
            token = torch.where(done, torch.full_like(token, eos_token_id), token)
            done |= token == eos_token_id
        new.append(token)
        if step == max_new_tokens - 1 or (eos_token_id is not None and bool(done.all())):
            break
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
        if not cached:  # the whole sequence again, from position 0
            ids = torch.cat([ids, token[:, None]], 1)
            logits, _ = _prefill(model, ids, mask, steerer, P)
            continue
        positions = positions + 1
        if steerer is not None:
            steerer.at(P + step, prompt_mask)
        # attention models take the grown mask; state models carry their past in the cache
        out = forward(model, token[:, None], None if is_recurrent(model) else mask, positions, cache)
        logits, cache = out.logits[:, -1], next_cache(out)
    return torch.stack(new, 1)


@torch.no_grad()
def generate_ids(
    model: nn.Module,
    ids: Int[Tensor, "b p"],
    mask: Int[Tensor, "b p"],
    max_new_tokens: int,
    eos_token_id: int | None,
    edits: Edits = None,
    positions: str = "all",
    use_cache: bool | None = None,
    sampling: Sampling | None = None,
    keys: Sequence[tuple[int, int]] | None = None,
) -> Int[Tensor, "b new"]:
    """Continuation of one left-padded batch; rows that emitted EOS keep emitting it.

    `edits` ({hook name: SteeringEdit or RowEdits of b rows}, None or {} for none) apply at
    `positions` during every forward of the call; the hooks are gone when it returns or raises.
    `sampling` None is greedy; `keys` ((prompt index, sample index) per row, default (row, 0))
    seed each sampled row."""
    check_int("max_new_tokens", max_new_tokens, low=1)
    check_row_edits(edits, ids.shape[0], "rows in `ids`")
    sampling = sampling or Sampling()
    cached = use_cache_for(model, use_cache)
    keys = list(keys) if keys is not None else [(row, 0) for row in range(ids.shape[0])]
    uniforms = row_uniforms(sampling, keys, max_new_tokens, ids.device)
    with _steering(model, edits, positions) as steerer, cpu_kernels(model):
        return _generate_ids(model, ids, mask, max_new_tokens, eos_token_id, steerer, cached, sampling, uniforms)


@torch.no_grad()
def generate(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    max_new_tokens: int = 24,
    batch_size: int = 64,
    edits: Edits = None,
    positions: str = "all",
    progress: bool = False,
    use_cache: bool | None = None,
    temperature: float = 0.0,
    top_p: float = 1.0,
    num_samples: int = 1,
    seed: int = 0,
) -> list[str] | list[list[str]]:
    """Completions of `prompts` (text after the prompt, up to EOS, special tokens dropped): one
    string per prompt, or a list of `num_samples` strings per prompt when `num_samples` > 1.

    `temperature` 0 is greedy; > 0 samples (top-`top_p` nucleus) with uniforms seeded by (`seed`,
    prompt index, sample index), so a call repeats exactly whatever the batching (`sampling`).
    `edits` ({hook name: SteeringEdit, or RowEdits with one row per prompt — every sample of a
    prompt gets its row}, None or {} for none) apply at `positions` ("all", "prompt": positions < P
    of each batch's prompt width P, "generated": ≥ P; left pads never) during every forward; the
    hooks are installed for this call only."""
    check_int("max_new_tokens", max_new_tokens, low=1)
    n_samples = check_int("num_samples", num_samples, low=1)
    sampling = Sampling(temperature, top_p, seed)
    check_row_edits(edits, len(check_prompts(prompts)))
    keys = [(i, s) for i in range(len(prompts)) for s in range(n_samples)]
    out = generate_rows(model, tokenizer, [prompts[i] for i, _ in keys], keys, [i for i, _ in keys], max_new_tokens,
                        batch_size, edits, positions, progress, use_cache, sampling)
    if n_samples == 1:
        return out
    return [out[i * n_samples:(i + 1) * n_samples] for i in range(len(prompts))]


@torch.no_grad()
def generate_rows(model: nn.Module, tokenizer, texts: Sequence[str], keys: Sequence[tuple[int, int]],
                  edit_rows: Sequence[int], max_new_tokens: int, batch_size: int, edits: Edits, positions: str,
                  progress: bool, use_cache: bool | None, sampling: Sampling) -> list[str]:
    """The completion of each row: `texts[k]` generated with sampling key `keys[k]` ((prompt index,
    sample index): its uniforms, and the prompt index that errors name) and row `edit_rows[k]` of
    every RowEdits in `edits` (the caller has checked their lengths). The engine of `generate` and
    `generate_settings`: rows are sorted by length into batches of `batch_size`."""
    out: list[str] = [""] * len(texts)
    device = device_of(model)
    cached = use_cache_for(model, use_cache)
    todo = list(batches(tokenizer, texts, batch_size, True, device))  # every prompt tokenized before compute
    check_fits(model, [(keys[i][0], int(mask[j].sum())) for rows, _ids, mask in todo for j, i in enumerate(rows)],
               max_new_tokens)
    with _steering(model, edits, positions) as steerer, cpu_kernels(model):
        for rows, ids, mask in tqdm(todo, desc="generating", disable=not progress, leave=False):
            if steerer is not None:
                steerer.rows([edit_rows[i] for i in rows])
            new = _generate_ids(model, ids, mask, max_new_tokens, tokenizer.eos_token_id, steerer, cached, sampling,
                                row_uniforms(sampling, [keys[i] for i in rows], max_new_tokens, device))
            new_rows = new.tolist()  # one device-to-host copy per batch, not one per row
            for j, i in enumerate(rows):
                out[i] = tokenizer.decode(new_rows[j], skip_special_tokens=True).strip()
    return out


@torch.no_grad()
def last_token_logits(model: nn.Module, tokenizer, prompts: Sequence[str], batch_size: int = 64,
                      edits: Edits = None, positions: str = "all") -> Float[Tensor, "n vocab"]:
    """Logits at the last prompt token (the first response position) for every prompt, with
    `edits` (a RowEdits: one row per prompt) at `positions` as in `generate` (one prompt forward:
    "generated" edits nothing)."""
    check_row_edits(edits, len(check_prompts(prompts)))
    device = device_of(model)
    cached = use_cache_for(model, None)
    rows_out: list[Tensor] = [torch.empty(0)] * len(prompts)
    with _steering(model, edits, positions) as steerer, cpu_kernels(model):
        for rows, ids, mask in batches(tokenizer, prompts, batch_size, True, device):
            if steerer is not None:
                steerer.rows(rows)
            logits = _prompt_forward(model, ids, mask, steerer, cached, keep_cache=False)[0].float()
            for j, i in enumerate(rows):
                rows_out[i] = logits[j]
    return torch.stack(rows_out)


@torch.no_grad()
def last_token_activations(
    model: nn.Module, tokenizer, prompts: Sequence[str], hook_names: Sequence[str], batch_size: int = 64
) -> Float[Tensor, "n hooks d"]:
    """The activation at the last prompt token at each hook point, for every prompt (float32)."""
    pad = takes_mask(model)  # state models: equal-length batches, one forward each
    device = device_of(model)
    out: list[Tensor] = [torch.empty(0)] * len(prompts)
    for rows, ids, mask in batches(tokenizer, prompts, batch_size, pad, device):
        with record(model, hook_names, position=-1) as store:
            forward(model, ids, mask if pad else None, (mask.cumsum(-1) - 1).clamp(min=0), {})
        # .to(device): under a device_map the blocks (and so their activations) sit on several GPUs
        acts = torch.stack([store[name][0].to(device) for name in hook_names], 1).float()
        for j, i in enumerate(rows):
            out[i] = acts[j]
    return torch.stack(out)
