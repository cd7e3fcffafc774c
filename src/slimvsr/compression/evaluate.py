"""Evaluation: PSNR/SSIM-Y of SR models (with bicubic as a baseline row) and SPyNet flow quality.

Inputs may be the prepared corpus (its validation split), a folder of HR images (DIV2K style), a
folder of frame-sequence folders (REDS / Vimeo-90K style), or a folder of videos. HR frames are
degraded with BI or BD, super-resolved in fp32 by default (the reference path), quantised to 8 bits
and scored on the Y channel with a border of ``scale`` pixels cropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..models import family_of, profile_model, profile_size
from ..models._family import attribute_set
from .data.degrade import degrade, imresize
from .data.pools import PhotoPool, load_rgb
from .metrics import psnr_y, ssim_y, to_uint8

# How a video model may use the other frames, for the ablation that shows it does: "full" (as
# trained), "per-frame" (each frame a sequence of its own: zero hidden state, no flow), "no-flow"
# (the hidden state carried from frame to frame without motion compensation: zero flow).
Temporal = Literal["full", "per-frame", "no-flow"]
TEMPORAL: tuple[str, ...] = get_args(Temporal)

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_EXTS = {".mp4", ".mkv", ".mov", ".webm", ".avi"}


@dataclass
class Item:
    name: str
    frames: torch.Tensor  # HR (T, 3, H, W) in [0, 1]
    video: bool


@dataclass
class EvalResult:
    model: str
    degradation: str
    scale: int
    psnr_y: float
    ssim_y: float
    bicubic_psnr_y: float
    bicubic_ssim_y: float
    params: int
    macs: int
    seconds_per_frame: float
    per_item: dict[str, dict[str, float]] = field(default_factory=dict)
    data: str = ""
    video: bool = True
    max_frames: int | None = 16
    precision: str = "fp32"  # what the model ran in: "fp32" or "bf16" (autocast, channels-last)
    temporal: str = "full"  # a video model's use of the other frames (``Temporal``)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def split(self) -> str:
        """What was scored, in words: the clips' leading frames, or whole images."""
        if not self.video:
            return "validation split (docs/data.md), full images"
        frames = f"first {self.max_frames} frames" if self.max_frames else "all frames"
        return f"validation split (docs/data.md), {frames} per clip"

    def record(self, command: str) -> dict[str, Any]:
        """The ``metrics`` entry of a model's config.json: what was measured, on what, and how."""
        return {
            "val": {"psnr_y": self.psnr_y, "ssim_y": self.ssim_y},
            "bicubic": {"psnr_y": self.bicubic_psnr_y, "ssim_y": self.bicubic_ssim_y},
            "per_item": self.per_item,
            "precision": self.precision,
            "temporal": self.temporal,
            "degradation": self.degradation,
            "data": f"{self.data}: {self.split()}",
            "command": command,
        }


def _read_video(path: Path, max_frames: int | None) -> torch.Tensor:
    """HR frames of a video file through the engine's own decoder (the source's colour matrix,
    range and bit depth), so ``vsr-compress eval`` scores the pixels ``vsr-upscale`` sees."""
    import itertools

    from ..engine import decode_frames, probe

    frames = [a for _, a in itertools.islice(decode_frames(probe(path)), max_frames)]
    a = np.stack(frames)
    scale = 65535.0 if a.dtype == np.uint16 else 255.0
    return torch.from_numpy(a.astype(np.float32) / scale).permute(0, 3, 1, 2)


def _read_seq(folder: Path, max_frames: int | None) -> torch.Tensor:
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTS)[:max_frames]
    return torch.from_numpy(np.stack([load_rgb(f) for f in files])).permute(0, 3, 1, 2)


def load_items(root: Path, kind: str, max_frames: int | None = 16) -> list[Item]:
    """HR evaluation items for ``kind`` ("video" or "image") from any supported layout."""
    root = Path(root)
    if (root / "manifest.json").is_file():  # the prepared corpus: its validation split
        root = root / ("video" if kind == "video" else "images") / "val"
    if not root.is_dir():
        raise InputError(f"{root}: not a folder of images, frame folders or videos")
    items = []
    for p in sorted(root.iterdir()):
        if p.is_dir():
            if any(f.suffix.lower() in IMAGE_EXTS for f in p.iterdir()):
                items.append(Item(p.name, _read_seq(p, max_frames), True))
        elif p.suffix.lower() in VIDEO_EXTS:
            items.append(Item(p.stem, _read_video(p, max_frames), True))
        elif p.suffix.lower() in IMAGE_EXTS:
            items.append(Item(p.stem, torch.from_numpy(load_rgb(p)).permute(2, 0, 1)[None], False))
    if not items:
        raise InputError(f"{root}: no images, frame folders or videos found")
    return items


class ZeroFlow(nn.Module):
    """A flow network that reports no motion: (ref, supp) (N, 3, H, W) -> zeros (N, 2, H, W)."""

    def forward(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        n, _, h, w = ref.shape
        return ref.new_zeros(n, 2, h, w)


def _run_video(model: nn.Module, lr: torch.Tensor, temporal: str) -> torch.Tensor:
    """SR frames (T, 3, sH, sW) of the LR clip (T, 3, H, W) under the ``temporal`` ablation."""
    if temporal == "per-frame":
        return torch.cat([model(f[None, None])[0] for f in lr])
    if temporal == "no-flow":
        flow = family_of(model).flow_module
        if flow is None:
            raise InputError(f"{family_of(model).name} has no flow network to replace (--temporal no-flow)")
        with attribute_set(model, flow, ZeroFlow()):
            return model(lr.unsqueeze(0))[0]
    return model(lr.unsqueeze(0))[0]


def _crop_to_scale(x: torch.Tensor, s: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    return x[..., : h - h % s, : w - w % s]


@torch.no_grad()
def evaluate(
    model: nn.Module,
    name: str,
    data: Path,
    *,
    scale: int,
    degradation: str = "BI",
    precision: str = "fp32",
    max_frames: int | None = 16,
    count: bool = True,
    kind: str | None = None,
    temporal: Temporal = "full",
    items: str | None = None,
) -> EvalResult:
    """Score ``model`` on ``data``; video models get sequences, image models frames.

    ``temporal`` (video models) scores the same network with less of the other frames: each frame
    alone ("per-frame") or without motion compensation ("no-flow"); see ``Temporal``. ``items``
    ("video" or "image") picks what is scored when it is not what the model is for: an image
    model on the validation clips, frame by frame, as a user would run it on a video.

    ``count=False`` skips params/MACs (left 0), for a model outside slimvsr's registry, e.g. a peer
    network run through another runtime and wrapped as a module; such a model also says its
    ``kind`` ("video" or "image"), which a registered model's family knows."""
    is_video = (kind or family_of(model).kind) == "video"
    if temporal not in TEMPORAL:
        raise InputError(f"temporal {temporal!r}: one of {', '.join(TEMPORAL)}")
    if temporal != "full" and not is_video:
        raise InputError(f"{name} is an image model: --temporal {temporal} applies to video models")
    if items == "image" and is_video:
        raise InputError(f"{name} is a video model: it scores clips, not photos")
    on_clips = (items or ("video" if is_video else "image")) == "video"
    scored = load_items(data, "video" if on_clips else "image", max_frames)
    model = model.eval()
    cl = precision == "bf16"
    if cl:
        model = model.to(memory_format=torch.channels_last)
    ps, ss, bps, bss, per = [], [], [], [], {}
    t_model, n_frames = 0.0, 0
    for it in scored:
        hr = _crop_to_scale(it.frames, scale)
        lr = torch.round(degrade(hr, scale, degradation).clamp(0, 1) * 255) / 255
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cl):
            if is_video:
                sr = _run_video(model, lr, temporal)
            else:
                sr = torch.cat([model(f[None]) for f in lr])
        t_model += time.perf_counter() - t0
        n_frames += len(hr)
        bic = imresize(lr, float(scale))
        p_i, s_i, bp_i, bs_i = [], [], [], []
        for a, b, c in zip(sr.float().clamp(0, 1), hr, bic.clamp(0, 1), strict=True):
            a8, b8, c8 = to_uint8(a), to_uint8(b), to_uint8(c)
            p_i.append(psnr_y(a8, b8, scale))
            s_i.append(ssim_y(a8, b8, scale))
            bp_i.append(psnr_y(c8, b8, scale))
            bs_i.append(ssim_y(c8, b8, scale))
        per[it.name] = {
            "psnr_y": float(np.mean(p_i)),
            "ssim_y": float(np.mean(s_i)),
            "bicubic_psnr_y": float(np.mean(bp_i)),
            "frames": len(p_i),
        }
        ps.append(np.mean(p_i))
        ss.append(np.mean(s_i))
        bps.append(np.mean(bp_i))
        bss.append(np.mean(bs_i))
    params, macs = 0, 0
    if count:
        size = profile_size(model)
        prof = profile_model(model, size)
        params, macs = prof.params, prof.macs
    return EvalResult(
        model=name,
        degradation=degradation,
        scale=scale,
        psnr_y=float(np.mean(ps)),
        ssim_y=float(np.mean(ss)),
        bicubic_psnr_y=float(np.mean(bps)),
        bicubic_ssim_y=float(np.mean(bss)),
        params=params,
        macs=macs,
        seconds_per_frame=t_model / max(n_frames, 1),
        per_item=per,
        data=str(data),
        video=on_clips,
        max_frames=max_frames,
        precision=precision,
        temporal=temporal,
    )


def format_table(results: list[EvalResult]) -> str:
    lines = [
        f"{'model':<22} {'deg':<3} {'x':<2} {'PSNR-Y':>7} {'SSIM-Y':>7} {'params':>9} "
        f"{'GMACs':>8} {'s/frame':>8}"
    ]
    seen = set()
    for r in results:
        key = (r.degradation, r.scale, r.data)
        if key not in seen:
            seen.add(key)
            lines.append(
                f"{'bicubic':<22} {r.degradation:<3} {r.scale:<2} {r.bicubic_psnr_y:7.2f} "
                f"{r.bicubic_ssim_y:7.4f} {'-':>9} {'-':>8} {'-':>8}"
            )
        label = r.model if r.temporal == "full" else f"{r.model} ({r.temporal})"
        lines.append(
            f"{label:<22} {r.degradation:<3} {r.scale:<2} {r.psnr_y:7.2f} {r.ssim_y:7.4f} "
            f"{r.params / 1e6:8.3f}M {r.macs / 1e9:8.1f} {r.seconds_per_frame:8.3f}"
        )
    return "\n".join(lines)


# -- SPyNet --------------------------------------------------------------------------------
@torch.no_grad()
def evaluate_flow(
    spynet: nn.Module,
    data: Path,
    *,
    pairs: int = 64,
    size: int = 128,
    video_scale: int = 4,
    max_frames: int = 16,
) -> dict[str, Any]:
    """End-point error on held-out synthetic pairs with exact flow, and on the real validation
    clips (at the LR size BasicVSR sees, BI x``video_scale``) the warping error (mean absolute
    difference, 0-255 scale) of SPyNet against no motion compensation and OpenCV's DIS flow."""
    import cv2

    from ..models import flow_warp
    from .data._synth import MotionConfig
    from .data.pools import synthetic_pair

    spynet = spynet.eval()
    rng = np.random.default_rng(2024)
    pool = PhotoPool(Path(data), "val")
    epe, epe0 = [], []
    for _ in range(pairs):
        ref_a, supp_a, flow = synthetic_pair(rng, pool, size, MotionConfig(max_speed=10.0))
        ref = torch.from_numpy(ref_a).permute(2, 0, 1)[None]
        supp = torch.from_numpy(supp_a).permute(2, 0, 1)[None]
        pred = spynet(ref, supp)
        gt = torch.from_numpy(flow)[None]
        epe.append(float(torch.linalg.vector_norm(pred - gt, dim=1).mean()))
        epe0.append(float(torch.linalg.vector_norm(gt, dim=1).mean()))
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    warp = {"spynet": [], "none": [], "dis": []}
    t_spy, t_dis, n = 0.0, 0.0, 0
    for it in load_items(Path(data), "video", max_frames):
        lr = (
            torch.round(degrade(_crop_to_scale(it.frames, video_scale), video_scale, "BI").clamp(0, 1) * 255)
            / 255
        )
        for t in range(1, len(lr)):
            cur, prev = lr[t : t + 1], lr[t - 1 : t]
            t0 = time.perf_counter()
            f = spynet(cur, prev)
            t_spy += time.perf_counter() - t0
            g = lambda x: cv2.cvtColor(to_uint8(x[0]), cv2.COLOR_RGB2GRAY)  # noqa: E731
            t0 = time.perf_counter()
            fd = dis.calc(g(cur), g(prev), None)
            t_dis += time.perf_counter() - t0
            fd = torch.from_numpy(fd).permute(2, 0, 1)[None]
            m = 4  # ignore a border where the flow points outside the frame
            for key, flow in (("spynet", f), ("dis", fd)):
                w = flow_warp(prev, flow, padding_mode="border")
                warp[key].append(float((w - cur).abs()[..., m:-m, m:-m].mean() * 255))
            warp["none"].append(float((prev - cur).abs()[..., m:-m, m:-m].mean() * 255))
            n += 1
    return {
        "synthetic_pairs": pairs,
        "synthetic_size": size,
        "epe": float(np.mean(epe)),
        "epe_zero_flow": float(np.mean(epe0)),
        "real_pairs": n,
        "real_lr_scale": video_scale,
        "warp_error_spynet": float(np.mean(warp["spynet"])),
        "warp_error_dis": float(np.mean(warp["dis"])),
        "warp_error_none": float(np.mean(warp["none"])),
        "ms_per_pair_spynet": 1000 * t_spy / max(n, 1),
        "ms_per_pair_dis": 1000 * t_dis / max(n, 1),
    }
