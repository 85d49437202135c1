"""The shared math: suite-agnostic torch utilities (steering operators and hooks, subspaces,
curvature and trace estimators, ensembles, statistics). Knows nothing of features, refusal, radii
or stories; runtime services (validation, caching, I/O, threads) are in `workbench.core`."""

from workbench.tensor.ensemble import EnsembleGrid, train_ensemble
from workbench.tensor.row_edits import RowEdits

__all__ = ["EnsembleGrid", "RowEdits", "train_ensemble"]
