"""SPyNet optical flow (Ranjan & Black, 2017) as used by BasicVSR, and bilinear ``flow_warp``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._family import Family

# ImageNet statistics: SPyNet was designed for ImageNet-normalised input, and BasicVSR keeps that.
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class SPyNetConfig:
    levels: int = 6  # 6-level pyramid: inputs are resized to a multiple of 2**(levels-1) = 32
    kernel_size: int = 7  # 7x7 convs, as in the original SPyNet basic module
    # The finest levels not run (a cheaper flow): the flow of the finest level run is upsampled
    # to full size. The finest level costs about 3/4 of the network, so 1 is about 4x cheaper;
    # the network has a basic module for each level run, so weights of the full network load
    # without their last ``skip_finest`` modules.
    skip_finest: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.skip_finest < self.levels:
            raise ValueError(
                f"skip_finest {self.skip_finest}: 0 to {self.levels - 1} for {self.levels} levels"
            )


def match_format(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """Give ``x`` the memory format of ``conv``'s weight. On CPU a channels_last conv fed an NCHW
    tensor reorders it on every call (about 3x slower in bf16), and concatenations and
    grid_sample return NCHW, so recurrent models re-format at each step."""
    if conv.weight.is_contiguous(memory_format=torch.channels_last) and conv.kernel_size != (1, 1):
        return x.contiguous(memory_format=torch.channels_last)
    return x


def flow_warp(x: torch.Tensor, flow: torch.Tensor, padding_mode: str = "zeros") -> torch.Tensor:
    """Warp ``x`` (N, C, H, W) by ``flow`` (N, 2, H, W) in pixels (channel 0 = dx, 1 = dy).

    Output pixel (i, j) samples ``x`` at (i + dy, j + dx) bilinearly, so a flow from frame t to
    frame t-1 aligns frame t-1 (or its features) to frame t.
    """
    _n, _, h, w = x.shape
    # Coordinates are built in float32 whatever the input precision: in bf16 a pixel coordinate
    # near 300 is only representable to +-1 pixel, which would ruin the alignment.
    flow = flow.float()
    gy, gx = torch.meshgrid(
        torch.arange(h, device=x.device, dtype=torch.float32),
        torch.arange(w, device=x.device, dtype=torch.float32),
        indexing="ij",
    )
    vx = gx + flow[:, 0]
    vy = gy + flow[:, 1]
    # align_corners=True maps -1/+1 to the centres of the border pixels, matching integer coords.
    vx = 2.0 * vx / max(w - 1, 1) - 1.0
    vy = 2.0 * vy / max(h - 1, 1) - 1.0
    grid = torch.stack((vx, vy), dim=3)
    out = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)
    return out.to(x.dtype)


class _BasicModule(nn.Module):
    def __init__(self, k: int) -> None:
        super().__init__()
        p = k // 2
        chans = (8, 32, 64, 32, 16, 2)
        layers: list[nn.Module] = []
        for i in range(5):
            layers.append(nn.Conv2d(chans[i], chans[i + 1], k, padding=p))
            if i < 4:
                layers.append(nn.ReLU(inplace=True))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(match_format(x, self.net[0]))


class SPyNet(nn.Module):
    """Coarse-to-fine flow network.

    ``forward(ref, supp)`` takes two RGB batches (N, 3, H, W) in [0, 1] and returns the flow
    (N, 2, H, W) from ``ref`` to ``supp``: ``flow_warp(supp, flow)`` is aligned to ``ref``.
    Inputs of any size are resized to a multiple of 32 and the flow is resized back.
    """

    def __init__(self, config: SPyNetConfig | None = None) -> None:
        super().__init__()
        self.config = config or SPyNetConfig()
        run = self.config.levels - self.config.skip_finest
        self.basic_module = nn.ModuleList(_BasicModule(self.config.kernel_size) for _ in range(run))
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def _pyramid_flow(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        refs = [(ref - self.mean) / self.std]
        supps = [(supp - self.mean) / self.std]
        for _ in range(self.config.levels - 1):
            refs.insert(0, F.avg_pool2d(refs[0], 2, 2, count_include_pad=False))
            supps.insert(0, F.avg_pool2d(supps[0], 2, 2, count_include_pad=False))
        run = len(self.basic_module)  # the finest levels beyond it are not run
        refs, supps = refs[:run], supps[:run]
        n, _, h, w = refs[0].shape
        flow = refs[0].new_zeros(n, 2, h, w)  # the upsampled zero flow of the reference design
        for level, module in enumerate(self.basic_module):
            if level == 0:
                up = flow
            else:
                up = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
                # Odd sizes at coarse levels (e.g. 96 -> 3): grow the upsampled flow by replication.
                dh, dw = refs[level].shape[2] - up.shape[2], refs[level].shape[3] - up.shape[3]
                if dh or dw:
                    up = F.pad(up, [0, dw, 0, dh], mode="replicate")
            warped = flow_warp(supps[level], up, padding_mode="border")
            flow = up + module(torch.cat((refs[level], warped, up), dim=1))
        if self.config.skip_finest:
            f = 2**self.config.skip_finest
            flow = F.interpolate(flow, scale_factor=f, mode="bilinear", align_corners=True) * float(f)
        return flow

    def forward(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        h, w = ref.shape[-2:]
        m = 2 ** (self.config.levels - 1)
        hp, wp = math.ceil(h / m) * m, math.ceil(w / m) * m
        if (hp, wp) != (h, w):
            ref = F.interpolate(ref, size=(hp, wp), mode="bilinear", align_corners=False)
            supp = F.interpolate(supp, size=(hp, wp), mode="bilinear", align_corners=False)
        flow = self._pyramid_flow(ref, supp)
        if (hp, wp) != (h, w):
            flow = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=False)
            scale = flow.new_tensor([w / wp, h / hp]).view(1, 2, 1, 1)
            flow = flow * scale
        return flow


FAMILY = Family(
    name="spynet",
    model_cls=SPyNet,
    config_cls=SPyNetConfig,
    kind="flow",
    scales=(),
    direction=lambda cfg: "none",
    scale_of=lambda cfg: 1,
    bytes_per_pixel=None,
    example_input=lambda cfg, h, w: (torch.empty(1, 3, h, w, device="meta"),) * 2,
    precisions=("fp32", "bf16"),
)
