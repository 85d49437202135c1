"""Configuration of the ACE experiment (frozen, validated on construction)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Self

from workbench.ace.methods import METHODS as _REGISTRY
from workbench.ace.methods import ordered
from workbench.core.validation import (
    POSITIVE,
    Choice,
    Flag,
    Int,
    Many,
    Number,
    Text,
    check_fields,
    param,
)
from workbench.lm.specs import ARCHITECTURES, AUTOCAST_DTYPES, DTYPES, FineTuneSpec, TinyLMSpec
from workbench.tensor.positions import POSITIONS

# The embedded models: the real chat model (SmolLM2-135M-Instruct taught to refuse,
# `workbench.ace.chat_model`) and the tiny ones trained from scratch on the synthetic language
CHAT_ARCH = "smollm2"
EMBEDDED_ARCHS = (CHAT_ARCH, *ARCHITECTURES)
CHAT_HELD_OUT_TOPICS = 24  # `workbench.ace.chat_prompts`: topics never trained on, one eval prompt each
CHAT_TRAIN_PROMPTS = 120  # its training requests per set: the most `n_direction` can draw

HOOKS = ("resid_pre", "resid_mid", "resid_post")
# Where a run steers: "residual" = `blocks.{i}.hook_{hook}`; "sublayers" = every attention and MLP
# (RWKV: time-mix and channel-mix) output of the chosen block(s), each with its own direction —
# the reference code's `--residual` (`workbench.ace.sites` looks the names up per architecture).
SITES = ("residual", "sublayers")
# `sites="auto"` (the default): "sublayers" where the booted model has attention and MLP output hooks
# of the right shape, else "residual" (OPT's flattened MLP output, Mamba) — resolved per model by
# `workbench.ace.session.open_session` (`ModelSession.sites`) and recorded in the result
AUTO_SITES = "auto"
SITE_CHOICES = (AUTO_SITES, *SITES)
ALL_LAYERS = "all"  # `layer="all"`: every block, each site with its own direction (`--layer all`)
# The band variant: the blocks whose residual direction separates held-out harmful from harmless
# prompts (AUC of r̂·v ≥ BAND_AUC), a rule fixed in code before any verdict is read; steered at their
# attention and MLP outputs like the paper's setting. A `layer` of several blocks is a tuple of indices.
BAND_AUC = 0.95
# The steering methods live in `workbench.ace.methods.METHODS` (one entry each); these tuples are
# views of it, in the orders the experiment's loops and the results' axes use:
METHODS = tuple(_REGISTRY)  # every method the experiment and the panel know, by name
ALPHA_METHODS = tuple(name for name, m in _REGISTRY.items() if m.reads_alpha)  # the methods that read α
PANEL_METHODS = ordered("panel")  # what a panel offers (a widget lists these)
# (name, method, alpha) of figure 2's comparison; the paper's methods at their canonical settings
METHOD_SETTINGS = tuple((c.title, name, c.alpha) for name, m in _REGISTRY.items() for c in m.comparisons)
SWEEP_METHODS = ordered("sweep")  # figure 1's α sweep (`AceResult.sweep`'s method axis)
LAYER_METHODS = ordered("layer_sweep")  # at α = 0, on harmful prompts, one block at a time
SETS = ("harmful", "harmless")  # the prompt sets, in the results' S axis order (0 harmful, 1 harmless)
# The reference code's multiplier grid −1.5 … 1.5 step 0.15 in the paper's α (= multiplier + ½):
# −1 … 2 step 0.15. It holds neither 0 nor 1, the paper's anchors, so those two are added.
REFERENCE_ALPHAS = tuple(round(-1.0 + 0.15 * k, 2) for k in range(21))
FULL_GRID_ALPHAS = tuple(sorted({*REFERENCE_ALPHAS, 0.0, 1.0}))
# The default: every fourth grid point (−1, −0.4, 0.2, 0.8, 1.4, 2) plus the anchors 0, ½ (midpoint
# projection) and 1 — what fits the suite's time budget (docs/ace.md); FULL_GRID_ALPHAS is the whole grid
DEFAULT_ALPHAS = tuple(sorted({*REFERENCE_ALPHAS[::4], 0.0, 0.5, 1.0}))


@dataclass(frozen=True)
class LayerRule(Int):
    """`layer`: a block index in [low, high], None (the middle block) or "all" (every block)."""

    def check(self, name: str, value: object, owner: object = None) -> object:
        if value == ALL_LAYERS and isinstance(value, str):
            return value
        try:
            return super().check(name, value, owner)
        except ValueError as err:
            raise ValueError(f"{err} (or {ALL_LAYERS!r} for every block, None for the middle one)") from None


@dataclass(frozen=True)
class AceConfig:
    """One ACE experiment.

    Embedded models (used when `model` is None): one tiny chat LM per entry of `archs` — "llama",
    "rwkv5" (RWKV v5.2 "Eagle", the paper's RWKV family; the default pair) or "rwkv" (transformers'
    RWKV-4, available but not in the default) — `n_layers` × `d_model` (MLP `d_mlp`, `n_heads`
    heads for Llama and RWKV v5.2), trained `llama_steps` / `rwkv5_steps` / `rwkv_steps` steps of
    `train_batch` at `lr` on the synthetic instruction set (`held_out` share of (verb, object)
    combinations kept for evaluation).

    Real path: `model` = a local HF causal-LM folder, booted in `dtype` on `run`'s `device` (or spread
    over the visible GPUs with `device_map`, e.g. "auto", for a model too big for one); prompts from
    `harmful_file` / `harmless_file` (CSV or JSONL, column `column`), the first `n_direction`
    rows of each for the direction, the next `n_eval` for evaluation; `judge_model` = a local chat
    model folder for `ChatJudge` (None: `PhraseJudge`); `refusal_openers` = strings whose first
    tokens count as refusal openers in `refusal_score` (each one token of the model's tokenizer;
    None: ("i", "sorry") for the embedded models, derived from common refusal phrases for a real
    one — `workbench.ace.judges.derive_refusal_openers`). Prompts that do not fit the model's
    context with `max_new_tokens` more are refused before any compute, not truncated. `label` names
    the run in results, figures and the panel (None: the folder's name and its parent's).

    Steering (the paper's setting is the default): `sites` "sublayers" (every attention and MLP
    output, the reference's `--residual`), "residual" (``blocks.{i}.hook_{hook}``) or "auto" (the
    default: "sublayers" where the model has those hooks with the right shape, else "residual"), of `layer`
    "all" (every block, each site with its own direction, the reference's `--layer all`), one
    block index, or None (the middle block, n_layers // 2); positions "all" | "prompt" |
    "generated"; α values `alphas` for the sweep (ACE and ActAdd); completions of
    `max_new_tokens`: greedy (`temperature` 0) or sampled at `temperature` from the top-`top_p`
    nucleus, `num_samples` per prompt, seeded by `seed` so a run repeats. Figure 2's method
    comparison repeats at each of `sample_temperatures` (`num_samples` each) and at the other
    site settings (greedy); the layer sweep steers one block's residual hook at a time.
    """

    archs: tuple[str, ...] = param((CHAT_ARCH, "llama", "rwkv5"),
                                   Many(Choice(EMBEDDED_ARCHS, "entries must be in"), unique=True, indexed=False))
    # independently trained (toys) or fine-tuned (smollm2) copies of each model, seeds seed … seed+instances−1
    instances: int = param(3, Int(1, 10))
    # the model's shape: positive here; TinyLMSpec (`spec`) holds the stricter rules of each
    # architecture (d_model ≥ 4, heads divide d_model, RWKV-4 needs 2 layers)
    d_model: int = param(128, Int(1))
    n_layers: int = param(4, Int(1))
    n_heads: int = param(4, Int(1))
    d_mlp: int = param(256, Int(1))
    # 250 each fit the suite's time budget (docs/ace.md "Budget"; at 300 held-out behaviour was 98-100 %)
    llama_steps: int = param(250, Int(1))
    rwkv5_steps: int = param(250, Int(1))
    rwkv_steps: int = param(320, Int(1))  # RWKV-4 (arch "rwkv"), outside the default archs
    train_batch: int = param(64, Int(1))
    # the chat model's refusal fine-tune (workbench.lm.finetune): steps of chat_batch at chat_lr, the
    # embeddings and the lowest chat_frozen_blocks blocks frozen; harmless targets are the base
    # model's own answers of answer_tokens tokens
    chat_steps: int = param(68, Int(1))  # 1.5 epochs of the 360 training requests
    chat_batch: int = param(8, Int(1))
    chat_lr: float = param(5e-5, Number(0.0, 1.0, low_open=True))
    chat_frozen_blocks: int = param(15, Int(0, 29))  # of SmolLM2's 30: the tuned tensors are 53M parameters
    # mixed precision for the fine-tune (bfloat16 matmuls, float32 weights and AdamW state; None: all float32)
    chat_autocast: str | None = param("bfloat16", Choice(AUTOCAST_DTYPES, optional=True))
    # the dtype the chat model writes its harmless targets, is steered, sampled and judged in: the
    # reference code runs Llama 3 8B in bfloat16 (steering/steer.py); on these CPUs (AVX-512 BF16) it
    # is also faster than float32 (benchmarks/chat_dtype.py)
    chat_dtype: str = param("bfloat16", Choice(tuple(DTYPES)))
    answer_tokens: int = param(40, Int(1, 256))
    lr: float = param(3e-3, POSITIVE)
    held_out: float = param(0.25, Number(0.05, 0.5))
    n_eval: int = param(16, Int(1))
    n_direction: int = param(48, Int(1))
    hook: str = param("resid_post", Choice(HOOKS))
    # a real model's depth is known only once it is booted, so only the embedded ones bound `layer` here
    layer: int | str | None = param(ALL_LAYERS, LayerRule(0, lambda c: c.n_layers - 1 if c.model is None else None,
                                                         optional=True))
    sites: str = param(AUTO_SITES, Choice(SITE_CHOICES))
    positions: str = param("all", Choice(POSITIONS))
    # |α| ≤ 1000: α·r must stay finite in float16 / bfloat16 activations (1e300 gave NaN scores)
    alphas: tuple[float, ...] = param(DEFAULT_ALPHAS,
                                      Many(Number(-1000.0, 1000.0, why="α·r must stay finite in the model's dtype")))
    max_new_tokens: int = param(20, Int(1))
    temperature: float = param(0.0, Number(0.0))
    top_p: float = param(1.0, Number(0.0, 1.0, low_open=True))
    num_samples: int = param(2, Int(1))  # per prompt when sampling (`paper`: the reference's 20)
    sample_temperatures: tuple[float, ...] = param((1.5,), Many(Number(0.0, low_open=True), allow_empty=True))
    batch_size: int = param(128, Int(1))
    # figure 3: one block's residual hook at a time at α = 0 (n_layers × 2 more settings; off for speed)
    layer_sweep: bool = param(False, Flag())
    # figure 2's column with the focus block's residual edit at the other positions ("prompt" for
    # "all"): a variant of our own, not the reference's (off for speed; on in `quick` and `paper`)
    positions_variant: bool = param(False, Flag())
    seed: int = param(0, Int(0))
    # paths stay strings (the config is hashed as JSON); existence is checked where each is read
    model: str | None = param(None, Text(optional=True, path=True))
    dtype: str = param("float32", Choice(tuple(DTYPES)))
    device_map: str | None = param(None, Text(optional=True))  # e.g. "auto"; accelerate checks the value at boot
    harmful_file: str | None = param(None, Text(optional=True, path=True))
    harmless_file: str | None = param(None, Text(optional=True, path=True))
    column: str = param("prompt", Text())
    judge_model: str | None = param(None, Text(optional=True, path=True))
    refusal_openers: tuple[str, ...] | None = param(None, Many(Text(), optional=True))
    # what a real folder's run is called in results, figures and the panel (None: `folder_label`)
    label: str | None = param(None, Text(optional=True))

    def __post_init__(self) -> None:
        # every range is declared beside its field; check_fields also normalises (2 → 2.0, lists →
        # tuples) so equal configs hash equally. What joins fields beyond a range stays here.
        check_fields(self)
        for required in (0.0, 1.0):
            if required not in self.alphas:
                raise ValueError(
                    f"`alphas` must include {required:g} (the paper's harmless/harmful anchors); got {self.alphas}"
                )
        if self.label is not None and self.is_embedded:
            raise ValueError("`label` names a real folder's run (with `model`); the embedded models are labelled "
                             f"by arch; got label={self.label!r} without `model`")
        if self.model is not None and (self.harmful_file is None or self.harmless_file is None):
            raise ValueError(
                "`harmful_file` and `harmless_file` are required with `model` "
                "(the embedded prompts fit only the embedded models)"
            )
        # the specs validate the shape fields (heads divide d_model, …)
        for arch in self.archs:
            if arch != CHAT_ARCH:
                self.spec(arch)
        if CHAT_ARCH in self.archs and self.is_embedded:
            if self.n_eval > CHAT_HELD_OUT_TOPICS:
                raise ValueError(f"`n_eval` must be in [1, {CHAT_HELD_OUT_TOPICS}] with arch {CHAT_ARCH!r} (its "
                                 f"held-out topics); got {self.n_eval}")
            if self.n_direction > CHAT_TRAIN_PROMPTS:
                raise ValueError(f"`n_direction` must be in [1, {CHAT_TRAIN_PROMPTS}] with arch {CHAT_ARCH!r} (its "
                                 f"training requests); got {self.n_direction}")

    @classmethod
    def quick(cls) -> Self:
        """Small models trained for seconds (tests, CI, QUICK notebooks): mechanisms, not rates."""
        return cls(archs=("llama", "rwkv5"), instances=1, d_model=32, n_layers=2, n_heads=2, d_mlp=64,
                   llama_steps=60, rwkv5_steps=60, rwkv_steps=60, lr=1e-2, n_eval=12, n_direction=16,
                   alphas=(-1.0, 0.0, 0.5, 1.0, 2.0), max_new_tokens=26, num_samples=2, sample_temperatures=(1.5,),
                   batch_size=512, layer_sweep=True, positions_variant=True)

    @classmethod
    def paper(cls) -> Self:
        """The paper's full setting on the chat model, for a GPU (`run(AceConfig.paper(), device="cuda")`):
        every block's attention and MLP outputs, the reference's whole α grid, 20 samples per prompt at
        T = 1.5 (as the reference code), every held-out topic, 50 new tokens, the layer sweep; three
        fine-tuned instances. Hours on 2 CPU cores; the default config is what fits them."""
        return cls(archs=(CHAT_ARCH,), instances=3, sites="sublayers", n_eval=CHAT_HELD_OUT_TOPICS,
                   n_direction=CHAT_TRAIN_PROMPTS,
                   alphas=FULL_GRID_ALPHAS, max_new_tokens=50, num_samples=20, sample_temperatures=(1.5,),
                   batch_size=512, layer_sweep=True, positions_variant=True)

    def samples_at(self, temperature: float) -> int:
        """Completions per prompt at `temperature`: `num_samples` when sampling, 1 when greedy."""
        return self.num_samples if temperature > 0 else 1

    def spec(self, arch: str, instance: int = 0) -> TinyLMSpec:
        """The training spec of instance `instance` of the tiny embedded model `arch`."""
        steps = {"llama": self.llama_steps, "rwkv5": self.rwkv5_steps, "rwkv": self.rwkv_steps}.get(arch)
        if steps is None:
            raise ValueError(f"`arch` must be one of {ARCHITECTURES}; got {arch!r}")
        return TinyLMSpec(arch=arch, d_model=self.d_model, n_layers=self.n_layers, n_heads=self.n_heads,
                          d_mlp=self.d_mlp, steps=steps, batch=self.train_batch, lr=self.lr, seed=self.seed + instance)

    def tune_spec(self, instance: int = 0) -> FineTuneSpec:
        """The refusal fine-tune of instance `instance` of the chat model (seed + instance)."""
        return FineTuneSpec(steps=self.chat_steps, batch=self.chat_batch, lr=self.chat_lr,
                            frozen_blocks=self.chat_frozen_blocks, seed=self.seed + instance,
                            autocast=self.chat_autocast)

    def runs(self) -> tuple[tuple[str, int], ...]:
        """(arch, instance) of every embedded model the run measures, in `labels()` order."""
        return tuple((arch, i) for arch in self.archs for i in range(self.instances))

    @property
    def is_embedded(self) -> bool:
        return self.model is None

    def labels(self) -> tuple[str, ...]:
        """One label per measured model: the arch ("llama"), or "arch#i" per instance when
        `instances` > 1; a real folder's `label`, else `folder_label(model)`."""
        if not self.is_embedded:
            return (self.label or folder_label(self.model),)
        return tuple(arch if self.instances == 1 else f"{arch}#{i}" for arch, i in self.runs())


def folder_label(folder: str) -> str:
    """A folder's run label: its name and its parent's ("models/Llama-3-8B-Instruct"), since a
    snapshot's own name alone is often "hf" or "snapshot"; the name only at the root."""
    path = Path(folder).expanduser().resolve()
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


@dataclass(frozen=True)
class Setting:
    """One column of figure 2: where the edits go (`sites` × `layer`), at which `positions`, and
    the decoding (`temperature`; sampled settings draw `AceConfig.num_samples` per prompt)."""

    name: str
    sites: str
    layer: int | str | tuple[int, ...]  # a tuple: those blocks (the band; () = no block qualified, not run)
    positions: str
    temperature: float

    def as_dict(self) -> dict[str, object]:
        layer = list(self.layer) if isinstance(self.layer, tuple) else self.layer
        return {"name": self.name, "sites": self.sites, "layer": layer, "positions": self.positions,
                "temperature": self.temperature}

    @property
    def runs(self) -> bool:
        """False for an empty band (no block qualified): the setting is recorded, not measured."""
        return self.layer != ()


def _decoding_name(temperature: float, samples: int) -> str:
    return "greedy" if temperature == 0 else f"T={temperature:g}, {samples} samples"


def _site_name(sites: str, layer: int | str | tuple[int, ...], hook: str) -> str:
    if isinstance(layer, tuple):
        where = f"AUC ≥ {BAND_AUC:g} band ({_blocks(layer)})"
    else:
        where = "every block" if layer == ALL_LAYERS else f"block {layer}"
    return f"{where}, attn+MLP out" if sites == "sublayers" else f"{where}, {hook}"


def _blocks(layers: tuple[int, ...]) -> str:
    if not layers:
        return "no block"
    if list(layers) == list(range(layers[0], layers[-1] + 1)):
        return f"blocks {layers[0]}–{layers[-1]}" if len(layers) > 1 else f"block {layers[0]}"
    return "blocks " + ", ".join(map(str, layers))


def band(residual_auc: list[float]) -> tuple[int, ...]:
    """The blocks whose residual site's held-out AUC is ≥ BAND_AUC."""
    return tuple(i for i, a in enumerate(residual_auc) if a >= BAND_AUC)


def comparison_settings(config: AceConfig, focus: int, blocks: tuple[int, ...] = ()) -> tuple[Setting, ...]:
    """Figure 2's columns: the configured sites at the configured decoding and at each of
    `sample_temperatures`; then, greedy, the other site settings (every block's sublayers, every
    block's residual hook, the `focus` block's residual hook), with `positions_variant` the focus
    block's residual hook with the edit at the other positions ("prompt" for "all", else "all"),
    and the sublayers of the band `blocks` (`band`: where the direction separates; () when none does — not run)."""
    layer = config.layer if config.layer is not None else focus
    if config.sites == AUTO_SITES:
        raise ValueError("`sites`='auto' is resolved on the booted model (`ModelSession.sites`): pass a config "
                         "whose `sites` is 'sublayers' or 'residual'")
    main = (config.sites, layer)
    out = []
    for t in dict.fromkeys((config.temperature, *config.sample_temperatures)):
        out.append(Setting(f"{_site_name(*main, config.hook)}, {_decoding_name(t, config.samples_at(t))}",
                           config.sites, layer, config.positions, t))
    for sites, where in (("sublayers", ALL_LAYERS), ("residual", ALL_LAYERS), ("residual", focus)):
        if (sites, where) != main:
            out.append(Setting(f"{_site_name(sites, where, config.hook)}, greedy", sites, where, config.positions, 0.0))
    if config.positions_variant:
        alt = "prompt" if config.positions == "all" else "all"
        out.append(Setting(f"{_site_name('residual', focus, config.hook)}, greedy, {alt} positions", "residual",
                           focus, alt, 0.0))
    out.append(Setting(f"{_site_name('sublayers', tuple(blocks), config.hook)}, greedy", "sublayers", tuple(blocks),
                       config.positions, 0.0))
    return tuple(out)
