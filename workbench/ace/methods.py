"""ACE's steering methods, one entry each: what a researcher adds to compare a new method.

Every method edits an activation v ∈ R^d of a site with that site's refusal direction r = μ⁺ − μ⁻
(r̂ = r/‖r‖) and harmless mean μ⁻, through the one affine operator of `workbench.tensor.steering`:

    none                 v                                           (unsteered)
    actadd               v + α r                                     (ActAdd / CAA)
    directional_ablation v − r̂ r̂ᵀ v                                  (through the origin)
    arditi_ablation      v − r̂ r̂ᵀ v with ONE r̂ (the focus block's residual direction) at every
                         block input (resid_pre) and every sublayer output: Arditi et al.'s
                         ablation, whatever the sites and layer
    midpoint_projection  v − r̂ r̂ᵀ (v − (μ⁺ + μ⁻)/2)                  (= ACE α = ½)
    affine_ablation      v − r̂ r̂ᵀ (v − μ⁻)                           (= ACE α = 0)
    ace                  v − r̂ r̂ᵀ (v − μ⁻) + α r

midpoint_projection is the reference code's orth eraser at multiplier 0 — the abstract's
"directional ablation via affine subspace projection alone" — written with the midpoint
μ⁻ + r/2 as reference, so its identity with ACE at α = ½ is a check (r/2 = (‖r‖/2) r̂), not a
definition.

`METHODS` is the registry: its order is the experiment's (figure 2's bars run through it, each
entry's `comparisons` in turn); the panel, the α sweep and the layer sweep order theirs by the
entry's `panel` / `sweep` / `layer_sweep` index. `workbench.ace.config` derives its tuples from it,
`workbench.ace.sites` places the edits, the plots and the panel take labels and colours from it.
A `SteeringMethod` that is not registered can be applied directly (`SiteDirections.edits`,
`AceResult.edits` and `AceLive.complete` take the object as well as a name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import torch
from jaxtyping import Float
from torch import Tensor

from workbench.core.validation import check_choice, check_number
from workbench.tensor.steering import SteeringEdit

# Where a method's edits go (`SiteDirections.edits`):
NOWHERE = "nowhere"  # no edit at all (the unsteered model)
EACH_SITE = "each_site"  # every steered site (`sites` × `layer`) with its own r and μ⁻
# ONE direction — the focus block's residual one — at every block input and every sublayer output
FOCUS_EVERYWHERE = "focus_everywhere"
PLACEMENTS = (NOWHERE, EACH_SITE, FOCUS_EVERYWHERE)

# (direction r, harmless mean μ⁻, α) -> the edit of one site (None: no edit)
EditBuilder = Callable[[Float[Tensor, " d"], Float[Tensor, " d"], float], SteeringEdit | None]


@dataclass(frozen=True)
class Comparison:
    """One bar group of figure 2's method comparison: the method at `alpha`, titled `title`
    (`short`: the axis label where the title is too long for it)."""

    title: str
    alpha: float
    short: str | None = None


@dataclass(frozen=True)
class SteeringMethod:
    """One steering method of the ACE suite.

    name: its key (`METHODS`, `AceConfig`-level tuples, results' method axes).
    label: how figures and the panel name it.
    build: (r, μ⁻, α) -> the `SteeringEdit` of one site (None: no edit), the math of the module
        docstring through `workbench.tensor.steering`.
    reads_alpha: whether α changes the edit (the panel's α slider is live for it).
    fixed_alpha: where a method without α sits on ACE's α axis (midpoint projection: ½), marked
        there by the panel and figure 1; None: nowhere.
    placement: NOWHERE, EACH_SITE or FOCUS_EVERYWHERE (module constants).
    panel / sweep / layer_sweep: its index among the panel's methods / figure 1's α sweep (the
        method axis of `AceResult.sweep`) / figure 3's layer sweep (`AceResult.layer_sweep`, at
        α = 0); None: not there.
    comparisons: its bar groups in figure 2 (`Comparison`), in order.
    palette: its line colour as an index into the plots' colourway (`workbench.plots.theme.COLORWAY`,
        so the hex values live there alone); None: the plots derive one from its place in `METHODS`.
    level_colors: (harmful, harmless) colours of its flat line in figure 1 (its refusal rate at
        the first comparison setting); None: no such line.
    """

    name: str
    label: str
    build: EditBuilder
    reads_alpha: bool = False
    fixed_alpha: float | None = None
    placement: str = EACH_SITE
    panel: int | None = None
    sweep: int | None = None
    layer_sweep: int | None = None
    comparisons: tuple[Comparison, ...] = ()
    palette: int | None = None
    level_colors: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"`name` must be a non-empty string; got {self.name!r}")
        check_choice("placement", self.placement, PLACEMENTS)
        if self.fixed_alpha is not None:
            if self.reads_alpha:
                raise ValueError("`fixed_alpha` is for a method without α; this one has `reads_alpha`=True")
            check_number("fixed_alpha", self.fixed_alpha)
        if self.sweep is not None and not self.reads_alpha:
            raise ValueError("`sweep` (figure 1's α sweep) needs a method with `reads_alpha`=True")
        for field in ("panel", "sweep", "layer_sweep", "palette"):
            index = getattr(self, field)
            if index is not None and (not isinstance(index, int) or isinstance(index, bool) or index < 0):
                raise ValueError(f"`{field}` must be None or an index ≥ 0; got {index!r}")

    def edit(self, direction: Float[Tensor, " d"], mu_neg: Float[Tensor, " d"],
             alpha: float = 0.0) -> SteeringEdit | None:
        """This method's edit of a site with direction r = `direction` and harmless mean `mu_neg`."""
        return self.build(direction, mu_neg, check_number("alpha", alpha))

    def _identity_at(self, alpha: float) -> bool:
        """Whether this method's edit at `alpha` leaves every activation as it is."""
        edit = self.build(torch.ones(1), torch.zeros(1), check_number("alpha", alpha))  # identity is r-free
        return edit is None or edit.is_identity

    def edit_key(self, alpha: float, sites: str, layer: int | str) -> tuple:
        """What its edits depend on (equal keys: equal edits): the unsteered model — and any method
        whose edit at this α is the identity (ActAdd at α = 0) — on nothing, one direction
        everywhere on nothing but the model, the others on α (if read), sites and layer."""
        if self.placement == NOWHERE or self._identity_at(alpha):
            return ("none",)
        if self.placement == FOCUS_EVERYWHERE:
            return (self.name,)
        return (self.name, alpha if self.reads_alpha else 0.0, sites, layer)


def _unsteered(direction: Tensor, mu_neg: Tensor, alpha: float) -> None:
    return None


def _actadd(direction: Tensor, mu_neg: Tensor, alpha: float) -> SteeringEdit:
    """v + α r."""
    return SteeringEdit(direction, None, alpha, project=False)


def _through_origin(direction: Tensor, mu_neg: Tensor, alpha: float) -> SteeringEdit:
    """v − r̂ r̂ᵀ v (α unused)."""
    return SteeringEdit(direction, None, 0.0, project=True)


def _midpoint(direction: Tensor, mu_neg: Tensor, alpha: float) -> SteeringEdit:
    """v − r̂ r̂ᵀ (v − (μ⁻ + r/2)) (α unused): the reference's eraser with the midpoint as reference."""
    return SteeringEdit(direction, mu_neg + direction / 2, 0.0, project=True)


def _affine(direction: Tensor, mu_neg: Tensor, alpha: float) -> SteeringEdit:
    """v − r̂ r̂ᵀ (v − μ⁻) (α unused)."""
    return SteeringEdit(direction, mu_neg, 0.0, project=True)


def _ace(direction: Tensor, mu_neg: Tensor, alpha: float) -> SteeringEdit:
    """v − r̂ r̂ᵀ (v − μ⁻) + α r."""
    return SteeringEdit(direction, mu_neg, alpha, project=True)


_ENTRIES = (
    SteeringMethod("none", "unsteered", _unsteered, placement=NOWHERE, comparisons=(Comparison("none", 0.0),),
                   level_colors=("#7a7a7a", "#b8b8b8")),
    SteeringMethod("actadd", "ActAdd", _actadd, reads_alpha=True, panel=1, sweep=1,
                   comparisons=(Comparison("ActAdd α=−1", -1.0, "ActAdd −1"),), palette=2),
    SteeringMethod("directional_ablation", "directional ablation", _through_origin, panel=3, layer_sweep=1,
                   comparisons=(Comparison("directional ablation", 0.0, "dir. abl."),), palette=1,
                   level_colors=("#d1603d", "#e8a48c")),
    SteeringMethod("arditi_ablation", "Arditi ablation", _through_origin, placement=FOCUS_EVERYWHERE, panel=4,
                   comparisons=(Comparison("Arditi ablation", 0.0, "Arditi abl."),)),
    SteeringMethod("midpoint_projection", "midpoint projection (α=½)", _midpoint, fixed_alpha=0.5, panel=2,
                   comparisons=(Comparison("midpoint projection", 0.5, "midpoint proj."),)),
    # = ACE at α = 0 by construction: neither in the panel nor in figure 2
    SteeringMethod("affine_ablation", "affine ablation", _affine, fixed_alpha=0.0),
    SteeringMethod("ace", "ACE", _ace, reads_alpha=True, panel=0, sweep=0, layer_sweep=0,
                   comparisons=(Comparison("ACE α=0", 0.0), Comparison("ACE α=1", 1.0)), palette=0),
)
METHODS: Mapping[str, SteeringMethod] = MappingProxyType({method.name: method for method in _ENTRIES})


def steering_method(method: str | SteeringMethod) -> SteeringMethod:
    """The entry of `method` (a name in `METHODS`), or `method` itself when it is a `SteeringMethod`."""
    if isinstance(method, SteeringMethod):
        return method
    return METHODS[check_choice("method", method, tuple(METHODS))]


def ordered(field: str, registry: Mapping[str, SteeringMethod] = METHODS) -> tuple[str, ...]:
    """The names of the entries whose index `field` ("panel", "sweep" or "layer_sweep") is set,
    in that index's order; the indices must be 0, 1, … without gaps (they index result axes)."""
    check_choice("field", field, ("panel", "sweep", "layer_sweep"))
    placed = sorted((getattr(m, field), m.name) for m in registry.values() if getattr(m, field) is not None)
    if [index for index, _name in placed] != list(range(len(placed))):
        raise ValueError(f"the `{field}` indices of the steering methods must be 0, 1, …; got {placed}")
    return tuple(name for _index, name in placed)
