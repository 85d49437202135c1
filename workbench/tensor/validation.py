"""Checks for user-facing parameters: each raises ValueError naming the parameter and its range.

Library code never `assert`s on user input (asserts vanish under `python -O` and give no hint of
what was allowed).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from pathlib import Path

import torch
from torch import Tensor

# Counts, sizes and seeds end up in torch (shapes, generators), which cannot hold more than int64.
INT64_MAX = 2**63 - 1


def check_number(name: str, value: object) -> float:
    """Return `value` as a float, or raise if it is not a finite real number (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"`{name}` must be a real number; got {value!r} ({type(value).__name__})")
    try:
        value = float(value)
    except OverflowError:  # an int beyond float range, e.g. 10**400
        raise ValueError(f"`{name}` must be finite; got {_show_int(value)}") from None
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
    """Return `value` as an int after checking it is an integer in [low, high] that fits int64
    (a larger count, size or seed cannot reach torch)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"`{name}` must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value)
    lo = "-inf" if low is None else str(low)
    if (low is not None and value < low) or (high is not None and value > high):
        hi = "inf" if high is None else str(high)
        raise ValueError(f"`{name}` must be an integer in [{lo}, {hi}]; got {_show_int(value)}")
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise ValueError(f"`{name}` must fit in int64 (torch's integers), at most 2**63 - 1; got {_show_int(value)}")
    return value


def _show_int(value: int) -> str:
    """The integer, or its size when printing it would be long (or, past 4300 digits, raise)."""
    return str(value) if abs(value) < 10**30 else f"an integer of {value.bit_length()} bits"


def check_sequence(name: str, values: Iterable[object], allow_empty: bool = False) -> tuple:
    """Return `values` as a tuple, non-empty unless `allow_empty` (a bare string, number or
    mapping is not a sequence here: iterating one would silently check the wrong things)."""
    what = "a sequence" if allow_empty else "a non-empty sequence"
    if isinstance(values, (str, bytes, Real, Mapping)) or not isinstance(values, Iterable):
        raise ValueError(f"`{name}` must be {what}; got {values!r}")
    out = tuple(values)
    if not out and not allow_empty:
        raise ValueError(f"`{name}` must be a non-empty sequence; got an empty one")
    return out


def check_choice(name: str, value: object, choices: Iterable[str]) -> str:
    """Return `value` if it is one of the strings `choices` (an unhashable value is rejected here
    rather than raising TypeError from a dict lookup)."""
    options = sorted(choices)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"`{name}` must be one of {options}; got {value!r}")
    return value


def check_text(name: str, value: object) -> str:
    """Return `value` if it is a non-empty string (a column name, a path, a phrase)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"`{name}` must be a non-empty string; got {value!r}")
    return value


def check_optional_text(name: str, value: object) -> str | None:
    """None, or a non-empty string (configs are hashed as JSON, so a Path object is refused too)."""
    return None if value is None else check_text(name, value)


def check_path(name: str, value: object) -> Path:
    """`value` as a Path, or ValueError naming `name` when it is not a str or os.PathLike (Path(None)
    would raise a TypeError that names nothing)."""
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ValueError(f"`{name}` must be a non-empty path (str or os.PathLike); got {value!r}")
    return Path(value).expanduser()


def check_device_name(name: str, value: object) -> str:
    """Return `value` if torch parses it as a device ('cpu', 'cuda:1', …); availability is checked
    when the device is used, so a config written for a GPU box still loads on a laptop."""
    if not isinstance(value, str):
        raise ValueError(f"`{name}` must be a device string such as 'cpu' or 'cuda'; got {value!r}")
    try:
        torch.device(value)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"`{name}` must be a device string such as 'cpu' or 'cuda'; got {value!r}") from err
    return value


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
