"""Choosing the next token: greedy, or temperature / nucleus (top-p) sampling that repeats exactly.

Sampling draws by inverse CDF with one uniform number per row and step. The uniforms of a row
come from its own generator, seeded by (seed, prompt index, sample index): a completion depends on
the seed and on which prompt and sample it is, never on the batch it landed in, the batch size or
the order rows were sorted in — change `batch_size` and every sample stays the same.

    p = softmax(logits / T);  top-p keeps the smallest set of most likely tokens whose mass
    reaches `top_p` (the most likely token always);  token = min{k : CDF_kept(k) ≥ u · mass_kept}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from workbench.core.validation import check_int, check_range

# below this, softmax(logits / T) is an argmax in all but round-off, and logits / T overflows as
# T nears the subnormal floats (T = 1e-310 gave garbage bytes): refused, 0 asks for greedy
MIN_TEMPERATURE = 1e-4


class NonFiniteLogitsError(ValueError):
    """The model's logits held NaN or ±inf in some rows (`rows`): no token can be chosen from them."""

    def __init__(self, rows: list[int]) -> None:
        super().__init__(f"the logits of rows {rows[:8]} are not finite (NaN or inf): no token can be chosen")
        self.rows = rows


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen: `temperature` 0 is greedy (argmax; `top_p` and `seed` unused),
    ≥ `MIN_TEMPERATURE` samples from softmax(logits / temperature) restricted to the top-`top_p`
    nucleus; a temperature between the two is refused."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "temperature", check_range("temperature", self.temperature, low=0.0))
        if 0.0 < self.temperature < MIN_TEMPERATURE:
            raise ValueError(f"`temperature` must be 0 (greedy) or ≥ {MIN_TEMPERATURE:g}; got {self.temperature!r}")
        object.__setattr__(self, "top_p", check_range("top_p", self.top_p, low=0.0, high=1.0, low_open=True))
        object.__setattr__(self, "seed", check_int("seed", self.seed, low=0))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


def row_uniforms(sampling: Sampling, keys: Sequence[tuple[int, int]], steps: int,
                 device: torch.device | str = "cpu") -> Float[Tensor, "b steps"] | None:
    """Uniform numbers in [0, 1) for each row (key = (prompt index, sample index)) and step; None
    when greedy. Each row's numbers come from numpy's generator seeded by (seed, prompt, sample)."""
    if sampling.greedy:
        return None
    rows = [np.random.default_rng([sampling.seed, prompt, sample]).random(steps) for prompt, sample in keys]
    return torch.tensor(np.stack(rows), dtype=torch.float64, device=device)


def next_tokens(logits: Float[Tensor, "b vocab"], sampling: Sampling,
                uniforms: Float[Tensor, " b"] | None) -> Int[Tensor, " b"]:
    """The next token of each row: argmax when greedy, else the inverse-CDF draw of the module
    docstring at `uniforms` (one per row). Raises `NonFiniteLogitsError` when a row's logits hold
    NaN or ±inf (an argmax would pick an arbitrary token, often EOS: empty text, silently)."""
    # x·0 is 0 for finite x and NaN for ±inf or NaN, and a sum of zeros cannot overflow: one cheap
    # pass (0.55 ms for SmolLM2's 32 × 49k logits, against 3.8 ms for isfinite(logits).all(-1))
    finite = torch.isfinite((logits * 0).sum(-1))
    if not bool(finite.all()):
        raise NonFiniteLogitsError((~finite).nonzero().flatten().tolist())
    if sampling.greedy or uniforms is None:
        # the cast is exact and keeps the first maximum; argmax over bfloat16 runs unvectorised on
        # CPU (10 ms for 128 rows of SmolLM2's 49k logits, against 2 ms for the cast and a float argmax)
        return logits.float().argmax(-1)
    probs = torch.softmax(logits.double() / sampling.temperature, -1)
    sorted_probs, order = probs.sort(-1, descending=True)
    cdf = sorted_probs.cumsum(-1)
    if sampling.top_p < 1.0:
        # keep token k while the mass before it is < top_p: the first token always stays
        keep = (cdf - sorted_probs) < sampling.top_p
        sorted_probs = sorted_probs * keep
        cdf = sorted_probs.cumsum(-1)
    target = uniforms.to(cdf)[:, None] * cdf[:, -1:]
    index = torch.searchsorted(cdf, target, right=True).clamp(max=cdf.shape[-1] - 1)
    return order.gather(-1, index).squeeze(-1)
