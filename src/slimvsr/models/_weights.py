"""The registry of named weights: what the product can upscale with, and where the files are.

Each entry is a frozen record filled in here, in one list. The per-file metadata (params, MACs,
sha256, metrics with the command that measured them, data, licence) lives in the weights' own
config.json, so it travels with the files; ``WeightsInfo.meta`` exposes it.
Weights resolve, in order, from the wheel (``slimvsr/models/weights/<name>-x<scale>``) and from a
local Hugging Face Hub cache (repo ``slimvsr/<name>-x<scale>``, never fetched at run time).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ._io import CONFIG_FILE, WEIGHTS_FILE, read_config

HUB_ORG = "slimvsr"


@dataclass(frozen=True)
class WeightsEntry:
    name: str  # what users type after -m
    config_name: str  # the named configuration (see NAMED_CONFIGS) the weights were trained for
    kind: str  # "video" or "image"
    scales: tuple[int, ...]
    description: str
    default: bool = False  # the DEFAULT of its kind (one per kind)

    def folder_name(self, scale: int) -> str:
        return f"{self.name}-x{scale}"

    def repo_id(self, scale: int) -> str:
        return f"{HUB_ORG}/{self.folder_name(scale)}"


def _entries(items: list[WeightsEntry]) -> dict[str, WeightsEntry]:
    out: dict[str, WeightsEntry] = {}
    for e in items:
        if e.name in out:
            raise RuntimeError(f"duplicate weights name {e.name!r}")
        out[e.name] = e
    for kind in {e.kind for e in items}:
        defaults = [e.name for e in items if e.kind == kind and e.default]
        if len(defaults) != 1:
            raise RuntimeError(f"kind {kind!r} needs exactly one DEFAULT, has {defaults}")
    return out


WEIGHTS: dict[str, WeightsEntry] = _entries(
    [
        WeightsEntry(
            "ssl-uni",
            "basicvsr-uni",
            "video",
            (4,),
            "BasicVSR-uni pruned by SSL to 14% of its size: online, fast",
            default=True,
        ),
        WeightsEntry("ssl-bi", "basicvsr", "video", (4,), "BasicVSR pruned by SSL: bidirectional, sharper"),
        WeightsEntry("basicvsr-uni", "basicvsr-uni", "video", (4,), "BasicVSR-uni teacher (unpruned)"),
        WeightsEntry("basicvsr", "basicvsr", "video", (4,), "BasicVSR teacher (unpruned)"),
        WeightsEntry(
            "edsrmini",
            "edsrmini",
            "image",
            (2, 4),
            "EDSRmini: EDSR baseline pruned, then distilled (about 3% of its size)",
            default=True,
        ),
        WeightsEntry(
            "swinirmini", "swinirmini", "image", (2, 4), "SwinIRmini: 99K params, distilled from SwinIR-LW"
        ),
        WeightsEntry(
            "edsr-baseline", "edsr-baseline", "image", (2, 4), "EDSR baseline teacher (1.4M params)"
        ),
        WeightsEntry("swinir-lw", "swinir-lw", "image", (2, 4), "SwinIR lightweight teacher (0.9M params)"),
    ]
)


def bundled_root() -> Path:
    return Path(str(resources.files("slimvsr.models").joinpath("weights")))


def _hub_folder(repo_id: str) -> Path | None:
    """The newest snapshot of ``repo_id`` in the local Hub cache, or None when it is not cached.
    Never networks. A snapshot that is there but lacks a file is returned as it is: resolve()
    reports it as broken instead of passing it off as missing."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        # The cache location is read at call time, so HF_HUB_CACHE set after import still counts.
        path = snapshot_download(
            repo_id, local_files_only=True, cache_dir=os.environ.get("HF_HUB_CACHE") or None
        )
    except LocalEntryNotFoundError:
        return None
    return Path(path)


@dataclass(frozen=True)
class WeightsInfo:
    entry: WeightsEntry
    scale: int
    folder: Path | None  # None: not present on this machine
    source: str  # "bundled", "hub-cache", "broken" (a cache entry lacking files) or "missing"

    @property
    def present(self) -> bool:
        return self.folder is not None

    @property
    def meta(self) -> dict[str, Any]:
        return read_config(self.folder) if self.folder else {}


def resolve(name: str, scale: int | None = None) -> WeightsInfo:
    """Find the weights for ``name`` at ``scale`` (default: the entry's first scale)."""
    if name not in WEIGHTS:
        raise ModelError(
            f"unknown model {name!r}; run 'vsr-upscale --list-models' (known: {', '.join(WEIGHTS)})"
        )
    e = WEIGHTS[name]
    scale = scale or e.scales[0]
    if scale not in e.scales:
        raise ModelError(
            f"model {name!r} does not do x{scale}; it supports " + ", ".join(f"x{s}" for s in e.scales)
        )
    local = bundled_root() / e.folder_name(scale)
    if (local / WEIGHTS_FILE).is_file() and (local / CONFIG_FILE).is_file():
        return WeightsInfo(e, scale, local, "bundled")
    if os.environ.get("SLIMVSR_NO_HUB_CACHE") != "1":
        hub = _hub_folder(e.repo_id(scale))
        if hub is not None:
            if (hub / WEIGHTS_FILE).is_file() and (hub / CONFIG_FILE).is_file():
                return WeightsInfo(e, scale, hub, "hub-cache")
            return WeightsInfo(e, scale, None, "broken")
    return WeightsInfo(e, scale, None, "missing")


def default_model(kind: str) -> str:
    """The name of the DEFAULT weights of ``kind`` ("video" or "image")."""
    for e in WEIGHTS.values():
        if e.kind == kind and e.default:
            return e.name
    raise ModelError(f"no default model for {kind!r} inputs; kinds: video, image")


def list_weights() -> list[WeightsInfo]:
    """Every registered (name, scale) with where its weights are, present or not."""
    return [resolve(e.name, s) for e in WEIGHTS.values() for s in e.scales]
