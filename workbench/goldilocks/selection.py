"""Initialisation selection: rank inits at r_init by a curvature measure, train them all, and test
whether the top-ranked reach a target accuracy in fewer steps.

All N inits train at once as an ensemble (θ: [N, D], plain minibatch SGD, the same batches for
every member), so the comparison is paired on data order. The test is Mann–Whitney U (one-sided:
top-ranked need fewer steps), with Spearman's ρ between the measure and the steps beside it.
Inits that never reach the target count as `steps + eval_every` (censored; ranks handle ties).
The continuous outcome is the area under the training-loss curve (mean minibatch loss over the
steps); `association` rank-correlates a score with it (one-sided: a better score, a lower area).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from scipy import stats
from torch import Tensor
from tqdm.auto import tqdm

from workbench.core.validation import check_int
from workbench.goldilocks.hyperplane import ensemble_accuracy, ensemble_loss
from workbench.goldilocks.model import MLPSpec


def train_full_space(
    spec: MLPSpec,
    thetas: Float[Tensor, "N D"],
    x_train: Float[Tensor, "n in"],
    y_train: Int[Tensor, " n"],
    x_eval: Float[Tensor, "m in"],
    y_eval: Int[Tensor, " m"],
    steps: int,
    lr: float,
    batch: int,
    eval_every: int,
    seed: int = 0,
    progress: bool = True,
) -> tuple[Float[Tensor, "N K"], Float[Tensor, "N steps"]]:
    """SGD on all N parameter vectors at once; eval accuracy at steps 0, k, 2k, … (K = steps//k + 1),
    and every member's minibatch training loss at every step (its mean is the area under the
    loss curve, the continuous outcome)."""
    check_int("eval_every", eval_every, low=1, high=steps)
    theta = thetas.detach().clone().requires_grad_(True)
    opt = torch.optim.SGD([theta], lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = len(y_train)
    curves, losses = [ensemble_accuracy(spec, theta.detach(), x_eval, y_eval)], []
    for step in tqdm(range(1, steps + 1), desc="init selection", disable=not progress, leave=False):
        idx = torch.randint(0, n, (min(batch, n),), generator=gen).to(x_train.device)
        opt.zero_grad(set_to_none=True)
        loss = ensemble_loss(spec, theta, x_train[idx], y_train[idx])
        loss.sum().backward()
        losses.append(loss.detach())
        opt.step()
        if step % eval_every == 0:
            curves.append(ensemble_accuracy(spec, theta.detach(), x_eval, y_eval))
    return torch.stack(curves, -1), torch.stack(losses, -1)


def steps_to_target(curves: Float[Tensor, "N K"], target: float, eval_every: int) -> Float[Tensor, " N"]:
    """First evaluated step with accuracy ≥ target; never reached -> (K−1)·eval_every + eval_every."""
    hit = curves >= target
    first = torch.where(
        hit.any(-1), hit.float().argmax(-1), torch.full_like(hit[:, 0], curves.shape[-1], dtype=torch.long)
    )
    return first.double() * eval_every


@dataclass(frozen=True)
class SelectionTest:
    """Top-ranked vs the rest: steps to target, Mann–Whitney U (one-sided, top faster) and Spearman."""

    top_steps: list[float]
    rest_steps: list[float]
    u_statistic: float
    p_value: float
    spearman_rho: float
    spearman_p: float
    censored: int

    @property
    def median_difference(self) -> float:
        """median(rest) − median(top): positive when the top-ranked are faster."""
        return float(torch.tensor(self.rest_steps).median() - torch.tensor(self.top_steps).median())


def selection_test(measure: Float[Tensor, " N"], steps: Float[Tensor, " N"], top: int, higher_is_better: bool = True,
                   censored_at: float | None = None) -> SelectionTest:
    """Split by `measure` (the `top` best), compare their steps with the rest's."""
    N = len(measure)
    top = check_int("top", top, low=1, high=N - 1)
    order = torch.argsort(measure, descending=higher_is_better)
    top_idx, rest_idx = order[:top], order[top:]
    a, b = steps[top_idx].tolist(), steps[rest_idx].tolist()
    if len(set(a + b)) == 1:  # every init took the same number of steps: no evidence either way
        u, p = float(top * (N - top)) / 2, 1.0
    else:
        res = stats.mannwhitneyu(a, b, alternative="less")
        u, p = float(res.statistic), float(res.pvalue)
    sign = 1.0 if higher_is_better else -1.0
    rho, rho_p = 0.0, 1.0  # a constant input has no rank correlation
    if len(set(steps.tolist())) > 1 and len(set(measure.tolist())) > 1:
        res_rho = stats.spearmanr((sign * measure).tolist(), steps.tolist())
        rho, rho_p = float(res_rho.statistic), float(res_rho.pvalue)
    censored = int((steps >= censored_at).sum()) if censored_at is not None else 0
    return SelectionTest(a, b, u, p, rho, rho_p, censored)


def association(
    measure: Float[Tensor, " N"], outcome: Float[Tensor, " N"], higher_is_better: bool = True
) -> dict[str, float]:
    """Spearman ρ between the score (signed so that larger = better) and the outcome (lower =
    better), with its one-sided p-value for ρ < 0 (better scores, lower outcomes)."""
    sign = 1.0 if higher_is_better else -1.0
    a, b = (sign * measure.double()).tolist(), outcome.double().tolist()
    if len(set(a)) < 2 or len(set(b)) < 2:
        return {"spearman_rho": 0.0, "p_value": 1.0}
    res = stats.spearmanr(a, b, alternative="less")
    return {"spearman_rho": float(res.statistic), "p_value": float(res.pvalue)}
