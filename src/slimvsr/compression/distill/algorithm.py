"""Prune-then-distil (Jiang et al., 2024): OBProx-SG sparsity, compact sizing, distillation loss.

* ``OBProxSG``: the orthant-based proximal stochastic gradient method (Chen et al., 2020) for
  ``f(theta) + lambda ||theta||_1``. Proximal steps (a gradient step, then soft-thresholding) find
  the sign pattern; orthant steps then move within the orthant of the current signs and project
  any weight whose sign would flip to exactly zero, so the solution has exact zeros.
* ``density``: the fraction of non-zero weights of the deep-feature module.
* ``compact_size``: eq. (5)-(7): N_b and N_l + 1 shrink by d^(1/6), N_c takes up the rest of the
  density. Parameters grow as N_c^2 (eq. 2), so the remaining factor is a square root; the paper
  prints a cube root in eq. (7), which reproduces neither published model (docs/reproduction-distill.md).
* ``student_config``: the teacher's config at those sizes (EDSR or SwinIR).
* ``distillation_loss``: eq. (8)-(9): alpha * Charbonnier(student, GT) + L_Lap(student, teacher)
  + L_Lap(HF(student), HF(teacher)), HF(x) = x - GaussianBlur5x5(x), Laplacian-pyramid L1 loss.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from ...errors import CompressionError, ConfigError
from ...models import Family


class OBProxSG(torch.optim.Optimizer):
    """OBProx-SG for ``loss + lam * ||params||_1`` (the L1 term is handled here, not in the loss).

    The first ``n_prox`` steps are proximal-SGD steps; after that, orthant steps, with a proximal
    step every ``prox_every`` steps if given (OBProx-SG+ style switching) so that zeros found too
    early can still be revisited. ``momentum`` is heavy-ball momentum on the smooth gradient.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        lam: float = 1e-4,
        n_prox: int = 1000,
        prox_every: int | None = None,
        momentum: float = 0.0,
    ) -> None:
        super().__init__(params, dict(lr=lr, lam=lam, momentum=momentum))
        self.n_prox, self.prox_every = n_prox, prox_every
        self.steps = 0

    def is_prox_step(self) -> bool:
        if self.steps < self.n_prox:
            return True
        return bool(self.prox_every) and (self.steps - self.n_prox) % self.prox_every == 0

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        prox = self.is_prox_step()
        for group in self.param_groups:
            lr, lam, mom = group["lr"], group["lam"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                if mom:
                    buf = self.state[p].get("momentum")
                    buf = g.clone() if buf is None else buf.mul_(mom).add_(g)
                    self.state[p]["momentum"] = buf
                    g = buf
                if prox:
                    # x <- soft_threshold(x - lr * grad f, lr * lam)
                    z = p - lr * g
                    p.copy_(torch.sign(z) * torch.clamp(z.abs() - lr * lam, min=0.0))
                else:
                    # Orthant step: zeros stay zero; non-zeros move along grad f + lam * sign(x)
                    # and are projected to zero if their sign would flip.
                    s = torch.sign(p)
                    z = p - lr * (g + lam * s)
                    p.copy_(torch.where(torch.sign(z) == s, z, torch.zeros_like(z)))
        self.steps += 1
        return loss


def density(modules: Iterable[nn.Module]) -> float:
    """Fraction of non-zero weights (biases and norms included) in ``modules``."""
    nz = total = 0
    for m in modules:
        for p in m.parameters():
            nz += int((p != 0).sum())
            total += p.numel()
    return nz / max(total, 1)


def compact_size(
    d: float, nc: int, nl: int, nb: int, *, rounding: str = "round", channel_power: float = 2.0
) -> tuple[int, int, int]:
    """(N_c, N_l, N_b) of the student for density ``d`` (eq. 5-7).

    N_b and N_l + 1 are scaled by d^(1/6) (eq. 6) and rounded with ``rounding`` ("round",
    "floor", "ceil"; at least 1); N_c is scaled by (d N_b (N_l+1) / (N_b' (N_l'+1)))^(1/p) and
    rounded to nearest, with p = ``channel_power`` (2: parameters ~ N_c^2, eq. 2; 3: eq. 7 as
    printed).
    """
    if not 0 < d <= 1:
        raise ConfigError(f"density must be in (0, 1], got {d}")
    r = {"round": round, "floor": math.floor, "ceil": math.ceil}[rounding]
    f = d ** (1 / 6)
    nb2 = max(1, r(nb * f))
    nl2 = max(1, r((nl + 1) * f) - 1)
    ratio = d * nb * (nl + 1) / (nb2 * (nl2 + 1))
    nc2 = max(1, round(nc * ratio ** (1 / channel_power)))
    return nc2, nl2, nb2


def student_config(
    family: Family, cfg: Any, d: float, *, rounding: str = "round", channel_power: float = 2.0
) -> Any:
    """The compact student of a teacher config at density ``d``: the family maps its config to
    (N_c, N_l, N_b) and back (``CompressionHooks``; SwinIR keeps its head count there)."""
    hooks = family.compression
    if hooks is None or hooks.compact_sizes is None or hooks.with_compact_sizes is None:
        raise CompressionError(
            f"prune-then-distil sizes models whose family maps compact sizes; {family.name} does not"
        )
    nc, nl, nb = compact_size(d, *hooks.compact_sizes(cfg), rounding=rounding, channel_power=channel_power)
    return hooks.with_compact_sizes(cfg, nc, nl, nb)


def channel_scores(model: nn.Module, groups: dict[str, list[tuple[str, int]]]) -> dict[str, torch.Tensor]:
    """Each channel group's L1 score per channel: for every (parameter, dimension) the group
    indexes, the L1 norm of the parameter's slice at each channel, divided by that parameter's
    mean slice norm so that every conv the channel touches weighs alike; summed over them."""
    params = dict(model.named_parameters())
    scores = {}
    for name, members in groups.items():
        total = None
        for pname, dim in members:
            w = params[pname].detach().float().abs()
            norms = w.transpose(0, dim).reshape(w.shape[dim], -1).sum(1)
            norms = norms / norms.mean().clamp_min(1e-12)
            total = norms if total is None else total + norms
        scores[name] = total
    return scores


def narrowed(teacher: nn.Module, family: Family, student_cfg: Any) -> nn.Module:
    """The student of config ``student_cfg`` holding ``teacher``'s weights at the channels of
    largest L1 score (``channel_scores``), each group kept in its original order; the family says
    which channels are one group (``CompressionHooks.channel_groups``) and how to cut them."""
    hooks = family.compression
    if hooks is None or None in (hooks.channel_groups, hooks.group_widths, hooks.slice_channels):
        raise CompressionError(f"{family.name} students cannot start from a teacher's channels")
    groups = hooks.channel_groups(teacher)
    widths = hooks.group_widths(student_cfg)
    have = hooks.group_widths(teacher.config)
    wider = [g for g in widths if widths[g] > have[g]]
    if wider:
        raise CompressionError(f"the student is wider than its teacher in {', '.join(wider)}")
    scores = channel_scores(teacher, groups)
    keep = {g: torch.sort(torch.topk(scores[g], widths[g]).indices).values for g in groups}
    student = hooks.slice_channels(teacher, keep)
    if student.config != student_cfg:
        raise CompressionError(f"narrowing gave {student.config}, not the student's {student_cfg}")
    return student
