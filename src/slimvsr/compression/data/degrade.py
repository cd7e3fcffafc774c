"""The papers' degradations: BI (MATLAB ``imresize`` bicubic, antialiased) and BD.

``imresize`` reproduces MATLAB exactly: Keys cubic kernel with a = -0.5, the kernel stretched by
1/scale when shrinking (antialiasing), sample positions u = x/scale + 0.5 (1 - 1/scale), and
symmetric boundary handling (the edge sample is repeated: ..., x1, x0 | x0, x1, ...). It is built
as one weight matrix per axis, so a resize is two matrix products and runs on any device/dtype.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F


def cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = x.abs()
    ax2, ax3 = ax * ax, ax * ax * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * (
        (ax > 1) & (ax <= 2)
    )


@lru_cache(maxsize=64)
def resize_matrix(in_len: int, out_len: int, scale: float) -> torch.Tensor:
    """(out_len, in_len) float64 matrix M with ``out = M @ in`` along one axis, as MATLAB does."""
    kernel_width = 4.0
    antialias = scale < 1
    if antialias:
        kernel_width /= scale
    x = torch.arange(1, out_len + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    p = math.ceil(kernel_width) + 2
    idx = left.unsqueeze(1) + torch.arange(p, dtype=torch.float64).unsqueeze(0)  # 1-based
    dist = u.unsqueeze(1) - idx
    w = scale * cubic(dist * scale) if antialias else cubic(dist)
    w = w / w.sum(dim=1, keepdim=True)
    # Symmetric boundary: 1-based index k maps into [1, in_len] by mirroring with edge repeat.
    period = 2 * in_len
    k = torch.remainder(idx - 1, period)
    k = torch.where(k >= in_len, period - 1 - k, k).long()
    m = torch.zeros(out_len, in_len, dtype=torch.float64)
    m.scatter_add_(1, k, w)
    return m


def imresize(
    x: torch.Tensor, scale: float | None = None, size: tuple[int, int] | None = None
) -> torch.Tensor:
    """MATLAB-compatible bicubic resize of (..., H, W) by ``scale`` or to ``size`` (H, W).

    Values are not clamped or rounded (MATLAB rounds only for uint8 input); callers quantise.
    """
    h, w = x.shape[-2:]
    if size is None:
        if scale is None:
            raise ValueError("give scale or size")
        size = (math.ceil(h * scale), math.ceil(w * scale))
        sh = sw = scale
    else:
        sh, sw = size[0] / h, size[1] / w
    mh = resize_matrix(h, size[0], sh).to(x.device, x.dtype)
    mw = resize_matrix(w, size[1], sw).to(x.device, x.dtype)
    return mh @ x @ mw.T


def bi_degrade(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """BI: MATLAB bicubic downscale by ``scale``. (..., H, W) -> (..., H/s, W/s), in float."""
    return imresize(hr, 1.0 / scale)


@lru_cache(maxsize=8)
def gaussian_kernel(size: int = 13, sigma: float = 1.6) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    k = torch.outer(g, g)
    return k / k.sum()


def bd_degrade(hr: torch.Tensor, scale: int = 4, sigma: float = 1.6) -> torch.Tensor:
    """BD: Gaussian blur (13x13, sigma 1.6, reflect padding) then keep every ``scale``-th pixel."""
    shape = hr.shape
    x = hr.reshape(-1, 1, *shape[-2:])
    k = gaussian_kernel(13, sigma).to(x.device, x.dtype)[None, None]
    x = F.conv2d(F.pad(x, (6, 6, 6, 6), mode="reflect"), k)
    x = x[..., ::scale, ::scale]
    return x.reshape(*shape[:-2], *x.shape[-2:])


def degrade(hr: torch.Tensor, scale: int, kind: str) -> torch.Tensor:
    if kind == "BI":
        return bi_degrade(hr, scale)
    if kind == "BD":
        return bd_degrade(hr, scale)
    raise ValueError(f"unknown degradation {kind!r}; use BI or BD")
