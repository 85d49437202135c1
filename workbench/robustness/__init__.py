"""Adversarial training for high-stakes reliability (Ziegler et al., arXiv 2205.01663), small.

    from workbench.robustness import RobustnessConfig, run, summarize
    result = run(RobustnessConfig.quick())
    s = summarize(result)
    s["fresh_share"], s["unsafe_after_filter"], s["effort_to_failure"]["hotflip"]["round 0"]

Your own encoder folder and labelled CSV/JSONL (no oracle, no generator):

    from workbench.robustness import user_config, write_example_data
    result = run(user_config(write_example_data(), backbone=None, quick=True))
    summarize(result)["per_round"][0]["test_split_bound"]
"""

from workbench.robustness.attacks import (
    ATTACKS,
    TRAINED_ATTACKS,
    AttackTrace,
    Saliency,
    hotflip,
    saliency_tool,
    vocabulary_substitution,
    word_insertion,
)
from workbench.robustness.claims import claims
from workbench.robustness.classifier import Classifier, embedded_backbone_path
from workbench.robustness.config import RobustnessConfig
from workbench.robustness.conservative import conservative, conservative_threshold
from workbench.robustness.data import (
    Dataset,
    LabelledRow,
    check_splittable,
    labelled_rows,
    load_labelled,
    story_dataset,
    user_dataset,
)
from workbench.robustness.example_data import ExampleRow, default_example_folder, example_rows, write_example_data
from workbench.robustness.experiment import build_dataset, run
from workbench.robustness.filtering import choose_threshold, exact_unsafe_rate, filter_sample, group_weights
from workbench.robustness.fresh import draw_fresh, fresh_share, unsafe_after_filter
from workbench.robustness.in_distribution import paired_auc_test
from workbench.robustness.oracle import oracle_label
from workbench.robustness.result import RobustnessResult
from workbench.robustness.summary import summarize
from workbench.robustness.survival import kaplan_meier, paired_effort_test
from workbench.robustness.user_data import NO_ORACLE, held_out_bound, held_out_sweep, user_config

__all__ = [
    "ATTACKS", "AttackTrace", "build_dataset", "choose_threshold", "claims", "Classifier", "conservative",
    "conservative_threshold", "Dataset", "draw_fresh", "embedded_backbone_path", "exact_unsafe_rate",
    "filter_sample", "fresh_share", "group_weights", "hotflip", "kaplan_meier", "load_labelled", "oracle_label",
    "paired_auc_test", "paired_effort_test", "RobustnessConfig", "RobustnessResult", "run", "Saliency",
    "saliency_tool", "story_dataset", "summarize", "TRAINED_ATTACKS", "unsafe_after_filter", "user_dataset",
    "vocabulary_substitution", "word_insertion",
    # your own classifier and data
    "check_splittable", "default_example_folder", "example_rows", "ExampleRow", "held_out_bound", "held_out_sweep",
    "labelled_rows", "LabelledRow", "NO_ORACLE", "user_config", "write_example_data",
]
