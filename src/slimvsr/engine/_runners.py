"""Inference runners: turn a stream of LR frames into a stream of SR frames, chunk by chunk.

* ``UniRunner`` streams causal recurrent models exactly: the hidden state and the last frame
  carry over between chunks, so the output equals whole-sequence inference.
* ``WindowRunner`` runs bidirectional models on windows with ``margin`` extra frames on each side
  that are computed and discarded: memory stays bounded, and every kept frame sees at least
  ``margin`` frames of past and future context.
* ``ImageRunner`` runs single-image models frame by frame, tiling frames that exceed the budget.

With ``graphs`` (a backend's compiled step graphs, ``_backends.OpenVINOGraphs``) a runner drives
the model's step graphs frame by frame instead of the torch module: the same frames, the same
chunking, streaming and windows.

Each runner is fed chunks with ``push`` and returns the SR frames that are final; ``flush`` returns
the rest at the end of the stream. Frames are float tensors (T, 3, H, W) in [0, 1] on the CPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..models import ModelDescriptor, tiled

Graphs = Callable[..., tuple[torch.Tensor, ...]]  # graphs(name, *inputs) -> outputs


@dataclass(frozen=True)
class Precision:
    device: torch.device
    dtype: torch.dtype  # compute dtype: float32, bfloat16 (CPU autocast) or float16 (CUDA)
    channels_last: bool

    @property
    def name(self) -> str:
        return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)


class _Base:
    def __init__(self, desc: ModelDescriptor, prec: Precision, graphs: Graphs | None = None) -> None:
        self.desc = desc
        self.prec = prec
        self.graphs = graphs
        model = desc.model.to(prec.device).eval()
        if prec.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = model

    def _to_dev(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.prec.device, non_blocking=True)

    def _out(self, y: torch.Tensor) -> torch.Tensor:
        return y.float().clamp_(0, 1).cpu()

    def _zero_state(self, like: torch.Tensor) -> torch.Tensor:
        return like.new_zeros(1, self.desc.state_channels, *like.shape[-2:])


class UniRunner(_Base):
    """Exact streaming for causal recurrent models (BasicVSR-uni and its pruned variants)."""

    def __init__(
        self, desc: ModelDescriptor, prec: Precision, tile: int | None = None, graphs: Graphs | None = None
    ) -> None:
        super().__init__(desc, prec, graphs)
        self.state = None
        self.tile = tile

    @torch.no_grad()
    def push(self, frames: torch.Tensor) -> torch.Tensor:
        if self.graphs is not None:
            return self._out(torch.cat(self._steps(frames)))
        m = self.model
        with self.prec.autocast(), self.desc.tiling(m, self.tile):
            out, self.state = m.forward_chunk(self._to_dev(frames).unsqueeze(0), self.state)
        return self._out(out[0])

    def _steps(self, frames: torch.Tensor) -> list[torch.Tensor]:
        """``step`` frame by frame; the state is the torch path's (last LR frame, hidden state)."""
        prev, feat = self.state if self.state is not None else (None, self._zero_state(frames))
        outs = []
        for x in frames.split(1):
            y, feat = self.graphs("step", x if prev is None else prev, x, feat)
            prev = x
            outs.append(y)
        self.state = (prev, feat)
        return outs

    def flush(self) -> torch.Tensor | None:
        return None


class WindowRunner(_Base):
    """Overlapping windows for bidirectional models. ``window`` frames are kept per run,
    ``margin`` frames on each side are context that is discarded."""

    def __init__(
        self,
        desc: ModelDescriptor,
        prec: Precision,
        window: int = 16,
        margin: int = 4,
        tile: int | None = None,
        graphs: Graphs | None = None,
    ) -> None:
        super().__init__(desc, prec, graphs)
        self.window, self.margin, self.tile = window, margin, tile
        self.buf: list[torch.Tensor] = []  # frames not yet emitted, plus left context
        self.left = 0  # how many frames at the start of buf are left context only

    @torch.no_grad()
    def _run(self, frames: list[torch.Tensor], keep: slice) -> torch.Tensor:
        if self.graphs is not None:
            return self._out(torch.cat(self._steps(frames, keep)))
        x = self._to_dev(torch.stack(frames)).unsqueeze(0)
        with self.prec.autocast(), self.desc.tiling(self.model, self.tile):
            y = self.model(x)[0]
        return self._out(y[keep])

    def _steps(self, frames: list[torch.Tensor], keep: slice) -> list[torch.Tensor]:
        """The backward branch over the window, last frame first, then the forward branch."""
        xs = [f.unsqueeze(0) for f in frames]
        n = len(xs)
        feat = zero = self._zero_state(xs[0])
        back: list[torch.Tensor] = [zero] * n
        for t in range(n - 1, -1, -1):
            feat = back[t] = self.graphs("backward", xs[min(t + 1, n - 1)], xs[t], feat)[0]
        feat, outs = zero, []
        for t in range(n):
            y, feat = self.graphs("forward", xs[max(t - 1, 0)], xs[t], feat, back[t])
            if keep.start <= t < keep.stop:
                outs.append(y)
        return outs

    def push(self, frames: torch.Tensor) -> torch.Tensor | None:
        self.buf.extend(frames.unbind(0))
        outs = []
        # Emit a window once its right margin has arrived.
        while len(self.buf) - self.left >= self.window + self.margin:
            seg = self.buf[: self.left + self.window + self.margin]
            outs.append(self._run(seg, slice(self.left, self.left + self.window)))
            drop = self.left + self.window - self.margin
            self.buf = self.buf[drop:]
            self.left = self.margin
        return torch.cat(outs) if outs else None

    def flush(self) -> torch.Tensor | None:
        if len(self.buf) <= self.left:
            return None
        out = self._run(self.buf, slice(self.left, len(self.buf)))
        self.buf, self.left = [], 0
        return out


class ImageRunner(_Base):
    """Frame-by-frame single-image SR; frames larger than ``tile`` (LR pixels per side) are cut
    into tiles with ``overlap`` pixels of context on each side that is cropped away."""

    def __init__(
        self,
        desc: ModelDescriptor,
        prec: Precision,
        tile: int | None = None,
        overlap: int = 16,
        graphs: Graphs | None = None,
    ) -> None:
        super().__init__(desc, prec, graphs)
        self.tile, self.overlap = tile, overlap

    @torch.no_grad()
    def _sr(self, x: torch.Tensor) -> torch.Tensor:
        if self.graphs is not None:
            return self.graphs("frame", x)[0]
        x = self._to_dev(x)
        if self.prec.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with self.prec.autocast():
            return self.model(x)

    @torch.no_grad()
    def push(self, frames: torch.Tensor) -> torch.Tensor:
        outs = []
        for f in frames.unbind(0):
            if self.tile and max(f.shape[-2:]) > self.tile:
                outs.append(
                    self._out(tiled(self._sr, f.unsqueeze(0), self.desc.scale, self.tile, self.overlap)[0])
                )
            else:
                outs.append(self._out(self._sr(f.unsqueeze(0))[0]))
        return torch.stack(outs)

    def flush(self) -> torch.Tensor | None:
        return None


def make_runner(
    desc: ModelDescriptor,
    prec: Precision,
    *,
    window: int = 16,
    margin: int = 4,
    tile: int | None = None,
    graphs: Graphs | None = None,
) -> _Base:
    if desc.kind == "image":
        return ImageRunner(desc, prec, tile=tile, graphs=graphs)
    tile = in_model_tile(desc, prec, tile)
    if desc.bidirectional:
        return WindowRunner(desc, prec, window=window, margin=margin, tile=tile, graphs=graphs)
    return UniRunner(desc, prec, tile=tile, graphs=graphs)


def in_model_tile(desc: ModelDescriptor, prec: Precision, tile: int | None) -> int | None:
    """The LR tile of a video model's in-model tiled work (BasicVSR's upsampler): the memory
    budget's ``tile``, or on CPU the family's cache tile where that is smaller. Exact either way:
    the tiles carry the work's receptive field."""
    cache = desc.family.cache_tile if prec.device.type == "cpu" else None
    if cache is None:
        return tile
    return cache if tile is None else min(tile, cache)
