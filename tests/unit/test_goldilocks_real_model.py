"""`model_curvature` on small exact cases: a linear model with squared loss (H = 2XᵀX/n), and a tiny
tanh net whose Hessian autograd gives whole; the name-pattern selection; the module left as it was;
bad inputs refused before any HVP."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from workbench.goldilocks import (
    ModelCurvature,
    RealModelConfig,
    curvature_bases,
    model_curvature,
    select_parameters,
)
from workbench.plots.goldilocks_real import density_figure, measures_figure
from workbench.tensor.curvature import rademacher
from workbench.tensor.subspaces import sphere_basis

N, P = 40, 6


def _data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(N, P, generator=g, dtype=torch.float64),
            torch.randn(N, generator=g, dtype=torch.float64))


def _squared(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    x, y = batch
    return (model(x).squeeze(-1) - y).pow(2).mean()


def _net() -> nn.Sequential:
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(P, 4), nn.Tanh(), nn.Linear(4, 1)).double()


def _net_loss_of_flat(x: torch.Tensor, y: torch.Tensor):
    """The tiny net's loss written out by hand over θ = (W1, b1, W2, b2): independent of functional_call."""
    def f(theta: torch.Tensor) -> torch.Tensor:
        W1, b1 = theta[: 4 * P].view(4, P), theta[4 * P : 4 * P + 4]
        W2, b2 = theta[4 * P + 4 : 4 * P + 8].view(1, 4), theta[4 * P + 8]
        return ((torch.tanh(x @ W1.T + b1) @ W2.T).squeeze(-1) + b2 - y).pow(2).mean()
    return f


def test_linear_model_trace_and_planes_match_the_closed_form():
    x, y = _data()
    model = nn.Linear(P, 1, bias=False).double()
    H = 2 * x.T @ x / N                                                     # the exact Hessian, any w
    res = model_curvature(model, _squared, (x, y), params="weight", dim=3, n_planes=2, radii=(0.5, 2.0),
                          hutchpp_probes=3 * P, slq_steps=P, slq_vectors=2, seed=5, progress=False)
    assert isinstance(res, ModelCurvature) and res.n_params == P and res.names == ("weight",)
    # Hutch++ with a sketch as wide as D spans range(H): the estimate is the exact trace
    assert res.trace == pytest.approx(float(H.trace()), rel=1e-9)
    M = curvature_bases(P, 3, 2, seed=5, dtype=torch.float64)
    exact = torch.linalg.eigvalsh(M.transpose(1, 2) @ H @ M)                 # [B, d]: Pᵀ H P per plane
    for where in ("current", "ray"):
        eigs = res.eigs(where, "plane", geodesic=False)
        assert torch.allclose(eigs, exact[:, None].expand_as(eigs), atol=1e-10)
        assert torch.all(res.positive_fraction(where) == 1.0)               # H is PSD
    ratio = exact.sum(-1) / exact.pow(2).sum(-1).sqrt()
    assert torch.allclose(res.trace_ratio("current")[:, 0], ratio, atol=1e-10)
    # SLQ with D Lanczos steps: the nodes are H's eigenvalues, and Gauss quadrature is exact for λ²,
    # so the second moment is the probes' own zᵀH²z/D (seed + 2 draws them), and ‖H‖_F² ≈ D·that
    assert torch.allclose(res.density.nodes[0].sort().values, torch.linalg.eigvalsh(H), atol=1e-8)
    z = rademacher(2, P, torch.Generator().manual_seed(5 + 2), torch.float64)
    second = float(((z @ H) ** 2).sum(-1).mean() / P)
    assert res.density.moment(2) == pytest.approx(second, rel=1e-9)
    assert res.full_trace_ratio == pytest.approx(float(H.trace()) / math.sqrt(P * second), rel=1e-9)


def test_tiny_net_spheres_ray_and_positive_share_match_autograd():
    x, y = _data(1)
    model = _net()
    w1, b1 = model[0].weight.detach().clone(), model[0].bias.detach().clone()
    init = {"0.weight": torch.randn(4, P, dtype=torch.float64, generator=torch.Generator().manual_seed(9)) * 0.3}
    res = model_curvature(model, _squared, (x, y), dim=5, n_planes=3, radii=(0.3, 1.0, 3.0), init=init,
                          hutchpp_probes=6, slq_steps=8, seed=2, progress=False)
    f = _net_loss_of_flat(x, y)
    theta0 = torch.cat([w1.reshape(-1), b1, model[2].weight.detach().reshape(-1), model[2].bias.detach()])
    u = theta0.clone()
    u[: 4 * P] = init["0.weight"].reshape(-1)
    assert res.ray_through == "init" and res.r_ref == pytest.approx(float(u.norm()))
    assert res.current_ratio == pytest.approx(float(theta0.norm() / u.norm()))
    M = curvature_bases(res.n_params, 5, 3, seed=2, dtype=torch.float64)
    points = [theta0] + [r * u for r in res.radii]
    for i, theta in enumerate(points):
        where, j = ("current", 0) if i == 0 else ("ray", i - 1)
        H = torch.autograd.functional.hessian(f, theta)
        g = torch.autograd.functional.jacobian(f, theta)
        plane = torch.linalg.eigvalsh(M.transpose(1, 2) @ H @ M)
        S = torch.stack([sphere_basis(m, theta) for m in M])
        sphere = torch.linalg.eigvalsh(S.transpose(1, 2) @ H @ S) - (g @ theta) / (theta @ theta)
        assert torch.allclose(res.eigs(where, "plane")[:, j], plane, atol=1e-9)
        assert torch.allclose(res.eigs(where, "sphere")[:, j], sphere, atol=1e-9)
        assert torch.equal(res.positive_fraction(where, "plane")[:, j], (plane > 0).double().mean(-1))
        assert float(res.eigs(where).shape[-1]) == 5
    losses = torch.stack([f(t) for t in points[1:]])
    assert torch.allclose(res.ray.loss, losses, atol=1e-12)
    assert res.loss == pytest.approx(float(f(theta0)))
    # the net's Hessian is indefinite somewhere on the ray: the positive share is not trivially 1
    assert float(res.positive_fraction("ray", "plane").min()) < 1.0


def test_name_pattern_selection_and_unflatten():
    model = _net()
    sel = select_parameters(model, r"^2\.")
    assert sel.names == ("2.weight", "2.bias") and sel.n_params == 5
    assert select_parameters(model, "bias").names == ("0.bias", "2.bias")
    back = sel.unflatten(sel.theta)
    assert torch.equal(back["2.weight"], model[2].weight.detach()) and torch.equal(back["2.bias"], model[2].bias)
    with pytest.raises(ValueError, match=r"`params` 'layer9' matches none of the model's 4 parameters.*0\.weight"):
        select_parameters(model, "layer9")


def test_the_module_is_left_as_it_was():
    x, y = _data()
    model = _net()
    model.train()
    model[2].eval()
    model[0].bias.requires_grad_(False)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    flags = [m.training for m in model.modules()]
    grads = [p.requires_grad for p in model.parameters()]
    res = model_curvature(model, _squared, (x, y), params="0\\.", **_small(), progress=False)
    assert res.n_params == 4 * P + 4
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert [m.training for m in model.modules()] == flags and [p.requires_grad for p in model.parameters()] == grads
    assert all(p.grad is None for p in model.parameters())


def _small() -> dict:
    return dict(dim=2, n_planes=1, radii=(1.0,), hutchpp_probes=3, slq_steps=2, slq_vectors=1)


class _Counting:
    """A loss that counts its calls (a bad input must be refused before any)."""

    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, model, batch):
        self.calls += 1
        return self.fn(model, batch)


@pytest.mark.parametrize("kwargs, name", [
    (dict(params="nothing-here"), "params"),
    (dict(params="(unclosed"), "params"),
    (dict(dim=4 * P + 1, params="0\\.weight", spheres=False), "dim"),
    (dict(dim=4 * P, params="0\\.weight"), "dim"),                           # a sphere needs d ≤ D − 1
    (dict(radii=(1.0, -2.0)), "radii"),
    (dict(radii=()), "radii"),
    (dict(hutchpp_probes=2), "hutchpp_probes"),
    (dict(n_planes=0), "n_planes"),
    (dict(slq_steps=0), "slq_steps"),
    (dict(init={"0.weight": torch.zeros(2, 2)}), "init"),
    (dict(init={"nope": torch.zeros(1)}), "init"),
    (dict(init={"0.weight": torch.zeros(4, P, dtype=torch.float64)}, params="0\\.weight"), "init"),
])
def test_bad_inputs_are_refused_before_any_loss(kwargs, name):
    x, y = _data()
    loss = _Counting(_squared)
    with pytest.raises(ValueError, match=f"`{name}"):
        model_curvature(_net(), loss, (x, y), **{**_small(), **kwargs}, progress=False)
    assert loss.calls == 0


def test_an_all_zero_selection_needs_an_init():
    model = nn.Linear(P, 1).double()
    nn.init.zeros_(model.weight)
    loss = _Counting(_squared)
    with pytest.raises(ValueError, match="`init`"):
        model_curvature(model, loss, _data(), params="weight", **_small(), progress=False)
    with pytest.raises(ValueError, match="`spheres=False`"):
        model_curvature(model, loss, _data(), params="weight", init={"weight": torch.ones(1, P)}, **_small(),
                        progress=False)
    assert loss.calls == 0
    res = model_curvature(model, loss, _data(), params="weight", init={"weight": torch.ones(1, P)}, **_small(),
                          spheres=False, progress=False)
    assert res.r_ref == pytest.approx(math.sqrt(P)) and res.r_current == 0.0


@pytest.mark.parametrize("loss_fn, match", [
    (lambda m, b: (m(b[0]).squeeze(-1) - b[1]).pow(2), "scalar"),
    (lambda m, b: _squared(m, b) * float("nan"), "non-finite"),
    (lambda m, b: 1.0, "torch.Tensor"),
])
def test_bad_losses_are_refused_naming_loss_fn(loss_fn, match):
    with pytest.raises(ValueError, match=f"`loss_fn`.*{match}"):
        model_curvature(_net(), loss_fn, _data(), **_small(), progress=False)


def test_config_quick_and_hvp_counts():
    c = RealModelConfig.quick("head")
    assert c.params == "head" and c.hvps("ray", 100) == 2 * (4 + 1) * 3 and c.hvps("hutchpp", 100) == 12
    assert c.hvps("slq", 5) == 5


def test_figures_show_the_result():
    x, y = _data()
    res = model_curvature(_net(), _squared, (x, y), dim=3, n_planes=2, radii=(0.5, 1.0, 2.0), hutchpp_probes=6,
                          slq_steps=6, progress=False)
    fig = measures_figure(res, "tiny net")
    ys = [list(t.y) for t in fig.data if t.name and t.name.startswith("planes") and t.mode == "lines+markers"]
    assert ys[0] == pytest.approx(res.trace_ratio("ray", "plane").mean(0).tolist())
    assert "tiny net" in fig.layout.title.text and f"D = {res.n_params}" in fig.layout.title.text
    dens = density_figure(res, "tiny net")
    area = torch.trapezoid(torch.tensor(dens.data[0].y), torch.tensor(dens.data[0].x))
    assert float(area) == pytest.approx(1.0, abs=0.02) and math.isfinite(res.trace)
