"""Structured Sparsity Learning (Xia et al., 2023) for BasicVSR and BasicVSR-uni.

The pieces, in the paper's order:

* **Scaling factors** (``Gammas``): one gamma per prunable unit, multiplied into a dense model's
  conv weights for its forward (``Gammas.run``), all initialised to 1 so the scaled model equals
  the unscaled one.
  Units of each residual block (Residual Sparsity Connection, Fig. 1 d): the input channels its
  first conv reads (``in``, gamma_{j-1}), the first conv's filters (``mid``, gamma_j) and the last
  conv's filters (``out``, gamma_{j+1}). Upsampler: pixel-shuffle groups of 4 consecutive filters
  of upconv1/upconv2 (``up1``, ``up2``, Fig. 2 b) and conv_hr's filters (``hr``). The 1x1 fusion,
  the trunks' first convs and SPyNet are never pruned.
* **Criterion** (``select``): L1 norm of each unit's weights; "min"/"max" x "global"/"local", or
  random; the paper's choice is Min + Global.
* **Sparsity-inducing regularisation** (``sir_alpha``, ``sir_loss``): alpha * sum(gamma^2) over the
  selected units only, alpha raised by Delta every T1 steps up to tau, then held for T2 steps.
* **Physical pruning** (``prune``): fold the gammas into the weights, slice away the selected units
  and return a genuinely smaller BasicVSR whose config lists the kept indices.
* **Temporal Finetuning** (``tf_loss``): the pruned network's final hidden states are pulled towards
  the unpruned teacher's: ||H_F,T - H'_F,T|| + ||H_B,0 - H'_B,0|| (uni: the forward term only).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ...errors import CompressionError
from ...models import BasicVSR, BasicVSRConfig, ResBlockSpec
from ...models._basicvsr import ResidualBlock


@dataclass(frozen=True)
class Unit:
    """One prunable group: ``layer`` names the gamma vector, ``index`` the entry in it."""

    layer: str
    index: int


def _blocks(model: BasicVSR) -> Iterator[tuple[str, ResidualBlock]]:
    branches = ["forward"] + (["backward"] if model.config.bidirectional else [])
    for br in branches:
        trunk = getattr(model, f"{br}_trunk")
        for i, blk in enumerate(trunk.blocks):
            yield f"{br}.{i}", blk


def block_names(model: BasicVSR) -> tuple[str, ...]:
    """The residual blocks' names ("forward.0", ...), in the order the gammas are made."""
    return tuple(name for name, _ in _blocks(model))


def _check_dense(model: BasicVSR) -> None:
    for name, blk in _blocks(model):
        if not (blk.dense_in and blk.dense_out) or blk.empty:
            raise CompressionError(f"SSL starts from a dense network; block {name} is already pruned")
    if any(v is not None for v in (model.config.up1_idx, model.config.up2_idx, model.config.hr_idx)):
        raise CompressionError("SSL starts from a dense network; the upsampler is already pruned")


class Gammas(nn.Module):
    """The scaling factors of a dense BasicVSR; ``run`` is the scaled network's forward."""

    def __init__(self, model: BasicVSR) -> None:
        super().__init__()
        _check_dense(model)
        c = model.config.num_feat
        self.g = nn.ParameterDict()
        for name, _ in _blocks(model):
            for part in ("in", "mid", "out"):
                self.g[self.key(name, part)] = nn.Parameter(torch.ones(c))
        for part in ("up1", "up2", "hr"):
            self.g[part] = nn.Parameter(torch.ones(c))

    @staticmethod
    def key(block: str, part: str) -> str:
        return f"{block.replace('.', '_')}_{part}"

    def folded(self, model: BasicVSR) -> dict[str, torch.Tensor]:
        """The scaled convs' weights and biases with the gammas multiplied in, by parameter name.

        Scaling a conv's input channels (gamma_{j-1}) scales its weights' input columns; scaling
        its outputs (gamma_j, gamma_{j+1}; the upsampler's per group of 4 filters) scales its
        weights' rows and its biases. That is the network of Fig. 2 b/c, which multiplies the
        feature maps, at the cost of the weights (37K for a 3x3 conv 64->64) instead of every
        frame's maps (tests/test_ssl.py checks the two against each other)."""
        path = {id(m): n for n, m in model.named_modules()}
        out: dict[str, torch.Tensor] = {}

        def put(conv: nn.Conv2d, g_out: torch.Tensor, g_in: torch.Tensor | None = None) -> None:
            w = conv.weight if g_in is None else conv.weight * g_in.view(1, -1, 1, 1)
            out[f"{path[id(conv)]}.weight"] = w * g_out.view(-1, 1, 1, 1)
            out[f"{path[id(conv)]}.bias"] = conv.bias * g_out

        for name, blk in _blocks(model):
            put(blk.conv1, self.g[self.key(name, "mid")], self.g[self.key(name, "in")])
            put(blk.conv2, self.g[self.key(name, "out")])
        put(model.upconv1, self.g["up1"].repeat_interleave(4))
        put(model.upconv2, self.g["up2"].repeat_interleave(4))
        put(model.conv_hr, self.g["hr"])
        return out

    def run(self, model: BasicVSR, *args: Any, **kw: Any) -> Any:
        """``model``'s forward with the scaling factors in (Fig. 1 d); its own weights untouched."""
        return torch.func.functional_call(model, self.folded(model), args, kw)

    def units(self) -> list[Unit]:
        return [Unit(k, i) for k, v in self.g.items() for i in range(v.numel())]

    def masked(self, pruned: set[Unit]) -> None:
        """Zero the gammas of ``pruned`` in place: the masked network of the equivalence test."""
        with torch.no_grad():
            for u in pruned:
                self.g[u.layer][u.index] = 0.0

    def mean_gamma(self, pruned: set[Unit]) -> tuple[float, float]:
        """Mean |gamma| of pruned and kept units (the paper's Fig. 6 curves)."""
        pv, kv = [], []
        for k, v in self.g.items():
            sel = torch.tensor([Unit(k, i) in pruned for i in range(v.numel())], device=v.device)
            a = v.detach().abs()
            pv.append(a[sel])
            kv.append(a[~sel])
        p, k_ = torch.cat(pv), torch.cat(kv)
        return (float(p.mean()) if p.numel() else 0.0, float(k_.mean()) if k_.numel() else 0.0)


def unit_scores(model: BasicVSR, gammas: Gammas, group_score: str = "mean") -> dict[Unit, float]:
    """L1 norm of every unit's weights (SSL Sec. 3.2 (2)): filters s = sum|W[k]|, input channels
    of a block's first conv s' = sum|W[:, k]|, pixel-shuffle groups sum|W[4k:4k+4]|.

    A pixel-shuffle group is scored by its mean filter norm (the sum / 4) by default: a group holds
    4 filters, so its sum is about 4x a single filter's and a global comparison then never selects
    a group (``group_score="sum"``; docs/reproduction-ssl.md)."""
    if group_score not in ("sum", "mean"):
        raise ValueError(f"group_score must be 'sum' or 'mean', not {group_score!r}")
    s: dict[Unit, float] = {}

    def put(layer: str, vals: torch.Tensor) -> None:
        for i, v in enumerate(vals.tolist()):
            s[Unit(layer, i)] = v

    with torch.no_grad():
        for name, blk in _blocks(model):
            w1, w2 = blk.conv1.weight.abs(), blk.conv2.weight.abs()
            put(gammas.key(name, "in"), w1.sum(dim=(0, 2, 3)))
            put(gammas.key(name, "mid"), w1.sum(dim=(1, 2, 3)))
            put(gammas.key(name, "out"), w2.sum(dim=(1, 2, 3)))
        for part, conv, group in (
            ("up1", model.upconv1, 4),
            ("up2", model.upconv2, 4),
            ("hr", model.conv_hr, 1),
        ):
            w = conv.weight.abs().sum(dim=(1, 2, 3)).view(-1, group)
            put(part, w.mean(dim=1) if group_score == "mean" else w.sum(dim=1))
    return s


def select(
    scores: dict[Unit, float],
    ratio: float,
    criterion: str = "min-global",
    seed: int = 0,
    multiple: int = 1,
) -> set[Unit]:
    """The units to prune: ``ratio`` of all units (global) or of each layer (local), by smallest
    ("min") or largest ("max") score, or at random. Every layer keeps >= 1 unit; with
    ``multiple`` > 1 every layer keeps a multiple of it (``round_kept``)."""
    layers = by_layer(scores)
    if criterion == "random":
        rng = random.Random(seed)
        order = list(scores)
        rng.shuffle(order)
        chosen = order[: round(ratio * len(order))]
    else:
        how, scope = criterion.split("-")
        rev = how == "max"
        if scope == "global":
            order = sorted(scores, key=lambda u: scores[u], reverse=rev)
            chosen = order[: round(ratio * len(order))]
        elif scope == "local":
            chosen = []
            for us in layers.values():
                order = sorted(us, key=lambda u: scores[u], reverse=rev)
                chosen += order[: round(ratio * len(us))]
        else:
            raise ValueError(f"unknown criterion {criterion!r}")
    pruned = set(chosen)
    if multiple > 1:
        if criterion == "random":
            priority = {u: i for i, u in enumerate(order)}.__getitem__
        else:
            sign = -1.0 if criterion.startswith("max") else 1.0
            priority = lambda u: sign * scores[u]  # noqa: E731
        pruned = round_kept(scores, pruned, multiple, priority)
    return keep_one_per_layer(scores, pruned)


def keep_one_per_layer(scores: dict[Unit, float], pruned: set[Unit]) -> set[Unit]:
    # Every layer keeps at least its best unit. A block whose inputs or filters were all removed
    # would still add its conv biases (a constant) in the masked network, which a pruned block
    # cannot express; and an upsampler with no channel left outputs a constant.
    for us in by_layer(scores).values():
        if all(u in pruned for u in us):
            pruned.discard(max(us, key=lambda u: scores[u]))
    return pruned


def by_layer(units) -> dict[str, list[Unit]]:
    layers: dict[str, list[Unit]] = {}
    for u in units:
        layers.setdefault(u.layer, []).append(u)
    return layers


def kept_target(n: int, kept: int, multiple: int) -> int:
    """``kept`` rounded to the nearest multiple of ``multiple`` (halves up), at least one
    multiple and at most ``n``; a layer of fewer than ``multiple`` units is left as it is."""
    if multiple <= 1 or n <= multiple:
        return kept
    return min(n, max(multiple, multiple * ((2 * kept + multiple) // (2 * multiple))))


def round_kept(scores: dict[Unit, float], pruned: set[Unit], multiple: int, priority) -> set[Unit]:
    """Adjust a selection so that every layer keeps a multiple of ``multiple`` units.

    Hardware-aware rounding (not in the paper): CPU convolution kernels work on channel blocks
    (16 for AVX-512 bf16), and a conv with 37 channels costs about as much as one with 48, so
    the MACs saved by an odd count are not saved in time (docs/reproduction-ssl.md). Within a
    layer, units the selection pruned stay first in line; ``priority(unit)`` (lower: pruned
    sooner, the criterion's own order) decides which units change side at the boundary."""
    out: set[Unit] = set()
    for us in by_layer(scores).values():
        kept = sum(u not in pruned for u in us)
        target = kept_target(len(us), kept, multiple)
        order = sorted(us, key=lambda u: (u not in pruned, priority(u)))
        out.update(order[: len(us) - target])
    return out


def part_of(u: Unit) -> str:
    """The kind of a unit: "in", "mid", "out" (a block's) or "up1", "up2", "hr"."""
    return u.layer.rsplit("_", 1)[-1] if u.layer not in ("up1", "up2", "hr") else u.layer


# The baselines rank each layer's units on their own, smallest L1 first, whatever SSL's criterion.
BASELINE_CRITERION = "min-local"


def select_l1norm(scores: dict[Unit, float], ratio: float, multiple: int = 1) -> set[Unit]:
    """L1-norm pruning baseline (Li et al., 2017): the smallest-L1 filters of each layer, except
    the convs whose outputs feed residual additions: a block's last conv (``out``) and its input
    channels (``in``) are never pruned; the first convs' filters and the upsampler are."""
    allowed = {u: v for u, v in scores.items() if part_of(u) not in ("in", "out")}
    return select(allowed, ratio, BASELINE_CRITERION, multiple=multiple)


def select_aligned(scores: dict[Unit, float], ratio: float, multiple: int = 1) -> set[Unit]:
    """Aligned pruning baseline (ASSL-style): within a branch, every block's input channels and
    last-conv filters share one kept set of trunk channels, chosen by their summed L1 scores, so
    skip and residual paths stay index-aligned; first-conv filters and the upsampler are pruned
    per layer. (The trunk keeps its width: channels outside the set pass from the first conv to the
    fusion unchanged.)"""
    by_branch: dict[str, dict[int, float]] = {}
    for u, v in scores.items():
        if part_of(u) in ("in", "out"):
            branch = u.layer.split("_", 1)[0]
            by_branch.setdefault(branch, {}).setdefault(u.index, 0.0)
            by_branch[branch][u.index] += v
    pruned = select(
        {u: v for u, v in scores.items() if part_of(u) not in ("in", "out")},
        ratio,
        BASELINE_CRITERION,
        multiple=multiple,
    )
    for branch, chan in by_branch.items():
        n = len(chan)
        keep = kept_target(n, n - round(ratio * n), multiple)
        order = sorted(chan, key=chan.__getitem__)[: n - keep]
        order = order[: n - 1]  # keep at least one channel
        for u in scores:
            if part_of(u) in ("in", "out") and u.layer.split("_", 1)[0] == branch and u.index in order:
                pruned.add(u)
    return pruned


def sir_alpha(step: int, delta: float, t1: int, tau: float) -> float:
    """alpha_gamma at ``step``: raised by ``delta`` every ``t1`` steps, capped at ``tau``."""
    return min(tau, delta * (step // t1 + 1))


def sir_loss(gammas: Gammas, pruned: set[Unit], alpha: float) -> torch.Tensor:
    """alpha * sum(gamma^2) over the selected (unimportant) units only (eq. 1)."""
    by_layer: dict[str, list[int]] = {}
    for u in pruned:
        by_layer.setdefault(u.layer, []).append(u.index)
    dev = next(gammas.parameters()).device
    total = torch.zeros((), device=dev)
    for layer, idx in by_layer.items():
        g = gammas.g[layer][torch.tensor(sorted(idx), device=dev)]
        total = total + (g * g).sum()
    return alpha * total


def _kept(layer: str, gammas: Gammas, pruned: set[Unit]) -> list[int]:
    return [i for i in range(gammas.g[layer].numel()) if Unit(layer, i) not in pruned]


@torch.no_grad()
def prune(model: BasicVSR, gammas: Gammas, pruned: set[Unit]) -> BasicVSR:
    """The physically pruned network: gammas folded into the weights, pruned units sliced away.

    Its output equals the masked dense network's (gammas of ``pruned`` set to 0) up to float
    rounding, and its config records every kept index (so it reloads from config.json alone).
    """
    cfg = model.config
    specs: dict[str, list[ResBlockSpec]] = {"forward": [], "backward": []}
    kept: dict[str, tuple[list[int], list[int], list[int]]] = {}
    for name, _ in _blocks(model):
        k_in = _kept(gammas.key(name, "in"), gammas, pruned)
        k_mid = _kept(gammas.key(name, "mid"), gammas, pruned)
        k_out = _kept(gammas.key(name, "out"), gammas, pruned)
        if not (k_in and k_mid and k_out):
            raise ValueError(f"block {name}: every layer must keep a unit (see select())")
        kept[name] = (k_in, k_mid, k_out)
        specs[name.split(".")[0]].append(ResBlockSpec(tuple(k_in), len(k_mid), tuple(k_out)))
    k_up1 = _kept("up1", gammas, pruned)
    k_up2 = _kept("up2", gammas, pruned)
    k_hr = _kept("hr", gammas, pruned)
    new_cfg = BasicVSRConfig(
        num_feat=cfg.num_feat,
        num_block=cfg.num_block,
        bidirectional=cfg.bidirectional,
        spynet=cfg.spynet,
        forward_blocks=tuple(specs["forward"]),
        backward_blocks=tuple(specs["backward"]) if cfg.bidirectional else None,
        up1_idx=tuple(k_up1),
        up2_idx=tuple(k_up2),
        hr_idx=tuple(k_hr),
    )
    small = BasicVSR(new_cfg)
    small.spynet.load_state_dict(model.spynet.state_dict())
    small.fusion.load_state_dict(model.fusion.state_dict())
    small.conv_last.weight.copy_(model.conv_last.weight[:, k_hr])  # not scaled: reads conv_hr's kept maps
    small.conv_last.bias.copy_(model.conv_last.bias)
    branches = ["forward"] + (["backward"] if cfg.bidirectional else [])
    for br in branches:
        big_t, small_t = getattr(model, f"{br}_trunk"), getattr(small, f"{br}_trunk")
        small_t.conv.load_state_dict(big_t.conv.state_dict())
    # The scaled network's weights (gammas folded in), sliced to the kept units.
    fw = gammas.folded(model)

    def copy(dst: nn.Conv2d, src: str, rows: list[int], cols: list[int] | None = None) -> None:
        w = fw[f"{src}.weight"][rows]
        dst.weight.copy_(w if cols is None else w[:, cols])
        dst.bias.copy_(fw[f"{src}.bias"][rows])

    for name, _ in _blocks(model):
        k_in, k_mid, k_out = kept[name]
        br, i = name.split(".")
        sblk = getattr(small, f"{br}_trunk").blocks[int(i)]
        copy(sblk.conv1, f"{br}_trunk.blocks.{i}.conv1", k_mid, k_in)
        copy(sblk.conv2, f"{br}_trunk.blocks.{i}.conv2", k_out, k_mid)

    def rows(groups: list[int], size: int) -> list[int]:
        return [g * size + j for g in groups for j in range(size)]

    copy(small.upconv1, "upconv1", rows(k_up1, 4))
    copy(small.upconv2, "upconv2", rows(k_up2, 4), k_up1)
    copy(small.conv_hr, "conv_hr", k_hr, k_up2)
    return small.eval()
