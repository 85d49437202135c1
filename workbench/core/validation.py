"""Checks for user-facing parameters: each raises ValueError naming the parameter and its range.

Library code never `assert`s on user input (asserts vanish under `python -O` and give no hint of
what was allowed).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from workbench.core.paths import expand_path

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


def _bounds(low: str | None, high: str | None, low_open: bool = False, high_open: bool = False) -> str:
    """A range in words: "≥ 1", "> 0", "≤ 5", or "in [1, 7]" / "in (0, 1]" when both ends are set."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '≥'} {low}"
    return f"{'<' if high_open else '≤'} {high}" if high is not None else "finite"


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
        suffix = f" ({why})" if why else ""
        bounds = _bounds(None if low is None else f"{low:g}", None if high is None else f"{high:g}", low_open,
                         high_open)
        raise ValueError(f"`{name}` must be {bounds}{suffix}; got {x:g}")
    return x


def check_int(name: str, value: object, low: int | None = None, high: int | None = None,
              high_name: str = "") -> int:
    """Return `value` as an int after checking it is an integer in [low, high] that fits int64
    (a larger count, size or seed cannot reach torch); `high_name` says what a bound that depends
    on another value is ("n − 1": the message reads "in [1, n − 1 = 7]")."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"`{name}` must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        hi = None if high is None else f"{high_name} = {high}" if high_name else str(high)
        raise ValueError(f"`{name}` must be an integer {_bounds(None if low is None else str(low), hi)}; "
                         f"got {_show_int(value)}")
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


def check_choice(name: str, value: object, choices: Iterable[str], phrase: str = "must be one of") -> str:
    """Return `value` if it is one of the strings `choices`, listed in the caller's order (an
    unhashable value is rejected here rather than raising TypeError from a dict lookup); `phrase`
    words the error ("`x` must be one of [...]")."""
    options = list(choices)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"`{name}` {phrase} {options}; got {value!r}")
    return value


def check_text(name: str, value: object) -> str:
    """Return `value` if it is a non-empty string (a column name, a path, a phrase)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"`{name}` must be a non-empty string; got {value!r}")
    return value


def check_path(name: str, value: object) -> Path:
    """`value` as a Path with `~` and `$VARS` expanded, or ValueError naming `name` when it is not a
    str or os.PathLike (Path(None) would raise a TypeError that names nothing) or names an unset
    variable."""
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ValueError(f"`{name}` must be a non-empty path (str or os.PathLike); got {value!r}")
    return expand_path(name, value)


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


# --- declared parameters ----------------------------------------------------------------------------
# A config field's valid values are declared once, beside the field: `n: int = param(20, Int(2))`.
# `check_fields` validates a config from the declarations and the bad-input tests generate their
# out-of-range values from the same ones. A bound may be a function of the config (`lambda c: c.n - 1`)
# for a range that reads another field; such fields are checked after all the others, so the bound
# only ever sees checked values. Rules other than ranges (d_model divisible by n_heads, …) stay code.

Bound = float | Callable[[Any], float | None] | None
RULE = "workbench.rule"  # the dataclass field metadata key


def _resolve(bound: Bound, owner: object) -> Any:
    return bound(owner) if callable(bound) else bound


@dataclass(frozen=True)
class Int:
    """An integer in [low, high] (None: unbounded; int64's range either way). `optional`: None is
    valid. `allowed`: values valid outside the range (0 = a study switched off). `when`: the rule
    applies only when `when(config)` holds (the field is unused otherwise)."""

    low: Bound = None
    high: Bound = None
    optional: bool = False
    allowed: tuple[int, ...] = ()
    when: Callable[[Any], bool] | None = None
    high_name: str = ""  # what a dependent `high` is, for the message ("n − 1")

    @property
    def dependent(self) -> bool:
        return callable(self.low) or callable(self.high) or self.when is not None

    def check(self, name: str, value: object, owner: object = None) -> object:
        if (value is None and self.optional) or (self.when is not None and not self.when(owner)):
            return value
        if not isinstance(value, bool) and isinstance(value, Integral) and value in self.allowed:
            return int(value)
        return check_int(name, value, _resolve(self.low, owner), _resolve(self.high, owner), self.high_name)


@dataclass(frozen=True)
class Number:
    """A finite real in low..high, each end closed unless `*_open` (None: unbounded); `why` is
    added to the error message."""

    low: Bound = None
    high: Bound = None
    low_open: bool = False
    high_open: bool = False
    why: str = ""

    @property
    def dependent(self) -> bool:
        return callable(self.low) or callable(self.high)

    def check(self, name: str, value: object, owner: object = None) -> float:
        return check_range(name, value, _resolve(self.low, owner), _resolve(self.high, owner),
                           low_open=self.low_open, high_open=self.high_open, why=self.why)


POSITIVE = Number(0.0, low_open=True)  # a rate, a weight, a radius: any finite real > 0


@dataclass(frozen=True)
class Choice:
    """One of the strings `options` (or None when `optional`); `phrase` words the error ("`x`
    must be one of [...]")."""

    options: tuple[str, ...]
    phrase: str = "must be one of"
    optional: bool = False

    dependent = False

    def check(self, name: str, value: object, owner: object = None) -> str | None:
        if value is None and self.optional:
            return None
        try:
            return check_choice(name, value, self.options, self.phrase)
        except ValueError as err:
            if self.optional:
                raise ValueError(f"{err} (or None)") from None
            raise


@dataclass(frozen=True)
class Text:
    """A non-empty string (configs are hashed as JSON, so a Path is refused too). `optional`: None
    is valid; `path`: it names a file or folder; `must_exist`: checked on disk now
    (FileNotFoundError otherwise)."""

    optional: bool = False
    path: bool = False
    must_exist: bool = False

    dependent = False

    def check(self, name: str, value: object, owner: object = None) -> str | None:
        if value is None and self.optional:
            return None
        if not isinstance(value, str) or not value.strip():
            what = "a non-empty path string" if self.path else "a non-empty string"
            raise ValueError(f"`{name}` must be {what}{' or None' if self.optional else ''}; got {value!r}")
        if self.must_exist and not Path(value).exists():
            raise FileNotFoundError(f"`{name}` {value!r} does not exist")
        return value


@dataclass(frozen=True)
class Flag:
    """True or False (0, 1 and "True" are not: a typo'd flag should not pass as truthy)."""

    dependent = False

    def check(self, name: str, value: object, owner: object = None) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"`{name}` must be True or False; got {value!r}")
        return value


@dataclass(frozen=True)
class Many:
    """A tuple of `item`s, non-empty unless `allow_empty`; `unique`: no repeats; `optional`: None is
    valid. Item errors name `name[i]`, or `name` when not `indexed`."""

    item: Int | Number | Choice | Text
    allow_empty: bool = False
    unique: bool = False
    indexed: bool = True
    optional: bool = False

    @property
    def dependent(self) -> bool:
        return self.item.dependent

    def check(self, name: str, value: object, owner: object = None) -> tuple | None:
        if value is None and self.optional:
            return None
        values = check_sequence(name, value, allow_empty=self.allow_empty)
        out = tuple(self.item.check(f"{name}[{i}]" if self.indexed else name, v, owner) for i, v in enumerate(values))
        if self.unique and len(set(out)) != len(out):
            raise ValueError(f"`{name}` must not repeat; got {out}")
        return out


Rule = Int | Number | Choice | Text | Flag | Many


def param(default: object, rule: Rule) -> Any:
    """A dataclass field whose valid values `rule` declares (read by `check_fields` and the tests)."""
    return field(default=default, metadata={RULE: rule})


def rules_of(cls: type | object) -> dict[str, Rule]:
    """{field name: declared rule} of a dataclass (fields declared without `param` are left out)."""
    return {f.name: f.metadata[RULE] for f in fields(cls) if RULE in f.metadata}


def check_fields(config: object) -> None:
    """Check every declared field of the frozen dataclass `config` and store its normalised value
    (2 → 2.0 for reals, lists → tuples, so equal configs hash equally). Fields whose rule reads other
    fields go last, after those fields are checked."""
    rules = rules_of(config)
    for name in sorted(rules, key=lambda n: rules[n].dependent):  # stable: declaration order otherwise
        object.__setattr__(config, name, rules[name].check(name, getattr(config, name), config))
