"""The GPU path, end to end: every suite's QUICK config on the GPU, then a real-size (Llama-3-8B
shaped, random-weight) model through the library's real-model path, with timings.

    make gpu-check                                   # on a CUDA machine
    python scripts/gpu_check.py [--device cuda:1] [--dtype bfloat16] [--device-map auto] [--skip robustness]
    python scripts/gpu_check.py --device cpu --tiny  # the same code path, tiny sizes (the unit test runs this)

Prints one line per measurement, ``GPU <name> seconds=<s>``, after a header naming torch, CUDA and
the device, and ends with the peak memory. Nothing is downloaded: the 8B-shaped model is built
with random weights and saved (weights and a word-level tokenizer) into a temporary folder, then
booted from that folder by `workbench.lm.boot` — the same call `AceConfig(model=folder, ...)`
makes — and steered with the ACE operator through `workbench.lm`'s `edits=` (generation and
last-token logits install the hooks), as `workbench.ace` does. Exit codes: 0 all measured, 1 some
measurement failed (the others still
ran, so one GPU session shows every problem), 2 refused (no CUDA, or the full size on the CPU).
Not part of `make test`: it needs a GPU and several minutes (16 GB of weights are written and read).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import random
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from workbench.registry import SUITE_NAMES, get_suite
from workbench.runner import as_cache

EXIT_FAILED = 1
EXIT_REFUSED = 2

SUITES = SUITE_NAMES  # the registry's suites, in its order
BATCH = 8  # prompts per forward
PROMPT_TOKENS = 128
NEW_TOKENS = 32
REPEATS = 3  # timed forwards after one warm-up; the mean is printed
# Measurements of the real-size part, in the order they run (names of the `GPU <name>` lines).
MODEL_MEASUREMENTS = (
    "build_model",             # random init on the device, in `dtype`
    "save_folder",             # save_pretrained of weights + tokenizer into the temporary folder
    "boot",                    # workbench.lm.boot: TransformerBridge.boot_transformers, offline
    "activations_all_layers",  # the ACE direction's input: last-token activations at every block
    "forward",                 # batch × prompt tokens, no edit
    "forward_ace_one_layer",   # the same forward with ACE at the middle block
    "forward_ace_all_layers",  # ... and at every block
    f"generate_{NEW_TOKENS}",          # batched greedy generation, no edit
    f"generate_ace_{NEW_TOKENS}",      # the same, ACE at the middle block on every position
)
MEASUREMENTS = tuple(f"suite_{s}" for s in SUITES) + MODEL_MEASUREMENTS
SKIPPABLE = SUITES + ("model",)


@dataclass(frozen=True)
class LlamaShape:
    """The transformers LlamaConfig fields that set a model's size."""

    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int


LLAMA3_8B = LlamaShape(hidden=4096, intermediate=14336, layers=32, heads=32, kv_heads=8, vocab=128256)
TINY_LLAMA = LlamaShape(hidden=64, intermediate=128, layers=2, heads=4, kv_heads=2, vocab=512)

# --tiny: even smaller than QUICK, so the CPU smoke test of this script stays well under a minute
# on 2 shared cores (QUICK took about 8 s / 40 s / 127 s / 17 s for capacity / goldilocks /
# robustness / ace there). Every field keeps its config's validation happy.
TINY_OVERRIDES: dict[str, dict[str, Any]] = {
    "capacity": dict(kurtosis=(2.0, 30.0), decay=(0.9,), seeds=1, steps=60, d_sweep=(2, 4),
                     sweep_kurtosis=(2.0,), relu_feature_prob=(0.1,), relu_steps=30, relu_batch=64),
    "goldilocks": dict(widths=(16,), activations=("relu",), ratios=(0.5, 2.0), seeds=1, bases=1, hessian_dim=4,
                       hessian_batch=64, train_dims=(4,), train_ratios=(1.0,), train_steps=10, selection_inits=4,
                       selection_top=1, selection_steps=10, selection_eval_every=5),
    "robustness": dict(n_stories=100, n_filter_samples=2000, max_resamples=2, n_attack=2, max_budget=1,
                       candidates=4, rounds=0, n_train_attack=1),
    "ace": dict(archs=("llama",), llama_steps=10, n_eval=4, n_direction=4, alphas=(0.0, 1.0), max_new_tokens=4),
}


# --- timing -----------------------------------------------------------------------------------
class Clock:
    """Wall-clock timings with the device synchronised at both ends (CUDA work is asynchronous:
    without the syncs a timing would measure kernel launches, not the work)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.seconds: dict[str, float] = {}
        self.failed: list[str] = []

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @contextmanager
    def measure(self, name: str, repeats: int = 1, note: str = "") -> Iterator[None]:
        """Time the block (which runs the work `repeats` times) and print the mean per run."""
        self.sync()
        start = time.perf_counter()
        yield
        self.sync()
        seconds = (time.perf_counter() - start) / repeats
        self.seconds[name] = seconds
        print(f"GPU {name} seconds={seconds:.4f}" + (f" {note}" if note else ""), flush=True)

    def guarded(self, name: str, fn: Callable[[], None]) -> bool:
        """Run `fn`; on an exception print `GPU <name> FAILED: …` (traceback on stderr) and go on."""
        try:
            fn()
            return True
        except Exception as err:  # noqa: BLE001 - one failure must not hide the other measurements
            self.failed.append(name)
            print(f"GPU {name} FAILED: {type(err).__name__}: {err}", flush=True)
            traceback.print_exc()
            return False


# --- the suites -------------------------------------------------------------------------------
def suite_config(suite: str, tiny: bool) -> Any:
    """The suite's QUICK config (with `TINY_OVERRIDES` under --tiny)."""
    config = get_suite(suite).quick()
    return dataclasses.replace(config, **TINY_OVERRIDES[suite]) if tiny else config


def run_suite(suite: str, config: Any, device: torch.device, workdir: Path) -> Any:
    """One suite's `run` on `device`, uncached (time the work). The cache passed in is a fresh
    folder: ACE trains its embedded models there, not in (or from) the user's cache."""
    return get_suite(suite).run(config, progress=False, device=device, cache=as_cache(workdir / f"{suite}-cache"))


# --- the real-size model ----------------------------------------------------------------------
def word_tokenizer(vocab: int):
    """A word-level PreTrainedTokenizerFast with exactly `vocab` ids (so every id the random model
    can emit decodes): 3 specials, then words w000000, w000001, …"""
    from workbench.lm.tokenizer import build_word_tokenizer

    specials = ["<pad>", "<eos>", "<unk>"]
    words = [f"w{i:06d}" for i in range(vocab - len(specials))]
    return build_word_tokenizer([" ".join(words)], specials, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>")


@contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """Create parameters in `dtype` directly: an 8B model built in float32 first would need 32 GB
    more on the device, and casting it would take as long again."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def build_and_save(shape: LlamaShape, device: torch.device, dtype: torch.dtype, folder: Path, clock: Clock) -> None:
    """A random-weight LlamaForCausalLM of `shape` built on `device` in `dtype`, saved with a
    tokenizer into `folder` (an HF folder `workbench.lm.boot` takes)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = word_tokenizer(shape.vocab)
    config = LlamaConfig(
        hidden_size=shape.hidden, intermediate_size=shape.intermediate, num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads, num_key_value_heads=shape.kv_heads, vocab_size=shape.vocab,
        max_position_embeddings=max(256, PROMPT_TOKENS + NEW_TOKENS), tie_word_embeddings=False,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
        architectures=["LlamaForCausalLM"],  # the bridge picks its adapter from this
    )
    with clock.measure("build_model"):
        torch.manual_seed(0)
        with torch.device(device), default_dtype(dtype):
            model = LlamaForCausalLM(config)
        model.eval()
    with clock.measure("save_folder"):
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    del model  # the booted copy replaces it: never hold two 16 GB copies on the device
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def random_prompts(vocab: int, n: int, length: int, seed: int) -> list[str]:
    """`n` prompts of exactly `length` word tokens (no specials), seeded."""
    rng = random.Random(seed)
    return [" ".join(f"w{rng.randrange(vocab - 3):06d}" for _ in range(length)) for _ in range(n)]


def measure_model(shape: LlamaShape, device: torch.device, dtype_name: str, device_map: str | None,
                  workdir: Path, clock: Clock) -> None:
    """Build, save and boot the model, then time forwards and generation, plain and ACE-steered."""
    from transformers.utils import logging as hf_logging

    from workbench.ace.session import hook_names
    from workbench.lm import boot
    from workbench.lm.folders import DTYPES
    from workbench.lm.generate import generate, last_token_activations, last_token_logits
    from workbench.tensor.steering import difference_of_means, make_edit

    hf_logging.disable_progress_bar()  # per-shard bars would bury the GPU lines in a captured log
    folder = workdir / "llama"
    build_and_save(shape, device, DTYPES[dtype_name], folder, clock)
    with clock.measure("boot", note=f"device_map={device_map}" if device_map else ""):
        model = boot(folder, device=device, dtype=dtype_name, device_map=device_map)
    tokenizer = model.tokenizer
    names = hook_names(model, "resid_post")
    prompts = random_prompts(shape.vocab, BATCH, PROMPT_TOKENS, seed=0)

    # `model` is a closure cell here; ruff reads the `del model` at the end as leaving it unbound (a false F821):
    # both closures are only called before that `del`, which clears the cell and frees the weights.
    def forward(edits: dict | None) -> torch.Tensor:
        return last_token_logits(
            model, tokenizer, prompts, batch_size=BATCH, edits=edits, positions="all"  # noqa: F821 (see above)
        )

    forward(None)  # warm-up, untimed: cuBLAS handles and kernels for these shapes, the allocator's first blocks

    # The ACE direction as the suite makes it: difference of means of last-token activations.
    with clock.measure("activations_all_layers"):
        acts = last_token_activations(model, tokenizer, prompts, names, batch_size=BATCH)  # [n, L, d]
    direction, mu_neg = difference_of_means(acts[: BATCH // 2], acts[BATCH // 2:])
    middle = len(names) // 2
    one = {names[middle]: make_edit("ace", direction[middle], mu_neg[middle], 1.0)}
    every = {name: make_edit("ace", direction[i], mu_neg[i], 1.0) for i, name in enumerate(names)}
    plain = None
    for name, edits in (("forward", None), ("forward_ace_one_layer", one), ("forward_ace_all_layers", every)):
        with clock.measure(name, repeats=REPEATS, note=f"batch={BATCH} tokens={PROMPT_TOKENS}"):
            for _ in range(REPEATS):
                logits = forward(edits)
        if not bool(torch.isfinite(logits).all()):
            raise RuntimeError(f"{name}: non-finite logits")
        if plain is None:
            plain = logits
        elif torch.equal(logits, plain):
            raise RuntimeError(f"{name}: the ACE edit did not change the logits (hooks not firing?)")

    def complete(edits: dict | None) -> list[str]:  # `model`: the closure cell noted at `forward`
        return generate(
            model, tokenizer, prompts, NEW_TOKENS, batch_size=BATCH, edits=edits, positions="all"  # noqa: F821
        )

    for name, edits in ((f"generate_{NEW_TOKENS}", None), (f"generate_ace_{NEW_TOKENS}", one)):
        with clock.measure(name, note=f"batch={BATCH} new_tokens={NEW_TOKENS}"):
            texts = complete(edits)
        if len(texts) != BATCH:
            raise RuntimeError(f"{name}: {len(texts)} completions for {BATCH} prompts")
    del model
    gc.collect()


# --- the command ------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu (with --tiny)")
    parser.add_argument("--tiny", action="store_true",
                        help="a 2-layer d=64 Llama instead of the 8B shape, and suite configs smaller than QUICK")
    parser.add_argument("--dtype", default="bfloat16", choices=("bfloat16", "float16", "float32"))
    parser.add_argument("--device-map", default=None,
                        help="boot the model with this accelerate device_map (e.g. auto) instead of --device")
    parser.add_argument("--skip", action="append", default=[], choices=SKIPPABLE,
                        help="leave out a suite or the real-size model (repeatable)")
    parser.add_argument("--workdir", default=None,
                        help="parent of the temporary folder (the 8B folder needs about 16 GB of disk)")
    return parser.parse_args(argv)


def refusal(args: argparse.Namespace) -> str | None:
    """Why this run must not start, or None."""
    try:
        device = torch.device(args.device)
    except (RuntimeError, TypeError):
        return f"gpu_check: `--device` must be 'cuda', 'cuda:N' or 'cpu'; got {args.device!r}"
    if device.type == "cuda" and not torch.cuda.is_available():
        return (f"gpu_check: CUDA is not available (torch.cuda.is_available() is False; torch {torch.__version__}, "
                f"built for CUDA {torch.version.cuda}). Run it on a machine with an NVIDIA GPU and a CUDA build of "
                "torch, or use `--device cpu --tiny` for the CPU smoke test of the same code path.")
    if device.type == "cpu" and not args.tiny:
        return "gpu_check: the 8B-shaped model on the CPU would take hours; add --tiny (or use --device cuda)."
    if device.type not in ("cuda", "cpu"):
        return f"gpu_check: `--device` must be 'cuda', 'cuda:N' or 'cpu'; got {args.device!r}"
    return None


def peak_memory(device: torch.device) -> str:
    if device.type == "cuda":
        return (
            f"peak_memory_gib={torch.cuda.max_memory_allocated(device) / 2**30:.2f} (torch.cuda.max_memory_allocated)"
        )
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return f"peak_memory_gib={kib / 2**20:.2f} (host max RSS)"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    reason = refusal(args)
    if reason is not None:
        print(reason, file=sys.stderr, flush=True)
        return EXIT_REFUSED
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    shape = TINY_LLAMA if args.tiny else LLAMA3_8B
    print(f"GPU torch={torch.__version__} cuda={torch.version.cuda} device={device} name={name!r} "
          f"dtype={args.dtype} model={'tiny-llama' if args.tiny else 'llama-3-8b-shaped'} "
          f"tiny={args.tiny} device_map={args.device_map}", flush=True)
    clock = Clock(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with tempfile.TemporaryDirectory(prefix="gpu_check_", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        for suite in SUITES:
            if suite in args.skip:
                continue

            def one_suite(suite: str = suite) -> None:
                config = suite_config(suite, args.tiny)
                with clock.measure(f"suite_{suite}", note="tiny config" if args.tiny else "QUICK config"):
                    run_suite(suite, config, device, workdir)

            clock.guarded(f"suite_{suite}", one_suite)
        if "model" not in args.skip:
            from workbench.lm import torch_threads

            # the tiny model's ops are too small to split: on a loaded 2-core machine two threads
            # spin-waited on each other (generation 3.4 s vs 0.6 s with one); GPU runs keep torch's setting
            threads = 1 if device.type == "cpu" and args.tiny else None
            with torch_threads(threads):
                clock.guarded(
                    "model", lambda: measure_model(shape, device, args.dtype, args.device_map, workdir, clock)
                )
    print(f"GPU {peak_memory(device)}", flush=True)
    if clock.failed:
        print(f"GPU failed: {', '.join(clock.failed)}", flush=True)
        return EXIT_FAILED
    print(f"GPU done: {len(clock.seconds)} measurements", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
