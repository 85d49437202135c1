"""The capacity experiment end to end on the QUICK config: shapes, save/load, mechanisms, bad input."""

from __future__ import annotations

import json
import math

import pytest
import torch

from workbench.capacity import (
    CapacityConfig,
    CapacityResult,
    capacity,
    closed_form_loss,
    gram_blocks,
    importances,
    train_quadratic,
)
from workbench.capacity.features import relu_input_kurtosis
from workbench.capacity.optimum import optimal_allocation
from workbench.capacity.summary import summarize
from workbench.cli import main
from workbench.core import ArtifactError
from workbench.plots.capacity import GAP_FLOOR, all_figures, panel_figure, total_capacity_vs_d
from workbench.runner import run_cached


def test_result_shapes(quick_result):
    c = quick_result.config
    assert quick_result.W.shape == (len(c.kurtosis), len(c.decay), c.seeds, c.d, c.n)
    assert quick_result.capacities().shape == (len(c.kurtosis), len(c.decay), c.n)
    assert quick_result.sweep_W.shape == (len(c.d_sweep), len(c.sweep_kurtosis), c.seeds, max(c.d_sweep), c.n)
    assert quick_result.relu_W.shape == (len(c.relu_feature_prob), c.seeds, c.d, c.n)


def test_training_lowers_the_closed_form_loss_and_respects_the_capacity_bound(quick_result):
    c = quick_result.config
    k = torch.tensor(c.kurtosis)[:, None, None]
    v = importances(c.n, torch.tensor(c.decay))[None, :, None, :]
    W0 = torch.randn(quick_result.W.shape, generator=torch.Generator().manual_seed(c.seed)) / c.d**0.5
    assert bool((closed_form_loss(quick_result.W, v, k) < closed_form_loss(W0, v, k)).all())
    assert torch.allclose(closed_form_loss(quick_result.W, v, k), quick_result.loss, rtol=1e-4)
    assert float(capacity(quick_result.W).sum(-1).max()) <= c.d + 1e-4


def test_row_mask_confines_members_to_their_width():
    k = torch.tensor([10.0, 10.0])
    v = importances(6, torch.tensor([0.9, 0.9]))
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    W, _ = train_quadratic(k, v, 3, steps=50, lr=0.02, seed=0, row_mask=mask, progress=False)
    assert float(W[0, 2].abs().max()) == 0.0 and float(W[1, 2].abs().max()) > 0.0


def test_save_load_round_trip_and_foreign_shape(quick_result, tmp_path):
    quick_result.save(tmp_path / "r")
    back = CapacityResult.load(tmp_path / "r")
    assert back.config == quick_result.config
    assert torch.equal(back.W, quick_result.W)
    # a result file whose config says d=3 but whose tensors were trained with d=4
    meta = json.loads((tmp_path / "r" / "result.json").read_text())
    meta["config"]["d"] = 3
    (tmp_path / "r" / "result.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="tensor `W` has shape"):
        CapacityResult.load(tmp_path / "r")


def test_nearest_grid_cell(quick_result):
    assert quick_result.nearest(6.5, 0.81) == (1, 0)
    with pytest.raises(ValueError, match="`kurtosis`"):
        quick_result.nearest(0.5, 0.9)


def test_gram_blocks_find_a_known_structure():
    W = torch.zeros(3, 5)
    W[0, 0] = 1.0                       # monosemantic
    W[1, 1], W[1, 2] = 1.0, -1.0        # an antipodal pair sharing one dimension
    W[2, 3] = 0.5
    blocks = gram_blocks(W)
    assert sorted(blocks.sizes) == [1, 1, 2]
    assert blocks.ignored == [4]
    assert math.isclose(sum(blocks.dims), 3.0, rel_tol=1e-9)


def test_figures_are_functions_of_the_result(quick_result):
    figs = all_figures(quick_result)
    assert list(figs) == ["1_capacity_profiles", "2_phase_diagram", "3_marginal_loss", "4_gram_blocks",
                          "5_total_capacity_vs_d", "6_architectures", "7_marginal_benefit", "8_one_feature_phases"]
    assert all(len(f.data) > 0 for f in figs.values())
    totals = quick_result.sweep_total_capacity()
    fig5 = total_capacity_vs_d(quick_result)
    assert list(fig5.data[1].y) == pytest.approx(totals[:, 0].tolist())
    ds = list(quick_result.config.d_sweep)  # the right panel: each total's distance from d, floored for the log axis
    assert list(fig5.data[2].y) == pytest.approx(
        [max(abs(t - d), GAP_FLOOR) for t, d in zip(totals[:, 0].tolist(), ds)]
    )
    C = quick_result.capacities()
    fig1 = figs["1_capacity_profiles"]  # per kurtosis: the exact optimum (dotted), then the trained dots
    assert list(fig1.data[1].y) == pytest.approx(C[0, 1].tolist())  # decay 0.9 is index 1
    k0 = quick_result.config.kurtosis[0]
    exact = optimal_allocation(quick_result.importances(1), k0, quick_result.config.d)
    assert list(fig1.data[0].y) == pytest.approx(exact.tolist())
    panel = panel_figure(quick_result, 2, 1)
    assert list(panel.data[0].y) == pytest.approx(C[2, 1].tolist())


def test_summary_reports_what_the_docs_table_needs(quick_result):
    s = summarize(quick_result)
    row = s["per_kurtosis"][-1]
    assert row["monosemantic"] + row["polysemantic"] + row["ignored"] == quick_result.config.n
    assert math.isclose(row["total_capacity"], float(capacity(quick_result.best_W()[-1, 1]).sum()), rel_tol=1e-3)
    assert "d_sweep_max_abs_gap" in s and len(s["architectures"]) == 2
    for row in s["per_kurtosis"]:  # no trained model beats the exact optimum (round-off aside)
        assert row["best_seed_gap_to_exact"] >= -1e-5
        assert sum(row["exact"].values()) == quick_result.config.n
    assert [a["paired_kurtosis"] for a in s["architectures"]] == pytest.approx(
        [relu_input_kurtosis(p) for p in quick_result.config.relu_feature_prob], abs=1e-3)


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"kurtosis": (0.5,)}, r"`kurtosis\[0\]` must be ≥ 1"),
        ({"kurtosis": (float("nan"),)}, r"`kurtosis\[0\]` must be finite"),
        ({"d": 20}, r"`d` must be an integer in \[1, n − 1 = 19\]"),
        ({"d": 0}, r"`d` must be an integer in \[1, n − 1 = 19\]"),
        ({"decay": (0.0,)}, r"`decay\[0\]` must be in \(0, 1\]"),
        ({"decay": ()}, r"`decay` must be a non-empty sequence"),
        ({"relu_feature_prob": (1.5,)}, r"`relu_feature_prob\[0\]` must be in \(0, 1\]"),
        ({"lr": float("inf")}, r"`lr` must be finite"),
        ({"seeds": 0}, r"`seeds` must be an integer ≥ 1"),
        ({"d_sweep": (21,)}, r"`d_sweep\[0\]` must be an integer in \[1, 20\]"),
    ],
)
def test_bad_config_names_the_parameter(changes, match):
    with pytest.raises(ValueError, match=match):
        CapacityConfig(**changes)


def test_cli_reproduce_quick_writes_every_figure(tmp_path):
    code = main(["reproduce", "--suite", "capacity", "--quick", "--out", str(tmp_path / "figs"),
                 "--cache", str(tmp_path / "cache")])
    assert code == 0
    folder = tmp_path / "figs" / "capacity"
    for name in ["1_capacity_profiles", "2_phase_diagram", "3_marginal_loss", "4_gram_blocks",
                 "5_total_capacity_vs_d", "6_architectures", "7_marginal_benefit", "8_one_feature_phases"]:
        png = folder / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (folder / f"{name}.html").stat().st_size > 1000
    assert json.loads((folder / "measurements.json").read_text())["quick"] is True
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temp files left


def test_cli_reports_bad_suite(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "--suite", "nope"])
    assert "invalid choice" in capsys.readouterr().err


def test_cli_lab_serves_notebooks_on_loopback_with_token_auth(monkeypatch):
    import workbench.cli as cli

    seen = {}

    def fake_execv(path, argv):
        seen["argv"] = argv
        raise SystemExit(0)

    monkeypatch.setattr(cli.os, "execv", fake_execv)
    with pytest.raises(SystemExit):
        main(["lab", "--port", "8899", "--no-browser"])
    argv = seen["argv"]
    assert argv[1:3] == ["-m", "jupyterlab"]
    assert "--ServerApp.ip=127.0.0.1" in argv and "--ServerApp.port=8899" in argv
    assert any(a.startswith("--ServerApp.root_dir=") and a.endswith("notebooks") for a in argv)
    assert not any("token" in a.lower() for a in argv)  # the default token auth stays on


def test_a_cache_entry_with_an_invalid_config_is_rebuilt(cache):
    config = CapacityConfig.quick().grid_only(steps=10)
    run_cached("capacity", config, cache=cache, progress=False)
    entry = next((cache.root / "CapacityResult").iterdir())
    meta = json.loads((entry / "result.json").read_text())
    meta["config"]["d"] = 0
    (entry / "result.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="not a valid CapacityConfig.*`d`"):
        CapacityResult.load(entry)
    with pytest.warns(UserWarning, match="rejected cache entry"):
        rebuilt = run_cached("capacity", config, cache=cache, progress=False)
    assert rebuilt.config == config


def test_the_result_reports_each_models_gap_to_the_exact_optimum(quick_result):
    c = quick_result.config
    gaps = quick_result.optimal_gaps()
    assert gaps.shape == (len(c.kurtosis), len(c.decay), c.seeds)
    assert float(gaps.min()) >= -1e-5  # the exact optimum is never beaten
    exact = quick_result.exact_capacities(1)
    assert exact.shape == (len(c.kurtosis), c.n) and torch.allclose(
        exact.sum(-1), torch.full((len(c.kurtosis),), float(c.d), dtype=exact.dtype)
    )
