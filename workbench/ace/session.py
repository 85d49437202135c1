"""A booted model ready to steer (`ModelSession`), and the checks that run before any compute:
its hook points give [batch, pos, d_model], its prompts fit its context, its refusal openers are
its own single tokens, and the layers to steer have a direction that is not zero."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from jaxtyping import Float
from torch import Tensor, nn

from workbench.ace.chat_model import boot_tuned, chat_instance
from workbench.ace.chat_prompts import chat_prompts
from workbench.ace.coherence import LikelihoodJudge, SampleCalibration, calibrate_threshold
from workbench.ace.config import AUTO_SITES, CHAT_ARCH, CHAT_HELD_OUT_TOPICS, SITE_CHOICES, AceConfig
from workbench.ace.data import ANSWER_CONTINUATIONS, OPENERS, REFUSAL_CONTINUATIONS
from workbench.ace.judges import (
    ChatJudge,
    Judge,
    PhraseJudge,
    RuleJudge,
    derive_refusal_openers,
    refusal_score,
    refusal_token_ids,
)
from workbench.ace.models import embedded_model_folder, instruction_set
from workbench.ace.prompts import check_prompt_lengths, format_chat
from workbench.ace.sites import input_names, sublayer_names
from workbench.core.validation import check_choice
from workbench.lm.batched import generate_settings, last_token_logits_settings
from workbench.lm.folders import boot
from workbench.lm.forward import context_length, hf_model
from workbench.lm.generate import (
    check_prompts,
    generate,
    last_token_activations,
    last_token_logits,
)
from workbench.lm.train import torch_threads
from workbench.tensor.hooks import record

# The embedded language's responses all open with a shared opener (workbench.ace.data.OPENERS):
# its refusal score is read after the first of them, where the refusal's words begin
EMBEDDED_OPENERS = REFUSAL_CONTINUATIONS
EMBEDDED_SCORE_PREFIX = OPENERS[0]
# A real chat model's answer openers (for the unembedding cosine): kept where one token
ANSWER_OPENING_PHRASES = ("Sure", "Here", "Certainly", "Of course", "Yes")


@dataclass
class ModelSession:
    """A booted model with everything the experiment and the widget need to steer it."""

    label: str
    folder: Path
    model: nn.Module
    tokenizer: Any
    judge: Judge
    hook_names: list[str]
    refusal_ids: list[int]
    threads: int | None = None  # torch threads while computing (1 for the tiny embedded models)
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    sublayer_names: list[str] = field(default_factory=list)  # [attn_0, mlp_0, …] (workbench.ace.sites)
    input_names: list[str] = field(default_factory=list)  # every block's resid_pre
    answer_ids: list[int] = field(default_factory=list)  # answer openers (the unembedding cosine)
    score_prefix: str = ""  # response text the refusal score is read after ("well ," for the embedded)
    sites: str = "residual"  # where this model is steered: `AceConfig.sites` with "auto" resolved (`resolve_sites`)

    @property
    def n_layers(self) -> int:
        return len(self.hook_names)

    def complete(self, requests: Sequence[str], edits: dict | None = None, positions: str = "all",
                 max_new_tokens: int = 50, batch_size: int = 64, temperature: float | None = None,
                 num_samples: int = 1) -> list[str] | list[list[str]]:
        """Completions of raw requests (the chat template applied), steered by `edits` ({hook name:
        SteeringEdit}, e.g. `AceResult.edits(…)`; None or {} for none) at `positions`; greedy, or
        sampled at `temperature` (None: the session's) / top-p / seed — with `num_samples` > 1 a
        list of that many samples per request."""
        prompts = format_chat(self.tokenizer, check_prompts(list(requests), "requests"))
        t = self.temperature if temperature is None else temperature
        with torch_threads(self.threads):
            return generate(self.model, self.tokenizer, prompts, max_new_tokens, batch_size, edits=edits,
                            positions=positions, temperature=t, top_p=self.top_p, num_samples=num_samples,
                            seed=self.seed)

    def complete_settings(self, requests: Sequence[str], settings: Sequence[dict | None], positions: str = "all",
                          max_new_tokens: int = 50, batch_size: int = 64, temperature: float | None = None,
                          num_samples: int = 1, progress: bool = False) -> list[list[str]] | list[list[list[str]]]:
        """`[complete(requests, edits, …) for edits in settings]` in one pass (`generate_settings`:
        rows = setting × request × sample, `batch_size` rows per forward), the same completions."""
        prompts = format_chat(self.tokenizer, check_prompts(list(requests), "requests"))
        t = self.temperature if temperature is None else temperature
        with torch_threads(self.threads):
            return generate_settings(self.model, self.tokenizer, prompts, list(settings), max_new_tokens, batch_size,
                                     positions, progress, temperature=t, top_p=self.top_p, num_samples=num_samples,
                                     seed=self.seed)

    def judge_texts(self, requests: Sequence[str], completions: Sequence[str],
                    temperature: float) -> tuple[list[str], list[bool]]:
        """(verdicts, refuses anywhere) of `completions` of raw `requests`, decoded at `temperature`:
        a `LikelihoodJudge` judges against that temperature's threshold; the other judges read the
        text alone."""
        judge = self.judge
        verdicts = (judge(requests, completions, temperature=temperature) if isinstance(judge, LikelihoodJudge)
                    else judge(requests, completions))
        return list(verdicts), [bool(x) for x in judge.refuses(requests, completions)]

    def _score_prompts(self, requests: Sequence[str]) -> list[str]:
        prompts = format_chat(self.tokenizer, list(requests))
        return [f"{p} {self.score_prefix}" for p in prompts] if self.score_prefix else prompts

    def scores(self, requests: Sequence[str], edits: dict | None = None, positions: str = "all",
               batch_size: int = 64) -> Float[Tensor, " n"]:
        """Logit refusal score for each request: at the first response position, or after the
        session's `score_prefix` (teacher-forced response text, part of the prompt for `positions`)."""
        with torch_threads(self.threads):
            logits = last_token_logits(
                self.model, self.tokenizer, self._score_prompts(requests), batch_size, edits=edits, positions=positions
            )
        return refusal_score(logits, self.refusal_ids)

    def scores_settings(self, requests: Sequence[str], settings: Sequence[dict | None], positions: str = "all",
                        batch_size: int = 64) -> Float[Tensor, "settings n"]:
        """`torch.stack([scores(requests, edits, …) for edits in settings])`, the settings' rows
        (setting × request) in batches of `batch_size` (`last_token_logits_settings`); the logits
        of at most `batch_size` rows are held at once."""
        prompts = self._score_prompts(requests)
        per_call = max(1, batch_size // len(prompts))
        out = []
        with torch_threads(self.threads):
            for start in range(0, len(settings), per_call):
                logits = last_token_logits_settings(self.model, self.tokenizer, prompts,
                                                    list(settings[start:start + per_call]), batch_size, positions)
                out.append(refusal_score(logits.flatten(0, 1), self.refusal_ids).view(logits.shape[:2]))
        return torch.cat(out)

    def activations(self, requests: Sequence[str], batch_size: int = 64,
                    names: Sequence[str] | None = None) -> Float[Tensor, "n sites d"]:
        """Activations at the last prompt token at each hook of `names` (None: every layer's
        residual hook)."""
        prompts = format_chat(self.tokenizer, list(requests))
        with torch_threads(self.threads):
            return last_token_activations(
                self.model, self.tokenizer, prompts, list(names or self.hook_names), batch_size
            )

    def unembedding(self) -> tuple[Float[Tensor, "vocab d"], Float[Tensor, " d"] | None]:
        """(W_U, the final norm's gain or None): the output embedding of the HF model, and the
        weight of its last normalisation module in registration order (Llama's `model.norm`,
        RWKV's `ln_out`), the one the residual stream passes before W_U."""
        hf = hf_model(self.model)
        unembed = hf.get_output_embeddings().weight.detach()
        d = unembed.shape[-1]
        norms = [m for name, m in hf.named_modules() if "norm" in type(m).__name__.lower()
                 and getattr(m, "weight", None) is not None and tuple(m.weight.shape) == (d,)]
        return unembed, (norms[-1].weight.detach() if norms else None)


def hook_names(model: nn.Module, hook: str) -> list[str]:
    n_layers = int(model.cfg.n_layers)
    return [f"blocks.{i}.hook_{hook}" for i in range(n_layers)]


def check_hook_outputs(model: nn.Module, tokenizer, names: Sequence[str]) -> None:
    """One short forward; raise ValueError naming the first hook whose output is not [batch, pos,
    d_model] (OPT's resid_mid, for one, comes flattened as [batch·pos, d_model]) or that is not a
    hook point of the model (`resolve` lists the valid ones)."""
    d_model = int(model.cfg.d_model)
    ids = torch.tensor([tokenizer("Hello there", add_special_tokens=False)["input_ids"] or [0]])
    ids = ids.to(next(model.parameters()).device)
    with torch.no_grad(), record(model, names, position=None) as store:
        hf_model(model)(input_ids=ids)
    for name in names:
        shapes = [tuple(t.shape) for t in store[name]]
        if len(shapes) != 1 or shapes[0] != (1, ids.shape[1], d_model):
            raise ValueError(f"`hook` {name!r} cannot be steered here: its output is {shapes or 'never produced'}, "
                             f"not [batch, pos, d_model] = [1, {ids.shape[1]}, {d_model}]; choose another `hook` "
                             "(resid_pre or resid_post)")


def steerable(direction: Float[Tensor, "L d"], activations: Float[Tensor, "n L d"]) -> list[bool]:
    """Per layer: is r = μ⁺ − μ⁻ non-zero? "Zero" is ‖r‖ ≤ 1e-6 · mean ‖v‖ there (every prompt's
    activation the same, e.g. at block 0's resid_pre, where each prompt ends in the same header
    token and nothing has been mixed in yet)."""
    scale = activations.norm(dim=-1).mean(0)
    return [bool(r > 1e-6 * s) and bool(r > 0) for r, s in zip(direction.norm(dim=-1), scale)]


def check_steerable_layer(ok: Sequence[bool], layer: int, names: Sequence[str]) -> None:
    """Raise ValueError when the chosen `layer` has a zero direction; warn about the others, which
    the layer sweep skips."""
    if not ok[layer]:
        raise ValueError(f"`layer` {layer} ({names[layer]!r}) has a zero refusal direction: harmful and harmless "
                         "prompts reach it with the same activation at the last prompt token (nothing is mixed in "
                         f"before it); choose a later `layer` (steerable here: {[i for i, k in enumerate(ok) if k]}) "
                         "or `hook`='resid_post'")
    skipped = [names[i] for i, k in enumerate(ok) if not k]
    if skipped:
        warnings.warn(
            f"zero refusal direction at {skipped}: the layer sweep skips them (verdict code −1)", stacklevel=3
        )


def check_context(session: ModelSession, prompts: dict[str, list[str]], lines: dict[str, list[int]] | None,
                  max_new_tokens: int) -> None:
    """Refuse prompts that do not fit the model's context with `max_new_tokens` more (before compute)."""
    limit = context_length(session.model)
    if limit is None:
        return
    for key, requests in prompts.items():
        name = f"{key.split('_')[0]}_file" if lines else "prompts"
        check_prompt_lengths(session.tokenizer, format_chat(session.tokenizer, requests), limit - max_new_tokens,
                             name, (lines or {}).get(key))


def open_session(config: AceConfig, index: int, cache_root: Path | None = None, progress: bool = True,
                 device: str | torch.device | None = "cpu") -> ModelSession:
    """Boot model `index` of `config` on `device` (training the embedded one when it is not
    cached), with its hooks checked and its refusal openers resolved, before any compute."""
    label = config.labels()[index]
    arch, instance = config.runs()[index] if config.is_embedded else (None, 0)
    toy = config.is_embedded and arch != CHAT_ARCH  # trained on the synthetic language
    if arch == CHAT_ARCH:
        taught = chat_prompts(1, CHAT_HELD_OUT_TOPICS, config.seed)
        folder, requests, answers = chat_instance(config.tune_spec(instance), config.answer_tokens, taught, cache_root,
                                                  progress, config.chat_dtype)
        model = boot_tuned(folder, device=device, dtype=config.chat_dtype)
        # scored by the model itself, unsteered (the judge runs after each steered generation); sampled
        # text against the model's own unsteered samples at that temperature, of the judged length
        judge: Judge = LikelihoodJudge(model, model.tokenizer,
                                       calibrate_threshold(model, model.tokenizer, requests, answers),
                                       sampled=SampleCalibration(tuple(requests), config.max_new_tokens,
                                                                 top_p=config.top_p, seed=config.seed))
    else:
        if toy:
            folder = embedded_model_folder(config, arch, cache_root, progress, instance)
            dataset = instruction_set(config)
            judge = RuleJudge(dataset.refusal_responses, dataset.helpful_responses)
        else:
            folder = Path(config.model)
            judge = ChatJudge(config.judge_model, device=device) if config.judge_model else PhraseJudge()
        model = boot(folder, device=device, dtype=config.dtype, device_map=config.device_map)
    tokenizer = model.tokenizer
    if not config.is_embedded and not getattr(tokenizer, "chat_template", None):
        warnings.warn(f"{label}: the tokenizer of `model` {config.model!r} has no chat template, so every request "
                      "is fed as raw text (no user turn, no assistant header) and the direction is read at its "
                      "last token; a base model's refusal direction may not exist there", stacklevel=2)
    names = hook_names(model, config.hook)
    n_layers = len(names)
    check_hook_outputs(model, tokenizer, names)
    sublayers = _usable(model, tokenizer, sublayer_names(model, n_layers), required=config.sites == "sublayers")
    inputs = _usable(model, tokenizer, input_names(model, n_layers), required=False)
    if config.sites == "sublayers" and not sublayers:
        raise ValueError(f"`sites`='sublayers': {label} has no attention / MLP output hooks "
                         "(workbench.ace.sites.SUBLAYER_HOOKS); use `sites`='residual'")
    sites = resolve_sites(config.sites, sublayers)
    openers = config.refusal_openers or (EMBEDDED_OPENERS if toy else derive_refusal_openers(tokenizer))
    return ModelSession(label, folder, model, tokenizer, judge, names, refusal_token_ids(tokenizer, openers),
                        threads=1 if toy else None, temperature=config.temperature,
                        top_p=config.top_p, seed=config.seed, sublayer_names=sublayers, input_names=inputs,
                        answer_ids=_answer_ids(tokenizer, toy), score_prefix=EMBEDDED_SCORE_PREFIX if toy else "",
                        sites=sites)


def resolve_sites(sites: str, sublayers: list[str]) -> str:
    """`sites` as the model is steered: "auto" becomes "sublayers" when the model has usable
    attention / MLP output hooks (`sublayers` non-empty), else "residual"; others stay as asked."""
    check_choice("sites", sites, SITE_CHOICES)
    if sites != AUTO_SITES:
        return sites
    return "sublayers" if sublayers else "residual"


def _usable(model: nn.Module, tokenizer, names: list[str], required: bool) -> list[str]:
    """`names` when each hook gives [batch, pos, d_model]; else [] (OPT's MLP output comes
    flattened: such a model keeps its residual sites only), or the ValueError when `required`."""
    try:
        check_hook_outputs(model, tokenizer, names)
    except ValueError as err:
        if required:
            raise ValueError(
                f"`sites`='sublayers' cannot be steered on this model: {err}; use `sites`='residual'"
            ) from None
        return []
    return names


def _answer_ids(tokenizer, embedded: bool) -> list[int]:
    """Token ids of answer openers: the embedded language's answer continuations, or for a real
    tokenizer the one-token first words of `ANSWER_OPENING_PHRASES` ([] when none is one token)."""
    if embedded:
        return refusal_token_ids(tokenizer, ANSWER_CONTINUATIONS)
    try:
        return refusal_token_ids(tokenizer, derive_refusal_openers(tokenizer, ANSWER_OPENING_PHRASES))
    except ValueError:
        return []
