"""The capacity suite's notebooks, as cell sources (regenerate with scripts/make_notebooks.py)."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from nbtools import params

CAPACITY_REPRODUCE = [
    new_markdown_cell(
        "# Polysemanticity and capacity\n\n"
        "Scherlis et al. (arXiv 2210.01892): a quadratic toy model with n features and d < n embedding "
        "dimensions. How does the optimum split the d dimensions among features? Capacity "
        "$C_i = (w_i\\cdot w_i)^2 / \\sum_j (w_i\\cdot w_j)^2 \\in [0, 1]$.\n\n"
        "Set `QUICK = True` for a small grid that trains in seconds. The full grid takes about half a "
        "minute on 2 cores and is cached (`make reproduce` fills the cache)."
    ),
    params("QUICK = False  # True: the small grid used by tests and CI"),
    new_code_cell(
        "import torch\n"
        "from workbench.suite import run_cached\n"
        "from workbench.capacity import (CapacityConfig, capacity, closed_form_loss,\n"
        "                                monte_carlo_loss, importances, derivation_check)\n"
        "from workbench.capacity.summary import summarize\n"
        "from workbench.plots import capacity as plots\n\n"
        "config = CapacityConfig.quick() if QUICK else CapacityConfig()\n"
        "result = run_cached(\"capacity\", config)\n"
        "print(f'{result.W.shape[:-2].numel()} models of n={config.n}, d={config.d}; trained in {result.train_seconds:.1f} s')"
    ),
    new_markdown_cell(
        "## The loss has a closed form\n\n"
        "$L(W) = (k-1)\\sum_i(\\|w_i\\|^2 - v_i)^2 + 2\\sum_{i\\neq j}(w_i\\cdot w_j)^2$ for features of "
        "kurtosis $k$ and the best bias. A Monte-Carlo estimate on sampled features agrees within its error bar:"
    ),
    new_code_cell(
        "W = torch.randn(config.d, config.n, generator=torch.Generator().manual_seed(0)) / config.d**0.5\n"
        "v = importances(config.n, 0.9)\n"
        "for k in (2.0, 6.0):\n"
        "    mc, se = monte_carlo_loss(W, v, k, n_samples=100_000 if QUICK else 1_000_000,\n"
        "                              generator=torch.Generator().manual_seed(1))\n"
        "    print(f'k={k:g}: closed form {float(closed_form_loss(W.double(), v.double(), k)):.4f}, '\n"
        "          f'Monte Carlo {mc:.4f} ± {se:.4f}')"
    ),
    new_markdown_cell("## 1. Three regimes: monosemantic, polysemantic, ignored"),
    new_code_cell("plots.capacity_profiles(result)"),
    new_markdown_cell("## 2. Where polysemanticity appears: kurtosis × importance decay"),
    new_code_cell("plots.phase_diagram(result)"),
    new_markdown_cell(
        "## 3. Marginal loss is flat across polysemantic features (KKT)\n\n"
        "Minimising each feature's loss over its norm at fixed capacity gives "
        "$L_i(C_i) = 2(k-1)v_i^2(1-C_i)/((k-3)C_i+2)$. The check below compares it with the trained optimum:"
    ),
    new_code_cell(
        "li = result.sweep_decay_index()\n"
        "for ki, k in enumerate(config.kurtosis):\n"
        "    check = derivation_check(result.best_W()[ki, li], result.importances(li), k)\n"
        "    print(f'k={k:6g}: max relative gap measured - derived = {check.max_relative_gap:.1e}')\n"
        "plots.marginal_loss_figure(result)"
    ),
    new_markdown_cell("## 4. The Gram matrix is block semi-orthogonal"),
    new_code_cell("plots.gram_heatmap(result, kurtosis_index=len(config.kurtosis) - 1)"),
    new_markdown_cell("## 5. The optimum uses the whole space"),
    new_code_cell("plots.total_capacity_vs_d(result)"),
    new_markdown_cell("## 6. Another architecture: the ReLU-output model trained on samples"),
    new_code_cell("plots.architecture_comparison(result)"),
    new_markdown_cell("## Numbers for the claims table"),
    new_code_cell(
        "summary = summarize(result)\n"
        "for row in summary['per_kurtosis']:\n"
        "    print({key: row[key] for key in ('kurtosis', 'monosemantic', 'polysemantic', 'ignored', 'total_capacity', 'block_sizes')})"
    ),
]

CAPACITY_EXPLORE = [
    new_markdown_cell(
        "# Explore capacity allocation\n\n"
        "Drag **kurtosis** and **decay**: the panel shows the optimum of the nearest precomputed grid "
        "cell (instant). Change **n** or **d** to retrain the grid (a progress line appears below the plot)."
    ),
    params("QUICK = False  # True: the small grid used by tests and CI"),
    new_code_cell(
        "from widgets import CapacityPanel\n"
        "from workbench.capacity import CapacityConfig\n\n"
        "panel = CapacityPanel(config=CapacityConfig.quick() if QUICK else CapacityConfig())\n"
        "panel"
    ),
    new_markdown_cell("The panel's controls and figure are attributes, so a cell can drive it too:"),
    new_code_cell("panel.kurtosis.value = max(panel.result.config.kurtosis)"),
]



NOTEBOOKS = {
    "capacity/01_capacity_and_polysemanticity.ipynb": CAPACITY_REPRODUCE,
    "capacity/02_explore.ipynb": CAPACITY_EXPLORE,
}
