"""The ACE suite's notebooks, as cell sources (regenerate with scripts/make_notebooks.py)."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from nbtools import params

ACE_REPRODUCE = [
    new_markdown_cell(
        "# Affine concept editing of refusal\n\n"
        "Marshall, Scherlis, Belrose (arXiv 2411.09003). At a steering site (a block's residual stream, "
        "or — the paper's setting — every attention and MLP output of every block, each with its own "
        "direction), with $r = \\mu^+ - \\mu^-$ (harmful minus harmless mean at the last prompt token) and "
        "$\\hat r = r/\\|r\\|$:\n\n"
        "$$v' = v - \\hat r\\hat r^\\top (v - \\mu^-) + \\alpha r$$\n\n"
        "sets the component along $\\hat r$ to that of $\\mu^- + \\alpha r$: α = 0 behaves like a harmless "
        "prompt, α = 1 like a harmful one. ActAdd ($v + \\alpha r$), directional ablation "
        "($v - \\hat r\\hat r^\\top v$) and midpoint projection (α = ½, the abstract's \"affine subspace "
        "projection alone\") are special cases of the same operator.\n\n"
        "The models are two tiny chat LMs trained here on a synthetic instruction set where refusals and "
        "answers share their openers (\"well , …\") — a Llama and an RWKV (transformers' RWKV-4-style "
        "`RwkvForCausalLM`, not the paper's RWKV v5) — cached as HF folders and booted with "
        "`TransformerBridge.boot_transformers`. `QUICK = True` trains small ones in seconds; the full models "
        "take minutes once and are cached (`make reproduce` fills the cache)."
    ),
    params("QUICK = False  # True: small models trained in seconds (tests and CI)"),
    new_code_cell(
        "from workbench.suite import run_cached\n"
        "from workbench.ace import AceConfig\n"
        "from workbench.ace.summary import summarize\n"
        "from workbench.plots import ace as plots\n\n"
        "config = AceConfig.quick() if QUICK else AceConfig()\n"
        "result = run_cached(\"ace\", config)\n"
        "summary = summarize(result)\n"
        "print('steering', config.sites, 'of layer', config.layer, '| methods:', result.method_names)\n"
        "for label in result.labels:\n"
        "    print(label, result.held_out_rates(label), f\"trained in {result.models[label]['train_seconds']} s\")"
    ),
    new_markdown_cell(
        "## The operator and its special cases\n\n"
        "The identities the tests check, on random vectors: ACE's component along $\\hat r$ is "
        "$\\hat r\\cdot(\\mu^- + \\alpha r)$ whatever the input, ACE with α = 0 and reference 0 is "
        "directional ablation, and the reference code's eraser with the midpoint as reference is ACE at α = ½."
    ),
    new_code_cell(
        "import torch\n"
        "from workbench.tensor.steering import ace, directional_ablation\n"
        "from workbench.ace.sites import method_edit\n\n"
        "v, r, mu = torch.randn(5, 8, dtype=torch.float64), torch.randn(8, dtype=torch.float64), torch.randn(8, dtype=torch.float64)\n"
        "rhat = r / r.norm()\n"
        "print('component along r̂ after ACE(α=0.7):', (ace(v, r, mu, 0.7) @ rhat).tolist())\n"
        "print('r̂·(μ⁻ + 0.7 r) =', float((mu + 0.7 * r) @ rhat))\n"
        "print('ACE(α=0, μ=0) == directional ablation:', torch.allclose(ace(v, r, torch.zeros(8, dtype=torch.float64), 0.0), directional_ablation(v, r)))\n"
        "print('midpoint projection == ACE(α=½):', torch.allclose(method_edit('midpoint_projection', r, mu, 0.0).apply(v), ace(v, r, mu, 0.5)))"
    ),
    new_markdown_cell("## What the models say, steered (first harmful / harmless example per method and setting)"),
    new_code_cell(
        "for label in result.labels:\n"
        "    print(f'--- {label}')\n"
        "    for method, sets in result.examples[label].items():\n"
        "        print(f'{method}\\n    harmful:  {sets[\"harmful\"][0]!r}\\n    harmless: {sets[\"harmless\"][0]!r}')"
    ),
    new_markdown_cell("## 1. Refusal rate and incoherence vs α (ACE and ActAdd)"),
    new_code_cell("plots.refusal_vs_alpha(result)"),
    new_markdown_cell(
        "## 2. Verdicts per method and setting\n\n"
        "The paper's RWKV claim lives here: projection alone (midpoint projection) made RWKV v5 incoherent "
        "while ACE stayed coherent. Grey = incoherent (RuleJudge: repetition, unseen bigrams, or too long); "
        "◆ = the binary judge (refusal anywhere, as the reference code scores)."
    ),
    new_code_cell("plots.verdict_shares(result)"),
    new_markdown_cell("## 3. Layer sweep: where does editing one block remove refusal?"),
    new_code_cell("plots.layer_sweep(result)"),
    new_markdown_cell(
        "## 4. Why linear ablation is not ACE: μ⁻ is not at the origin\n\n"
        "Directional ablation moves every prompt to r̂·v = 0; ACE at α = 0 moves it to r̂·μ⁻."
    ),
    new_code_cell(
        "for label in result.labels:\n"
        "    print(label, 'r̂·μ⁻ =', round(result.reference_coordinate(label), 2), ' ‖r‖ =', round(float(result.direction[result.model_index(label), result.layer].norm()), 2))\n"
        "plots.projection_histogram(result)"
    ),
    new_markdown_cell(
        "## 5. How next-token-like is the direction?\n\n"
        "Per layer, the cosine between r̂ and the unembedding difference of the words that start a refusal "
        "and an answer after the shared opener."
    ),
    new_code_cell("plots.unembedding_cosine(result)"),
    new_markdown_cell(
        "## On a real model\n\n"
        "The same code takes any local HF causal-LM folder on a GPU, with prompt sets from CSV/JSONL:\n\n"
        "```python\n"
        "config = AceConfig(model='/models/Meta-Llama-3-8B-Instruct', dtype='bfloat16',\n"
        "                   harmful_file='advbench.csv', harmless_file='alpaca.jsonl', column='prompt',\n"
        "                   layer='all', sites='sublayers', temperature=1.5, num_samples=20,\n"
        "                   judge_model='/models/Llama-3-70B-Instruct')\n"
        "result = run_cached('ace', config, device='cuda')\n"
        "```\n\n"
        "`refusal_openers` (the first response tokens the logit score counts) is derived from the model's "
        "tokenizer; `notebooks/ace/03_your_model.ipynb` runs this path end to end."
    ),
]

ACE_EXPLORE = [
    new_markdown_cell(
        "# Explore affine concept editing\n\n"
        "Drag **α** and **layer**, pick a **method** and a **model**, type a prompt: the panel generates the "
        "steered completion live, judges it, and marks α on the refusal-vs-α curve (precomputed at the "
        "result's layer)."
    ),
    params("QUICK = False  # True: small models trained in seconds (tests and CI)"),
    new_code_cell(
        "from widgets import AcePanel\n"
        "from workbench.ace import AceConfig\n\n"
        "panel = AcePanel(config=AceConfig.quick() if QUICK else AceConfig())\n"
        "panel"
    ),
    new_markdown_cell("The panel's controls are attributes, so a cell can drive it too:"),
    new_code_cell("panel.alpha.value = 1.0\nprint(panel.last_verdict, '|', panel.last_completion)"),
]

NOTEBOOKS = {
    "ace/01_affine_concept_editing.ipynb": ACE_REPRODUCE,
    "ace/02_explore.ipynb": ACE_EXPLORE,
}
