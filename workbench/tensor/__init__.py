"""The shared math: suite-agnostic torch utilities (steering operators and hooks, subspaces,
curvature and trace estimators, ensembles, statistics). Knows nothing of features, refusal, radii
or stories; runtime services (validation, caching, I/O, threads) are in `workbench.core`."""

from workbench.tensor.ensemble import EnsembleGrid, train_ensemble

# RowEdits lives in workbench.tensor.row_edits, imported from there: re-exporting it here would make
# every suite that imports this package depend on the steering code (tests/unit/core/test_fingerprint.py)
__all__ = ["EnsembleGrid", "train_ensemble"]
