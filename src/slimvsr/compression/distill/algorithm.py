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
from collections.abc import Callable, Iterable
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


def _narrowing_hooks(family: Family) -> Any:
    hooks = family.compression
    if hooks is None or None in (hooks.channel_groups, hooks.group_widths, hooks.slice_channels):
        raise CompressionError(f"{family.name} students cannot start from a teacher's channels")
    return hooks


def kept_channels(teacher: nn.Module, family: Family, student_cfg: Any) -> dict[str, torch.Tensor]:
    """The channels of each group that a student of ``student_cfg`` keeps: those of largest L1
    score (``channel_scores``), in their original order; the family says which channels are one
    group (``CompressionHooks.channel_groups``) and each group's width in a config."""
    hooks = _narrowing_hooks(family)
    groups = hooks.channel_groups(teacher)
    widths = hooks.group_widths(student_cfg)
    have = hooks.group_widths(teacher.config)
    wider = [g for g in widths if widths[g] > have[g]]
    if wider:
        raise CompressionError(f"the student is wider than its teacher in {', '.join(wider)}")
    scores = channel_scores(teacher, groups)
    return {g: torch.sort(torch.topk(scores[g], widths[g]).indices).values for g in groups}


class ChannelGates(nn.Module):
    """SSL's scaling factors (eq. 1) on a family's channel groups: one gamma per channel of each
    group (``CompressionHooks.channel_groups``), multiplied into the output of every conv that
    produces the group's channels (its members at dimension 0), so that a gamma driven to 0 makes
    its channel 0 wherever it is read. ``fold`` multiplies the gammas into those convs' weights and
    biases (exact: the gate is on a conv's output) and removes the gates. A gamma moves at its own
    learning rate, whatever the size of the weights it gates (SPAN's re-parameterised convs have
    weights up to 6, which a weight penalty at lr 1e-3 could not move to 0 in a few hundred steps)."""

    def __init__(self, model: nn.Module, groups: dict[str, list[tuple[str, int]]]) -> None:
        super().__init__()
        params = dict(model.named_parameters())
        modules = dict(model.named_modules())
        self.gammas = nn.ParameterDict()
        self.producers: dict[str, str] = {}  # producing module -> group
        for g, members in groups.items():
            n = params[members[0][0]].shape[members[0][1]]
            self.gammas[g] = nn.Parameter(torch.ones(n))
            for pname, dim in members:
                if dim == 0:
                    self.producers[pname.removesuffix(".weight")] = g
        self._handles = [modules[m].register_forward_hook(self._hook(g)) for m, g in self.producers.items()]
        self._model = [model]  # not a submodule: the gates belong to the model, not the reverse

    def _hook(self, group: str) -> Callable[..., torch.Tensor]:
        def gate(_module: nn.Module, _inputs: Any, out: torch.Tensor) -> torch.Tensor:
            return out * self.gammas[group].to(out.dtype).view(1, -1, 1, 1)

        return gate

    def penalty(self, keep: dict[str, torch.Tensor]) -> torch.Tensor:
        """The sum of the dropped channels' squared gammas."""
        return sum(self.gammas[g][_dropped(self.gammas[g], keep[g])].pow(2).sum() for g in self.gammas)

    def mean_gamma(self, keep: dict[str, torch.Tensor]) -> tuple[float, float]:
        """Mean |gamma| of the dropped and of the kept channels (SSL's Fig. 6 curves)."""
        with torch.no_grad():
            dropped = torch.cat([self.gammas[g][_dropped(self.gammas[g], keep[g])] for g in self.gammas])
            kept = torch.cat([self.gammas[g][keep[g].to(self.gammas[g].device)] for g in self.gammas])
        return float(dropped.abs().mean()) if len(dropped) else 0.0, float(kept.abs().mean())

    def fold(self) -> nn.Module:
        """The model with the gammas multiplied into the producing convs, gates removed."""
        model = self._model[0]
        for h in self._handles:
            h.remove()
        modules = dict(model.named_modules())
        with torch.no_grad():
            for m, g in self.producers.items():
                gamma = self.gammas[g].detach().to(modules[m].weight.device)
                modules[m].weight.mul_(gamma.view(-1, *[1] * (modules[m].weight.dim() - 1)))
                modules[m].bias.mul_(gamma)
        return model


def _dropped(gamma: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    mask = torch.ones(len(gamma), dtype=torch.bool, device=gamma.device)
    mask[kept.to(gamma.device)] = False
    return mask


class GatedModel(nn.Module):
    """A model with ``ChannelGates`` on its channel groups, trained as one (the gammas'
    parameters are ``gates.*``, for their own learning rate)."""

    def __init__(self, model: nn.Module, groups: dict[str, list[tuple[str, int]]]) -> None:
        super().__init__()
        self.model = model
        self.gates = ChannelGates(model, groups)
        self.config = model.config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def narrowed(
    teacher: nn.Module, family: Family, student_cfg: Any, keep: dict[str, torch.Tensor] | None = None
) -> nn.Module:
    """The student of config ``student_cfg`` holding ``teacher``'s weights at the ``keep``
    channels (default: ``kept_channels``); the family cuts them (``CompressionHooks.slice_channels``)."""
    if keep is None:
        keep = kept_channels(teacher, family, student_cfg)
    student = _narrowing_hooks(family).slice_channels(teacher, keep)
    if student.config != student_cfg:
        raise CompressionError(f"narrowing gave {student.config}, not the student's {student_cfg}")
    return student
