"""Curvature of a real network: the Goldilocks measures on any `torch.nn.Module` with a loss on a batch.

The parameters whose names match a pattern are flattened into θ ∈ R^D; every other parameter stays
fixed. The loss as a function of θ alone,

    f(θ) = loss_fn(model with the selected parameters replaced by θ's pieces, batch)

goes through `torch.func.functional_call` (the module's own parameters are never written), so the
suite-agnostic kernels of `workbench.tensor` apply as they are: restricted Hessians H_d = Mᵀ∇²f(θ)M on
random d-planes (and the sphere ‖θ‖ = r through θ) give Tr(H_d)/‖H_d‖_F = Σλ/√Σλ² and the positive
share #{λ > 0}/d, at the current point θ₀ and along a ray from the origin; Hutch++ gives Tr ∇²f(θ₀)
and stochastic Lanczos quadrature (SLQ) its spectral density.

    from workbench.goldilocks import model_curvature
    result = model_curvature(clf, loss_fn, batch, params=r"^head\\.", init={"head.weight": w0, "head.bias": b0})
    result.trace_ratio("ray", "plane")          # [planes, radii]
"""

from __future__ import annotations

import re
import resource
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value
from torch.nn.attention import SDPBackend, sdpa_kernel
from tqdm.auto import tqdm

from workbench.core.seeding import choose_device
from workbench.core.validation import check_int
from workbench.goldilocks.real_result import ModelCurvature, RealModelConfig
from workbench.goldilocks.sweep import Sweep, random_bases
from workbench.tensor.curvature import LossFn, plane_and_sphere_eigvals, restricted_eigvals
from workbench.tensor.spectral_density import hessian_density
from workbench.tensor.subspaces import points_at_radii, sphere_correction
from workbench.tensor.trace_estimators import hutchpp_trace

ModelLoss = Callable[[nn.Module, Any], Tensor]  # (model, batch) -> scalar loss


@dataclass(frozen=True, eq=False)
class FlatParameters:
    """The selected parameters: their `names` (as `model.named_parameters()` gives them), `shapes`,
    and their current values flattened in that order, `theta` [D] (a detached copy)."""

    names: tuple[str, ...]
    shapes: tuple[torch.Size, ...]
    theta: Float[Tensor, " D"]

    @property
    def n_params(self) -> int:
        return int(self.theta.numel())

    def unflatten(self, theta: Float[Tensor, " D"]) -> dict[str, Tensor]:
        """{name: view of θ's piece in the parameter's shape}: θ[offset : offset + numel].view(shape)."""
        pieces = theta.split([s.numel() for s in self.shapes])
        return {n: t.view(s) for n, t, s in zip(self.names, pieces, self.shapes)}


def select_parameters(model: nn.Module, pattern: str) -> FlatParameters:
    """Every parameter of `model` whose name matches the regular expression `pattern` (`re.search`),
    flattened into θ [D] in `named_parameters()` order. ValueError naming `params` (and listing a few
    of the model's names) when nothing matches, or when the matches differ in dtype or device."""
    regex = re.compile(RealModelConfig(params=pattern).params)
    named = list(model.named_parameters())
    chosen = [(n, p) for n, p in named if regex.search(n)]
    if not chosen:
        names = [n for n, _ in named]
        shown = names if len(names) <= 6 else names[:3] + ["…"] + names[-3:]
        raise ValueError(f"`params` {pattern!r} matches none of the model's {len(names)} parameters; "
                         f"they are named like {shown}")
    kinds = {(p.dtype, p.device) for _, p in chosen}
    if len(kinds) > 1 or not chosen[0][1].is_floating_point():
        raise ValueError(f"`params` must select floating-point parameters of one dtype on one device; got {kinds}")
    theta = torch.cat([p.detach().reshape(-1) for _, p in chosen]).clone()
    return FlatParameters(tuple(n for n, _ in chosen), tuple(p.shape for _, p in chosen), theta)


class _Loss(nn.Module):
    """The module and its loss as one module, so `functional_call` can swap the module's parameters
    for whatever method `loss_fn` calls (not only `forward`)."""

    def __init__(self, model: nn.Module, loss_fn: ModelLoss) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch: Any) -> Tensor:
        return self.loss_fn(self.model, batch)


def flat_loss(model: nn.Module, loss_fn: ModelLoss, batch: Any, selection: FlatParameters) -> LossFn:
    """f(θ) = loss_fn(model[selected ← θ], batch): the loss as a function of the flat selected
    parameters θ [D] -> scalar, through `torch.func.functional_call` (the module is not written).
    The other parameters enter detached, so autograd records nothing for them."""
    wrapper = _Loss(model, loss_fn)
    chosen = set(selection.names)
    frozen = {f"model.{n}": p.detach() for n, p in model.named_parameters() if n not in chosen}

    def f(theta: Float[Tensor, " D"]) -> Float[Tensor, ""]:
        pieces = {f"model.{n}": t for n, t in selection.unflatten(theta).items()}
        return functional_call(wrapper, {**frozen, **pieces}, (batch,))

    return f


def curvature_bases(n_params: int, dim: int, n_planes: int, seed: int, dtype: torch.dtype = torch.float32,
                    device: str | torch.device = "cpu") -> Float[Tensor, "B D d"]:
    """The `n_planes` random orthonormal D×d bases (Haar: QR of a Gaussian, seeded by `seed`) that
    `model_curvature` uses: the same seed gives the same planes, so a caller can rebuild them."""
    check_int("n_params", n_params, low=1)
    check_int("dim", dim, low=1, high=n_params)
    gen = torch.Generator().manual_seed(check_int("seed", seed, low=0))
    return random_bases(n_params, dim, check_int("n_planes", n_planes, low=1), gen, dtype).to(device)


def _to_device(batch: Any, device: torch.device) -> Any:
    """Tensors in `batch` (itself, or inside dicts, lists and tuples) moved to `device`."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _init_theta(init: Mapping[str, Tensor] | None, selection: FlatParameters) -> Tensor | None:
    """θ_init [D]: the current θ with the entries of `init` (name -> tensor of the parameter's shape)
    put in; None without `init`. ValueError naming `init` for an unknown name or a wrong shape."""
    if init is None:
        return None
    if not isinstance(init, Mapping) or not init:
        raise ValueError(f"`init` must be a non-empty mapping of parameter name -> tensor; got {type(init).__name__}")
    pieces = dict(zip(selection.names, selection.theta.clone().split([s.numel() for s in selection.shapes])))
    shapes = dict(zip(selection.names, selection.shapes))
    for name, value in init.items():
        if name not in pieces:
            raise ValueError(f"`init` names {name!r}, which is not among the selected parameters "
                             f"({list(selection.names)[:4]}{' …' if len(selection.names) > 4 else ''})")
        if not isinstance(value, Tensor) or tuple(value.shape) != tuple(shapes[name]):
            got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            raise ValueError(f"`init[{name!r}]` must be a tensor of shape {tuple(shapes[name])}; got {got}")
        pieces[name] = value.detach().reshape(-1).to(selection.theta)
    theta = torch.cat([pieces[n] for n in selection.names])
    if not bool(torch.isfinite(theta).all()) or float(theta.norm()) == 0:
        raise ValueError("`init` must give a finite, non-zero point (its norm is the reference radius)")
    return theta


def _check_loss(f: LossFn, theta: Tensor) -> float:
    """The loss at θ₀, or ValueError naming `loss_fn` when it is not a finite scalar tensor."""
    with torch.no_grad():
        loss = f(theta)
    if not isinstance(loss, Tensor) or not loss.is_floating_point():
        raise ValueError(f"`loss_fn` must return a floating-point torch.Tensor; got {type(loss).__name__}")
    if loss.ndim != 0:
        raise ValueError(f"`loss_fn` must return a scalar (0-dim) loss; got shape {tuple(loss.shape)}")
    if not bool(torch.isfinite(loss)):
        raise ValueError(f"`loss_fn` returned a non-finite loss ({float(loss)}) on `batch` at the current parameters")
    return float(loss)


@contextmanager
def _prepared(model: nn.Module, device: torch.device) -> Iterator[None]:
    """Evaluation mode (the loss must be a deterministic function of θ: no dropout) on `device`, and
    SDPA's math kernel (the fused CPU / flash kernels have no forward-mode derivative, which the HVPs
    need); every module's training flag and the model's device are restored afterwards."""
    modes = {m: m.training for m in model.modules()}
    home = next(model.parameters()).device
    model.eval()
    if home != device:
        model.to(device)
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        if home != device:
            model.to(home)
        for module, training in modes.items():
            module.training = training


def _peak_bytes(device: torch.device) -> int:
    """CUDA: the peak allocated since the part began; CPU: the process's peak resident set so far."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024))


@contextmanager
def _measured(costs: dict[str, dict[str, float]], part: str, device: torch.device, hvps: int,
              estimate: int) -> Iterator[None]:
    """Time the block and record its peak memory as `costs[part]`."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    yield
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    costs[part] = {"seconds": time.perf_counter() - start, "hvps": hvps, "peak_bytes": _peak_bytes(device),
                   "estimate_bytes": estimate}


def point_spectra(f: LossFn, points: Float[Tensor, "P D"], bases: Float[Tensor, "B D d"], spheres: bool = True,
                  chunk: int | None = None, progress: bool = False, desc: str = "points") -> Sweep:
    """The restricted spectra at each point, one point at a time (memory: B·(d+1) HVPs of length D):
    plane eigenvalues of M_bᵀ∇²f(θ_p)M_b [B, P, d]; with `spheres`, those of the tangent plane of
    ‖θ‖ = ‖θ_p‖ [B, P, d] and the geodesic term −(∇f·θ_p)/‖θ_p‖² [P] (`Sweep`: the suite's record of a
    sweep; `sphere_eigs` [B, 0, d] and `shift` [0] without spheres); the losses f(θ_p) [P]. float64, CPU."""
    B, D, d = bases.shape
    # the kernels put the planes side by side as one D×(B·(d+1)) basis, at most D columns: a small
    # model's planes go in groups (a large one's all in one vmapped call)
    groups = bases.split(max(1, D // (d + 1)))
    planes, tangents, shifts, losses = [], [], [], []
    for theta in tqdm(points, desc=desc, disable=not progress, leave=False):
        if spheres:
            plane, tangent = zip(*(plane_and_sphere_eigvals(f, theta[None], g, chunk) for g in groups))
            g, loss = grad_and_value(f)(theta)
            tangents.append(torch.cat(tangent, 1)[0])
            shifts.append(sphere_correction(g, theta).detach())
        else:
            plane = [restricted_eigvals(f, theta[None], g, chunk) for g in groups]
            with torch.no_grad():
                loss = f(theta)
        planes.append(torch.cat(plane, 1)[0])
        losses.append(loss.detach())

    def stacked(rows: list[Tensor], empty: tuple[int, ...]) -> Tensor:
        return torch.stack(rows).double().cpu() if rows else torch.zeros(empty, dtype=torch.float64)

    return Sweep(plane_eigs=stacked(planes, ()).transpose(0, 1),
                 sphere_eigs=stacked(tangents, (0, B, d)).transpose(0, 1),
                 shift=stacked(shifts, (0,)), loss=stacked(losses, ()))


def model_curvature(
    model: nn.Module, loss_fn: ModelLoss, batch: Any, *, params: str = ".*",
    radii: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0), dim: int = 10, n_planes: int = 3, spheres: bool = True,
    hutchpp_probes: int = 30, slq_steps: int = 30, slq_vectors: int = 2, init: Mapping[str, Tensor] | None = None,
    seed: int = 0, chunk: int | None = None, device: str | torch.device | None = None, progress: bool = True,
) -> ModelCurvature:
    """The Goldilocks measures of `model`'s parameters matching `params` (a regex), θ ∈ R^D, for the
    scalar loss `loss_fn(model, batch)` (the fields are `RealModelConfig`'s).

    At θ₀ (the current values) and at the points r·u/‖u‖ of the ray through u = θ_init (the selected
    parameters with `init`'s tensors put in: {name: tensor}; names left out keep their current value)
    or u = θ₀ without `init`, for r = ratio·‖u‖ with every ratio in `radii`: on `n_planes` random
    D×`dim` planes M (`curvature_bases` with `seed`), the eigenvalues of H_d = Mᵀ∇²f(θ)M [B, ·, d] and,
    with `spheres`, of the sphere ‖θ‖ = r through θ. At θ₀: Hutch++ Tr ∇²f from `hutchpp_probes`
    uses and the SLQ density (`slq_vectors` probes × `slq_steps` steps). Every part's time, HVP count
    and memory go into the result's `costs`.

    The module is put in eval mode (no dropout: f must be deterministic) and on `device` (default:
    where the selected parameters are) while it runs; its training flags, device and parameters are
    as before afterwards. Bad inputs raise ValueError naming the parameter before any HVP.
    """
    config = RealModelConfig(params=params, radii=radii, dim=dim, n_planes=n_planes, spheres=spheres,
                             hutchpp_probes=hutchpp_probes, slq_steps=slq_steps, slq_vectors=slq_vectors, seed=seed,
                             chunk=chunk)
    if not isinstance(model, nn.Module):
        raise ValueError(f"`model` must be a torch.nn.Module; got {type(model).__name__}")
    if not callable(loss_fn):
        raise ValueError(f"`loss_fn` must be a callable (model, batch) -> scalar loss; got {type(loss_fn).__name__}")
    selection = select_parameters(model, config.params)
    D = selection.n_params
    check_int("dim", config.dim, low=1, high=D - 1 if config.spheres else D)
    theta_init = _init_theta(init, selection)
    if float(selection.theta.norm()) == 0:  # θ₀ = 0: no ray and no origin-centred sphere passes through it
        if theta_init is None:
            raise ValueError("the selected parameters are all zero, so no ray passes through them: pass `init`")
        if config.spheres:
            raise ValueError("the selected parameters are all zero, so no sphere ‖θ‖ = ‖θ₀‖ exists: set "
                             "`spheres=False`")
    dev = selection.theta.device if device is None else choose_device(device)
    with _prepared(model, dev):
        f = flat_loss(model, loss_fn, _to_device(batch, dev), selection)
        theta0 = selection.theta.to(dev)
        loss = _check_loss(f, theta0)
        return _compute(config, selection, f, theta0, None if theta_init is None else theta_init.to(dev), loss, dev,
                        progress)


def _compute(config: RealModelConfig, selection: FlatParameters, f: LossFn, theta0: Tensor, theta_init: Tensor | None,
             loss: float, dev: torch.device, progress: bool) -> ModelCurvature:
    """The four parts of `model_curvature`, each timed and measured (see its docstring)."""
    D, c, s = selection.n_params, config, theta0.element_size()
    u = theta0 if theta_init is None else theta_init
    r_ref = float(u.norm())  # > 0: model_curvature checked it
    bases = curvature_bases(D, c.dim, c.n_planes, c.seed, theta0.dtype, dev)
    per_point = c.n_planes * (c.dim + 1) * D * (2 * s + 16) if c.spheres else 2 * c.n_planes * c.dim * D * s
    costs: dict[str, dict[str, float]] = {}
    with _measured(costs, "current", dev, c.hvps("current", D), per_point):
        current = point_spectra(f, theta0[None], bases, c.spheres, c.chunk, progress, "current point")
    with _measured(costs, "ray", dev, c.hvps("ray", D), per_point):
        ray = point_spectra(f, points_at_radii(u, [ratio * r_ref for ratio in c.radii]), bases, c.spheres, c.chunk,
                            progress, "radii")
    del bases
    k = c.hutchpp_probes // 3
    with _measured(costs, "hutchpp", dev, c.hvps("hutchpp", D), 3 * k * D * max(s, 8)):
        trace = hutchpp_trace(f, theta0, c.hutchpp_probes, torch.Generator().manual_seed(c.seed + 1), chunk=c.chunk)
    steps = min(c.slq_steps, D)
    with _measured(costs, "slq", dev, c.hvps("slq", D), (steps + 2) * D * 8):
        density = hessian_density(f, theta0, steps, c.slq_vectors, generator=torch.Generator().manual_seed(c.seed + 2))
    memory = ("peak_bytes: CUDA memory allocated at most during the part" if dev.type == "cuda" else
              "peak_bytes: the process's peak resident memory so far (a running maximum, so it includes the model "
              "and every earlier part)")
    return ModelCurvature(config=c, names=selection.names, n_params=D, ray_through="current" if theta_init is None
                          else "init", r_ref=r_ref, r_current=float(theta0.norm()), loss=loss, current=current, ray=ray,
                          trace=float(trace), trace_stderr=trace.stderr, density=density, costs=costs, memory=memory,
                          device=str(dev))
