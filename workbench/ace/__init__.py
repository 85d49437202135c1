"""Affine concept editing (Marshall, Scherlis, Belrose, arXiv 2411.09003) of refusal on tiny
Llama- and RWKV-architecture chat models trained here (or any local HF chat model).

    from workbench.ace import AceConfig, run
    result = run(AceConfig.quick())
    result.held_out_rates("llama")        # {'harmful_refusal': …, 'harmless_answer': …}
"""

from workbench.ace.coherence import LikelihoodJudge
from workbench.ace.config import METHOD_SETTINGS, AceConfig
from workbench.ace.experiment import run
from workbench.ace.judges import VERDICTS, ChatJudge, PhraseJudge, RuleJudge, refusal_score
from workbench.ace.result import AceResult
from workbench.ace.session import ModelSession, open_session
from workbench.ace.summary import summarize

__all__ = [
    "METHOD_SETTINGS",
    "VERDICTS",
    "AceConfig",
    "AceResult",
    "ChatJudge",
    "LikelihoodJudge",
    "ModelSession",
    "PhraseJudge",
    "RuleJudge",
    "open_session",
    "refusal_score",
    "run",
    "summarize",
]
