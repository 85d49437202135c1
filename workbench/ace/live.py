"""Steered, judged completions: the one edit → generate → judge sequence, and the live object a
panel (or a notebook cell) asks for one completion at a time.

`steered_completions` is what the experiment's runner (`workbench.ace.experiment`) and `AceLive`
both call. `AceLive` keeps the booted model sessions of an `AceResult` (booting each on first use
from the artifact cache, where the trained models are) and the per-model site directions, so
moving a control only generates and judges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from workbench.ace.config import ALL_LAYERS, SETS, SWEEP_METHODS
from workbench.ace.methods import SteeringMethod, steering_method
from workbench.ace.result import AceResult
from workbench.ace.session import ModelSession, open_session
from workbench.ace.sites import SiteDirections

# The curve a method without its own α sweep is shown against: a method's `fixed_alpha` is a
# place on ACE's α axis (midpoint projection = ACE at α = ½)
ACE = "ace"


@dataclass(frozen=True)
class Steering:
    """Where and how completions are steered: `method` (a name or a `SteeringMethod`) at `alpha`
    on `sites` × `layer`, the edit applied at `positions`."""

    method: str | SteeringMethod
    alpha: float = 0.0
    sites: str = "residual"
    layer: int | str = ALL_LAYERS
    positions: str = "all"


@dataclass(frozen=True)
class Judged:
    """Completions of some requests, prompt-major (request i's samples are entries i·k … i·k + k − 1),
    with each one's verdict ("refusal" | "compliance" | "incoherent") and the binary judge's call."""

    texts: list[str]
    verdicts: list[str]
    refuses: list[bool]


def steered_completions(session: ModelSession, directions: SiteDirections, requests: Sequence[str],
                        steering: Steering, max_new_tokens: int, batch_size: int,
                        temperature: float | None = None, samples: int = 1) -> Judged:
    """Edit (the `steering` edits from `directions`), generate (`samples` completions of each
    request at `temperature`; None: the session's) and judge (the session's judge)."""
    edits = directions.edits(steering.method, steering.alpha, steering.sites, steering.layer)
    texts = session.complete(requests, edits, steering.positions, max_new_tokens, batch_size, temperature, samples)
    flat = [t for group in texts for t in group] if samples > 1 else list(texts)
    asked = [r for r in requests for _ in range(samples)]
    return Judged(flat, *session.judge_texts(asked, flat, _decoded_at(session, temperature)))


def _decoded_at(session: ModelSession, temperature: float | None) -> float:
    return session.temperature if temperature is None else temperature


def steered_settings(session: ModelSession, directions: SiteDirections, requests: Sequence[str],
                     steerings: Sequence[Steering], max_new_tokens: int, batch_size: int,
                     temperature: float | None = None, samples: int = 1, progress: bool = False) -> list[Judged]:
    """`[steered_completions(…, steering, …) for steering in steerings]` in one generation pass
    (every steering at one `positions`) and one judge call: the same completions and verdicts."""
    positions = {s.positions for s in steerings}
    if len(positions) != 1:
        raise ValueError(f"`steerings` must share one `positions` to run in one pass; got {sorted(positions)}")
    settings = [directions.edits(s.method, s.alpha, s.sites, s.layer) for s in steerings]
    out = session.complete_settings(requests, settings, positions.pop(), max_new_tokens, batch_size, temperature,
                                    samples, progress)
    flat = [t for texts in out for t in ([x for group in texts for x in group] if samples > 1 else texts)]
    asked = [r for r in requests for _ in range(samples)] * len(steerings)
    verdicts, refuses = session.judge_texts(asked, flat, _decoded_at(session, temperature))
    width = len(requests) * samples
    return [Judged(flat[i:i + width], verdicts[i:i + width], refuses[i:i + width])
            for i in range(0, len(flat), width)]


@dataclass(frozen=True)
class Completion:
    """One steered completion: its `text`, the three-way `verdict` and whether the binary judge
    finds a refusal anywhere in it (`refuses`)."""

    text: str
    verdict: str
    refuses: bool


@dataclass(frozen=True)
class Curve:
    """A refusal-vs-α view for a method: `method` is the swept method drawn (the method itself
    when it is swept, else ACE), `refusal` its refusal rate per prompt set at each of `alphas`,
    and `marker` where the current setting sits on it (None: nowhere, a method without α);
    `where` the sites × layer it was generated at now (None: the run's precomputed sweep)."""

    method: str
    alphas: list[float]
    refusal: dict[str, list[float]]
    marker: float | None
    where: str | None = None


class AceLive:
    """The models of `result` on demand: `complete` steers, generates and judges one request;
    `curve` reads the precomputed sweep. `cache_root`: the artifact cache holding the models."""

    def __init__(self, result: AceResult, cache_root: Path | None = None) -> None:
        if not isinstance(result, AceResult):
            raise ValueError(f"`result` must be an AceResult; got {type(result).__name__}")
        self.result, self.cache_root = result, cache_root
        self._sessions: dict[int, ModelSession] = {}
        self._directions: dict[int, SiteDirections] = {}
        self._sweeps: dict[tuple, dict[str, list[float]]] = {}  # (model, method, sites, layer) -> rates

    def is_booted(self, model: int | str) -> bool:
        return self.result.model_index(model) in self._sessions

    def session(self, model: int | str) -> ModelSession:
        """Model `model`'s session (booted on first use)."""
        m = self.result.model_index(model)
        if m not in self._sessions:
            self._sessions[m] = open_session(self.result.config, m, self.cache_root, progress=False)
        return self._sessions[m]

    def complete(self, prompt: str, model: int | str, method: str | SteeringMethod, alpha: float = 0.0,
                 layer: int | str | None = None, sites: str = "residual") -> Completion:
        """`prompt` completed by model `model` steered by `method` at `alpha` on `sites` of `layer`
        (None: the result's focus block), at the result's positions, greedy unless the config
        samples; judged as the experiment judges."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError("`prompt` must be a non-empty request")
        r, m = self.result, self.result.model_index(model)
        if m not in self._directions:
            self._directions[m] = r.site_directions(m)
        steering = Steering(method, alpha, sites, r.layer[r.label(m)] if layer is None else layer, r.config.positions)
        judged = steered_completions(self.session(m), self._directions[m], [prompt], steering,
                                     r.config.max_new_tokens, r.config.batch_size)
        return Completion(judged.texts[0], judged.verdicts[0], judged.refuses[0])

    def curve(self, model: int | str, method: str | SteeringMethod, alpha: float = 0.0,
              sites: str | None = None, layer: int | str | None = None,
              on_compute: Callable[[str], None] | None = None) -> Curve:
        """The refusal-vs-α lines of `method` (its own α sweep, else ACE's: `panel_curve_data`) at
        `sites` × `layer` (None: where the run steered — its sites and configured layer): the
        precomputed sweep there, else the sweep generated now over the result's α grid on its
        held-out prompts, decoded and judged as the experiment does, and kept for the next call.
        `on_compute(where)` is called before a sweep is generated (a panel's progress line)."""
        r, m = self.result, self.result.model_index(model)
        label = r.label(m)
        sites = r.sites(m) if sites is None else sites
        main_layer = r.config.layer if r.config.layer is not None else r.layer[label]
        layer = main_layer if layer is None else layer
        if (sites, layer) == (r.sites(m), main_layer):
            return panel_curve_data(r, m, method, alpha)
        entry = steering_method(method)
        shown = entry.name if entry.name in SWEEP_METHODS else ACE
        key = (m, shown, sites, layer)
        where = f"{'every block' if layer == ALL_LAYERS else f'block {layer}'}'s {sites} sites"
        if key not in self._sweeps:
            if on_compute is not None:
                on_compute(where)
            self._sweeps[key] = self._sweep(m, shown, sites, layer)
        marker = float(alpha) if shown == entry.name else entry.fixed_alpha
        return Curve(shown, list(r.config.alphas), self._sweeps[key], marker, where=where)

    def _sweep(self, m: int, method: str, sites: str, layer: int | str) -> dict[str, list[float]]:
        """Refusal rate per prompt set at every α of the result's grid, `method` at `sites` × `layer`."""
        r = self.result
        c = r.config
        if m not in self._directions:
            self._directions[m] = r.site_directions(m)
        prompts = r.prompts[r.label(m)]
        harmful, harmless = list(prompts["harmful_eval"]), list(prompts["harmless_eval"])
        steerings = [Steering(method, a, sites, layer, c.positions) for a in c.alphas]
        judged = steered_settings(self.session(m), self._directions[m], harmful + harmless, steerings,
                                  c.max_new_tokens, c.batch_size, c.temperature, c.samples_at(c.temperature))
        k = len(harmful) * c.samples_at(c.temperature)
        return {"harmful": [_refusal_share(j.verdicts[:k]) for j in judged],
                "harmless": [_refusal_share(j.verdicts[k:]) for j in judged]}


def _refusal_share(verdicts: Sequence[str]) -> float:
    """Share of "refusal" verdicts (`AceResult.refusal_rate` on verdict codes)."""
    return sum(v == "refusal" for v in verdicts) / max(1, len(verdicts))


def panel_curve_data(result: AceResult, model: int | str, method: str | SteeringMethod, alpha: float = 0.0) -> Curve:
    """The refusal-vs-α lines `method` is seen on (its own sweep, else ACE's) and its marker:
    `alpha` on its own sweep, its `fixed_alpha` on ACE's, else none."""
    entry = steering_method(method)
    swept = entry.name in SWEEP_METHODS  # a method object outside the registry has no sweep
    shown = entry.name if swept else ACE
    marker = float(alpha) if swept else entry.fixed_alpha
    rates = {prompt_set: result.sweep_curve(model, shown, prompt_set)[1] for prompt_set in SETS}
    return Curve(shown, list(result.config.alphas), rates, marker)
