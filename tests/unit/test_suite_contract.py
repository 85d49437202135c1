"""Every suite keeps the one contract (`workbench.suite`): a registered `Suite` value with its config,
result, run, figures and summary; one `run` signature; `run_cached` serving the saved result."""

from __future__ import annotations

import inspect
import json

import plotly.graph_objects as go
import pytest

from workbench.core.result import Result
from workbench.registry import SUITE_NAMES, get_suite
from workbench.runner import run_cached
from workbench.suite import Suite

RUN_KEYWORDS = ("progress", "device", "executor", "cache")


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_each_registered_suite_keeps_the_contract_with_one_run_signature(name):
    suite = get_suite(name)
    assert isinstance(suite, Suite) and suite.name == name and suite.package == f"workbench.{name}"
    assert isinstance(suite.quick(), suite.config) and isinstance(suite.full(), suite.config)
    assert issubclass(suite.result, Result)
    params = inspect.signature(suite.run).parameters
    assert list(params)[0] == "config"
    for keyword in RUN_KEYWORDS:
        assert params[keyword].kind is inspect.Parameter.KEYWORD_ONLY, (name, keyword)
    assert params["device"].default == "cpu" and params["executor"].default == "local"
    assert params["progress"].default is True and params["cache"].default is None


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_run_cached_serves_the_saved_result_and_figures_and_summary_follow(name, quick_of, session_cache):
    suite = get_suite(name)
    first = quick_of(name)
    entry = session_cache.path(suite.result, first.config, suite.code_version())
    saved = (entry / "result.json").stat().st_mtime_ns
    again = run_cached(name, suite.quick(), cache=session_cache, progress=False)
    assert again.config == first.config
    assert (entry / "result.json").stat().st_mtime_ns == saved  # loaded from its entry, not rebuilt
    figures = suite.figures(again)
    assert figures and all(isinstance(f, go.Figure) and f.data for f in figures.values())
    json.dumps(suite.summarize(again))  # the measurements are JSON as they are


def test_get_suite_names_the_allowed_suites():
    with pytest.raises(ValueError, match=r"`suite` must be one of \['ace', 'capacity', 'goldilocks', 'robustness'\]"):
        get_suite("tms")


@pytest.mark.parametrize("name", SUITE_NAMES)
def test_a_bad_device_is_named_before_any_work(name, cache):
    with pytest.raises(ValueError, match="`device` must be"):
        run_cached(name, get_suite(name).quick(), cache=cache, device="gpu")
    assert not cache.root.exists() or not any(cache.root.iterdir())  # nothing computed, nothing written
