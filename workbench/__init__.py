"""interp-workbench: computation for four interpretability reproductions.

`workbench.tensor` is the suite-agnostic core; `workbench.<suite>` packages hold one paper each;
`workbench.plots` turns results into plotly figures. Nothing here imports ipywidgets.
"""

__version__ = "0.1.0"
