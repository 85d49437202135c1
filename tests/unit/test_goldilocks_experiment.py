"""The goldilocks experiment end to end on the QUICK config: shapes, save/load, what the stored
numbers mean (recomputed independently), training mechanisms, data loading and bad input."""

from __future__ import annotations

import gzip
import json
import math
import pickle

import numpy as np
import pytest
import torch

from workbench.cli import main
from workbench.core.result import ArtifactError
from workbench.goldilocks import (
    GoldilocksConfig,
    GoldilocksResult,
    directions,
    hessian_bases,
    load_cifar10,
    load_dataset,
    load_digits,
    load_mnist,
    radius_sweep,
    random_bases,
    run,
    selection_test,
    steps_to_target,
    train_on_hyperplanes,
)
from workbench.goldilocks.hyperplane import ensemble_loss
from workbench.goldilocks.summary import curve_peak, summarize
from workbench.plots.goldilocks import all_figures, zone_ratio_indices
from workbench.plots.goldilocks_panel import panel_figure
from workbench.tensor.curvature import batched_hvp, positive_fraction, rademacher, restricted_hessian, trace_ratio
from workbench.tensor.subspaces import sphere_basis


def test_result_shapes(gl_quick):
    c = gl_quick.config
    A, R = len(c.activations), len(c.ratios)
    assert gl_quick.plane_eigs.shape == (A, c.seeds, c.bases, R, c.hessian_dim)
    assert gl_quick.sphere_eigs.shape == gl_quick.plane_eigs.shape
    assert gl_quick.plane_acc.shape == (A, len(c.train_dims), c.seeds, len(c.train_ratios))
    M = c.selection_inits + c.selection_controls
    assert gl_quick.sel_curves.shape == (M, c.selection_steps // c.selection_eval_every + 1)
    assert gl_quick.sel_losses.shape == (M, c.selection_steps) and gl_quick.sel_retest.shape == (M, 4)
    assert gl_quick.iso_plane_eigs.shape == (A, c.seeds, c.bases, R, c.hessian_dim)
    assert gl_quick.r_init == pytest.approx(c.spec("relu").r_init(c.init))


def test_the_slq_densities_are_quadratures_of_their_probe_at_the_zone_ratios(gl_quick):
    """Each probe's quadrature weights sum to 1 and its first two moments are zᵀHz/D and zᵀH²z/D
    (Lanczos' exactness for polynomials of degree < 2k), recomputed with the same probe."""
    c = gl_quick.config
    assert [int(i) for i in gl_quick.density_at] == list(zone_ratio_indices(gl_quick))
    assert torch.allclose(gl_quick.density_weights.sum(-1), torch.ones(1, dtype=torch.float64))
    x, y = load_digits(seed=c.seed).subset(c.hessian_batch, seed=c.seed)
    a, z = 0, 1  # relu at the trace-ratio peak
    i = int(gl_quick.density_at[z])
    u = directions(c)[0]
    theta = u / u.norm() * c.ratios[i] * gl_quick.r_init
    f = c.spec(c.activations[a]).loss_fn(x, y)
    probe = rademacher(1, theta.shape[0], torch.Generator().manual_seed(c.seed + 1000 * a + z), torch.float64)[0]
    Hz = batched_hvp(f, theta, probe.float()[None])[0].double()
    nodes, weights = gl_quick.density_nodes[a, z, 0].double(), gl_quick.density_weights[a, z, 0].double()
    D = theta.shape[0]
    assert float((weights * nodes).sum()) == pytest.approx(float(probe @ Hz) / D, rel=1e-3)
    assert float((weights * nodes**2).sum()) == pytest.approx(float(Hz @ Hz) / D, rel=1e-3)
    fig = all_figures(gl_quick)["3_spectra"]
    assert sum(1 for t in fig.data if t.xaxis in ("x3", "x4")) == 3 * len(c.activations)  # the density row


def test_stored_spectra_are_the_restricted_hessians_they_claim(gl_quick):
    """Recompute H_d at one (activation, seed, basis, ratio r/r_init) from scratch and compare."""
    c = gl_quick.config
    x, y = load_digits(seed=c.seed).subset(c.hessian_batch, seed=c.seed)
    u, M = directions(c)[1], hessian_bases(c)[1, 0]
    a, ri = c.activations.index("tanh"), 3
    theta = (u / u.norm() * c.ratios[ri] * gl_quick.r_init).double()
    f = c.spec("tanh").loss_fn(x.double(), y)
    H = restricted_hessian(f, theta, M.double())
    eigs = torch.linalg.eigvalsh(H)
    stored = gl_quick.plane_eigs[a, 1, 0, ri].double()
    assert torch.allclose(stored, eigs, atol=1e-4 * float(eigs.abs().max()))
    assert float(gl_quick.trace_ratio()[a, 1, 0, ri]) == pytest.approx(float(trace_ratio(H)), abs=1e-3)
    assert float(gl_quick.positive_fraction()[a, 1, 0, ri]) == pytest.approx(float(positive_fraction(H)))
    # the sphere spectra use the same plane with the radial direction removed
    S = sphere_basis(M.double(), theta)
    sphere = torch.linalg.eigvalsh(restricted_hessian(f, theta, S))
    assert torch.allclose(gl_quick.sphere_eigs[a, 1, 0, ri].double(), sphere, atol=1e-4 * float(sphere.abs().max()))
    g = torch.func.grad(f)(theta)
    assert float(gl_quick.sphere_shift[a, 1, ri]) == pytest.approx(float(-(g @ theta) / (theta @ theta)), rel=1e-3)
    assert float(gl_quick.point_loss[a, 1, ri]) == pytest.approx(float(f(theta)), rel=1e-4)


def test_radius_sweep_takes_ratios_of_r_init(gl_quick):
    """`ratios` are r/r_init (with the radius `r_init` beside them), as in the config."""
    c = gl_quick.config
    x, y = load_digits(seed=c.seed).subset(c.hessian_batch, seed=c.seed)
    sweep = radius_sweep(c.spec("tanh"), x, y, directions(c)[1], c.ratios[2:5], gl_quick.r_init, hessian_bases(c)[1],
                         dtype=c.dtype)
    a = c.activations.index("tanh")
    for got, stored in ((sweep.plane_eigs, gl_quick.plane_eigs), (sweep.sphere_eigs, gl_quick.sphere_eigs)):
        stored = stored[a, 1, :, 2:5].double()
        assert torch.allclose(got, stored, atol=1e-5 * float(stored.abs().max()), rtol=0)
    assert torch.allclose(sweep.loss, gl_quick.point_loss[a, 1, 2:5].double(), rtol=1e-5)
    assert torch.allclose(sweep.shift, gl_quick.sphere_shift[a, 1, 2:5].double(), rtol=1e-4)
    with pytest.raises(ValueError, match=r"`r_init` must be > 0"):
        radius_sweep(c.spec("tanh"), x, y, directions(c)[1], c.ratios, 0.0, hessian_bases(c)[1])


def test_trace_ratio_is_bounded_by_sqrt_d(gl_quick):
    bound = math.sqrt(gl_quick.config.hessian_dim) + 1e-5
    for surface in ("plane", "sphere"):
        assert float(gl_quick.trace_ratio(surface).abs().max()) <= bound
        frac = gl_quick.positive_fraction(surface)
        assert float(frac.min()) >= 0.0 and float(frac.max()) <= 1.0


def test_hyperplane_training_moves_only_phi_and_lowers_the_loss():
    c = GoldilocksConfig.quick()
    data = load_digits()
    spec = c.spec("relu")
    u = directions(c)[0]
    P = torch.stack([u / u.norm() * c.spec("relu").r_init(c.init)] * 2)
    M = hessian_bases(c, d=6)[0]  # [B=2, D, 6]
    phi = train_on_hyperplanes(spec, P, M, data.x_train, data.y_train, steps=40, lr=0.05, batch=128, progress=False)
    assert phi.shape == (2, 6)
    after = ensemble_loss(spec, P + torch.einsum("eDd,ed->eD", M, phi), data.x_train, data.y_train)
    before = ensemble_loss(spec, P, data.x_train, data.y_train)
    assert bool((after < before).all())


def test_sparse_bases_and_a_minimal_run_on_them():
    B = random_bases(500, 4, 2, torch.Generator().manual_seed(0), kind="sparse")
    assert B.shape == (2, 500, 4) and torch.allclose(B.norm(dim=1), torch.ones(2, 4))
    assert set(torch.unique(B.abs()).tolist()) <= {0.0, float(B.abs().max())}  # ±c or 0
    config = GoldilocksConfig.quick().with_changes(basis="sparse", ratios=(1.0, 3.0), seeds=1, bases=1,
                                                  sphere=False, train_dims=(), d90_dims=(), selection_inits=0)
    result = run(config, progress=False)
    assert result.plane_eigs.shape == (2, 1, 1, 2, config.hessian_dim) and result.sphere_eigs.shape[3] == 0
    assert bool(torch.isfinite(result.plane_eigs).all()) and result.plane_acc.numel() == 0
    assert set(all_figures(result)) == {"1_trace_ratio", "2_positive_fraction", "3_spectra", "7_trace_ratio_by_d"}
    assert set(summarize(result)) >= {"plane", "r_init"} and "init_selection" not in summarize(result)


def test_steps_to_target_and_the_selection_test():
    curves = torch.tensor([[0.1, 0.5, 0.95], [0.1, 0.92, 0.99], [0.1, 0.2, 0.3]])
    steps = steps_to_target(curves, 0.9, eval_every=10)
    assert steps.tolist() == [20.0, 10.0, 30.0]  # never reached: censored one interval past the last eval
    measure = torch.arange(12, dtype=torch.float64)
    fast = selection_test(measure, 100.0 - measure, top=4)  # higher measure -> fewer steps
    assert fast.p_value < 0.01 and fast.spearman_rho == pytest.approx(-1.0) and fast.median_difference > 0
    slow = selection_test(measure, measure, top=4)
    assert slow.p_value > 0.99
    assert selection_test(measure, torch.full((12,), 5.0), top=4).p_value == 1.0


def test_curve_peak():
    out = curve_peak((0.1, 1.0, 10.0), torch.tensor([1.0, 4.0, 2.0]))
    assert out["peak_ratio"] == 1.0 and out["peak"] == 4.0 and out["at_r_init"] == 4.0
    assert out["half_peak_range"] == [1.0, 10.0]
    # a positive share: halfway from the 0.5 of a random matrix to the peak (0.75), not half the peak
    share = curve_peak((0.1, 1.0, 10.0), torch.tensor([0.55, 1.0, 0.8]), baseline=0.5)
    assert share["half_peak_range"] == [1.0, 10.0]
    assert curve_peak((0.1, 1.0), torch.tensor([0.4, 0.45]), baseline=0.5)["half_peak_range"] is None


def test_save_load_round_trip_and_foreign_shape(gl_quick, tmp_path):
    gl_quick.save(tmp_path / "r")
    back = GoldilocksResult.load(tmp_path / "r")
    assert back.config == gl_quick.config and torch.equal(back.plane_eigs, gl_quick.plane_eigs)
    assert back.stage_seconds == gl_quick.stage_seconds
    meta = json.loads((tmp_path / "r" / "result.json").read_text())
    meta["config"]["hessian_dim"] = 5
    (tmp_path / "r" / "result.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="tensor `plane_eigs` has shape"):
        GoldilocksResult.load(tmp_path / "r")


def test_figures_are_functions_of_the_result(gl_quick):
    figs = all_figures(gl_quick)
    assert list(figs) == ["1_trace_ratio", "2_positive_fraction", "3_spectra", "4_hyperplane_training",
                          "5_init_selection", "6_intrinsic_dimension", "7_trace_ratio_by_d"]
    relu_plane = [t for t in figs["1_trace_ratio"].data if t.name == "relu, hyperplane, Xavier u"][0]
    assert list(relu_plane.y) == pytest.approx(gl_quick.trace_ratio()[0].mean((0, 1)).tolist())
    acc = [t for t in figs["4_hyperplane_training"].data
           if t.name == "d = 16" and list(t.customdata[0]) == ["tanh", "sphere"]][0]
    assert list(acc.y) == pytest.approx(gl_quick.sphere_acc[1, 1].mean(0).tolist())
    d90 = [t for t in figs["6_intrinsic_dimension"].data if t.name == "relu, hyperspheres"][0]
    assert [math.nan if v is None else v for v in d90.y] == pytest.approx(
        gl_quick.intrinsic_dimension("sphere")[0].tolist(), nan_ok=True)
    iso = [t for t in figs["1_trace_ratio"].data if t.name == "relu, hyperplane, isotropic u"][0]
    assert list(iso.y) == pytest.approx(gl_quick.trace_ratio("isotropic")[0].mean((0, 1)).tolist())
    c = gl_quick.config
    panel = panel_figure(list(c.ratios), gl_quick.plane_eigs[0, 0], 2.0, gl_quick.plane_eigs[0, 0, :, 4], "relu")
    assert list(panel.data[1].x) == [2.0] and len(panel.data[4].y) == c.hessian_dim


def test_summary_reports_what_the_docs_table_needs(gl_quick):
    s = summarize(gl_quick)
    c = gl_quick.config
    relu = s["plane"]["relu"]["trace_ratio"]
    assert relu["peak_ratio"] in c.ratios and relu["peak"] <= s["max_trace_ratio"]
    curve = gl_quick.trace_ratio()[0].mean((0, 1))
    assert relu["peak"] == pytest.approx(float(curve.max()), abs=1e-4)
    sel = s["init_selection"]
    assert set(sel["at_r_init"]) >= {"trace_ratio", "trace", "initial_loss", "reliability"}
    assert 0.0 <= sel["at_r_init"]["trace_ratio"]["p_value"] <= 1.0 and "control" in sel
    assert s["intrinsic_dimension"]["ratios"] == list(c.train_ratios)
    assert set(s["sphere_training"]["sphere"]["relu"]) == {str(d) for d in c.train_dims}
    assert s["init_ratios"]["xavier"] == 1.0 and s["init_ratios"]["he"] > 1.0
    assert set(s["compare_dims"]["tanh"]) == {str(d) for d in c.compare_dims}
    assert set(s["hyperplane_training"]["relu"]) == {str(d) for d in c.train_dims}
    json.dumps(s)  # JSON-able


def test_cli_reproduce_quick_writes_every_figure(gl_quick, session_cache, tmp_path):
    code = main(["reproduce", "--suite", "goldilocks", "--quick", "--out", str(tmp_path / "figs"),
                 "--cache", str(session_cache.root), "--formats", "html"])
    assert code == 0
    folder = tmp_path / "figs" / "goldilocks"
    for name in all_figures(gl_quick):
        assert (folder / f"{name}.html").stat().st_size > 1000
    measured = json.loads((folder / "measurements.json").read_text())
    assert measured["quick"] is True and measured["suite"] == "goldilocks"
    peak = summarize(gl_quick)["plane"]["relu"]["trace_ratio"]["peak"]
    assert measured["plane"]["relu"]["trace_ratio"]["peak"] == peak


# --- data --------------------------------------------------------------------------------------
def _idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_mnist_from_idx_files_and_npz(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "MNIST" / "raw"  # torchvision's layout
    raw.mkdir(parents=True)
    for split, n in (("train", 30), ("t10k", 10)):
        _idx(raw / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _idx(raw / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 10, (n,)))
    data = load_mnist(tmp_path / "MNIST")
    assert data.x_train.shape == (30, 784) and data.x_test.shape == (10, 784) and data.in_dim == 784
    assert float(data.x_train.mean().abs()) < 1e-5  # standardised with the training statistics
    np.savez(tmp_path / "m.npz", x_train=rng.random((8, 784)), y_train=rng.integers(0, 10, 8),
             x_test=rng.random((4, 784)), y_test=rng.integers(0, 10, 4))
    assert load_dataset("mnist", tmp_path / "m.npz").x_test.shape == (4, 784)


def test_cifar10_binary_and_python_batches(tmp_path):
    rng = np.random.default_rng(1)
    bin_dir, py_dir = tmp_path / "cifar-10-batches-bin", tmp_path / "cifar-10-batches-py"
    bin_dir.mkdir()
    py_dir.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        rows = np.concatenate([rng.integers(0, 10, (4, 1)), rng.integers(0, 256, (4, 3072))], 1).astype(np.uint8)
        (bin_dir / f"{name}.bin").write_bytes(rows.tobytes())
        batch = {b"data": rng.integers(0, 256, (4, 3072)).astype(np.uint8), b"labels": [1, 2, 3, 4]}
        (py_dir / name).write_bytes(pickle.dumps(batch))
    assert load_cifar10(bin_dir).x_train.shape == (20, 3072)
    assert load_cifar10(py_dir).y_test.tolist() == [1, 2, 3, 4]


def test_a_data_file_that_runs_code_is_refused(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": Evil(), b"labels": [0]}))
    with pytest.raises(ValueError, match="refusing to load builtins.print"):
        load_cifar10(folder)


def test_missing_and_misshapen_data(tmp_path):
    with pytest.raises(FileNotFoundError, match="`data_path`.*does not exist"):
        load_dataset("mnist", tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="`data_path`.*no MNIST IDX files"):
        load_dataset("mnist", tmp_path)
    np.savez(tmp_path / "wrong.npz", x_train=np.zeros((5, 100)), y_train=np.zeros(5, int),
             x_test=np.zeros((2, 100)), y_test=np.zeros(2, int))
    with pytest.raises(ValueError, match=r"`data_path`.*mnist needs \[n, 784\]"):
        load_dataset("mnist", tmp_path / "wrong.npz")
    with pytest.raises(FileNotFoundError, match="`data_path`"):
        run(GoldilocksConfig(dataset="mnist", data_path=str(tmp_path / "absent")), progress=False)


D_QUICK = GoldilocksConfig.quick().n_params


@pytest.mark.parametrize(
    "changes,match",
    [
        ({"ratios": (0.0,)}, r"`ratios\[0\]` must be > 0"),
        ({"ratios": (-1.0,)}, r"`ratios\[0\]` must be > 0"),
        ({"ratios": (float("nan"),)}, r"`ratios\[0\]` must be finite"),
        ({"ratios": ()}, r"`ratios` must be a non-empty sequence"),
        ({"train_ratios": (1.0, 0.0)}, r"`train_ratios\[1\]` must be > 0"),
        ({"hessian_dim": 0}, rf"`hessian_dim` must be an integer in \[1, {D_QUICK - 1}\]"),
        ({"hessian_dim": D_QUICK + 1}, rf"`hessian_dim` must be an integer in \[1, {D_QUICK - 1}\]"),
        ({"train_dims": (D_QUICK + 1,)}, rf"`train_dims\[0\]` must be an integer in \[1, {D_QUICK}\]"),
        ({"activations": ("gelu",)}, r"`activations\[0\]` must be one of \['relu', 'tanh'\]"),
        ({"selection_activation": "sigmoid"}, r"`selection_activation` must be one of"),
        ({"init": "orthogonal"}, r"`init` must be one of \['xavier', 'he', 'lecun'\]"),
        ({"dataset": "imagenet"}, r"`dataset` must be one of"),
        ({"dataset": "mnist"}, r"`data_path` must name local mnist files"),
        ({"dtype": "float16"}, r"`dtype` must be one of"),
        ({"basis": "gaussian"}, r"`basis` must be one of \['orthonormal', 'sparse'\]"),
        ({"selection_top": 12}, r"`selection_top` must be an integer in \[1, 11\]"),
        ({"selection_target": 1.5}, r"`selection_target` must be in \(0, 1\]"),
        ({"widths": (0,)}, r"`widths\[0\]` must be an integer ≥ 1"),
        ({"selection_control_ratios": (2.0, 0.5)}, r"`selection_control_ratios` must be \(low, high\)"),
        ({"selection_control_ratios": (0.5, 1.0, 2.0)}, r"`selection_control_ratios` must be \(low, high\)"),
        ({"selection_controls": -1}, r"`selection_controls` must be an integer ≥ 0"),
        ({"selection_probes": 0}, r"`selection_probes` must be an integer ≥ 1"),
        ({"compare_dims": (D_QUICK + 1,)}, rf"`compare_dims\[0\]` must be an integer in \[1, {D_QUICK}\]"),
        ({"float64_from": 0.0}, r"`float64_from` must be > 0"),
        ({"intrinsic_fraction": 1.5}, r"`intrinsic_fraction` must be in \(0, 1\]"),
        ({"full_lr": 0.0}, r"`full_lr` must be"),
    ],
)
def test_bad_config_names_the_parameter(changes, match):
    with pytest.raises(ValueError, match=match):
        GoldilocksConfig.quick().with_changes(**changes)
