"""Adversarial training for high-stakes reliability (Ziegler et al., arXiv 2205.01663), small.

    from workbench.robustness import RobustnessConfig, run
    result = run(RobustnessConfig.quick())
    result.thresholds, result.rounds_info[0]["filter"], result.success_curve(0, "hotflip")
"""

from workbench.robustness.attacks import ATTACKS, AttackTrace, Saliency, hotflip, saliency_tool, vocabulary_substitution
from workbench.robustness.classifier import Classifier, embedded_backbone_path
from workbench.robustness.config import RobustnessConfig
from workbench.robustness.data import Dataset, load_labelled, story_dataset, user_dataset
from workbench.robustness.experiment import build_dataset, run
from workbench.robustness.filtering import choose_threshold, exact_unsafe_rate, filter_sample, group_weights
from workbench.robustness.oracle import oracle_label
from workbench.robustness.result import RobustnessResult
from workbench.robustness.summary import summarize
from workbench.suite import Suite

__all__ = [
    "SUITE",
    "ATTACKS", "AttackTrace", "Classifier", "Dataset", "RobustnessConfig", "RobustnessResult", "Saliency",
    "build_dataset", "choose_threshold", "embedded_backbone_path", "exact_unsafe_rate", "filter_sample",
    "group_weights", "hotflip", "load_labelled", "oracle_label", "run", "saliency_tool",
    "story_dataset", "user_dataset", "vocabulary_substitution",
]


SUITE = Suite(name="robustness", config=RobustnessConfig, result=RobustnessResult, run=run, summarize=summarize,
              figures_module="workbench.plots.robustness")
