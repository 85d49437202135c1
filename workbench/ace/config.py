"""Configuration of the ACE experiment (frozen, validated on construction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from workbench.lm.folders import DTYPES
from workbench.lm.train import ARCHITECTURES, TinyLMSpec
from workbench.tensor.positions import POSITIONS
from workbench.tensor.validation import (
    check_choice,
    check_int,
    check_number,
    check_optional_text,
    check_range,
    check_sequence,
    check_text,
)

HOOKS = ("resid_pre", "resid_mid", "resid_post")
# (name, method, alpha) of figure 2's comparison; the paper's methods at their canonical settings
METHOD_SETTINGS = (
    ("none", "none", 0.0),
    ("ActAdd α=−1", "actadd", -1.0),
    ("directional ablation", "directional_ablation", 0.0),
    ("affine ablation", "affine_ablation", 0.0),
    ("ACE α=0", "ace", 0.0),
    ("ACE α=1", "ace", 1.0),
)
SWEEP_METHODS = ("ace", "actadd")
LAYER_METHODS = ("ace", "directional_ablation")  # both at α = 0, on harmful prompts


@dataclass(frozen=True)
class AceConfig:
    """One ACE experiment.

    Embedded models (used when `model` is None): one tiny chat LM per entry of `archs`
    ("llama", "rwkv"), `n_layers` × `d_model` (MLP `d_mlp`, `n_heads` heads for Llama), trained
    `llama_steps` / `rwkv_steps` steps of `train_batch` at `lr` on the synthetic instruction set
    (`held_out` share of (verb, object) combinations kept for evaluation).

    Real path: `model` = a local HF causal-LM folder, booted in `dtype` on `run`'s `device` (or spread
    over the visible GPUs with `device_map`, e.g. "auto", for a model too big for one); prompts from
    `harmful_file` / `harmless_file` (CSV or JSONL, column `column`), the first `n_direction`
    rows of each for the direction, the next `n_eval` for evaluation; `judge_model` = a local chat
    model folder for `ChatJudge` (None: `PhraseJudge`); `refusal_openers` = strings whose first
    tokens count as refusal openers in `refusal_score`.

    Steering: at hook point ``blocks.{layer}.hook_{hook}`` (`layer` None = the middle block,
    n_layers // 2), positions "all" | "prompt" | "generated", α values `alphas` for the sweep
    (ACE and ActAdd), greedy completions of `max_new_tokens`.
    """

    archs: tuple[str, ...] = ("llama", "rwkv")
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_mlp: int = 256
    llama_steps: int = 300
    rwkv_steps: int = 400
    train_batch: int = 64
    lr: float = 3e-3
    held_out: float = 0.25
    n_eval: int = 48
    n_direction: int = 48
    hook: str = "resid_post"
    layer: int | None = None
    positions: str = "all"
    alphas: tuple[float, ...] = (-1.0, -0.5, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
    max_new_tokens: int = 26
    batch_size: int = 64
    seed: int = 0
    model: str | None = None
    dtype: str = "float32"
    device_map: str | None = None
    harmful_file: str | None = None
    harmless_file: str | None = None
    column: str = "prompt"
    judge_model: str | None = None
    refusal_openers: tuple[str, ...] = ("i", "sorry")

    def __post_init__(self) -> None:
        archs = check_sequence("archs", self.archs)
        for a in archs:
            if a not in ARCHITECTURES:
                raise ValueError(f"`archs` entries must be in {ARCHITECTURES}; got {a!r}")
        if len(set(archs)) != len(archs):
            raise ValueError(f"`archs` must not repeat; got {archs}")
        check_int("n_layers", self.n_layers, low=1)
        for name in ("llama_steps", "rwkv_steps", "train_batch", "n_eval", "n_direction", "max_new_tokens", "batch_size"):
            check_int(name, getattr(self, name), low=1)
        check_range("held_out", self.held_out, 0.05, 0.5)
        if self.hook not in HOOKS:
            raise ValueError(f"`hook` must be one of {HOOKS}; got {self.hook!r}")
        if self.positions not in POSITIONS:
            raise ValueError(f"`positions` must be one of {POSITIONS}; got {self.positions!r}")
        if self.layer is not None and self.model is None:
            check_int("layer", self.layer, low=0, high=self.n_layers - 1)
        elif self.layer is not None:
            check_int("layer", self.layer, low=0)
        alphas = tuple(check_number(f"alphas[{i}]", a) for i, a in enumerate(check_sequence("alphas", self.alphas)))
        for required in (0.0, 1.0):
            if required not in alphas:
                raise ValueError(f"`alphas` must include {required:g} (the paper's harmless/harmful anchors); got {alphas}")
        check_choice("dtype", self.dtype, DTYPES)
        # paths stay strings (the config is hashed as JSON); existence is checked where each is read
        for name in ("model", "harmful_file", "harmless_file", "judge_model"):
            check_optional_text(name, getattr(self, name))
        check_text("column", self.column)
        check_optional_text("device_map", self.device_map)  # e.g. "auto"; accelerate checks the value at boot
        if self.model is not None and (self.harmful_file is None or self.harmless_file is None):
            raise ValueError("`harmful_file` and `harmless_file` are required with `model` (the embedded prompts fit only the embedded models)")
        check_int("seed", self.seed, low=0)
        for i, opener in enumerate(check_sequence("refusal_openers", self.refusal_openers)):
            check_text(f"refusal_openers[{i}]", opener)
        object.__setattr__(self, "archs", archs)
        object.__setattr__(self, "alphas", alphas)
        object.__setattr__(self, "lr", check_range("lr", self.lr, low=0.0, low_open=True))
        object.__setattr__(self, "held_out", float(self.held_out))
        object.__setattr__(self, "refusal_openers", tuple(self.refusal_openers))
        # the specs validate the shape fields (heads divide d_model, …)
        for arch in archs:
            self.spec(arch)

    @classmethod
    def quick(cls) -> Self:
        """Small models trained for seconds (tests, CI, QUICK notebooks): mechanisms, not rates."""
        return cls(d_model=32, n_layers=2, n_heads=2, d_mlp=64, llama_steps=60, rwkv_steps=60, lr=1e-2,
                   n_eval=12, n_direction=16, alphas=(-1.0, 0.0, 1.0, 2.0), max_new_tokens=26)

    def spec(self, arch: str) -> TinyLMSpec:
        """The training spec of the embedded model of architecture `arch`."""
        steps = self.llama_steps if arch == "llama" else self.rwkv_steps
        return TinyLMSpec(arch=arch, d_model=self.d_model, n_layers=self.n_layers, n_heads=self.n_heads,
                          d_mlp=self.d_mlp, steps=steps, batch=self.train_batch, lr=self.lr, seed=self.seed)

    @property
    def is_embedded(self) -> bool:
        return self.model is None

    def labels(self) -> tuple[str, ...]:
        return self.archs if self.is_embedded else (str(self.model).rstrip("/").split("/")[-1],)
