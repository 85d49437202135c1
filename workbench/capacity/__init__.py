"""Polysemanticity and capacity (Scherlis et al., arXiv 2210.01892) on quadratic toy models.

    from workbench.capacity import CapacityConfig, run, capacity
    result = run(CapacityConfig.quick())
    result.capacities()            # [kurtosis, decay, n]
"""

from workbench.capacity.analysis import Blocks, derivation_check, gram_blocks, polysemantic_share
from workbench.capacity.capacity import capacity, regimes
from workbench.capacity.claims import claims
from workbench.capacity.config import CapacityConfig
from workbench.capacity.experiment import run
from workbench.capacity.features import monte_carlo_loss, sample_features, sparsity_to_kurtosis
from workbench.capacity.loss import closed_form_loss, gram, marginal_loss, optimal_feature_loss, per_feature_loss
from workbench.capacity.optimum import optimal_allocation, optimal_loss
from workbench.capacity.real_model import MatrixCapacity, ModelCapacities, capacity_large, model_capacities
from workbench.capacity.result import CapacityResult
from workbench.capacity.summary import summarize
from workbench.capacity.train import importances, train_quadratic, train_relu_output

__all__ = [
    "Blocks",
    "CapacityConfig",
    "CapacityResult",
    "MatrixCapacity",
    "ModelCapacities",
    "capacity",
    "capacity_large",
    "claims",
    "closed_form_loss",
    "derivation_check",
    "gram",
    "gram_blocks",
    "importances",
    "marginal_loss",
    "model_capacities",
    "monte_carlo_loss",
    "optimal_allocation",
    "optimal_feature_loss",
    "optimal_loss",
    "per_feature_loss",
    "polysemantic_share",
    "regimes",
    "run",
    "sample_features",
    "sparsity_to_kurtosis",
    "summarize",
    "train_quadratic",
    "train_relu_output",
]
