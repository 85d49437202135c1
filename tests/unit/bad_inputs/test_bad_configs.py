"""Bad values of every config field fail with ValueError or FileNotFoundError naming the field.

Each field's valid values are declared once, beside the field (`param(default, rule)`); the bad
values here are generated from those declarations: canonical ones tried exhaustively, more drawn by
hypothesis. Rules written as code (CODE_RULES) add their own examples.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.bad_inputs.bad_values import CODE_RULES, applies, examples, strategy
from tests.unit.bad_inputs.support import SOME, capacity_result, rejects
from workbench.capacity import CapacityConfig, CapacityResult
from workbench.core.result import ArtifactError
from workbench.core.validation import rules_of
from workbench.registry import SUITE_NAMES, get_suite

CONFIGS: list[type] = [get_suite(name).config for name in SUITE_NAMES]

def bad_values(cls: type, name: str) -> list[object]:
    """Canonical bad values of field `name`, against `cls`'s quick config."""
    base, rule = cls.quick(), rules_of(cls)[name]
    generated = examples(rule, base, getattr(base, name)) if applies(rule, base) else []
    return [*generated, *CODE_RULES.get(cls, {}).get(name, ())]

def field_cases() -> Iterator[Any]:
    for cls in CONFIGS:
        for name in rules_of(cls):
            yield pytest.param(cls, name, id=f"{cls.__name__}.{name}")

@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_every_config_field_declares_its_rule(cls):
    """A new field must declare its valid values (so 'every field' stays true here)."""
    assert {f.name for f in dataclasses.fields(cls)} == set(rules_of(cls))

@pytest.mark.parametrize("cls, name", list(field_cases()))
def test_canonical_bad_values_are_rejected_naming_the_field(cls, name):
    base, values = cls.quick(), bad_values(cls, name)
    assert values, f"{cls.__name__}.{name}: no bad value to try"
    for value in values:
        rejects(name, f"{cls.__name__}.{name}", value, lambda: replace(base, **{name: value}))

@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
@SOME
@given(data=st.data())
def test_drawn_bad_values_are_rejected_naming_the_field(cls, data):
    base, rules = cls.quick(), rules_of(cls)
    name = data.draw(st.sampled_from(sorted(n for n, r in rules.items() if applies(r, base))), label="field")
    code_rule = CODE_RULES.get(cls, {}).get(name, ())
    drawn = strategy(rules[name], base, getattr(base, name))
    value = data.draw(st.one_of(drawn, st.sampled_from(code_rule)) if code_rule else drawn, label="value")
    rejects(name, f"{cls.__name__}.{name}", value, lambda: replace(base, **{name: value}))

def test_quick_and_default_configs_are_valid_and_normalised():
    """Each declared rule accepts the defaults and QUICK values, and re-checking changes nothing."""
    for cls in CONFIGS:
        for config in (cls(), cls.quick()):
            assert replace(config) == config
            assert all(type(v) is not list for v in dataclasses.asdict(config).values())

def test_a_saved_config_with_a_bad_value_fails_to_load_naming_both(tmp_path):
    folder = capacity_result(CapacityConfig.quick()).save(tmp_path / "r")
    meta = json.loads((folder / "result.json").read_text())
    meta["config"]["lr"] = -1.0
    (folder / "result.json").write_text(json.dumps(meta))
    rejects("path", "CapacityResult.config.lr", -1.0, lambda: CapacityResult.load(folder))
    with pytest.raises(ArtifactError, match="`lr`"):
        CapacityResult.load(folder)
