"""`GoldilocksResult`: the spectra, trainings and selection of one `GoldilocksConfig` (safetensors + JSON)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.core.result import Result, expect_shape
from workbench.goldilocks.config import RANK_BY, GoldilocksConfig
from workbench.goldilocks.intrinsic import intrinsic_dimension
from workbench.tensor.curvature import eigvals_positive_fraction, eigvals_trace_ratio


@dataclass(frozen=True)
class GoldilocksResult(Result):
    """Axes: A activations, S seeds (init directions), B bases, R ratios (r/r_init, the config's `ratios`),
    d = hessian_dim, T train_dims, Q train_ratios, N selection inits, K selection evaluations.

    r_init: √E‖θ_init‖² of the init scheme, a radius (the unit of every ratio r/r_init).
    plane_eigs [A, S, B, R, d]: eigenvalues of Mᵀ∇²L(r·u)M on random d-planes.
    sphere_eigs [A, S, B, R', d], sphere_shift [A, S, R']: the sphere's tangent-plane spectra and
        the geodesic term −(∇L·P)/r² (R' = R with `sphere`, else 0).
    point_loss [A, S, R]: L(r·u) on the curvature batch.
    iso_plane_eigs [A, S', B, R, d]: plane spectra at r·u for S' isotropic u ~ N(0, I_D), biases
        included (S' = S with `isotropic`, else 0), each on its seed's planes.
    dims_ratio, dims_positive [A, K, B, R]: Tr(H_d)/(√d‖H_d‖_F) and positive share for each d of
        `compare_dims` (K of them) on nested planes, seed 0's direction.
    density_at [Z]: indices into `ratios` of the full-space SLQ densities (Z = 3 with
        `density_steps`, else 0); density_nodes, density_weights [A, Z, V, k]: Ritz values and
        weights per probe (V = `density_probes`, k = `density_steps`), seed 0's direction.
    plane_acc, plane_loss [A, T, S, Q]: test accuracy / training loss after training φ only.
    sphere_acc [A, T, S, Q]: test accuracy after training φ on the origin-centred d-sphere.
    full_acc [A, S']: full-space reference accuracy from r_init (S' = S when T > 0, else 0).
    d90_plane_acc, d90_sphere_acc [A, T', S, Q']: test accuracy for d in `d90_dims` (T') at the
        ratios `d90_ratios` (Q'), planes and spheres.
    Init selection, M = N inits at r_init then the positive control's (M = 0 without the study):
    sel_measures [M, 4]: each init's full-space Tr/‖H‖_F, Tr H, initial loss, positive share on
        planes (RANK_BY order).
    sel_retest [M, 4]: Tr/‖H‖_F from the first and from the second probe set (test, retest), then
        the positive share on the first and on the second half of the planes.
    sel_ratios [M]: each init's ratio r/r_init (1 for the first N).
    sel_curves [M, K]: test accuracy at steps 0, k, 2k, … of full-space SGD.
    sel_losses [M, steps]: minibatch training loss at every step.
    stage_seconds: wall time per stage.
    """

    kind: ClassVar[str] = "GoldilocksResult"
    value_sources: ClassVar[dict[str, str]] = {
        **dict.fromkeys(("plane_eigs", "sphere_eigs", "sphere_shift", "point_loss", "iso_plane_eigs", "dims_ratio",
                         "dims_positive", "density_nodes", "density_weights"), "`ratios` and `dtype`"),
        **dict.fromkeys(("plane_acc", "plane_loss", "sphere_acc", "d90_plane_acc", "d90_sphere_acc"),
                        "`train_ratios`, `train_lr` and `dtype`"),
        "full_acc": "`full_lr` and `dtype`",
        **dict.fromkeys(("sel_measures", "sel_retest", "sel_ratios", "sel_curves", "sel_losses"),
                        "`selection_lr` and `dtype`")}

    config: GoldilocksConfig
    r_init: float
    plane_eigs: Float[Tensor, "A S B R d"]
    sphere_eigs: Float[Tensor, "A S B Rs d"]
    sphere_shift: Float[Tensor, "A S Rs"]
    point_loss: Float[Tensor, "A S R"]
    iso_plane_eigs: Float[Tensor, "A Si B R d"]
    dims_ratio: Float[Tensor, "A K B R"]
    dims_positive: Float[Tensor, "A K B R"]
    density_at: Float[Tensor, " Z"]
    density_nodes: Float[Tensor, "A Z V k"]
    density_weights: Float[Tensor, "A Z V k"]
    plane_acc: Float[Tensor, "A T S Q"]
    plane_loss: Float[Tensor, "A T S Q"]
    sphere_acc: Float[Tensor, "A T S Q"]
    full_acc: Float[Tensor, "A S"]
    d90_plane_acc: Float[Tensor, "A T2 S Q2"]
    d90_sphere_acc: Float[Tensor, "A T2 S Q2"]
    sel_measures: Float[Tensor, "M 4"]
    sel_retest: Float[Tensor, "M 4"]
    sel_ratios: Float[Tensor, " M"]
    sel_curves: Float[Tensor, "M K"]
    sel_losses: Float[Tensor, "M steps"]
    stage_seconds: dict

    def validate(self) -> None:
        c = self.config
        A, S, B, R, d = len(c.activations), c.seeds, c.bases, len(c.ratios), c.hessian_dim
        Rs = R if c.sphere else 0
        T, Q, N = len(c.train_dims), len(c.train_ratios), c.selection_inits
        M = N + c.selection_controls if N else 0
        K = c.selection_steps // c.selection_eval_every + 1 if N else 0
        expect_shape("plane_eigs", self.plane_eigs, (A, S, B, R, d))
        expect_shape("sphere_eigs", self.sphere_eigs, (A, S, B, Rs, d))
        expect_shape("sphere_shift", self.sphere_shift, (A, S, Rs))
        expect_shape("point_loss", self.point_loss, (A, S, R))
        expect_shape("iso_plane_eigs", self.iso_plane_eigs, (A, S if c.isotropic else 0, B, R, d))
        expect_shape("dims_ratio", self.dims_ratio, (A, len(c.compare_dims), B, R))
        expect_shape("dims_positive", self.dims_positive, (A, len(c.compare_dims), B, R))
        Z = 3 if c.density_steps else 0
        expect_shape("density_at", self.density_at, (Z,))
        expect_shape("density_nodes", self.density_nodes, (A, Z, c.density_probes, c.density_steps))
        expect_shape("density_weights", self.density_weights, (A, Z, c.density_probes, c.density_steps))
        expect_shape("plane_acc", self.plane_acc, (A, T, S, Q if T else 0))
        expect_shape("plane_loss", self.plane_loss, (A, T, S, Q if T else 0))
        expect_shape("sphere_acc", self.sphere_acc, (A, T, S, Q if T else 0))
        expect_shape("full_acc", self.full_acc, (A, S if T else 0))
        T2, Q2 = len(c.d90_dims), len(c.d90_ratios) if c.d90_dims else 0
        expect_shape("d90_plane_acc", self.d90_plane_acc, (A, T2, S, Q2))
        expect_shape("d90_sphere_acc", self.d90_sphere_acc, (A, T2, S, Q2))
        expect_shape("sel_measures", self.sel_measures, (M, len(RANK_BY)))
        expect_shape("sel_retest", self.sel_retest, (M, 4))
        expect_shape("sel_ratios", self.sel_ratios, (M,))
        expect_shape("sel_curves", self.sel_curves, (M, K))
        expect_shape("sel_losses", self.sel_losses, (M, c.selection_steps if N else 0))

    # --- views used by figures, widgets and docs -------------------------------------------
    def activation_index(self, activation: str) -> int:
        if activation not in self.config.activations:
            raise ValueError(f"`activation` must be one of {list(self.config.activations)}; got {activation!r}")
        return self.config.activations.index(activation)

    def eigs(self, surface: str = "plane", geodesic: bool = True) -> Float[Tensor, "A S B R d"]:
        """Spectra on 'plane', 'sphere' (with the geodesic term unless `geodesic=False`) or
        'isotropic' (planes through isotropic directions, biases included)."""
        if surface == "plane":
            return self.plane_eigs
        if surface == "isotropic":
            if not self.config.isotropic:
                raise ValueError("this result has no isotropic-direction spectra (config.isotropic was False)")
            return self.iso_plane_eigs
        if surface != "sphere":
            raise ValueError(f"`surface` must be 'plane', 'sphere' or 'isotropic'; got {surface!r}")
        if not self.config.sphere:
            raise ValueError("this result has no sphere spectra (config.sphere was False)")
        return self.sphere_eigs + self.sphere_shift[:, :, None, :, None] if geodesic else self.sphere_eigs

    def trace_ratio(self, surface: str = "plane") -> Float[Tensor, "A S B R"]:
        """Tr(H_d)/‖H_d‖_F per activation, seed, basis and ratio r/r_init."""
        return eigvals_trace_ratio(self.eigs(surface))

    def positive_fraction(self, surface: str = "plane") -> Float[Tensor, "A S B R"]:
        return eigvals_positive_fraction(self.eigs(surface))

    def ratios(self) -> Float[Tensor, " R"]:
        """The swept ratios r/r_init (the config's `ratios`), float64."""
        return torch.tensor(self.config.ratios, dtype=torch.float64)

    def surface_acc(self, surface: str) -> Float[Tensor, "A T S Q"]:
        """Test accuracy after training on 'plane' or 'sphere'."""
        if surface not in ("plane", "sphere"):
            raise ValueError(f"`surface` must be 'plane' or 'sphere'; got {surface!r}")
        return self.plane_acc if surface == "plane" else self.sphere_acc

    def intrinsic_dimension(self, surface: str) -> Float[Tensor, "A Q"]:
        """d₉₀(r) per activation and training ratio r/r_init (of `train_ratios`): the smallest d of
        `train_dims` (and, at `d90_ratios`, of `d90_dims` after them) whose mean accuracy over seeds
        reaches `intrinsic_fraction` of the mean full-space accuracy (NaN: none)."""
        c = self.config
        acc = self.surface_acc(surface).mean(2).transpose(1, 2).double()  # [A, Q, T]
        ref = self.full_acc.double().mean(1)[:, None]                     # [A, 1]
        if c.d90_dims:
            extra = torch.full((*acc.shape[:2], len(c.d90_dims)), -math.inf, dtype=torch.float64)
            at = [c.train_ratios.index(r) for r in c.d90_ratios]
            extra[:, at] = (self.d90_plane_acc if surface == "plane" else self.d90_sphere_acc).mean(2).transpose(
                1, 2).double()
            acc = torch.cat([acc, extra], -1)
        return intrinsic_dimension(acc, self.dims(), ref, c.intrinsic_fraction)

    def dims(self) -> list[int]:
        """Every trained d: `train_dims`, then `d90_dims` (trained at `d90_ratios` only)."""
        return [*self.config.train_dims, *self.config.d90_dims]

    def selection_measure(self) -> Float[Tensor, " M"]:
        return self.sel_measures[:, RANK_BY.index(self.config.selection_rank_by)]

    def selection_groups(self) -> dict[str, slice]:
        """Rows of the sel_* tensors: 'at_r_init' (the test) and 'control' (ratios r/r_init varied)."""
        N = self.config.selection_inits
        return {"at_r_init": slice(0, N), "control": slice(N, self.sel_ratios.shape[0])}

    def loss_auc(self) -> Float[Tensor, " M"]:
        """Area under the training-loss curve per init (mean minibatch loss over the steps)."""
        return self.sel_losses.double().mean(-1)
