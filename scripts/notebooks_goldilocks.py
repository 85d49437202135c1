"""The goldilocks suite's notebooks, as cell sources (regenerate with scripts/make_notebooks.py)."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from nbtools import params

GOLDILOCKS_REPRODUCE = [
    new_markdown_cell(
        "# The Goldilocks zone\n\n"
        "Fort & Scherlis (AAAI 2019, arXiv 1807.02581): flatten a fully connected net's parameters into "
        "$\\theta\\in\\mathbb{R}^D$, go out along a random init direction $u$ to radius $r$, and look at the loss on a "
        "random $d$-dimensional plane $\\theta = P + M\\phi$ through $P = r\\,u$. The restricted Hessian "
        "$H_d = M^\\top \\nabla^2 L(P) M$ is $d\\times d$; $\\mathrm{Tr}(H_d)/\\|H_d\\|_F$ is about 0 for a random "
        "symmetric matrix and $\\sqrt d$ for a bowl. The claim: for ReLU nets it peaks in a shell of radii around "
        "$r_\\text{init}$, and training on random low-dimensional surfaces works best where they overlap that shell. "
        "A plane through $P$ has radius $\\sqrt{r^2+\\|\\phi\\|^2}$ and crosses every shell outside $r$; an "
        "origin-centred sphere stays at radius $r$ — so the spheres, not the planes, tell \"the zone helps\" from "
        "\"small radii help\".\n\n"
        "Data: scikit-learn's 8x8 digits (embedded). Set `QUICK = True` for a small run of seconds; the full run "
        "takes a few minutes on 2 cores and is cached (`make reproduce` fills the cache)."
    ),
    params("QUICK = False  # True: the small run used by tests and CI"),
    new_code_cell(
        "import torch\n"
        "from workbench.suite import run_cached\n"
        "from workbench.goldilocks import GoldilocksConfig, load_digits, directions, hessian_bases\n"
        "from workbench.goldilocks.summary import summarize\n"
        "from workbench.plots import goldilocks as plots\n"
        "from workbench.tensor.curvature import restricted_hessian, hutchinson_trace, trace_ratio, hessian_extremes\n\n"
        "config = GoldilocksConfig.quick() if QUICK else GoldilocksConfig()\n"
        "result = run_cached(\"goldilocks\", config)\n"
        "print(f'net {config.widths}, D = {config.n_params} parameters, "
        "r_init = {result.r_init:.2f} ({config.init}); '\n"
        "      f'stages (s): {result.stage_seconds}')"
    ),
    new_markdown_cell(
        "## The restricted Hessian is d Hessian-vector products\n\n"
        "`restricted_hessian(f, θ, M)` computes $H_d$ as ONE vmapped forward-over-reverse call over $M$'s columns "
        "(no $D\\times D$ matrix). Here at $r = r_\\text{init}$, with a Hutchinson estimate of its trace and "
        "Lanczos for the extremes of the spectrum:"
    ),
    new_code_cell(
        "data = load_digits()\n"
        "x, y = data.subset(config.hessian_batch)\n"
        "spec = config.spec('relu')\n"
        "u = directions(config)[0]\n"
        "theta, M = u / u.norm() * result.r_init, hessian_bases(config)[0, 0]\n"
        "f = spec.loss_fn(x, y)\n"
        "H = restricted_hessian(f, theta, M, dtype='float64')\n"
        "est = hutchinson_trace(f, theta.double(), 200, generator=torch.Generator().manual_seed(0), M=M.double())\n"
        "print(f'Tr(H_d) = {float(H.trace()):.4f}, Hutchinson {est.value:.4f} ± {est.stderr:.4f}; '\n"
        "      f'Tr/‖H‖_F = {float(trace_ratio(H)):.2f} (max √d = {config.hessian_dim ** 0.5:.2f})')\n"
        "print('Lanczos (min, max) eigenvalue of H_d:', "
        "hessian_extremes(f, theta.double(), steps=config.hessian_dim, M=M.double()))"
    ),
    new_markdown_cell("## 1. Tr(H)/‖H‖ over the radius: ReLU and tanh, hyperplanes and hyperspheres"),
    new_code_cell("plots.trace_ratio_figure(result)"),
    new_markdown_cell("## 2. Share of positive eigenvalues"),
    new_code_cell("plots.positive_fraction_figure(result)"),
    new_markdown_cell("## 3. The spectrum below, in and above the zone"),
    new_code_cell("plots.spectrum_figure(result)"),
    new_markdown_cell(
        "## 4. Training only on a random hyperplane, and on an origin-centred hypersphere\n\n"
        "Only $\\phi\\in\\mathbb{R}^d$ is trained ($\\phi_0 = 0$), from points at several radii: "
        "$\\theta = P + M\\phi$ "
        "(plane) or $\\theta = r\\,(P/r + M\\phi/r_\\text{init})/\\|P/r + M\\phi/r_\\text{init}\\|$ (sphere, "
        "$\\|\\theta\\| = r$ at every step):"
    ),
    new_code_cell("plots.hyperplane_accuracy_figure(result)"),
    new_markdown_cell(
        "## 5. Initialisation selection\n\n"
        "200 inits at exactly $r_\\text{init}$ (and 100 positive controls at radii in $[0.5, 2]\\,r_\\text{init}$), "
        "each scored by a full-space Hutchinson estimate of $\\mathrm{Tr}(H)/\\|H\\|_F$ from two independent probe "
        "sets (test and retest); the outcome is the area under the training-loss curve. One-sided Spearman, "
        "whatever it shows:"
    ),
    new_code_cell("plots.selection_figure(result)"),
    new_markdown_cell(
        "## 6. Intrinsic dimension d₉₀ per radius: planes vs spheres\n\n"
        "The smallest $d$ of the grid whose accuracy reaches 90 % of a full-space net trained from $r_\\text{init}$:"
    ),
    new_code_cell("plots.intrinsic_dimension_figure(result)"),
    new_markdown_cell(
        "## 7. Tr(H)/(√d‖H‖) across d\n\n"
        "$\\mathrm{Tr}/\\|H\\|_F$ lives in $[-\\sqrt d, \\sqrt d]$; divided by $\\sqrt d$ it is comparable across $d$ "
        "(nested planes: the leading blocks of one 50-plane):"
    ),
    new_code_cell("plots.dims_figure(result)"),
    new_markdown_cell("## Numbers for the claims table"),
    new_code_cell(
        "summary = summarize(result)\n"
        "for act, row in summary['plane'].items():\n"
        "    print(act, 'Tr/‖H‖ peak at r/r_init =', row['trace_ratio']['peak_ratio'], "
        "row['trace_ratio']['peak'],\n"
        "          '| positive share peak at', row['positive_fraction']['peak_ratio'], "
        "row['positive_fraction']['peak'])\n"
        "print('d90 per radius', summary['intrinsic_dimension'])\n"
        "sel = summary['init_selection']\n"
        "print('init selection at r_init:', sel['at_r_init']['reliability'], "
        "sel['at_r_init'][config.selection_rank_by])\n"
        "print('positive control:', sel['control'][config.selection_rank_by])"
    ),
    new_markdown_cell(
        "## Your own network and data\n\n"
        "Everything above takes a loss of a flat parameter vector and a basis. MNIST or CIFAR-10 from local files: "
        "`GoldilocksConfig(dataset='mnist', data_path='/data/MNIST', widths=(200, 200))` (IDX files or an .npz; "
        "nothing is downloaded). For any `torch.nn.Module`, build `f(θ)` with `torch.func.functional_call` over the "
        "unflattened parameters and call `restricted_hessian(f, θ, M)` directly."
    ),
]

GOLDILOCKS_EXPLORE = [
    new_markdown_cell(
        "# Explore the Goldilocks zone\n\n"
        "Drag **r / r_init** (log scale): the marker on both curves and the spectrum on the right are computed at "
        "that exact radius. Toggle the **activation**; change **d** to sweep the radii again for that plane size "
        "(a progress line appears below the plot).\n\n"
        "**Time** (2 CPU cores): QUICK about 4 s; the full config about 2.5 min the first time, under a second once "
        "`make reproduce` (or an earlier run) has put its result in the artifact cache — the panel then loads it. "
        "Progress bars show while anything trains or sweeps."
    ),
    params("QUICK = False  # True: the small run used by tests and CI"),
    new_code_cell(
        "from widgets import GoldilocksPanel\n"
        "from workbench.goldilocks import GoldilocksConfig\n\n"
        "panel = GoldilocksPanel(config=GoldilocksConfig.quick() if QUICK else GoldilocksConfig())\n"
        "panel"
    ),
    new_markdown_cell("The panel's controls and figure are attributes, so a cell can drive it too:"),
    new_code_cell("panel.ratio.value = 10.0"),
    new_markdown_cell(
        "**Export** the figure as it is now into the docs (the **Export** button does the same; `$WORKBENCH_DOCS` "
        "or `folder=` send it elsewhere):"
    ),
    new_code_cell("panel.export()  # → docs/figures/goldilocks/panel_….png and .html; the status line shows the "
                  "Markdown to paste"),
]

NOTEBOOKS = {
    "goldilocks/01_goldilocks_zone.ipynb": GOLDILOCKS_REPRODUCE,
    "goldilocks/02_explore.ipynb": GOLDILOCKS_EXPLORE,
}
