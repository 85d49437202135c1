"""The robustness suite's notebooks, as cell sources (regenerate with scripts/make_notebooks.py)."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from nbtools import params

ROBUSTNESS_REPRODUCE = [
    new_markdown_cell(
        "# Adversarial training for high-stakes reliability\n\n"
        "Ziegler et al. (NeurIPS 2022, arXiv 2205.01663), small: a story corpus whose injury label is known "
        "by construction, the real all-MiniLM-L6-v2 with a linear head as the classifier, a filter that "
        "rejects and resamples completions while p(injurious) ≥ t, attacks with a budget, and rounds of "
        "adversarial training.\n\n"
        "`QUICK = True`: head only on cached embeddings, a small corpus, one round (seconds to a minute). "
        "The full config fine-tunes the top encoder layer and runs two rounds (`make reproduce` caches it)."
    ),
    params("QUICK = False  # True: the small config used by tests and CI"),
    new_code_cell(
        "from workbench.suite import run_cached\n"
        "from workbench.robustness import (RobustnessConfig, build_dataset, oracle_label, saliency_tool,\n"
        "                                  hotflip, vocabulary_substitution, ATTACKS)\n"
        "from workbench.robustness.summary import summarize\n"
        "from workbench.tensor.stats import wilson_interval, clopper_pearson, rule_of_three\n"
        "from workbench.plots import robustness as plots\n\n"
        "config = RobustnessConfig.quick() if QUICK else RobustnessConfig()\n"
        "result = run_cached(\"robustness\", config)\n"
        "summary = summarize(result)\n"
        "print(f\"{len(result.texts)} completions, splits {summary['splits']}; run took {result.seconds['total']:.0f} s\")"
    ),
    new_markdown_cell(
        "## The corpus and its oracle\n\n"
        "Every completion's label comes from how it was built; `oracle_label` re-derives it from the words "
        "(injury verb + body part, or a body part that *was broken*, unless a near-miss word sits just before "
        "the verb or a frame puts it in the past or in fiction). Hard cases on both sides:"
    ),
    new_code_cell(
        "data = build_dataset(config)\n"
        "for category in ('injury', 'hard_injury', 'tool_safe', 'near_miss', 'past_injury', 'metaphor', 'fiction'):\n"
        "    i = data.categories.index(category)\n"
        "    print(f'{category:12s} oracle={oracle_label(data.texts[i])}  {data.texts[i]}')\n"
        "print('prompt:', data.prompts[0])"
    ),
    new_markdown_cell(
        "## 1. The filter and its threshold\n\n"
        "The threshold rejects at most `max_safe_lost` of the validation set's safe completions. The "
        "generator then draws held-out completions for many prompts and resamples while p ≥ t; the unsafe "
        "rate among the accepted ones gets exact (Clopper-Pearson), Wilson and rule-of-three (0 failures) "
        "upper bounds."
    ),
    new_code_cell(
        "for r, row in enumerate(summary['per_round']):\n"
        "    f = row['filtered_unsafe']\n"
        "    print(f\"round {r}: t = {row['threshold']:.4g}; unsafe {row['base_unsafe_rate']:.2%} -> {f['unsafe']}/{f['accepted']:,} \"\n"
        "          f\"(95% upper {f['upper_95_reported']:.2g}); safe lost {row['safe_lost_generator']:.2%} of the generator's mass, \"\n"
        "          f\"{f['mean_draws_per_prompt']:.3f} draws per prompt\")\n"
        "n = summary['per_round'][0]['filtered_unsafe']['accepted']\n"
        "print('0 failures in', n, '-> rule of three', rule_of_three(n), 'exact', clopper_pearson(0, n)[1], 'Wilson', wilson_interval(0, n)[1])\n"
        "plots.threshold_sweep(result)"
    ),
    new_markdown_cell(
        "## 2. Attacks with a budget\n\n"
        "HotFlip ranks every (token, replacement) pair by the first-order change $(E_v - E_{x_i})\\cdot g_i$ and "
        "scores the best `candidates` exactly in one batch; the synonym attack swaps corpus words within their "
        "class. Success = p falls below the round's threshold **and** the oracle still calls the text injurious."
    ),
    new_code_cell(
        "for r, row in enumerate(summary['per_round']):\n"
        "    for a in ATTACKS:\n"
        "        s = row['attacks'][a]\n"
        "        print(f\"round {r} {a:10s}: success vs budget {s['success_vs_budget']}, any flip {s['raw_flip_vs_budget']}, \"\n"
        "              f\"label kept in {s['label_preserved_among_flips']} of flips\")\n"
        "plots.attack_success(result)"
    ),
    new_code_cell(
        "clf = result.classifier(0)\n"
        "text = plots.example_text(result)\n"
        "for trace in (hotflip(clf, text, result.thresholds[0].item(), budget=config.max_budget, candidates=config.candidates),\n"
        "              vocabulary_substitution(clf, text, result.thresholds[0].item(), budget=config.max_budget)):\n"
        "    print(trace.attack, [f'{p:.3f}' for p in trace.probs], '->', trace.final_text, '| oracle:', oracle_label(trace.final_text))"
    ),
    new_markdown_cell("## 3. In-distribution performance before and after adversarial training"),
    new_code_cell(
        "for r, row in enumerate(summary['per_round']):\n"
        "    print(r, row['test_metrics'], '| adversarial examples added after this round:', row['adversarial_added_after'])\n"
        "plots.in_distribution(result)"
    ),
    new_markdown_cell("## 4. The tool: saliency and the best substitutions per token"),
    new_code_cell("plots.saliency_example(saliency_tool(clf, text), text)"),
    new_markdown_cell(
        "## Your own classifier and data\n\n"
        "The same code takes an HF encoder folder (`backbone=`), a safetensors head (`head=`, with `head.weight` "
        "[1, hidden] and `head.bias` [1]) and a labelled CSV/JSONL (`data=`, `text_column=`, `label_column=`). "
        "Without an oracle, label preservation cannot be measured and adversarial texts keep their source's label. "
        "Below: a CSV written from the corpus and this run's head, as a stand-in for yours."
    ),
    new_code_cell(
        "import csv, tempfile, pathlib\n"
        "folder = pathlib.Path(tempfile.mkdtemp())\n"
        "with open(folder / 'mine.csv', 'w', newline='') as fh:\n"
        "    csv.writer(fh).writerows([('sentence', 'is_bad')] + list(zip(result.texts[:80], result.labels[:80].tolist())))\n"
        "head = clf.save_head(folder / 'head.safetensors')\n"
        "mine = RobustnessConfig(data=str(folder / 'mine.csv'), text_column='sentence', label_column='is_bad', head=str(head),\n"
        "                        top_layers=0, n_filter_samples=10_000, n_attack=3, max_budget=2, rounds=1, n_train_attack=3)\n"
        "print(summarize(run_cached(\"robustness\", mine, progress=False))['per_round'][0]['test_metrics'])"
    ),
]

ROBUSTNESS_EXPLORE = [
    new_markdown_cell(
        "# Explore the filter, the attacks and the tool\n\n"
        "Drag **threshold**: the filter is re-sampled at that threshold (the × marks) and the status line gives "
        "the unsafe count with its bound and the test confusion counts. **budget** reads attack success; "
        "**round** switches to the classifier after adversarial training. Edit the **tool text**: the tokens are "
        "coloured by saliency, the best swaps are listed, and the score updates as you type."
    ),
    params("QUICK = False  # True: the small config used by tests and CI"),
    new_code_cell(
        "from widgets import RobustnessPanel\n"
        "from workbench.robustness import RobustnessConfig\n\n"
        "panel = RobustnessPanel(config=RobustnessConfig.quick() if QUICK else RobustnessConfig())\n"
        "panel"
    ),
    new_markdown_cell("The panel's controls are attributes, so a cell can drive it too:"),
    new_code_cell("panel.budget.value = panel.result.config.max_budget"),
]

NOTEBOOKS = {
    "robustness/01_filter_attacks_adversarial_training.ipynb": ROBUSTNESS_REPRODUCE,
    "robustness/02_explore.ipynb": ROBUSTNESS_EXPLORE,
}
