"""Checks for user-facing parameters: each raises ValueError naming the parameter and its range.

Library code never `assert`s on user input (asserts vanish under `python -O` and give no hint of
what was allowed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real

import torch
from torch import Tensor


def check_number(name: str, value: object) -> float:
    """Return `value` as a float, or raise if it is not a finite real number (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"`{name}` must be a real number; got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be finite; got {value}")
    return value


def check_range(
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    why: str = "",
) -> float:
    """Return `value` as a float after checking low <= value <= high (or < when open)."""
    x = check_number(name, value)
    too_low = low is not None and (x <= low if low_open else x < low)
    too_high = high is not None and (x >= high if high_open else x > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        suffix = f" ({why})" if why else ""
        raise ValueError(f"`{name}` must be in {left}{lo}, {hi}{right}{suffix}; got {x:g}")
    return x


def check_int(name: str, value: object, low: int | None = None, high: int | None = None) -> int:
    """Return `value` as an int after checking it is an integer in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"`{name}` must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else str(low)
        hi = "inf" if high is None else str(high)
        raise ValueError(f"`{name}` must be an integer in [{lo}, {hi}]; got {value}")
    return value


def check_sequence(name: str, values: Iterable[object]) -> tuple:
    """Return `values` as a non-empty tuple (a bare string or number is not a sequence here)."""
    if isinstance(values, (str, bytes, Real)) or not isinstance(values, Iterable):
        raise ValueError(f"`{name}` must be a non-empty sequence; got {values!r}")
    out = tuple(values)
    if not out:
        raise ValueError(f"`{name}` must be a non-empty sequence; got an empty one")
    return out


def check_finite_tensor(name: str, tensor: Tensor, min_ndim: int = 0) -> Tensor:
    """Raise unless `tensor` is a floating tensor of at least `min_ndim` dims with no NaN/inf."""
    if not isinstance(tensor, Tensor):
        raise ValueError(f"`{name}` must be a torch.Tensor; got {type(tensor).__name__}")
    if tensor.ndim < min_ndim:
        raise ValueError(f"`{name}` must have at least {min_ndim} dims; got shape {tuple(tensor.shape)}")
    if not torch.is_floating_point(tensor):
        raise ValueError(f"`{name}` must be a floating-point tensor; got dtype {tensor.dtype}")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"`{name}` contains NaN or inf")
    return tensor
