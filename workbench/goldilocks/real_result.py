"""Configuration and result of `model_curvature`: the Goldilocks measures on any `torch.nn.Module`.

Naming as in the rest of the suite: a `ratio` is a radius in units of the reference radius r_ref
(‖θ_init‖ when an init point is given, else ‖θ₀‖, the model's current point); a `radius` is a
distance ‖θ‖ in the space of the selected parameters.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Self

from jaxtyping import Float
from torch import Tensor

from workbench.core.validation import POSITIVE, Flag, Int, Many, Text, check_choice, check_fields, param
from workbench.goldilocks.sweep import Sweep
from workbench.tensor.curvature import eigvals_positive_fraction, eigvals_trace_ratio
from workbench.tensor.spectral_density import SpectralDensity

WHERE = ("current", "ray")
SURFACES = ("plane", "sphere")
PARTS = ("current", "ray", "hutchpp", "slq")


@dataclass(frozen=True)
class RealModelConfig:
    """What `model_curvature` measures on a module's selected parameters θ ∈ R^D.

    `params`: a regular expression; every named parameter it matches (`re.search`) is selected.
    Planes: `n_planes` random orthonormal D×`dim` bases M (Haar, seed `seed`); on each the
        restricted Hessian H_d = Mᵀ∇²L(θ)M, and with `spheres` that of the origin-centred sphere
        ‖θ‖ = r through θ (M's tangent plane, radial direction removed, plus the geodesic term).
    Points: the current point θ₀, and the ray through θ_init (or θ₀) at the ratios `radii`
        (each > 0, in units of r_ref = ‖θ_init‖, or ‖θ₀‖ without an init).
    Full space at θ₀: Hutch++ trace from `hutchpp_probes` (≥ 3) Hessian uses, and the SLQ spectral
        density from `slq_vectors` Rademacher probes of `slq_steps` Lanczos steps (capped at D).
    `chunk`: HVPs per vmapped call (None: all of a call's at once; set it to bound memory).
    """

    params: str = param(".*", Text())
    radii: tuple[float, ...] = param((0.25, 0.5, 1.0, 2.0, 4.0), Many(POSITIVE))
    dim: int = param(10, Int(1))
    n_planes: int = param(3, Int(1))
    spheres: bool = param(True, Flag())
    hutchpp_probes: int = param(30, Int(3))
    slq_steps: int = param(30, Int(1))
    slq_vectors: int = param(2, Int(1))
    seed: int = param(0, Int(0))
    chunk: int | None = param(None, Int(1, optional=True))

    def __post_init__(self) -> None:
        check_fields(self)
        try:
            re.compile(self.params)
        except re.error as err:
            raise ValueError(f"`params` must be a valid regular expression; got {self.params!r} ({err})") from None

    @classmethod
    def quick(cls, params: str = ".*") -> Self:
        """Small counts for tests and QUICK notebooks: 2 planes of d = 4, 3 radii, 12 Hutch++ uses,
        one SLQ probe of 10 steps."""
        return cls(params=params, radii=(0.5, 1.0, 2.0), dim=4, n_planes=2, hutchpp_probes=12, slq_steps=10,
                   slq_vectors=1)

    def hvps(self, part: str, n_params: int) -> int:
        """Hessian-vector products `part` ('current', 'ray', 'hutchpp', 'slq') costs at D = `n_params`:
        B·(d + 1) per point with spheres (the planes and their tangent planes share them), B·d without;
        3·⌊m/3⌋ for Hutch++; steps·vectors for SLQ."""
        per_point = self.n_planes * (self.dim + (1 if self.spheres else 0))
        counts = {"current": per_point, "ray": per_point * len(self.radii),
                  "hutchpp": 3 * (self.hutchpp_probes // 3), "slq": min(self.slq_steps, n_params) * self.slq_vectors}
        return counts[check_choice("part", part, PARTS)]


@dataclass(frozen=True, eq=False)
class ModelCurvature:
    """What `model_curvature` measured (every tensor on the CPU, float64).

    current: the spectra at θ₀ (`Sweep`, plane/sphere eigenvalues [B, 1, d]); ray: along the ray at
    `config.radii` ([B, R, d]). `trace`, `trace_stderr`: Hutch++ Tr ∇²L(θ₀) over the D selected
    parameters (the stderr of its residual part). `density`: SLQ nodes and weights [V, k] at θ₀.
    `costs[part]`: seconds, HVPs, `peak_bytes` (see `memory`) and `estimate_bytes` (the D-length
    vectors the part holds at once: a parameter-count estimate) for 'current', 'ray', 'hutchpp', 'slq'.
    """

    config: RealModelConfig
    names: tuple[str, ...]
    n_params: int
    ray_through: str  # "init" or "current": the point the ray passes through, whose norm is r_ref
    r_ref: float
    r_current: float
    loss: float
    current: Sweep
    ray: Sweep
    trace: float
    trace_stderr: float
    density: SpectralDensity
    costs: dict[str, dict[str, float]]
    memory: str
    device: str

    @property
    def current_ratio(self) -> float:
        """‖θ₀‖ / r_ref: where the current point sits on the radius axis (off the ray unless it is θ₀'s)."""
        return self.r_current / self.r_ref

    @property
    def radii(self) -> tuple[float, ...]:
        """The ray's ratios r/r_ref (the config's `radii`)."""
        return self.config.radii

    def eigs(self, where: str = "ray", surface: str = "plane", geodesic: bool = True) -> Float[Tensor, "B R d"]:
        """Eigenvalues at `where` ('current': R = 1, or 'ray') on 'plane' or 'sphere' (with the
        geodesic term −(∇L·θ)/‖θ‖² added unless `geodesic=False`)."""
        sweep = self.current if check_choice("where", where, WHERE) == "current" else self.ray
        if check_choice("surface", surface, SURFACES) == "plane":
            return sweep.plane_eigs
        if not self.config.spheres:
            raise ValueError("this result has no sphere spectra (`spheres` was False)")
        return sweep.sphere_eigs + sweep.shift[None, :, None] if geodesic else sweep.sphere_eigs

    def trace_ratio(self, where: str = "ray", surface: str = "plane") -> Float[Tensor, "B R"]:
        """Tr(H_d)/‖H_d‖_F = Σλ/√Σλ² per plane and point (in [−√d, √d])."""
        return eigvals_trace_ratio(self.eigs(where, surface))

    def positive_fraction(self, where: str = "ray", surface: str = "plane") -> Float[Tensor, "B R"]:
        """#{λ > 0}/d per plane and point."""
        return eigvals_positive_fraction(self.eigs(where, surface))

    @property
    def frobenius(self) -> float:
        """‖∇²L(θ₀)‖_F ≈ √(D · ∫λ² dμ) from the SLQ density (its second moment estimates Tr H²/D)."""
        return math.sqrt(max(self.n_params * self.density.moment(2), 0.0))

    @property
    def full_trace_ratio(self) -> float:
        """Tr H/‖H‖_F on the whole selected space at θ₀: the Hutch++ trace over the SLQ Frobenius norm
        (in [−√D, √D]; two estimators, so not exactly bounded)."""
        return self.trace / self.frobenius if self.frobenius > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """Plain numbers (JSON-ready): per place and surface the mean, min and max over planes of
        Tr/‖H‖_F and of the positive share; the full-space trace, ratio, losses and costs."""
        def stats(v: Tensor) -> dict[str, list[float]]:
            return {"mean": v.mean(0).tolist(), "min": v.min(0).values.tolist(), "max": v.max(0).values.tolist()}

        surfaces = SURFACES if self.config.spheres else SURFACES[:1]
        measures = {where: {s: {"trace_ratio": stats(self.trace_ratio(where, s)),
                                "positive_fraction": stats(self.positive_fraction(where, s))} for s in surfaces}
                    for where in WHERE}
        c = self.config
        return {"params": c.params, "n_params": self.n_params, "n_tensors": len(self.names), "dim": c.dim,
                "n_planes": c.n_planes, "sqrt_dim": math.sqrt(c.dim), "ray_through": self.ray_through,
                "r_ref": self.r_ref, "r_current": self.r_current, "current_ratio": self.current_ratio,
                "radii": list(c.radii), "loss": self.loss, "ray_loss": self.ray.loss.tolist(),
                "measures": measures, "hutchpp_trace": self.trace, "hutchpp_stderr": self.trace_stderr,
                "slq_frobenius": self.frobenius, "full_trace_ratio": self.full_trace_ratio,
                "costs": self.costs, "memory": self.memory, "device": self.device}
