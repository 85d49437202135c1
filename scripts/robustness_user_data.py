"""The robustness suite on the project's spam/ham example set (not the story corpus), in the
notebook `notebooks/robustness/03_your_model.ipynb`'s full setting: the numbers and figures of
docs/robustness.md "Your own classifier and data".

    python scripts/robustness_user_data.py [--quick] [--no-export] [--folder DIR]

Writes the example CSV (400 rows, half spam, seed 0) to `--folder` (default: the workbench cache),
runs `user_config(csv)` on the embedded MiniLM (one thread), prints the per-round threshold, the
test split's bound, the test metrics and the effort to failure per attack, and exports
`docs/figures/robustness/user_1_bounds`, `user_2_effort_to_failure` (.png, .html) and
`user_measurements.json` (unless `--no-export`). Prints its runtime. About 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from workbench.core.atomic import atomic_file
from workbench.plots import robustness as plots
from workbench.plots.export import export_to_docs, figures_root
from workbench.robustness import run, summarize, user_config, write_example_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the notebook's QUICK setting")
    parser.add_argument("--no-export", action="store_true", help="print only; write nothing into docs/")
    parser.add_argument("--folder", default=None, help="where the example CSV goes (default: the workbench cache)")
    args = parser.parse_args()
    torch.set_num_threads(1)  # MiniLM is small; the machine is shared
    t0 = time.perf_counter()
    data = write_example_data(args.folder)
    config = user_config(data, quick=args.quick)
    result = run(config, progress=True)
    s = summarize(result)
    print(f"{s['n_texts']} texts, splits {s['splits']}; {s['oracle']}")
    for r, row in enumerate(s["per_round"]):
        b, m = row["test_split_bound"], row["test_metrics"]
        print(f"round {r}: t = {row['threshold']:.4g}; test: {b['unsafe']} of {b['accepted']} let through are spam "
              f"(95 % bound {b['upper_reported']:.3g} by {b['bound_rule']}, Wilson {b['upper_wilson']:.3g}); "
              f"caught {b['caught']:.3f}, ham lost {b['safe_lost']:.3f}; AUC {m['auc']:.4f}; "
              f"adversarial texts added after: {row['adversarial_added_after']}")
    for a, e in s["effort_to_failure"].items():
        rounds = [e[f"round {r}"] for r in range(config.rounds + 1)]
        test = e.get("paired_test_round0_vs_last", {})
        print(f"{a:10s} ({'trained on' if e['trained_on'] else 'held out'}): fooled "
              + " -> ".join(f"{x['fooled']}/{x['n']} (median {x['median_queries']})" for x in rounds)
              + (f"; paired p = {test['p_value']:.3g}" if test else ""))
    print(f"run seconds: {result.seconds}")
    if not args.no_export:
        figures = {"user_1_bounds": plots.threshold_sweep(result),
                   "user_2_effort_to_failure": plots.effort_to_failure(result)}
        for path in export_to_docs(figures, "robustness"):
            print("wrote", path)
        target = figures_root() / "robustness" / "user_measurements.json"
        with atomic_file(target) as tmp:
            tmp.write_text(json.dumps({"quick": args.quick, **s, "data": data.name}, indent=1) + "\n", encoding="utf-8")
        print("wrote", target)
    print(f"runtime {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
