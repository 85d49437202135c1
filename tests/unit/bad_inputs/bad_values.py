"""Bad values of a config field, generated from the rule declared beside it
(`workbench.core.validation.param`): just outside each bound, wrong types, NaN/inf, overflow.
Only rules that are code rather than a declared range (heads divide d_model, …) list examples here.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

from workbench.ace import AceConfig
from workbench.core.validation import (
    INT64_MAX,
    Choice,
    Flag,
    Int,
    Many,
    Number,
    Rule,
    Text,
)
from workbench.goldilocks import GoldilocksConfig

NAN, INF = float("nan"), float("inf")
NOT_NUMBERS = st.one_of(st.none(), st.text(max_size=5), st.lists(st.integers(), max_size=2), st.booleans())
BLANK = st.text(alphabet=" \t\n", max_size=3)

# Values bad only through a rule written as code (checked against the quick config); the ranges
# themselves come from the declarations.
CODE_RULES: dict[type, dict[str, tuple[object, ...]]] = {
    GoldilocksConfig: {"train_ratios": ((),)},  # empty while train_dims is not
    AceConfig: {
        # TinyLMSpec: d_model ≥ 4, heads divide (RWKV-4's n_layers ≥ 2 is a test_ace_experiment row:
        # the default archs, Llama and RWKV v5.2, take one layer)
        "d_model": (2, 3), "n_heads": (3, 5, 7),
        "alphas": ((0.5,), (0.0, 2.0), (1.0, -1.0)),  # α = 0 and α = 1 are the paper's anchors
    },
}


def _bounds(rule: Int | Number, config: object) -> tuple[Any, Any]:
    resolve = lambda b: b(config) if callable(b) else b  # noqa: E731
    return resolve(rule.low), resolve(rule.high)


def applies(rule: Rule, config: object) -> bool:
    """False for a rule switched off in `config` (selection_top without a selection study)."""
    return not (isinstance(rule, Int) and rule.when is not None and not rule.when(config))


def examples(rule: Rule, config: object, current: object) -> list[object]:
    """Canonical bad values of a field whose value in `config` is `current`."""
    if isinstance(rule, Int):
        low, high = _bounds(rule, config)
        over = (INT64_MAX if high is None else high) + 1
        out = [-(10**30), over, 10**30, 10**5000, NAN, INF, -INF, 2.0, "3", [low or 0], True]
        if low is not None:  # just below, and every gap between an allowed value and the range
            out += [low - 1, *range(max(rule.allowed, default=low) + 1, low)]
        out = [v for v in out if not (type(v) is int and v in rule.allowed)]
        return out if rule.optional else [*out, None]
    if isinstance(rule, Number):
        low, high = _bounds(rule, config)
        out: list[object] = [NAN, INF, -INF, 10**400, -(10**400), 10**5000, "0.5", None, [0.5], True]
        if low is not None:
            out += [low if rule.low_open else math.nextafter(low, -INF), low - 1, -1e308]
        if high is not None:
            out += [high if rule.high_open else math.nextafter(high, INF), high + 1, 1e308, 10**30]
        return out
    if isinstance(rule, Choice):
        out = ["zzz", "", rule.options[0].upper() + "!", 3, [rule.options[0]], (rule.options[0],)]
        return out if rule.optional else [*out, None]
    if isinstance(rule, Text):
        out = ["", "   ", 3, ["a"], b"bytes", 1.5] + ([] if rule.optional else [None])
        return out + (["/nonexistent/workbench-bad-input"] if rule.must_exist else [])
    if isinstance(rule, Flag):
        return [0, 1, "True", None, 1.0, [True]]
    if isinstance(rule, Many):
        items = [v for v in examples(rule.item, config, None) if v is not None][:6]
        good = current[0] if current else _good_item(rule.item)  # type: ignore[index]  # an optional one may be None
        out = [(v,) for v in items] + [(good, items[0]), "abc", 2.0, {"a": 1}] + ([] if rule.optional else [None])
        return out + ([] if rule.allow_empty else [()]) + ([(good, good)] if rule.unique else [])
    raise TypeError(f"no bad values for a {type(rule).__name__} rule")


def _good_item(rule: Rule) -> object:
    """A valid item for a sequence field whose current value is None (an optional `Many`)."""
    if isinstance(rule, Text):
        return "ok"
    raise TypeError(f"no good item known for a {type(rule).__name__} rule")


def strategy(rule: Rule, config: object, current: object) -> st.SearchStrategy:
    """Bad values of a field drawn by hypothesis (the same kinds as `examples`, anywhere out of range)."""
    if isinstance(rule, Int):
        low, high = _bounds(rule, config)
        over = (INT64_MAX if high is None else high) + 1
        parts = [st.integers(min_value=over), st.floats(), NOT_NUMBERS]
        if low is not None:
            parts.append(st.integers(max_value=low - 1).filter(lambda v: v not in rule.allowed))
        s = st.one_of(parts)
        return s.filter(lambda v: v is not None) if rule.optional else s
    if isinstance(rule, Number):
        return _number_strategy(rule, config)
    if isinstance(rule, Choice):
        return st.one_of(st.text(max_size=8).filter(lambda s: s not in rule.options), st.integers(),
                         st.lists(st.sampled_from(rule.options), min_size=1, max_size=2),
                         *([] if rule.optional else [st.none()]))
    if isinstance(rule, Text):
        parts = [BLANK, st.integers(), st.lists(st.text(max_size=3), max_size=2), st.binary(max_size=3)]
        parts += [] if rule.optional else [st.none()]
        if rule.must_exist:
            parts.append(st.text(alphabet="abcxyz", min_size=1, max_size=6).map(lambda s: f"/nonexistent/{s}"))
        return st.one_of(parts)
    if isinstance(rule, Flag):
        return st.one_of(st.integers(), st.text(max_size=4), st.none(), st.floats())
    if isinstance(rule, Many):
        pad = st.lists(st.just(current[0] if current else _good_item(rule.item)), max_size=2)  # type: ignore[index]
        with_bad = st.tuples(pad, strategy(rule.item, config, None), pad).map(lambda t: (*t[0], t[1], *t[2]))
        not_a_tuple = st.one_of(
            *([] if rule.optional else [st.none()]),
            st.text(max_size=4),
            st.floats(),
            st.integers(),
            st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
        )
        return st.one_of([with_bad, not_a_tuple, *([] if rule.allow_empty else [st.just(())])])
    raise TypeError(f"no bad values for a {type(rule).__name__} rule")


def _number_strategy(rule: Number, config: object) -> st.SearchStrategy:
    low, high = _bounds(rule, config)
    finite = {"allow_nan": False, "allow_infinity": False}
    parts = [st.sampled_from([NAN, INF, -INF, 10**400]), NOT_NUMBERS]
    if low is not None:
        parts.append(st.floats(max_value=low, exclude_max=not rule.low_open, **finite))
        parts.append(st.integers(max_value=math.floor(low)).filter(lambda x: x < low or (rule.low_open and x == low)))
    if high is not None:
        parts.append(st.floats(min_value=high, exclude_min=not rule.high_open, **finite))
        parts.append(
            st.integers(min_value=math.ceil(high)).filter(lambda x: x > high or (rule.high_open and x == high))
        )
    return st.one_of(parts)
