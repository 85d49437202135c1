"""A sweep of steering settings over the same prompts in a few large batches instead of one call each.

A setting is {hook name: SteeringEdit} (None or {} for no edit). `generate_settings` runs every
(setting, prompt) pair as one row of one `generate` engine call: each hook in the union of the
settings' hooks gets a `RowEdits` (workbench.tensor.row_edits) whose row s·n + i is setting s's
edit there (the identity where setting s has none), and the rows are sorted by length into
batches as `generate` sorts prompts. A sampled row is seeded by the (prompt index, sample index)
it has in a per-setting `generate` call, so setting s's output is `generate(…, edits=settings[s])`'s
— exactly up to float rounding: a row's forward in a batch of other rows and widths rounds like
`generate` batching the same prompt differently (greedy and sampled tokens equal on the tiny test
models, tests/unit/lm/test_batched_settings.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from jaxtyping import Float
from torch import nn

from workbench.core.validation import check_int
from workbench.lm.generate import check_prompts, generate_rows, last_token_logits
from workbench.lm.sampling import Sampling
from workbench.tensor.row_edits import RowEdits
from workbench.tensor.steering import SteeringEdit

Setting = Mapping[str, SteeringEdit | None] | None


def check_settings(settings: Sequence[Setting]) -> list[dict[str, SteeringEdit | None]]:
    """Each setting as a dict (None → {}); raises ValueError on anything but a non-empty sequence
    of {hook name: SteeringEdit or None} mappings or None."""
    if isinstance(settings, (str, bytes, Mapping)) or not isinstance(settings, Sequence) or not settings:
        raise ValueError("`settings` must be a non-empty list of {hook name: SteeringEdit} mappings (or None); "
                         f"got {type(settings).__name__}")
    out = []
    for s, setting in enumerate(settings):
        if setting is not None and not isinstance(setting, Mapping):
            raise ValueError(f"`settings[{s}]` must be a mapping {{hook name: SteeringEdit}} or None; "
                             f"got {type(setting).__name__}")
        for name, edit in (setting or {}).items():
            if not isinstance(name, str) or (edit is not None and not isinstance(edit, SteeringEdit)):
                raise ValueError(f"`settings[{s}]` must map hook names to SteeringEdit (or None); "
                                 f"got {name!r}: {type(edit).__name__}")
        out.append(dict(setting or {}))
    return out


def setting_edits(settings: Sequence[Setting], n_prompts: int) -> dict[str, RowEdits]:
    """{hook: RowEdits of len(settings)·n_prompts rows} for the union of the settings' hooks: row
    s·n_prompts + i is setting s (on prompt i) — its edit at that hook, or the identity."""
    checked = check_settings(settings)
    n = check_int("n_prompts", n_prompts, low=1)
    names = sorted({name for setting in checked for name, edit in setting.items() if edit is not None})
    out = {}
    for name in names:
        widths = {s: e.width for s, setting in enumerate(checked) if (e := setting.get(name)) is not None}
        if len(set(widths.values())) > 1:
            raise ValueError(f"the settings' edits at hook {name!r} differ in width: {widths} (setting: width)")
        per_setting = [setting.get(name) for setting in checked]
        out[name] = RowEdits.stack([edit for edit in per_setting for _ in range(n)], next(iter(widths.values())))
    return out


@torch.no_grad()
def generate_settings(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    settings: Sequence[Setting],
    max_new_tokens: int = 24,
    batch_size: int = 64,
    positions: str = "all",
    progress: bool = False,
    use_cache: bool | None = None,
    temperature: float = 0.0,
    top_p: float = 1.0,
    num_samples: int = 1,
    seed: int = 0,
) -> list[list[str]] | list[list[list[str]]]:
    """`[generate(model, tokenizer, prompts, …, edits=setting) for setting in settings]` in one pass:
    one output per setting, shaped as `generate` returns it (a string per prompt, or a list of
    `num_samples` strings per prompt). `batch_size` counts rows (setting × prompt × sample);
    `positions`, sampling (`temperature`, `top_p`, `seed`) and `use_cache` are as in `generate`
    and shared by every setting. Settings may edit different hooks (module docstring)."""
    check_int("max_new_tokens", max_new_tokens, low=1)
    n_samples = check_int("num_samples", num_samples, low=1)
    sampling = Sampling(temperature, top_p, seed)
    prompts = check_prompts(prompts)
    n = len(prompts)
    edits = setting_edits(settings, n)
    rows = [(s, i, j) for s in range(len(settings)) for i in range(n) for j in range(n_samples)]
    flat = generate_rows(model, tokenizer, [prompts[i] for _, i, _ in rows], [(i, j) for _, i, j in rows],
                         [s * n + i for s, i, _ in rows], max_new_tokens, batch_size, edits, positions, progress,
                         use_cache, sampling)
    per_prompt = n * n_samples
    out = []
    for s in range(len(settings)):
        block = flat[s * per_prompt:(s + 1) * per_prompt]
        out.append(block if n_samples == 1 else [block[i * n_samples:(i + 1) * n_samples] for i in range(n)])
    return out


@torch.no_grad()
def last_token_logits_settings(model: nn.Module, tokenizer, prompts: Sequence[str], settings: Sequence[Setting],
                               batch_size: int = 64, positions: str = "all") -> Float[torch.Tensor, "settings n vocab"]:
    """`torch.stack([last_token_logits(model, tokenizer, prompts, …, edits=setting) for setting in
    settings])` in one pass (rows = settings × prompts, `batch_size` of them per forward)."""
    prompts = check_prompts(prompts)
    edits = setting_edits(settings, len(prompts))
    logits = last_token_logits(model, tokenizer, prompts * len(settings), batch_size, edits=edits, positions=positions)
    return logits.view(len(settings), len(prompts), -1)
