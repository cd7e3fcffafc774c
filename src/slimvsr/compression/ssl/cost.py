"""What a pruned BasicVSR costs in time on this CPU: SSL's cost model.

SSL's ratio counts units, and every unit counts the same: a channel of a trunk block (a 3x3 conv
at LR) and a filter of ``conv_hr`` (a 3x3 conv at 4x LR, 16x the pixels) are worth one each. So the
paper's selection removes MACs where the scores are smallest, and the upsampler, about half of a
pruned model's time, is barely pruned. With ``SSLConfig.budget = "time"`` the ratio is a share of
the prunable convolutions' measured time instead (``select_by_time``).

The model: each prunable conv's time per frame as a function of its kept input and output widths,
``t(ci, co)``, the bilinear interpolation of four timings of the dense model's own conv shape at
the corners ``ci, co in {k, full}`` (``k`` = 16, the channel block the CPU kernels compute in;
pixel-shuffle convs in groups of 4 filters), at the LR size the model is profiled at, in bf16 with
channels-last maps (the engine's CPU path). A conv's time is close to bilinear in its widths (its
work is ci x co per pixel, plus per-channel memory traffic), and unlike one slope per unit it does
not count a channel twice when both sides of a conv shrink. The convs and the sides a unit cuts:

  ``in``   its block's conv1, one input channel (LR)
  ``mid``  its block's conv1, one filter, and conv2, one input channel (LR)
  ``out``  its block's conv2, one filter (LR)
  ``up1``  upconv1, one group of 4 filters (LR), and upconv2, one input channel (2x)
  ``up2``  upconv2, one group (2x), and conv_hr, one input channel (4x)
  ``hr``   conv_hr, one filter (4x), and conv_last, one input channel (4x)
"""

from __future__ import annotations

import heapq
import os
import statistics
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ...engine import cpu_name
from ...models import BasicVSR
from .selection import Unit, block_names, by_layer, keep_one_per_layer, part_of, round_kept


@dataclass(frozen=True)
class ConvCost:
    """Measured ms of one conv shape at the corners of its width range (``lo``/``hi``: the kept
    input (ci) and output (co) widths, in the units the selection counts)."""

    lo: tuple[int, int]  # (ci, co) at their smallest
    hi: tuple[int, int]  # (ci, co) dense
    ms: tuple[tuple[float, float], tuple[float, float]]  # [ci lo/hi][co lo/hi]

    def at(self, ci: float, co: float) -> float:
        """Bilinear in the widths between the corners (extrapolated linearly outside them)."""
        u = _frac(ci, self.lo[0], self.hi[0])
        v = _frac(co, self.lo[1], self.hi[1])
        (a, b), (c, d) = self.ms
        return a * (1 - u) * (1 - v) + b * (1 - u) * v + c * u * (1 - v) + d * u * v


def _frac(x: float, lo: int, hi: int) -> float:
    return 1.0 if hi == lo else (x - lo) / (hi - lo)


@dataclass(frozen=True)
class CostModel:
    """The time model of a BasicVSR's prunable convs, and where it was measured."""

    trunk: ConvCost  # every block's conv1 and conv2 (num_feat -> num_feat at LR)
    upconv1: ConvCost
    upconv2: ConvCost
    conv_hr: ConvCost
    conv_last: ConvCost
    blocks: tuple[str, ...]  # selection.block_names of the model
    num_feat: int
    size: tuple[int, int]  # LR (H, W)
    precision: str
    machine: str

    def widths(self, pruned: Iterable[Unit]) -> dict[str, list[int]]:
        """(ci, co) of every prunable conv once ``pruned`` are gone (upconvs in groups)."""
        c = self.num_feat
        w = {f"{b}.conv{i}": [c, c] for b in self.blocks for i in (1, 2)}
        w.update({"upconv1": [c, c], "upconv2": [c, c], "conv_hr": [c, c], "conv_last": [c, 3]})
        for u in pruned:
            for conv, side in sides(u):
                w[conv][side] -= 1
        return w

    def conv_ms(self, conv: str) -> ConvCost:
        return self.trunk if "." in conv else getattr(self, conv)

    def predict(self, pruned: Iterable[Unit] = ()) -> float:
        """ms per frame of the prunable convs with ``pruned`` removed (dense: no argument)."""
        return sum(self.conv_ms(k).at(*ci_co) for k, ci_co in self.widths(pruned).items())

    def marginal(self, unit: Unit, widths: dict[str, list[int]]) -> float:
        """ms one more ``unit`` saves at the current ``widths``."""
        saved = 0.0
        for conv, side in sides(unit):
            ci, co = widths[conv]
            cost = self.conv_ms(conv)
            fewer = (ci - 1, co) if side == 0 else (ci, co - 1)
            saved += cost.at(ci, co) - cost.at(*fewer)
        return max(saved, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CostModel:
        def conv(x: dict[str, Any]) -> ConvCost:
            return ConvCost(tuple(x["lo"]), tuple(x["hi"]), tuple(tuple(r) for r in x["ms"]))  # type: ignore[arg-type]

        names = ("trunk", "upconv1", "upconv2", "conv_hr", "conv_last")
        rest = {k: v for k, v in d.items() if k not in names}
        return cls(
            **{k: conv(d[k]) for k in names},
            **{**rest, "blocks": tuple(rest["blocks"]), "size": tuple(rest["size"])},
        )


def sides(unit: Unit) -> list[tuple[str, int]]:
    """The (conv, side) pairs a unit cuts: side 0 its input width, 1 its output width."""
    part = part_of(unit)
    if part in ("in", "mid", "out"):
        block = unit.layer.rsplit("_", 1)[0].replace("_", ".")
        return {
            "in": [(f"{block}.conv1", 0)],
            "mid": [(f"{block}.conv1", 1), (f"{block}.conv2", 0)],
            "out": [(f"{block}.conv2", 1)],
        }[part]
    return {
        "up1": [("upconv1", 1), ("upconv2", 0)],
        "up2": [("upconv2", 1), ("conv_hr", 0)],
        "hr": [("conv_hr", 1), ("conv_last", 0)],
    }[part]


def _time_conv(ci: int, co: int, h: int, w: int, rounds: int, bf16: bool) -> float:
    conv = nn.Conv2d(ci, co, 3, padding=1).eval().to(memory_format=torch.channels_last)
    x = torch.rand(1, ci, h, w).contiguous(memory_format=torch.channels_last)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        x = x.to(torch.bfloat16 if bf16 else torch.float32)
        conv(x)
        ts = []
        for _ in range(rounds):
            t = time.perf_counter()
            conv(x)
            ts.append(time.perf_counter() - t)
    return 1000 * statistics.median(ts)


def measure_cost_model(
    model: BasicVSR, size: tuple[int, int] = (180, 320), precision: str = "bf16", rounds: int = 5
) -> CostModel:
    """Time the dense ``model``'s prunable conv shapes at LR ``size`` (16 timings)."""
    if precision not in ("bf16", "fp32"):
        raise ValueError(f"precision must be bf16 or fp32, not {precision!r}")
    c = model.config.num_feat
    k = 16 if c > 16 else max(1, c // 4)
    h, w = size
    bf16 = precision == "bf16"

    def grid(scale: int, g_in: int, g_out: int, fixed_in: int | None = None, fixed_out: int | None = None):
        """A ConvCost over kept widths k..c on each side that is prunable; a fixed side has one
        width. ``g_in``/``g_out``: channels per counted unit (4 for pixel-shuffle groups)."""
        cis = (fixed_in, fixed_in) if fixed_in else (k, c)
        cos = (fixed_out, fixed_out) if fixed_out else (k, c)
        seen: dict[tuple[int, int], float] = {}
        for ci in cis:
            for co in cos:
                if (ci, co) not in seen:
                    seen[ci, co] = _time_conv(ci * g_in, co * g_out, h * scale, w * scale, rounds, bf16)
        ms = tuple(tuple(seen[ci, co] for co in cos) for ci in cis)
        return ConvCost((cis[0], cos[0]), (cis[1], cos[1]), ms)  # type: ignore[arg-type]

    threads = torch.get_num_threads()
    return CostModel(
        trunk=grid(1, 1, 1),
        upconv1=grid(1, 1, 4, fixed_in=c),
        upconv2=grid(2, 1, 4),
        conv_hr=grid(4, 1, 1),
        conv_last=grid(4, 1, 1, fixed_out=3),
        blocks=block_names(model),
        num_feat=c,
        size=(h, w),
        precision=precision,
        machine=f"{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} ({threads} threads)",
    )


def select_by_time(scores: dict[Unit, float], costs: CostModel, ratio: float, multiple: int = 1) -> set[Unit]:
    """The units to prune so that the cost model's time of the prunable convs falls by ``ratio``:
    greedily, the unit with the smallest L1 score per ms it saves at the widths left so far
    (Min + Global by score per ms), each layer keeping at least one unit; then the rounding of
    ``select`` (which may move the time a little either way).

    A unit's saving only shrinks as other units go (bilinear times), so its score per ms only
    grows: a lazily re-scored heap gives the exact greedy order."""
    widths = costs.widths(())
    now = costs.predict()
    target = (1 - ratio) * now

    def priority(u: Unit) -> float:
        return scores[u] / max(costs.marginal(u, widths), 1e-9)

    heap = [(priority(u), i, u) for i, u in enumerate(scores)]
    heapq.heapify(heap)
    left = {layer: len(us) for layer, us in by_layer(scores).items()}
    pruned: set[Unit] = set()
    while heap and now > target:
        _, i, u = heapq.heappop(heap)
        fresh = priority(u)
        if heap and fresh > heap[0][0] + 1e-12:  # its saving shrank: back in line
            heapq.heappush(heap, (fresh, i, u))
            continue
        if left[u.layer] == 1:  # a layer's last unit stays
            continue
        now -= costs.marginal(u, widths)
        for conv, side in sides(u):
            widths[conv][side] -= 1
        left[u.layer] -= 1
        pruned.add(u)
    if multiple > 1:
        dense = costs.widths(())
        order = {u: scores[u] / max(costs.marginal(u, dense), 1e-9) for u in scores}
        pruned = round_kept(scores, pruned, multiple, order.__getitem__)
    return keep_one_per_layer(scores, pruned)
