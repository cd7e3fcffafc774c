"""EDSR (Lim et al., 2017) with the prune-then-distil paper's (N_c, N_l, N_b) parameterisation."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from ._family import CompressionHooks, image_family

# DIV2K mean, as in the EDSR reference code: subtracted at the input, added back at the output.
_RGB_MEAN = (0.4488, 0.4371, 0.4040)


@dataclass(frozen=True)
class EDSRConfig:
    num_feat: int = 64  # N_c: EDSR-baseline's width
    num_layer: int = 1  # N_l: conv+ReLU pairs in a block before its last conv (EDSR: 1)
    num_block: int = 16  # N_b: EDSR-baseline's depth
    res_scale: float = 1.0  # EDSR-baseline needs no residual scaling (only the 256-wide EDSR does)
    scale: int = 2  # 2, 3 or 4
    # "shuffle": EDSR's (conv c->4c + shuffle 2 per factor of 2, then conv c->3 at the output
    # size); "direct": one conv c->3*scale^2 at LR and one shuffle (ESPCN/SPAN's), far cheaper at x4
    upsampler: Literal["shuffle", "direct"] = "shuffle"


class _ResBlock(nn.Module):
    def __init__(self, c: int, num_layer: int, res_scale: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(num_layer):
            layers += [nn.Conv2d(c, c, 3, 1, 1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(c, c, 3, 1, 1))
        self.body = nn.Sequential(*layers)
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) * self.res_scale


def upsampler(c: int, scale: int) -> nn.Sequential:
    """Sub-pixel upsampler: log2(scale) x (conv c->4c, shuffle 2), or conv c->9c, shuffle 3."""
    layers: list[nn.Module] = []
    if scale & (scale - 1) == 0:
        for _ in range(int(math.log2(scale))):
            layers += [nn.Conv2d(c, 4 * c, 3, 1, 1), nn.PixelShuffle(2)]
    elif scale == 3:
        layers += [nn.Conv2d(c, 9 * c, 3, 1, 1), nn.PixelShuffle(3)]
    else:
        raise ValueError(f"scale {scale} is not supported; use 2, 3 or 4")
    return nn.Sequential(*layers)


class EDSR(nn.Module):
    """Single-image SR. Input (N, 3, H, W) RGB in [0, 1]; output (N, 3, sH, sW)."""

    def __init__(self, config: EDSRConfig | None = None) -> None:
        super().__init__()
        cfg = config or EDSRConfig()
        self.config = cfg
        c = cfg.num_feat
        self.register_buffer("mean", torch.tensor(_RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        self.head = nn.Conv2d(3, c, 3, 1, 1)
        self.body = nn.Sequential(*(_ResBlock(c, cfg.num_layer, cfg.res_scale) for _ in range(cfg.num_block)))
        self.body_end = nn.Conv2d(c, c, 3, 1, 1)
        if cfg.upsampler == "direct":
            self.upsample = nn.Sequential(nn.Conv2d(c, 3 * cfg.scale**2, 3, 1, 1), nn.PixelShuffle(cfg.scale))
            self.conv_last: nn.Module = nn.Identity()
        else:
            self.upsample = upsampler(c, cfg.scale)
            self.conv_last = nn.Conv2d(c, 3, 3, 1, 1)

    def deep_feature_modules(self) -> list[nn.Module]:
        """The deep-feature module of the prune-then-distil paper (its density d is measured here)."""
        return [self.body, self.body_end]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = self.mean.to(x.dtype)
        x = self.head(x - mean)
        x = x + self.body_end(self.body(x))
        return self.conv_last(self.upsample(x)) + mean


FAMILY = image_family(
    name="edsr",
    model_cls=EDSR,
    config_cls=EDSRConfig,
    scales=(2, 3, 4),
    bytes_per_pixel=4096,  # docs/bench-memory.json
    compression=CompressionHooks(
        pipeline="distill",
        teacher_recipe=lambda cfg: "edsr-baseline",
        default_student=lambda cfg: "edsrmini",
        compact_sizes=lambda cfg: (cfg.num_feat, cfg.num_layer, cfg.num_block),
        with_compact_sizes=lambda cfg, nc, nl, nb: dataclasses.replace(
            cfg, num_feat=nc, num_layer=nl, num_block=nb
        ),
        # Eq. (6)'s rounding that reproduces the published EDSRmini (docs/reproduction-distill.md).
        default_rounding="floor",
    ),
)
