"""What the engine needs to know about a model, beyond its nn.Module."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import ModelError
from ._arch import family_of
from ._family import Family
from ._hub import ProgressFn
from ._io import load_pretrained
from ._weights import fetch, locate


@dataclass(frozen=True)
class ModelDescriptor:
    """A loaded model plus its contract: input (N, 3, H, W) or (N, T, 3, H, W) RGB in [0, 1]."""

    name: str
    model: nn.Module
    kind: str  # "video" (takes sequences) or "image" (takes single frames)
    scale: int
    recurrent: bool  # carries state across frames
    bidirectional: bool  # needs future frames: runs on overlapping windows, not streamed
    family: Family
    precisions: tuple[str, ...]
    # Peak inference memory per LR pixel of each frame in flight (the family's measured figure);
    # the engine tiles frames whose estimate exceeds its memory budget.
    bytes_per_pixel: int
    size_multiple: int = 1  # the model pads internally, so any size works
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def tiling(self, model: nn.Module, tile: int | None):
        """The family's in-model tiling (BasicVSR's upsampler), or a no-op context."""
        return self.family.tiled(model, tile)

    # -- step graphs: what a graph runtime compiles ----------------------------------------------
    def step_graphs(self) -> dict[str, nn.Module]:
        """The model as fixed-signature functions of plain tensors, one output frame per call,
        the recurrence driven from outside (stepping through a sequence with them gives the same
        frames as the model's own forward; tests/test_models.py):

        * image: ``frame(lr) -> sr``
        * uni: ``step(prev_lr, lr, h) -> (sr, h)``
        * bi: ``backward(next_lr, lr, h_b) -> h_b`` and ``forward(prev_lr, lr, h_f, h_b) -> (sr, h_f)``

        A sequence's first (last) frame passes itself as its neighbour and a zero state
        (``state_channels`` wide)."""
        if self.kind == "image":
            return {"frame": _Method(self.model, "forward")}
        if self.bidirectional:
            return {
                "backward": _Method(self.model, "backward_step"),
                "forward": _Method(self.model, "forward_step"),
            }
        return {"step": _Method(self.model, "step")}

    @property
    def state_channels(self) -> int:
        """Channels of a recurrent model's hidden state in its step graphs."""
        if self.family.state_channels is None:
            raise ModelError(f"{self.name}: an image model has no hidden state")
        return self.family.state_channels(self.model.config)


class _Method(nn.Module):
    """One method of a model as a module (what exporters and torch.compile take)."""

    def __init__(self, model: nn.Module, method: str) -> None:
        super().__init__()
        self.model, self.method = model, method

    def forward(self, *xs: torch.Tensor):
        return getattr(self.model, self.method)(*xs)


def describe(model: nn.Module, name: str = "custom", meta: dict[str, Any] | None = None) -> ModelDescriptor:
    fam = family_of(model)
    if fam.kind == "flow" or fam.bytes_per_pixel is None:
        raise ModelError(f"{name}: a flow network cannot upscale; pick a video or image model")
    direction = fam.direction(model.config)
    return ModelDescriptor(
        name,
        model,
        fam.kind,
        fam.scale_of(model.config),
        recurrent=direction != "none",
        bidirectional=direction == "bi",
        family=fam,
        precisions=fam.precisions,
        bytes_per_pixel=fam.bytes_per_pixel,
        meta=meta or {},
    )


def load_model(
    name_or_path: str | Path,
    scale: int | None = None,
    device: str | torch.device = "cpu",
    *,
    download: bool = True,
    on_progress: ProgressFn | None = None,
) -> ModelDescriptor:
    """Load a registered name (``"ssl-uni"``), a model folder, or a Hub repo
    (``"org/name[@revision]"``); published weights not yet on this machine are downloaded at
    their pinned revision unless ``download`` is False."""
    loc = locate(name_or_path, scale)
    if loc.needs_download and not download:
        raise ModelError(
            f"model {loc.label}: not downloaded yet; run 'vsr-upscale --download {name_or_path}'"
        )
    folder = fetch(loc, on_progress)
    model, cfg = load_pretrained(folder, device=device)
    desc = describe(model, loc.name or cfg.get("name") or Path(folder).name, cfg)
    if scale and scale != desc.scale and loc.name is None:
        raise ModelError(f"{loc.label}: this model upscales x{desc.scale}, not x{scale}")
    return desc
