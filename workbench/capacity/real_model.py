"""Capacity of a real network's features: every MLP neuron's output direction in the residual stream.

A neuron's output direction is its column of the MLP's output matrix (Llama's `down_proj`, BERT's
`output.dense`, GPT-2's `c_proj`): n = d_mlp columns in d = d_model dimensions per layer. The token
embeddings are another such matrix (n = vocabulary, d = d_model). Each column gets the paper's

    C_i = (w_i·w_i)² / Σ_j (w_i·w_j)²  =  (w_i·w_i)² / (w_iᵀ M w_i),    M = W Wᵀ = Σ_j w_j w_jᵀ   [d, d]

so n columns cost O(n d²) and no n×n Gram is formed (`capacity_large`; 49,152 SmolLM2 tokens in
576 dimensions take about a second on a CPU). Beside each matrix: the same statistic of a seeded
Gaussian matrix of its shape, and of random directions carrying the real columns' norms.

This C is a geometric statistic of a weight matrix. The paper defines capacity inside its toy
model, where the loss makes the optimal C an allocation of dimensions by importance and kurtosis;
no such loss stands behind a real model's weights, so the paper's claims do not transfer here.

    from workbench.capacity import model_capacities
    from workbench.core.embedded import minilm_folder
    caps = model_capacities(minilm_folder())
    caps.capacities           # [L, d_mlp]   C_i per layer
    caps.totals               # [L]          Σ_i C_i (at most d_model)
    caps.shares()             # [L, 3]       ignored / polysemantic / monosemantic shares
    caps.embedding.C          # [vocab]
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor, nn
from tqdm.auto import tqdm

from workbench.capacity.analysis import Blocks, gram_blocks
from workbench.capacity.capacity import regimes
from workbench.core.seeding import choose_device
from workbench.core.validation import check_choice, check_finite_tensor, check_int, check_path, check_range

LINK_COS = 0.2  # top features share a block when |cos(w_i, w_j)| exceeds this (≈ 5/√d at d = 576)
QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
DTYPES = {"float64": torch.float64, "float32": torch.float32}


@dataclass(frozen=True)
class Layout:
    """Where an architecture keeps its matrices: `mlp_out` with `{i}` for the layer, stored [d_model,
    d_mlp] (columns = neuron output directions) or transposed [d_mlp, d_model] (GPT-2's Conv1D);
    `embedding` is [vocab, d_model]. Any prefix before the names is allowed (`model.`, `bert.`)."""

    name: str
    mlp_out: str
    embedding: str
    transposed: bool = False

    def pattern(self) -> re.Pattern[str]:
        body = re.escape(self.mlp_out).replace(re.escape("{i}"), r"(?P<layer>\d+)")
        return re.compile(rf"^(?P<prefix>(?:.*\.)?){body}$")


LAYOUTS = (
    Layout("llama", "layers.{i}.mlp.down_proj.weight", "embed_tokens.weight"),  # Llama, Mistral, Qwen2, Gemma
    Layout("bert", "encoder.layer.{i}.output.dense.weight", "embeddings.word_embeddings.weight"),
    Layout("gpt2", "h.{i}.mlp.c_proj.weight", "wte.weight", transposed=True),
)


def capacity_large(W: Float[Tensor, "d n"], *, chunk: int = 4096, device: str | torch.device | None = None,
                   dtype: str = "float64") -> Float[Tensor, " n"]:
    """C_i of every column of W [d, n] via M = W Wᵀ [d, d]: O(n d²) time, O(d² + d·chunk) memory
    on `device` (None: W's; 'cuda' for the GPU path), columns moved there `chunk` at a time in
    `dtype`. Equals `capacity(W)` (the n×n Gram oracle) up to round-off, clamped to [0, 1]; a zero
    column has C = 0. Returns [n] in `dtype` on W's device."""
    check_finite_tensor("W", W, min_ndim=2)
    if W.ndim != 2:
        raise ValueError(f"`W` must be a matrix [d, n]; got shape {tuple(W.shape)}")
    chunk = check_int("chunk", chunk, low=1)
    dev = W.device if device is None else choose_device(device)
    dt = DTYPES[check_choice("dtype", dtype, DTYPES)]
    d, n = W.shape
    M = torch.zeros(d, d, dtype=dt, device=dev)
    for s in range(0, n, chunk):
        part = W[:, s:s + chunk].to(dev, dt)
        M.addmm_(part, part.T)
    out = torch.empty(n, dtype=dt, device=dev)
    for s in range(0, n, chunk):
        part = W[:, s:s + chunk].to(dev, dt)
        self_sq = (part * part).sum(0) ** 2
        denom = (part * (M @ part)).sum(0)
        ok = denom > 0
        out[s:s + chunk] = torch.where(ok, self_sq / torch.where(ok, denom, torch.ones_like(denom)), 0.0)
    return out.clamp_(0.0, 1.0).to(W.device)


@dataclass(frozen=True)
class MatrixCapacity:
    """One matrix's capacities: n columns in d dimensions, and its random baselines.

    C, norms: [n] C_i and ‖w_i‖. baseline: [n] C of a Gaussian matrix of the same shape (seeded);
    baseline_norms: [n] C of that matrix's column directions scaled to the real norms (so feature
    i's entry is comparable to C[i]). top: [k] the k largest-norm columns, largest first;
    top_columns / baseline_top_columns: [d, k] those columns of W and of the Gaussian matrix."""

    name: str
    tensor: str
    C: Tensor
    norms: Tensor
    baseline: Tensor
    baseline_norms: Tensor
    top: Tensor
    top_columns: Tensor
    baseline_top_columns: Tensor

    @property
    def d(self) -> int:
        return self.top_columns.shape[0]

    @property
    def n(self) -> int:
        return self.C.shape[0]

    def shares(self, tol: float = 0.02, which: str = "real") -> Float[Tensor, "3"]:
        """Shares of ignored (C < tol), polysemantic, monosemantic (C > 1 − tol) columns, [3], of the
        real matrix or a baseline (`which`: 'real', 'baseline', 'baseline_norms')."""
        C = self._pick(which)
        return torch.bincount(regimes(C, check_range("tol", tol, 0, 0.5, low_open=True)), minlength=3) / C.numel()

    def blocks(self, link: float = LINK_COS, baseline: bool = False) -> Blocks:
        """`gram_blocks` of the top-k columns, each scaled to unit norm, so two share a block when
        |cos| > `link` (chained): `order` indexes the top-k (map with `top[order]`), `dims` is Σ C
        of each block within those k unit columns. `baseline`: the Gaussian matrix's columns."""
        cols = (self.baseline_top_columns if baseline else self.top_columns).double()
        unit = cols / cols.norm(dim=0).clamp_min(1e-30)
        return gram_blocks(unit, tol=check_range("link", link, 0, 1, low_open=True, high_open=True))

    def summary(self, tol: float = 0.02, link: float = LINK_COS) -> dict:
        """JSON-able numbers: quantiles, mean and Σ C of the real matrix and both baselines, regime
        shares, and the top-k blocks (sizes > 1) of the real and the Gaussian matrix."""
        out: dict = {"name": self.name, "tensor": self.tensor, "d": self.d, "n": self.n}
        for key in ("real", "baseline", "baseline_norms"):
            C = self._pick(key)
            q = torch.quantile(C.double(), torch.tensor(QUANTILES, dtype=torch.float64)).tolist()
            out[key] = {"quantiles": dict(zip([str(x) for x in QUANTILES], _round(q))), "mean": _round(C.mean()),
                        "total": _round(C.sum()),
                        "shares": dict(zip(("ignored", "polysemantic", "monosemantic"), _round(self.shares(tol, key))))}
        for key, flag in (("top_blocks", False), ("baseline_top_blocks", True)):
            b = self.blocks(link, baseline=flag)
            out[key] = {"k": int(self.top.numel()), "link_cos": link, "shared_sizes": [s for s in b.sizes if s > 1],
                        "alone": b.sizes.count(1)}
        return out

    def _pick(self, which: str) -> Tensor:
        check_choice("which", which, ("real", "baseline", "baseline_norms"))
        return {"real": self.C, "baseline": self.baseline, "baseline_norms": self.baseline_norms}[which]


@dataclass(frozen=True)
class ModelCapacities:
    """`model_capacities`' result: one `MatrixCapacity` per requested layer (`per_layer`, in the
    order of `layers`) and the token embeddings' (`embedding`, None when not asked for)."""

    source: str
    architecture: str
    layers: tuple[int, ...]
    per_layer: tuple[MatrixCapacity, ...]
    embedding: MatrixCapacity | None
    baseline_seed: int
    seconds: float

    @property
    def d_model(self) -> int:
        return self.per_layer[0].d

    @property
    def d_mlp(self) -> int:
        return self.per_layer[0].n

    @property
    def capacities(self) -> Float[Tensor, "L n"]:
        """[L, d_mlp] C_i of every MLP neuron's output direction, one row per layer."""
        return torch.stack([m.C for m in self.per_layer])

    @property
    def baseline(self) -> Float[Tensor, " n"]:
        """[d_mlp] C of the seeded Gaussian matrix [d_model, d_mlp] (one draw: every layer's shape)."""
        return self.per_layer[0].baseline

    @property
    def totals(self) -> Float[Tensor, " L"]:
        """[L] Σ_i C_i per layer; at most rank ≤ d_model."""
        return self.capacities.sum(-1)

    def shares(self, tol: float = 0.02) -> Float[Tensor, "L 3"]:
        """[L, 3] shares of ignored / polysemantic / monosemantic neurons per layer (`regimes` cut)."""
        return torch.stack([m.shares(tol) for m in self.per_layer])

    def summary(self, tol: float = 0.02, link: float = LINK_COS) -> dict:
        """JSON-able measurements: the model, d_model / d_mlp, every layer's and the embeddings'
        `MatrixCapacity.summary`, the regime cut `tol` and the block link `link`."""
        return {"source": self.source, "architecture": self.architecture, "d_model": self.d_model,
                "d_mlp": self.d_mlp, "layers": list(self.layers), "baseline_seed": self.baseline_seed,
                "tol": tol, "seconds": round(self.seconds, 2),
                "per_layer": [m.summary(tol, link) for m in self.per_layer],
                "embedding": None if self.embedding is None else self.embedding.summary(tol, link)}


def model_capacities(model_or_folder: str | os.PathLike | nn.Module | Mapping[str, Tensor], *,
                     layers: Sequence[int] | None = None, embeddings: bool = True, baseline_seed: int = 0,
                     top_k: int = 64, device: str | torch.device = "cpu", chunk: int = 4096,
                     progress: bool = True) -> ModelCapacities:
    """Capacities of every MLP neuron's output direction per layer (and of the token embeddings).

    `model_or_folder`: an HF folder (or one .safetensors file) read with safetensors, no model built;
    an `nn.Module` (a transformers model) or a state dict. Llama-family (`layers.{i}.mlp.down_proj`),
    BERT (`encoder.layer.{i}.output.dense`) and GPT-2 (`h.{i}.mlp.c_proj`) names are recognised.
    `layers`: indices to compute (None: all). `embeddings`: also the [vocab, d_model] embedding
    matrix. `baseline_seed`: the Gaussian baselines' seed. `top_k`: largest-norm columns kept for
    `MatrixCapacity.blocks`. `device`: where M = W Wᵀ is built (float64); `chunk`: columns per step.
    ValueError naming the parameter for a bad value, a missing folder or an unknown layout."""
    layers_arg = layers
    embeddings = _check_flag("embeddings", embeddings)
    progress = _check_flag("progress", progress)
    baseline_seed = check_int("baseline_seed", baseline_seed, low=0)
    top_k = check_int("top_k", top_k, low=1)
    chunk = check_int("chunk", chunk, low=1)
    dev = choose_device(device)
    start = time.perf_counter()
    source, names, get = _tensor_source(model_or_folder)
    layout, prefix, found = _detect(source, names)
    layers = _check_layers(layers_arg, found)
    jobs: list[tuple[str, str, bool]] = [(f"layer {i}", f"{prefix}{layout.mlp_out.format(i=i)}", layout.transposed)
                                         for i in layers]
    if embeddings:
        jobs.append(("embeddings", _embedding_name(source, names, layout, prefix), True))
    gaussians: dict[tuple[int, int], tuple[Tensor, Tensor]] = {}
    results = []
    for name, tensor, transposed in tqdm(jobs, desc="capacities", disable=not progress):
        W = get(tensor).detach().to("cpu")
        W = (W.T if transposed else W).float()
        results.append(_matrix(name, tensor, W, gaussians, baseline_seed, top_k, dev, chunk))
    return ModelCapacities(source=source, architecture=layout.name, layers=tuple(layers),
                           per_layer=tuple(results[:len(layers)]), embedding=results[-1] if embeddings else None,
                           baseline_seed=baseline_seed, seconds=time.perf_counter() - start)


def _matrix(name: str, tensor: str, W: Tensor, gaussians: dict, seed: int, top_k: int, dev: torch.device,
            chunk: int) -> MatrixCapacity:
    """One matrix's `MatrixCapacity`; the Gaussian draw (and its C) is shared by matrices of one shape."""
    check_finite_tensor(tensor, W, min_ndim=2)
    d, n = W.shape
    if (d, n) not in gaussians:
        G = torch.randn(d, n, generator=torch.Generator().manual_seed(seed))
        gaussians[(d, n)] = (G, capacity_large(G, chunk=chunk, device=dev).cpu())
    G, baseline = gaussians[(d, n)]
    norms = W.norm(dim=0)
    matched = G / G.norm(dim=0).clamp_min(1e-30) * norms
    top = torch.argsort(norms, descending=True, stable=True)[:min(top_k, n)]
    return MatrixCapacity(name=name, tensor=tensor, C=capacity_large(W, chunk=chunk, device=dev).cpu(), norms=norms,
                          baseline=baseline, baseline_norms=capacity_large(matched, chunk=chunk, device=dev).cpu(),
                          top=top, top_columns=W[:, top].clone(), baseline_top_columns=G[:, top].clone())


def _tensor_source(model: object) -> tuple[str, list[str], Callable[[str], Tensor]]:
    """(a label, the tensor names, a getter) for a module, a state dict, a folder or a .safetensors file."""
    if isinstance(model, nn.Module):
        state = model.state_dict()
        return type(model).__name__, list(state), state.__getitem__
    if isinstance(model, Mapping):
        return "a state dict", list(model), model.__getitem__
    path = check_path("model_or_folder", model)
    if not path.exists():
        raise ValueError(f"`model_or_folder` {str(path)!r} does not exist")
    if path.suffix.lower() == ".gguf":
        raise ValueError(f"`model_or_folder` {str(path)!r} is a GGUF file: convert it first with "
                         f"`workbench.lm.gguf_folder(path)` and pass the folder it returns")
    files = [path] if path.is_file() else sorted(path.glob("*.safetensors"))
    if not files or any(f.suffix != ".safetensors" for f in files):
        raise ValueError(f"`model_or_folder` {str(path)!r} holds no .safetensors weights (other checkpoint "
                         f"formats, e.g. pickled .bin files, are not read)")
    from safetensors import SafetensorError, safe_open

    where: dict[str, Path] = {}
    for file in files:
        try:
            with safe_open(str(file), "pt") as handle:
                where.update((key, file) for key in handle.keys())
        except SafetensorError as err:
            raise ValueError(f"`model_or_folder`: {str(file)!r} is not a readable safetensors file: {err}") from err

    def get(name: str) -> Tensor:
        with safe_open(str(where[name]), "pt") as handle:
            return handle.get_tensor(name)

    return str(path), list(where), get


def _detect(source: str, names: list[str]) -> tuple[Layout, str, list[int]]:
    """The first layout whose MLP output names occur (under one prefix): (layout, prefix, layers)."""
    for layout in LAYOUTS:
        hits = [m for m in map(layout.pattern().match, names) if m]
        if not hits:
            continue
        prefixes = sorted({m["prefix"] for m in hits})
        if len(prefixes) > 1:
            raise ValueError(f"`model_or_folder` {source!r}: {layout.mlp_out!r} occurs under several prefixes "
                             f"{prefixes}; pass the state dict of one model")
        return layout, prefixes[0], sorted({int(m["layer"]) for m in hits})
    looked = "; ".join(f"{lay.name}: {lay.mlp_out!r}" for lay in LAYOUTS)
    raise ValueError(f"`model_or_folder` {source!r}: no known MLP output weights among its {len(names)} tensors "
                     f"(looked for {looked}, under any prefix); first names: {names[:5]}")


def _embedding_name(source: str, names: list[str], layout: Layout, prefix: str) -> str:
    """The embedding tensor's name: under the layers' prefix (or its parent's), else the one name ending so."""
    wanted = [n for n in names if n == layout.embedding or n.endswith("." + layout.embedding)]
    same = [n for n in wanted if prefix.startswith(n[: -len(layout.embedding)])]
    if len(same) == 1 or len(wanted) == 1:
        return (same or wanted)[0]
    raise ValueError(f"`embeddings`: {source!r} has {'no' if not wanted else 'several'} tensor named "
                     f"{layout.embedding!r} (under any prefix){f': {wanted}' if wanted else ''}; "
                     f"pass embeddings=False to skip it")


def _check_layers(layers: Sequence[int] | None, found: list[int]) -> list[int]:
    if layers is None:
        return list(found)
    if isinstance(layers, (str, bytes, int)) or not isinstance(layers, Sequence):
        raise ValueError(f"`layers` must be a sequence of layer indices or None; got {layers!r}")
    out = [check_int("layers", i, low=0, high=found[-1]) for i in layers]
    missing = sorted(set(out) - set(found))
    if not out or missing or len(set(out)) != len(out):
        raise ValueError(f"`layers` must be distinct layer indices among {found[0]}…{found[-1]}, at least one; "
                         f"got {list(layers)}")
    return out


def _check_flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False; got {value!r}")
    return value


def _round(x: Tensor | list | float, digits: int = 6) -> float | list:
    if isinstance(x, Tensor):
        x = x.tolist()
    return [round(float(v), digits) for v in x] if isinstance(x, list) else round(float(x), digits)
