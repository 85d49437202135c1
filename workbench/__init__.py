"""interp-workbench: computation for four interpretability reproductions.

`workbench.core` holds the runtime services (validation, caching, I/O, threads) and
`workbench.tensor` the suite-agnostic math; `workbench.<suite>` packages hold one paper each;
`workbench.plots` turns results into plotly figures. Nothing here imports ipywidgets.
`quick_mode()` reads `WORKBENCH_QUICK` (every notebook's parameters cell asks it).
"""

from workbench.core.quick import quick_mode

__version__ = "0.1.0"
__all__ = ["quick_mode"]
