"""BasicVSR (Chan et al., 2021) and its unidirectional variant, with pruned widths.

A pruned network is expressed entirely by its config: every residual block names the trunk channels
its first conv reads (``in_idx``), its inner width (``mid``) and the trunk channels its last conv adds
onto (``out_idx``). That is the Residual Sparsity Connection of the SSL paper: the trunk and the
hidden state stay full width, the blocks are narrow. The upsampler keeps pixel-shuffle groups
(``up1_idx``, ``up2_idx``: group k is filters 4k..4k+3 of the conv before the shuffle) and
``hr_idx`` filters of ``conv_hr``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ._family import CompressionHooks, Family, attribute_set, tiled
from ._spynet import SPyNet, SPyNetConfig, flow_warp, match_format

# LR pixels on each side that a tile of the upsampler needs for its output to equal the whole
# frame's: its receptive field. Output pixel 4p+r (r = 0..3) reads, through conv_last and conv_hr
# (3x3 each at 4x), output rows 4p+r-2 .. 4p+r+2; those come out of the 2x maps 2p-1 .. 2p+2,
# which upconv2 (3x3 at 2x) computes from 2x rows 2p-2 .. 2p+3, i.e. LR rows p-1 .. p+1, which
# upconv1 (3x3 at LR; the fusion is 1x1) reads from p-2 .. p+2. The bilinear base needs p-1 .. p+1.
# So 2, and no less (tests/test_models.py checks both).
UPSAMPLER_MARGIN = 2
# LR tile side at which the upsampler runs fastest on CPU: its 4x maps (the model's largest) stay
# in the cache instead of going through memory; 0.86x / 0.80x the whole-frame time at 180x320 /
# 360x640 on the 2-core AMD EPYC, bf16 (benchmarks/model_layout.py, docs/bench-model-layout.json).
UPSAMPLER_CACHE_TILE = 128


@dataclass(frozen=True)
class ResBlockSpec:
    in_idx: tuple[int, ...]  # trunk channels the first conv reads (sorted)
    mid: int  # filters of the first conv = input channels of the last conv
    out_idx: tuple[int, ...]  # trunk channels the last conv's output is added onto (sorted)


@dataclass(frozen=True)
class BasicVSRConfig:
    num_feat: int = 64  # trunk / hidden-state width of the paper's BasicVSR
    num_block: int = 30  # residual blocks per propagation branch, as in BasicVSR
    bidirectional: bool = True  # False = BasicVSR-uni: forward branch only, causal, streamable
    spynet: SPyNetConfig = field(default_factory=SPyNetConfig)
    # None means dense; otherwise one spec per block (len == num_block).
    forward_blocks: tuple[ResBlockSpec, ...] | None = None
    backward_blocks: tuple[ResBlockSpec, ...] | None = None
    up1_idx: tuple[int, ...] | None = None  # kept pixel-shuffle groups of upconv1 (None: all)
    up2_idx: tuple[int, ...] | None = None  # kept pixel-shuffle groups of upconv2 (None: all)
    hr_idx: tuple[int, ...] | None = None  # kept filters of conv_hr (None: all)

    @property
    def scale(self) -> int:
        return 4

    def block_specs(self, branch: str) -> tuple[ResBlockSpec, ...]:
        specs = self.forward_blocks if branch == "forward" else self.backward_blocks
        if specs is None:
            full = tuple(range(self.num_feat))
            return tuple(ResBlockSpec(full, self.num_feat, full) for _ in range(self.num_block))
        if len(specs) != self.num_block:
            raise ValueError(f"{branch}_blocks has {len(specs)} specs for num_block={self.num_block}")
        return specs

    def widths(self) -> tuple[int, int, int]:
        """(upconv1 groups, upconv2 groups, conv_hr filters)."""
        n = self.num_feat
        return (
            n if self.up1_idx is None else len(self.up1_idx),
            n if self.up2_idx is None else len(self.up2_idx),
            n if self.hr_idx is None else len(self.hr_idx),
        )


class ResidualBlock(nn.Module):
    """conv3x3 -> ReLU -> conv3x3 on ``in_idx`` channels, added onto ``out_idx`` channels.

    On channels-last tensors, reading the kept channels and adding onto them are done by fixed 0/1
    1x1 convolutions (``gather``, ``scatter``): exact (one product by 1, the rest by 0), and on
    CPU several times faster than ``index_select`` / ``index_add`` there, which walk memory once
    per channel; NCHW tensors are indexed. Data movement: no MACs counted, no parameters."""

    def __init__(self, num_feat: int, spec: ResBlockSpec) -> None:
        super().__init__()
        self.num_feat = num_feat
        self.dense_in = spec.in_idx == tuple(range(num_feat))
        self.dense_out = spec.out_idx == tuple(range(num_feat))
        self.empty = spec.mid == 0 or not spec.in_idx or not spec.out_idx
        self.register_buffer("in_idx", torch.tensor(spec.in_idx, dtype=torch.long), persistent=False)
        self.register_buffer("out_idx", torch.tensor(spec.out_idx, dtype=torch.long), persistent=False)
        if not self.empty:
            self.conv1 = nn.Conv2d(len(spec.in_idx), spec.mid, 3, 1, 1)
            self.conv2 = nn.Conv2d(spec.mid, len(spec.out_idx), 3, 1, 1)
            if not self.dense_in:
                self.register_buffer("gather", _one_hot(spec.in_idx, num_feat), persistent=False)
            if not self.dense_out:
                self.register_buffer(
                    "scatter", _one_hot(spec.out_idx, num_feat).transpose(0, 1), persistent=False
                )

    def forward(self, x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
        """``x`` plus the block's residual; ``inplace`` adds it into ``x`` itself (inference:
        one pass over the trunk's maps fewer per block: 0.89x the trunk's time on CPU in
        docs/bench-model-layout.json)."""
        if self.empty:
            return x
        # NCHW (the fp32 reference path): channel planes are contiguous and indexing is cheap.
        nchw = x.is_contiguous()
        if self.dense_in:
            inp = x
        else:
            inp = x.index_select(1, self.in_idx) if nchw else F.conv2d(x, self.gather.to(x.dtype))
        out = self.conv2(F.relu(self.conv1(inp)))
        if not self.dense_out:
            if nchw:
                add = x.index_add_ if inplace else x.index_add
                return add(1, self.out_idx, out.to(x.dtype))
            out = F.conv2d(out, self.scatter.to(out.dtype))
        return x.add_(out) if inplace else x + out


def pixel_shuffle(x: torch.Tensor, r: int) -> torch.Tensor:
    """``F.pixel_shuffle`` that keeps a channels-last tensor channels-last in one copy (the
    built-in one goes through the NCHW layout: about 2x slower on CPU). Same values."""
    if not x.is_contiguous(memory_format=torch.channels_last) or x.is_contiguous():
        return F.pixel_shuffle(x, r)
    n, c, h, w = x.shape
    y = x.permute(0, 2, 3, 1).reshape(n, h, w, c // (r * r), r, r)
    return y.permute(0, 1, 4, 2, 5, 3).reshape(n, h * r, w * r, c // (r * r)).permute(0, 3, 1, 2)


def _one_hot(idx: tuple[int, ...], n: int) -> torch.Tensor:
    """(len(idx), n, 1, 1) weights of a 1x1 conv that picks channels ``idx`` out of ``n``."""
    w = torch.zeros(len(idx), n, 1, 1)
    w[torch.arange(len(idx)), torch.tensor(idx, dtype=torch.long)] = 1.0
    return w


class ConvResidualBlocks(nn.Module):
    def __init__(self, in_ch: int, num_feat: int, specs: tuple[ResBlockSpec, ...]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, num_feat, 3, 1, 1)
        self.blocks = nn.Sequential(*(ResidualBlock(num_feat, s) for s in specs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv(match_format(x, self.conv)), 0.1)
        # The trunk's maps are this module's own tensor, so without autograd (which needs the
        # out-of-place sums) each block adds its residual into them in place.
        inplace = not torch.is_grad_enabled()
        for blk in self.blocks:
            x = blk(x, inplace=inplace)
        return x


UniState = tuple[torch.Tensor, torch.Tensor]  # (last LR frame (N,3,H,W), hidden state (N,C,H,W))


class BasicVSR(nn.Module):
    """Recurrent x4 video SR. Input (N, T, 3, H, W) RGB in [0, 1]; output (N, T, 3, 4H, 4W).

    ``forward_chunk`` (unidirectional only) carries the last frame and hidden state across calls,
    so streaming a video chunk by chunk gives the same frames as one call on the whole sequence.
    """

    def __init__(self, config: BasicVSRConfig | None = None) -> None:
        super().__init__()
        cfg = config or BasicVSRConfig()
        self.config = cfg
        c = cfg.num_feat
        self.spynet = SPyNet(cfg.spynet)
        if cfg.bidirectional:
            self.backward_trunk = ConvResidualBlocks(c + 3, c, cfg.block_specs("backward"))
        self.forward_trunk = ConvResidualBlocks(c + 3, c, cfg.block_specs("forward"))
        g1, g2, hr = cfg.widths()
        self.fusion = nn.Conv2d(2 * c if cfg.bidirectional else c, c, 1)
        self.upconv1 = nn.Conv2d(c, 4 * g1, 3, 1, 1)
        self.upconv2 = nn.Conv2d(g1, 4 * g2, 3, 1, 1)
        self.conv_hr = nn.Conv2d(g2, hr, 3, 1, 1)
        self.conv_last = nn.Conv2d(hr, 3, 3, 1, 1)
        # LR tile side for the upsampler (None: whole frames); set by ``tiled_upsampling``.
        self.upsample_tile: int | None = None

    # -- building blocks ------------------------------------------------------------------
    def _flows(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        """Batched SPyNet over frame pairs: ref, supp (N, T, 3, H, W) -> (N, T, 2, H, W)."""
        n, t, ch, h, w = ref.shape
        flow = self.spynet(ref.reshape(n * t, ch, h, w), supp.reshape(n * t, ch, h, w))
        return flow.view(n, t, 2, h, w)

    def upsample(self, feat: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        """Fused features (N, C', H, W) and the LR frame (N, 3, H, W) -> SR frame (N, 3, 4H, 4W),
        in LR tiles of ``upsample_tile`` pixels when set (the same values: the margin covers the
        upsampler's receptive field)."""
        if self.upsample_tile:
            both = torch.cat((feat, lr.to(feat.dtype)), dim=1)
            nf = feat.shape[1]
            return tiled(
                lambda t: self._upsample(t[:, :nf], t[:, nf:]), both, 4, self.upsample_tile, UPSAMPLER_MARGIN
            )
        return self._upsample(feat, lr)

    def tiled_upsampling(self, tile: int | None) -> contextlib.AbstractContextManager:
        """Run the upsampler in LR tiles of ``tile`` pixels inside the block (exact)."""
        return attribute_set(self, "upsample_tile", tile)

    def _upsample(self, feat: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        # In-place activations: the HR tensors are the largest of the model, and none of the ops
        # before them needs its output for backward.
        out = F.leaky_relu(self.fusion(feat), 0.1, inplace=True)
        out = F.leaky_relu(pixel_shuffle(self.upconv1(match_format(out, self.upconv1)), 2), 0.1, inplace=True)
        out = F.leaky_relu(pixel_shuffle(self.upconv2(out), 2), 0.1, inplace=True)
        out = F.leaky_relu(self.conv_hr(out), 0.1, inplace=True)
        out = self.conv_last(out)
        base = F.interpolate(lr, scale_factor=4, mode="bilinear", align_corners=False)
        return out + base.to(out.dtype)

    # -- public API -------------------------------------------------------------------------
    def forward(
        self, lrs: torch.Tensor, *, return_hidden: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor | None]]:
        """Whole-sequence inference. With ``return_hidden`` also returns (H_F,T, H_B,0), the final
        hidden states of the forward and backward branches (None for uni), for Temporal Finetuning."""
        out, hidden = self._propagate(lrs, upsample=True)
        return (out, hidden) if return_hidden else out

    def hidden_states(self, lrs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(H_F,T, H_B,0) of ``forward(lrs, return_hidden=True)`` without the upsampler's work:
        what a Temporal Finetuning teacher needs."""
        return self._propagate(lrs, upsample=False)[1]

    def _propagate(
        self, lrs: torch.Tensor, upsample: bool
    ) -> tuple[torch.Tensor | None, tuple[torch.Tensor, torch.Tensor | None]]:
        if not self.config.bidirectional:
            out, (_, h_f) = self.forward_chunk(lrs, None, upsample=upsample)
            return out, (h_f, None)
        n, t, _, h, w = lrs.shape
        c = self.config.num_feat
        zero = lrs.new_zeros(n, c, h, w)
        # Backward branch: step i sees features of step i+1 aligned by flow i -> i+1.
        feat = zero
        back: list[torch.Tensor] = [zero] * t
        if t > 1:
            flows_b = self._flows(lrs[:, :-1], lrs[:, 1:])
            flows_f = self._flows(lrs[:, 1:], lrs[:, :-1])
        for i in range(t - 1, -1, -1):
            if i < t - 1:
                feat = flow_warp(feat, flows_b[:, i])
            feat = self.backward_trunk(torch.cat((lrs[:, i], feat), dim=1))
            back[i] = feat
        h_b0 = feat
        outs = []
        feat = zero
        for i in range(t):
            if i > 0:
                feat = flow_warp(feat, flows_f[:, i - 1])
            feat = self.forward_trunk(torch.cat((lrs[:, i], feat), dim=1))
            if upsample:
                outs.append(self.upsample(torch.cat((back[i], feat), dim=1), lrs[:, i]))
            back[i] = None  # type: ignore[call-overload]  # free as we go
        return (torch.stack(outs, dim=1) if upsample else None), (feat, h_b0)

    def forward_chunk(
        self, lrs: torch.Tensor, state: UniState | None, *, upsample: bool = True
    ) -> tuple[torch.Tensor | None, UniState]:
        """Causal streaming (uni only): frames (N, T, 3, H, W) plus the state left by the previous
        chunk -> (SR frames, new state). ``state=None`` starts a sequence. ``upsample=False``
        propagates the hidden state only (the SR frames are then None)."""
        if self.config.bidirectional:
            raise RuntimeError("forward_chunk is only defined for the unidirectional model")
        n, t, _, h, w = lrs.shape
        if state is None:
            prev_lr, feat = None, lrs.new_zeros(n, self.config.num_feat, h, w)
        else:
            prev_lr, feat = state
        if prev_lr is not None:
            prevs = torch.cat((prev_lr.unsqueeze(1), lrs[:, :-1]), dim=1)
            flows = self._flows(lrs, prevs)  # flow i: frame i -> frame i-1
        elif t > 1:
            flows = torch.cat((lrs.new_zeros(n, 1, 2, h, w), self._flows(lrs[:, 1:], lrs[:, :-1])), dim=1)
        else:
            flows = None
        outs = []
        for i in range(t):
            if flows is not None and (i > 0 or prev_lr is not None):
                feat = flow_warp(feat, flows[:, i])
            feat = self.forward_trunk(torch.cat((lrs[:, i], feat), dim=1))
            if upsample:
                outs.append(self.upsample(feat, lrs[:, i]))
        return (torch.stack(outs, dim=1) if upsample else None), (lrs[:, -1], feat)

    # -- step graphs: one frame per call, hidden state explicit ----------------------------------
    # What a graph runtime (ONNX Runtime, OpenVINO, torch.compile) compiles: fixed-shape functions
    # of plain tensors, the recurrence driven from outside. Stepping through a sequence with them
    # gives the same frames as ``forward`` / ``forward_chunk`` (tests/test_models.py). A first
    # frame passes itself as its neighbour and a zero state: warping zeros gives zeros, so the
    # flow of that pair is never used.
    def step(
        self, prev_lr: torch.Tensor, lr: torch.Tensor, feat: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Uni: (frame t-1, frame t, hidden state h_t-1) (N,3,H,W), (N,3,H,W), (N,C,H,W) ->
        (SR frame t, h_t)."""
        feat = self._propagate_step(self.forward_trunk, prev_lr, lr, feat)
        return self._upsample(feat, lr), feat

    def backward_step(self, next_lr: torch.Tensor, lr: torch.Tensor, feat: torch.Tensor) -> torch.Tensor:
        """Bidirectional, backward branch: (frame t+1, frame t, h_B,t+1) -> h_B,t."""
        return self._propagate_step(self.backward_trunk, next_lr, lr, feat)

    def forward_step(
        self, prev_lr: torch.Tensor, lr: torch.Tensor, feat: torch.Tensor, back: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Bidirectional, forward branch: (frame t-1, frame t, h_F,t-1, h_B,t) -> (SR frame t, h_F,t)."""
        feat = self._propagate_step(self.forward_trunk, prev_lr, lr, feat)
        return self._upsample(torch.cat((back, feat), dim=1), lr), feat

    def _propagate_step(
        self, trunk: nn.Module, neighbour: torch.Tensor, lr: torch.Tensor, feat: torch.Tensor
    ) -> torch.Tensor:
        feat = flow_warp(feat, self.spynet(lr, neighbour))
        return trunk(torch.cat((lr, feat), dim=1))


def _example_input(cfg: BasicVSRConfig, h: int, w: int) -> tuple[torch.Tensor, ...]:
    # Two frames: MACs are counted per steady-state output frame (SPyNet apart, as the SSL paper).
    return (torch.empty(1, 2, 3, h, w, device="meta"),)


FAMILY = Family(
    name="basicvsr",
    model_cls=BasicVSR,
    config_cls=BasicVSRConfig,
    kind="video",
    scales=(4,),
    direction=lambda cfg: "bi" if cfg.bidirectional else "uni",
    scale_of=lambda cfg: cfg.scale,
    bytes_per_pixel=5120,  # docs/bench-memory.json
    example_input=_example_input,
    frames_per_input=2,
    flow_module="spynet",
    flows_per_frame=lambda cfg: 2 if cfg.bidirectional else 1,
    tiling=lambda model, tile: model.tiled_upsampling(tile),
    cache_tile=UPSAMPLER_CACHE_TILE,
    state_channels=lambda cfg: cfg.num_feat,
    compression=CompressionHooks(
        pipeline="ssl",
        teacher_recipe=lambda cfg: "basicvsr" if cfg.bidirectional else "basicvsr-uni",
        default_student=lambda cfg: "ssl-bi" if cfg.bidirectional else "ssl-uni",
    ),
)
