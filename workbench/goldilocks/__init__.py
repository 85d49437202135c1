"""The Goldilocks zone (Fort & Scherlis, AAAI 2019, arXiv 1807.02581) on fully connected nets.

    from workbench.goldilocks import GoldilocksConfig, run
    result = run(GoldilocksConfig.quick())
    result.trace_ratio()          # Tr(H_d)/‖H_d‖_F  [activation, seed, basis, ratio r/r_init]
"""

from workbench.goldilocks.claims import claims
from workbench.goldilocks.config import RANK_BY, GoldilocksConfig, log_ratios
from workbench.goldilocks.data import DATASETS, Dataset, load_cifar10, load_dataset, load_digits, load_mnist
from workbench.goldilocks.experiment import directions, hessian_bases, run, selection_inits
from workbench.goldilocks.hyperplane import train_on_hyperplanes
from workbench.goldilocks.intrinsic import SURFACES, intrinsic_dimension, surface_points, train_on_surfaces
from workbench.goldilocks.model import ACTIVATIONS, INIT_SCHEMES, MLPSpec
from workbench.goldilocks.real_model import (
    FlatParameters,
    curvature_bases,
    flat_loss,
    model_curvature,
    point_spectra,
    select_parameters,
)
from workbench.goldilocks.real_result import ModelCurvature, RealModelConfig
from workbench.goldilocks.result import GoldilocksResult
from workbench.goldilocks.scoring import reliability, score_inits
from workbench.goldilocks.selection import SelectionTest, association, selection_test, steps_to_target, train_full_space
from workbench.goldilocks.summary import summarize
from workbench.goldilocks.sweep import Sweep, points_at_ratios, radius_sweep, random_bases

__all__ = [
    "ACTIVATIONS", "DATASETS", "INIT_SCHEMES", "RANK_BY", "Dataset", "GoldilocksConfig", "GoldilocksResult",
    "MLPSpec", "SelectionTest", "Sweep", "directions", "hessian_bases", "load_cifar10", "load_dataset",
    "load_digits", "load_mnist", "log_ratios", "points_at_ratios", "radius_sweep", "random_bases",
    "run", "selection_inits", "selection_test", "steps_to_target", "summarize",
    "train_full_space", "train_on_hyperplanes",
    "SURFACES", "association", "claims", "intrinsic_dimension", "reliability", "score_inits", "surface_points",
    "train_on_surfaces",
    "FlatParameters", "ModelCurvature", "RealModelConfig", "curvature_bases", "flat_loss", "model_curvature",
    "point_spectra", "select_parameters",
]
