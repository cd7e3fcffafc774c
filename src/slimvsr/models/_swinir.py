"""SwinIR (Liang et al., 2021): residual Swin transformer blocks for image SR.

Written from the paper and the public reference structure (conv_first, RSTBs of shifted-window
transformer layers each closed by a 3x3 conv, a final LayerNorm, conv_after_body, upsampler), so
that parameter counts match the reference models. Inputs of any size are reflect-padded to a multiple
of the window and the output is cropped back.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError
from ._edsr import upsampler as _conv_upsampler
from ._family import CompressionHooks, image_family

_RGB_MEAN = (0.4488, 0.4371, 0.4040)  # DIV2K mean, as in the reference code


@dataclass(frozen=True)
class SwinIRConfig:
    embed_dim: int = 60  # SwinIR lightweight's width
    depths: tuple[int, ...] = (6, 6, 6, 6)  # transformer layers per RSTB (lightweight: 4 x 6)
    num_heads: tuple[int, ...] = (6, 6, 6, 6)  # attention heads per RSTB
    window_size: int = 8  # the reference lightweight/classical window
    mlp_ratio: float = 2.0  # lightweight uses 2 (classical 4) to save parameters
    upsampler: str = "pixelshuffledirect"  # lightweight: one conv + shuffle; or "pixelshuffle"
    scale: int = 2
    num_feat_up: int = 64  # width of the "pixelshuffle" upsampler (unused by pixelshuffledirect)


def _window_partition(x: torch.Tensor, ws: int) -> torch.Tensor:
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, ws * ws, c)


@functools.lru_cache(maxsize=64)
def _window_order(h: int, w: int, ws: int, s: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Token indices that take an (h x w) map, cyclically shifted by ``-s``, to its windows in order
    (a roll plus a window partition in one gather), and the inverse permutation, cached per size."""
    with torch.inference_mode(False), torch.no_grad():
        idx = torch.arange(h * w, device=device).view(1, h, w, 1)
        if s:
            idx = torch.roll(idx, shifts=(-s, -s), dims=(1, 2))
        order = _window_partition(idx, ws).flatten()
        inverse = torch.empty_like(order)
        inverse[order] = torch.arange(order.numel(), device=device)
        return order, inverse


class _Permute(torch.autograd.Function):
    """``x.index_select(1, order)`` for a permutation ``order``, whose gradient is again a gather (by
    the inverse permutation) rather than index_select's scatter-add. Pure data movement, so the
    result and the gradient are bit-identical to a roll and a window partition (and back)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, order: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
        ctx.inverse = inverse
        return x.index_select(1, order)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        return grad.index_select(1, ctx.inverse), None, None


# Which inference runs torch's fused attention: "fp32" (1.3-1.7x faster than the explicit form in
# fp32; in bf16 0.92-1.0x and more memory: docs/bench-swinir-attention.json), "always" or "never"
# (benchmarks/swinir_attention.py compares those two). Training always runs the explicit form.
FUSED_ATTENTION: str = "fp32"


class WindowAttention(nn.Module):
    """Multi-head self-attention inside a window, with a learned relative position bias."""

    def __init__(self, dim: int, ws: int, heads: int) -> None:
        super().__init__()
        self.dim, self.ws, self.heads = dim, ws, heads
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * ws - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij"))
        flat = coords.flatten(1)
        rel = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0) + (ws - 1)
        index = rel[..., 0] * (2 * ws - 1) + rel[..., 1]
        self.register_buffer("relative_position_index", index, persistent=False)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        bw, n, c = x.shape
        qkv = self.qkv(x).view(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # one stack in backward (indexing would zero-fill and add 3 times)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        bias = bias.view(n, n, -1).permute(2, 0, 1)  # (heads, n, n)
        fused = FUSED_ATTENTION == "always" or (FUSED_ATTENTION == "fp32" and q.dtype == torch.float32)
        if fused and not torch.is_grad_enabled():
            # Inference: torch's fused attention (softmax(q k^T * scale + bias + mask) v in blocks,
            # the (windows, heads, n, n) map never materialised whole); the bias and shift mask are
            # broadcast over the windows and images, not copied. Training keeps the explicit form
            # below (the bias table's gradient flows through the additive mask).
            am = bias.unsqueeze(0) if mask is None else bias.unsqueeze(0) + mask.unsqueeze(1)
            if mask is not None and bw > mask.shape[0]:  # several images: (images, windows, ...)
                q, k, v = (t.unflatten(0, (-1, mask.shape[0])) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=am.to(q.dtype), scale=self.scale)
            return self.proj(y.reshape(bw, self.heads, n, -1).transpose(1, 2).reshape(bw, n, c))
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if mask is None:
            attn = attn + bias.unsqueeze(0).to(attn.dtype)
        elif bw > mask.shape[0]:
            # A batch of images: position bias and shift mask summed once on the (windows, heads,
            # n, n) tensor that every image shares, then one addition to the attention map.
            nw = mask.shape[0]
            bias = (bias.unsqueeze(0) + mask.unsqueeze(1)).to(attn.dtype)
            attn = (attn.view(bw // nw, nw, self.heads, n, n) + bias).view(-1, self.heads, n, n)
        else:
            # One image: that sum would be as large as the attention map itself, so both are
            # broadcast onto the map instead (the second in place on the first's fresh result,
            # which no backward needs).
            attn = attn + bias.unsqueeze(0).to(attn.dtype)
            attn += mask.unsqueeze(1).to(attn.dtype)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(bw, n, c)
        return self.proj(x)


@functools.lru_cache(maxsize=32)
def _shift_mask(h: int, w: int, ws: int, s: int, device: torch.device) -> torch.Tensor:
    """Additive mask (windows, n, n) keeping attention inside the regions a cyclic shift by ``s``
    brings together (0 within a region, -100 across), cached per feature size (made as a normal
    tensor even under inference mode, so training can use the cached one)."""
    with torch.inference_mode(False), torch.no_grad():
        return _make_shift_mask(h, w, ws, s, device)


def _make_shift_mask(h: int, w: int, ws: int, s: int, device: torch.device) -> torch.Tensor:
    img = torch.zeros(1, h, w, 1, device=device)
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
        for wsl in (slice(0, -ws), slice(-ws, -s), slice(-s, None)):
            img[:, hs, wsl, :] = cnt
            cnt += 1
    win = _window_partition(img, ws).squeeze(-1)
    mask = win.unsqueeze(1) - win.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


class SwinLayer(nn.Module):
    """LayerNorm -> (shifted) window attention -> residual -> LayerNorm -> MLP -> residual."""

    def __init__(self, dim: int, heads: int, ws: int, shift: int, mlp_ratio: float) -> None:
        super().__init__()
        self.ws, self.shift = ws, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, ws, heads)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        h, w = hw
        b, _, c = x.shape
        ws = self.ws
        mask = _shift_mask(h, w, ws, self.shift, x.device) if self.shift else None
        # Shift and window partition as one gather of tokens, and back (one pass over the tokens
        # each way instead of roll's concatenations plus the partition's copy).
        order, inverse = _window_order(h, w, ws, self.shift, x.device)
        win = _Permute.apply(self.norm1(x), order, inverse).view(-1, ws * ws, c)
        win = self.attn(win, mask)
        x = x + _Permute.apply(win.view(b, h * w, c), inverse, order)
        return x + self.mlp(self.norm2(x))


class RSTB(nn.Module):
    """Residual Swin Transformer Block: N_l transformer layers, a 3x3 conv, a skip connection."""

    def __init__(self, dim: int, depth: int, heads: int, ws: int, mlp_ratio: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            SwinLayer(dim, heads, ws, 0 if i % 2 == 0 else ws // 2, mlp_ratio) for i in range(depth)
        )
        self.conv = nn.Conv2d(dim, dim, 3, 1, 1)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        y = x
        for layer in self.layers:
            y = layer(y, hw)
        b, _n, c = y.shape
        y = self.conv(y.transpose(1, 2).reshape(b, c, *hw))
        return x + y.flatten(2).transpose(1, 2)


def _init_weights(m: nn.Module) -> None:
    """The reference SwinIR's initialisation: linear weights N(0, 0.02) (trunc_normal_ with its
    absolute +-2 bounds), zero biases, unit LayerNorms (PyTorch's default would draw the 60-wide
    linears from U(+-0.13))."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


class SwinIR(nn.Module):
    """Single-image SR. Input (N, 3, H, W) RGB in [0, 1]; output (N, 3, sH, sW)."""

    def __init__(self, config: SwinIRConfig | None = None) -> None:
        super().__init__()
        cfg = config or SwinIRConfig()
        if len(cfg.depths) != len(cfg.num_heads):
            raise ValueError("depths and num_heads must have the same length")
        self.config = cfg
        c = cfg.embed_dim
        self.register_buffer("mean", torch.tensor(_RGB_MEAN).view(1, 3, 1, 1), persistent=False)
        self.conv_first = nn.Conv2d(3, c, 3, 1, 1)
        self.patch_norm = nn.LayerNorm(c)
        self.layers = nn.ModuleList(
            RSTB(c, d, h, cfg.window_size, cfg.mlp_ratio)
            for d, h in zip(cfg.depths, cfg.num_heads, strict=False)
        )
        self.norm = nn.LayerNorm(c)
        self.conv_after_body = nn.Conv2d(c, c, 3, 1, 1)
        s = cfg.scale
        if cfg.upsampler == "pixelshuffledirect":
            self.upsample = nn.Sequential(nn.Conv2d(c, 3 * s * s, 3, 1, 1), nn.PixelShuffle(s))
        elif cfg.upsampler == "pixelshuffle":
            nf = cfg.num_feat_up
            self.upsample = nn.Sequential(
                nn.Conv2d(c, nf, 3, 1, 1),
                nn.LeakyReLU(inplace=True),
                _conv_upsampler(nf, s),
                nn.Conv2d(nf, 3, 3, 1, 1),
            )
        else:
            raise ValueError(f"unknown upsampler {cfg.upsampler!r}")
        self.apply(_init_weights)

    def deep_feature_modules(self) -> list[nn.Module]:
        """The deep-feature module of the prune-then-distil paper (its density d is measured here)."""
        return [self.layers, self.norm, self.conv_after_body]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ws = self.config.window_size
        ph, pw = (-h) % ws, (-w) % ws
        mean = self.mean.to(x.dtype)
        x = x - mean
        if ph or pw:
            # Reflect needs pad < size; replicate covers the tiny-input case.
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        hp, wp = h + ph, w + pw
        x = self.conv_first(x)
        b, c = x.shape[:2]
        t = self.patch_norm(x.flatten(2).transpose(1, 2))
        for layer in self.layers:
            t = layer(t, (hp, wp))
        t = self.norm(t).transpose(1, 2).reshape(b, c, hp, wp)
        x = x + self.conv_after_body(t)
        s = self.config.scale
        return self.upsample(x)[..., : h * s, : w * s] + mean


def _with_compact_sizes(cfg: SwinIRConfig, nc: int, nl: int, nb: int) -> SwinIRConfig:
    """N_c, N_l, N_b -> embed_dim, depths, RSTBs. The width must split evenly into the attention
    heads: the teacher's head count is kept (SwinIRmini keeps 6) and N_c goes to the nearest
    multiple of it, at least one head's worth."""
    h = cfg.num_heads[0]
    nc = max(h, h * round(nc / h))
    return dataclasses.replace(cfg, embed_dim=nc, depths=(nl,) * nb, num_heads=(h,) * nb)


def _compact_sizes(cfg: SwinIRConfig) -> tuple[int, int, int]:
    if len(set(cfg.depths)) != 1 or len(set(cfg.num_heads)) != 1:
        raise ModelError("compact sizing (eq. 5) needs SwinIR blocks of equal depth and heads")
    return cfg.embed_dim, cfg.depths[0], len(cfg.depths)


FAMILY = image_family(
    name="swinir",
    model_cls=SwinIR,
    config_cls=SwinIRConfig,
    scales=(2, 3, 4),
    bytes_per_pixel=14336,  # docs/bench-memory.json: window attention holds the most
    compression=CompressionHooks(
        pipeline="distill",
        teacher_recipe=lambda cfg: "swinir-lw",
        default_student=lambda cfg: "swinirmini",
        compact_sizes=_compact_sizes,
        with_compact_sizes=_with_compact_sizes,
        default_rounding="round",  # reproduces the published SwinIRmini
    ),
)
