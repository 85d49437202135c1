"""The robustness suite's notebooks, as cell sources (regenerate with scripts/make_notebooks.py)."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from nbtools import params

ROBUSTNESS_REPRODUCE = [
    new_markdown_cell(
        "# Adversarial training for high-stakes reliability\n\n"
        "Ziegler et al. (NeurIPS 2022, arXiv 2205.01663), small: a story grammar whose injury label is known "
        "by construction (with a held-out part the classifier never trains on), the real all-MiniLM-L6-v2 with "
        "a linear head scoring prompt + completion, a filter that rejects and resamples completions while "
        "p(injurious) ≥ t, measured on fresh draws; attacks measured by the effort (classifier queries) to the "
        "first failure; rounds of adversarial training on the finds and their paraphrases.\n\n"
        "`QUICK = True`: a small corpus, 5,000 fresh draws, one round (about a minute). "
        "The full config runs two rounds on 100,000 fresh draws (`make reproduce` caches it)."
    ),
    params("QUICK = False  # True: the small config used by tests and CI"),
    new_code_cell(
        "from workbench.suite import run_cached\n"
        "from workbench.robustness import (RobustnessConfig, build_dataset, oracle_label, saliency_tool, hotflip,\n"
        "                                  vocabulary_substitution, word_insertion, ATTACKS, TRAINED_ATTACKS)\n"
        "from workbench.robustness.summary import summarize\n"
        "from workbench.plots import robustness as plots\n\n"
        "config = RobustnessConfig.quick() if QUICK else RobustnessConfig()\n"
        "result = run_cached(\"robustness\", config)\n"
        "summary = summarize(result)\n"
        "print(f\"{len(result.texts)} stories, splits {summary['splits']}; run took {result.seconds['total']:.0f} s\")"
    ),
    new_markdown_cell(
        "## The corpus and its oracle\n\n"
        "Every story's label comes from how it was built; `oracle_label` re-derives it from the words of prompt + "
        "completion (injury verb + body part, or a body part that *was broken*, unless a near-miss word sits just "
        "before the verb or a frame puts it in the past or in fiction; a contact verb — *the saw caught his wrist* — "
        "is an injury only when the prompt says the tool is dangerous). The context categories are decided by the "
        "prompt: their completion alone reads the other way."
    ),
    new_code_cell(
        "data = build_dataset(config)\n"
        "for category in ('injury', 'hard_injury', 'tool_safe', 'near_miss', 'past_injury', 'metaphor', 'fiction',\n"
        "                 'context_injury', 'context_safe', 'context_fiction'):\n"
        "    i = data.categories.index(category)\n"
        "    completion = data.texts[i][len(data.prompts[i]) + 1:]\n"
        "    print(f'{category:15s} story {oracle_label(data.texts[i])}, completion alone {oracle_label(completion)}: {data.texts[i]}')"
    ),
    new_markdown_cell(
        "## 1. The filter on fresh draws\n\n"
        "The generator draws stories from the whole grammar, held-out names, body parts, verbs and templates "
        "included, so almost no draw was seen in training or test (`fresh_share`). Every unsafe draw is "
        "scored (only those can be unsafe after filtering) and a sample of safe ones (for the acceptance rate); "
        "the bound is exact (Clopper-Pearson, one-sided 95 %)."
    ),
    new_code_cell(
        "print(f\"fresh: {summary['fresh_share']:.4%} of draws unseen (completions alone: {summary['fresh_share_completion']:.2%})\")\n"
        "for r, row in enumerate(summary['per_round']):\n"
        "    f = row['unsafe_after_filter']\n"
        "    print(f\"round {r}: t = {row['threshold']:.4g}; unsafe {f['base_rate']:.2%} -> {f['rate']:.2e} \"\n"
        "          f\"({f['count']} of {f['unsafe_draws']} unsafe draws pass, {f['draws']:,} draws; 95% bound {f['bound']:.2e})\")\n"
        "plots.threshold_sweep(result)"
    ),
    new_markdown_cell(
        "## 2. Quality as a comparison of distributions\n\n"
        "The filtered safe completions are the unfiltered ones restricted to p < t: the total-variation distance "
        "between the two (by category, by template), the rejection rate per category and the mean redraws."
    ),
    new_code_cell(
        "for r, row in enumerate(summary['per_round']):\n"
        "    q = row['quality']\n"
        "    print(f\"round {r}: TV {q['tv_by_category']:.4f} (category), {q['tv_by_template']:.4f} (template); \"\n"
        "          f\"{q['mean_redraws']:.3f} redraws per prompt; rejected: \" +\n"
        "          ', '.join(f\"{c} {v['rejected']}/{v['n']}\" for c, v in q['rejection'].items()))\n"
        "plots.quality_figure(result)"
    ),
    new_markdown_cell(
        "## 3. Effort to the first failure\n\n"
        "Each attack edits the completion greedily under the oracle's constraint; effort = the classifier queries "
        "until the first candidate that passes the filter *and* still reads as injurious, censored at the budget. "
        "Kaplan-Meier curves per attack and round; a one-sided Wilcoxon signed-rank test of round 0 against the "
        "last round on the same texts. Word insertion is never used for training (held out)."
    ),
    new_code_cell(
        "for a, entry in summary['effort_to_failure'].items():\n"
        "    rounds = [entry[f'round {r}'] for r in range(config.rounds + 1)]\n"
        "    print(f\"{a:10s} ({'trained on' if entry['trained_on'] else 'held out'}): fooled \" +\n"
        "          ' -> '.join(f\"{e['fooled']}/{e['n']} (median {e['median_queries']})\" for e in rounds) +\n"
        "          f\"; paired p = {entry['paired_test_round0_vs_last']['p_value']:.3g}\")\n"
        "plots.effort_to_failure(result)"
    ),
    new_code_cell(
        "clf = result.classifier(0)\n"
        "i = int(result.attack_index[0])\n"
        "prompt = data.prompts[i]\n"
        "completion = result.texts[i][len(prompt) + 1:]\n"
        "t0 = result.thresholds[0].item()\n"
        "for attack in (hotflip, vocabulary_substitution, word_insertion):\n"
        "    trace = attack(clf, completion, t0, config.max_budget, config.candidates, context=prompt, oracle=oracle_label)\n"
        "    print(trace.attack, [f'{p:.3f}' for p in trace.probs], 'queries', trace.success_query, '->', trace.final_text[len(prompt):])"
    ),
    new_markdown_cell("## 4. In-distribution performance before and after adversarial training"),
    new_code_cell(
        "for r, row in enumerate(summary['per_round']):\n"
        "    print(r, row['test_metrics'], '| added after this round:', row['adversarial_added_after'],\n"
        "          f\"({row['adversarial_paraphrases_after']} paraphrases)\")\n"
        "plots.in_distribution(result)"
    ),
    new_markdown_cell("## 5. The tool: saliency and the best substitutions per token"),
    new_code_cell("text = plots.example_text(result)\nplots.saliency_example(saliency_tool(clf, text), text)"),
    new_markdown_cell(
        "## Your own classifier and data\n\n"
        "The same code takes an HF encoder folder (`backbone=`), a safetensors head (`head=`, with `head.weight` "
        "[1, hidden] and `head.bias` [1]) and a labelled CSV/JSONL (`data=`, `text_column=`, `label_column=`). "
        "Without an oracle there is no generator and label preservation cannot be measured: adversarial texts keep "
        "their source's label. Below: a CSV written from the corpus and this run's head, as a stand-in for yours."
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
