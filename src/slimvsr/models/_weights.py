"""The registry of named weights: what the product can upscale with, and where the files are.

Each entry is a frozen record filled in here, in one list. The per-file metadata (params, MACs,
sha256, metrics with the command that measured them, data, licence) lives in the weights' own
config.json, so it travels with the files; ``WeightsInfo.meta`` exposes it.
Weights resolve, in order, from the wheel (``slimvsr/models/weights/<name>-x<scale>``), from the
local Hugging Face Hub cache at the revision the registry pins (``weights/published.json``,
written by ``vsr-compress publish``), and else are downloadable at that revision. An entry not
yet published resolves bundled-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ._hub import HubRef, ProgressFn, cached, download, offline, parse_repo_ref, read_pins, verify
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
            "BasicVSR-uni pruned by SSL (36% of its parameters, 3.3x its speed): online",
            default=True,
        ),
        WeightsEntry(
            "ssl-bi",
            "basicvsr",
            "video",
            (4,),
            "BasicVSR pruned by SSL (30% of its parameters): bidirectional",
        ),
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
            "swinirmini",
            "swinirmini",
            "image",
            (2, 4),
            "SwinIRmini (99K / 107K params): distilled from SPAN",
        ),
        WeightsEntry(
            "edsr-s32d",
            "edsr-s32d",
            "image",
            (4,),
            "EDSR student (172K params, SPAN's upsampler) distilled from SPAN: above edsrmini x4, faster",
        ),
        WeightsEntry(
            "edsr-baseline", "edsr-baseline", "image", (2, 4), "EDSR baseline teacher (1.4M params)"
        ),
        WeightsEntry("swinir-lw", "swinir-lw", "image", (2, 4), "SwinIR lightweight teacher (0.9M params)"),
        WeightsEntry(
            "span",
            "span",
            "image",
            (2, 4),
            "SPAN (NTIRE 2024, 0.4M params): the best free peer, converted from its ncnn files; Apache-2.0",
        ),
    ]
)


def bundled_root() -> Path:
    return Path(str(resources.files("slimvsr.models").joinpath("weights")))


@dataclass(frozen=True)
class WeightsInfo:
    entry: WeightsEntry
    scale: int
    folder: Path | None  # None: not present on this machine
    # "bundled", "hub-cache", "partial" (a download that stopped: resumed, never loaded),
    # "downloadable" (published, not fetched yet) or "missing" (not published, not bundled)
    source: str
    hub: HubRef | None = None  # the pinned repo and revision, once published

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
        return WeightsInfo(e, scale, local, "bundled", read_pins().get(e.folder_name(scale)))
    pin = read_pins().get(e.folder_name(scale))
    if pin is None:
        return WeightsInfo(e, scale, None, "missing")
    folder, lacking = cached(pin)
    if folder is not None and not lacking:
        return WeightsInfo(e, scale, folder, "hub-cache", pin)
    return WeightsInfo(e, scale, None, "partial" if folder is not None else "downloadable", pin)


SPEED_PRECISIONS = ("bf16", "fp32")


def measured_speeds(precision: str | None = None) -> dict[str, Any]:
    """The model-only speeds measured for the bundled models (``weights/speed-PRECISION.json``,
    written by benchmarks/registry_speed.py on a CPU that runs the models in that precision, with
    the machine named in the record): those of ``precision`` (the one this CPU runs: bf16 with
    native bf16 units, else fp32), else the other measurement, whose record says its precision;
    {} when there is none."""
    import json

    if precision is not None and precision not in SPEED_PRECISIONS:
        raise ValueError(f"precision must be one of {SPEED_PRECISIONS}, not {precision!r}")
    order = sorted(SPEED_PRECISIONS, key=lambda p: p != precision)
    root = resources.files("slimvsr.models").joinpath("weights")
    for p in order:
        try:
            return json.loads(Path(str(root.joinpath(f"speed-{p}.json"))).read_text())
        except (OSError, ValueError):
            continue
    return {}


def measured_ms(speeds: dict[str, Any], info: WeightsInfo) -> float | None:
    """The model-only ms per 720p output frame that ``speeds`` (a ``measured_speeds`` record)
    holds for ``info``'s weights, or None: not measured, or measured on another architecture size
    (the record's MACs differ from the weights')."""
    entry = (speeds.get("models") or {}).get(info.entry.folder_name(info.scale))
    if not entry or ("macs" in entry and entry["macs"] != info.meta.get("macs")):
        return None
    return entry["ms_per_frame"]


def default_model(kind: str) -> str:
    """The name of the DEFAULT weights of ``kind`` ("video" or "image")."""
    for e in WEIGHTS.values():
        if e.kind == kind and e.default:
            return e.name
    raise ModelError(f"no default model for {kind!r} inputs; kinds: video, image")


def list_weights() -> list[WeightsInfo]:
    """Every registered (name, scale) with where its weights are, present or not."""
    return [resolve(e.name, s) for e in WEIGHTS.values() for s in e.scales]


@dataclass(frozen=True)
class Located:
    """Where the weights ``-m`` names are: a model folder, a registered (name, scale), or a Hub
    repo at a revision; ``folder`` is None until they are on this machine."""

    label: str  # how messages name it: "ssl-uni x4", "org/name@main", "runs/x/model"
    folder: Path | None
    source: str  # "folder", or a WeightsInfo source
    hub: HubRef | None = None
    name: str | None = None  # the registered name, when it is one

    @property
    def needs_download(self) -> bool:
        return self.folder is None and self.hub is not None


def locate(name_or_path: str | Path, scale: int | None = None) -> Located:
    """Resolve what ``-m`` names, in order: a registered name, a model folder, ``ORG/NAME[@REV]``
    on the Hub. Never networks; a Hub repo on a branch is re-checked online by fetch()."""
    text = str(name_or_path)
    if text in WEIGHTS:
        info = resolve(text, scale)
        label = f"{text} x{info.scale}"
        return Located(label, info.folder, info.source, info.hub, text)
    p = Path(name_or_path)
    if p.is_dir():
        return Located(text, p, "folder")
    ref = parse_repo_ref(text)
    if ref is None or p.exists():
        raise ModelError(
            f"unknown model {text!r}: not a registered name ({', '.join(WEIGHTS)}), not a model folder, "
            "not a Hub repo ORG/NAME[@REVISION]; run 'vsr-upscale --list-models'"
        )
    folder, lacking = cached(ref)
    if folder is not None and not lacking and (ref.pinned or offline()):
        return Located(ref.label, folder, "hub-cache", ref)
    return Located(ref.label, None, "partial" if folder is not None else "downloadable", ref)


def fetch(loc: Located, on_progress: ProgressFn | None = None) -> Path:
    """The folder of ``loc``'s weights, downloading them at the pinned revision if needed.
    Files from the Hub cache are verified (the pins' sha256, config.json's) on every use."""
    if loc.folder is not None:
        if loc.hub is not None and loc.source == "hub-cache":
            verify(loc.folder, loc.hub)
        return loc.folder
    if loc.hub is None:
        raise ModelError(
            f"model {loc.label}: weights are not installed and not published (not bundled, no pinned "
            "Hub revision); run 'vsr-upscale --list-models' to see the available ones"
        )
    return download(loc.hub, loc.name or loc.hub.repo_id, on_progress)
