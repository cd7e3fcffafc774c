"""What a model family is: the one place where each family's facts live.

Each family file (``_spynet.py``, ``_basicvsr.py``, ``_edsr.py``, ``_swinir.py``) ends with its
``FAMILY``: the network and its config class, what kind of model it is (video, image or flow),
its recurrence, scales and precisions, its measured memory per pixel, how to profile and tile
it, and the hooks the compression side uses (which pipeline compresses it, the teacher recipe,
the default student name, how the compact sizes of prune-then-distil map onto its config).
The engine, the profiler and the compression pipelines ask the family; none of them tests the
model's class. ``register_family`` (``_arch.py``) adds one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

Kind = Literal["video", "image", "flow"]
Direction = Literal["none", "uni", "bi"]
PrecisionName = Literal["fp32", "bf16", "fp16"]


@dataclass(frozen=True)
class CompressionHooks:
    """How the compression side treats a family (data only: models/ never imports compression)."""

    pipeline: Literal["ssl", "distill"]  # SSL (BasicVSR) or prune-then-distil (EDSR, SwinIR)
    # The named configuration whose training recipe the teacher of this config used (and the
    # compression stages reuse): e.g. "basicvsr" for a bidirectional BasicVSR.
    teacher_recipe: Callable[[Any], str]
    # The name a compressed model of this teacher config gets by default: "ssl-uni", "edsrmini".
    default_student: Callable[[Any], str]
    # Prune-then-distil: the (N_c, N_l, N_b) of a config, and the config with new compact sizes.
    compact_sizes: Callable[[Any], tuple[int, int, int]] | None = None
    with_compact_sizes: Callable[[Any, int, int, int], Any] | None = None
    default_rounding: Literal["round", "floor", "ceil"] = "round"
    # Narrowing a trained model of the family to a narrower config of itself (a student that starts
    # from its teacher's weights): its prunable channel groups, each a list of (parameter,
    # dimension) that a kept channel indexes; each group's width in a config; and the narrower
    # model holding the kept channels {group: indices}. None: students start from scratch.
    channel_groups: Callable[[nn.Module], dict[str, list[tuple[str, int]]]] | None = None
    group_widths: Callable[[Any], dict[str, int]] | None = None
    slice_channels: Callable[[nn.Module, dict[str, torch.Tensor]], nn.Module] | None = None


@dataclass(frozen=True)
class Family:
    name: str  # the "architecture" of config.json
    model_cls: type[nn.Module]
    config_cls: type
    kind: Kind
    scales: tuple[int, ...]  # upscaling factors it can be built for (() for flow)
    direction: Callable[[Any], Direction]  # "none" (single image), "uni" (causal), "bi"
    scale_of: Callable[[Any], int]
    # Peak inference memory per LR pixel of a frame in flight (the larger of fp32 and bf16,
    # rounded up), measured by benchmarks/measure_memory.py (docs/bench-memory.json); None for
    # a flow network, which the engine never runs on its own.
    bytes_per_pixel: int | None
    precisions: tuple[PrecisionName, ...] = ("fp32", "bf16", "fp16")
    # The LR (H, W) that MACs are quoted at in the model cards and tables (the papers' sizes:
    # 180x320 for x4 video, a 720p output for images).
    profile_size: Callable[[Any], tuple[int, int]] = lambda cfg: (180, 320)
    # Profiling: the forward arguments for one LR input of (H, W) on the meta device, and how many
    # output frames one such call makes (MACs are per output frame).
    example_input: Callable[[Any, int, int], tuple[torch.Tensor, ...]] = lambda cfg, h, w: (
        torch.empty(1, 3, h, w, device="meta"),
    )
    frames_per_input: int = 1
    # A flow sub-network counted apart (BasicVSR's "spynet"), and how many flows a frame needs.
    flow_module: str | None = None
    flows_per_frame: Callable[[Any], int] = lambda cfg: 0
    # Work that the engine may cut into LR tiles inside the model (BasicVSR's upsampler): a
    # context manager factory (model, tile) -> context. None: the engine tiles whole frames.
    tiling: Callable[[nn.Module, int], contextlib.AbstractContextManager] | None = None
    # The LR tile side at which that in-model tiled work runs fastest on CPU (its maps stay in the
    # cache), measured; the engine tiles at it on CPU even when memory does not ask for tiles.
    # None: no such tile (or no in-model tiling).
    cache_tile: int | None = None
    # Recurrent families: the hidden state's channels that the step graphs carry (``step``;
    # ``backward_step`` / ``forward_step`` when bidirectional), so a graph runtime can start one.
    state_channels: Callable[[Any], int] | None = None
    compression: CompressionHooks | None = None

    def __post_init__(self) -> None:
        if self.cache_tile is not None and self.tiling is None:
            raise ValueError(f"family {self.name}: cache_tile needs in-model tiling")
        if self.kind == "video" and self.state_channels is None:
            raise ValueError(f"family {self.name}: a video family states its step graphs' state_channels")

    def tiled(self, model: nn.Module, tile: int | None) -> contextlib.AbstractContextManager:
        """The family's in-model tiling for ``tile`` LR pixels, or nothing to do."""
        if not tile or self.tiling is None:
            return contextlib.nullcontext()
        return self.tiling(model, tile)


def _720p_output(cfg: Any) -> tuple[int, int]:
    return (720 // cfg.scale, 1280 // cfg.scale)


def image_family(**fields: Any) -> Family:
    """A single-image SR family: no recurrence, the config's ``scale``, MACs quoted per 720p
    output (the papers' convention); ``fields`` give the rest (name, classes, scales, memory,
    compression hooks)."""
    fields = {
        "kind": "image",
        "direction": lambda cfg: "none",
        "scale_of": lambda cfg: cfg.scale,
        "profile_size": _720p_output,
        **fields,
    }
    return Family(**fields)


def tiled(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, scale: int, tile: int, overlap: int):
    """Apply the SR function ``fn`` to (N, C, H, W) ``x`` in tiles of at most ``tile`` pixels a
    side whose ``overlap`` borders are computed and cropped. Exact when ``overlap`` covers ``fn``'s
    receptive field; otherwise the seams are only approximately invisible. Each side is cut into
    equal parts (180 rows in tiles of 128: two of 90, not 128 and a thin 52), so no tile is mostly
    border."""
    n, _c, h, w = x.shape
    th, tw = _even(h, tile), _even(w, tile)
    out = None
    for y0 in range(0, h, th):
        for x0 in range(0, w, tw):
            y1, x1 = min(y0 + th, h), min(x0 + tw, w)
            ya, xa = max(0, y0 - overlap), max(0, x0 - overlap)
            yb, xb = min(h, y1 + overlap), min(w, x1 + overlap)
            y = fn(x[..., ya:yb, xa:xb])
            if out is None:
                out = y.new_zeros(n, y.shape[1], h * scale, w * scale)
            out[..., y0 * scale : y1 * scale, x0 * scale : x1 * scale] = y[
                ..., (y0 - ya) * scale : (y1 - ya) * scale, (x0 - xa) * scale : (x1 - xa) * scale
            ]
    return out


def _even(size: int, tile: int) -> int:
    """The side of the equal parts, at most ``tile``, that ``size`` is cut into."""
    parts = -(-size // tile)
    return -(-size // parts)


@contextlib.contextmanager
def attribute_set(obj: Any, name: str, value: Any) -> Iterator[None]:
    """Set ``obj.name`` for the duration of the block (models shared between jobs stay clean)."""
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)
