"""Super-resolution training tasks: video clips (synthetic motion + real video) and photos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data._synth import MotionConfig, render_clip
from ..data.degrade import degrade
from ..data.pools import PhotoPool, load_clips
from ..losses import charbonnier
from ..metrics import psnr_y, ssim_y, to_uint8
from .task import ForwardingTask, model_device


def quantise(x: torch.Tensor) -> torch.Tensor:
    """Round to 8-bit levels, as LR frames stored as PNG would be."""
    return torch.round(x.clamp(0, 1) * 255.0) / 255.0


def _augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flips and transpose of (..., H, W, C) arrays: the 8 dihedral variants."""
    if rng.random() < 0.5:
        x = x[..., :, ::-1, :]
    if rng.random() < 0.5:
        x = x[..., ::-1, :, :]
    if rng.random() < 0.5:
        x = np.swapaxes(x, -3, -2)
    return np.ascontiguousarray(x)


def sr_metrics(sr: torch.Tensor, hr: torch.Tensor, scale: int) -> tuple[float, float]:
    """Mean PSNR-Y / SSIM-Y over a batch of frames (N, 3, H, W) in [0, 1]."""
    ps, ss = [], []
    for a, b in zip(sr, hr, strict=False):
        a8, b8 = to_uint8(a), to_uint8(b)
        ps.append(psnr_y(a8, b8, scale))
        ss.append(ssim_y(a8, b8, scale))
    return float(np.mean(ps)), float(np.mean(ss))


def validate_pairs(
    model: nn.Module, pairs: list[tuple[torch.Tensor, torch.Tensor]], scale: int, video: bool
) -> dict[str, float]:
    """Mean PSNR-Y / SSIM-Y over (HR, LR) frame stacks (T, 3, H, W): a video model gets each stack
    as one sequence, an image model as a batch; on the model's device, scored on the CPU."""
    ps, ss = [], []
    dev = model_device(model)
    for hr, lr in pairs:
        lr = lr.to(dev)
        sr = model(lr.unsqueeze(0))[0] if video else model(lr)
        p, s = sr_metrics(sr.float().clamp(0, 1).cpu(), hr, scale)
        ps.append(p)
        ss.append(s)
    return {"psnr_y": float(np.mean(ps)), "ssim_y": float(np.mean(ss))}


class VideoSRTask:
    """Clips of ``frames`` HR frames (patch*scale square): half rendered from photos with synthetic
    camera motion, half cropped from real video; degraded with BI/BD. Loss: Charbonnier."""

    def __init__(self, cfg: Any, val_frames: int = 16) -> None:
        self.cfg = cfg
        root = Path(cfg.data)
        self.pool = PhotoPool(root, "train")
        self.clips = load_clips(root, "train")
        self.motion = MotionConfig(max_speed=6.0 * cfg.scale)  # px/frame at HR
        self.val = []
        for clip in load_clips(root, "val"):
            hr = torch.from_numpy(clip[:val_frames]).permute(0, 3, 1, 2).float() / 255.0
            h, w = hr.shape[-2:]
            hr = hr[..., : h - h % cfg.scale, : w - w % cfg.scale]
            self.val.append((hr, quantise(degrade(hr, cfg.scale, cfg.degradation))))

    def _clip(self, rng: np.random.Generator) -> np.ndarray:
        t, s = self.cfg.frames, self.cfg.patch * self.cfg.scale
        if rng.random() < 0.5:
            src = self.pool.crop(rng, 3 * s, max_down=1.5)
            fg = self.pool.crop(rng, s, max_down=1.5)
            frames, _ = render_clip(
                rng, src, t, (s, s), self.motion, fg_photo=fg, speed_scale=rng.uniform(0.1, 1.0)
            )
            return frames
        clip = self.clips[rng.integers(len(self.clips))]
        start = rng.integers(0, max(1, len(clip) - t + 1))
        seq = clip[start : start + t]
        if len(seq) < t:  # a short scene: play it back and forth
            seq = np.concatenate([seq, seq[::-1]] * t)[:t]
        y = rng.integers(0, seq.shape[1] - s + 1)
        x = rng.integers(0, seq.shape[2] - s + 1)
        return seq[:, y : y + s, x : x + s].astype(np.float32) / 255.0

    def batch(self, step: int, rank: int, world: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.cfg.seed, step])
        per = self.cfg.batch // world
        clips = []
        for i in range(self.cfg.batch):
            c = self._augment_clip(self._clip(rng), rng)
            if rank * per <= i < (rank + 1) * per:
                clips.append(c)
        hr = torch.from_numpy(np.stack(clips)).permute(0, 1, 4, 2, 3).contiguous()
        lr = quantise(degrade(hr, self.cfg.scale, self.cfg.degradation))
        return {"lr": lr, "hr": hr}

    @staticmethod
    def _augment_clip(c: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        c = _augment(c, rng)
        return np.ascontiguousarray(c[::-1]) if rng.random() < 0.5 else c  # temporal reversal

    def to(self, device: torch.device) -> None:
        pass  # nothing of its own runs on the device (batches are moved by the loop)

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
        return charbonnier(model(b["lr"]), b["hr"])

    def validate(self, model: nn.Module) -> dict[str, float]:
        return validate_pairs(model, self.val, self.cfg.scale, video=True)


class ImageSRTask:
    """Photo patches (patch*scale HR), BI/BD degraded, dihedral augmentation; Charbonnier loss."""

    def __init__(self, cfg: Any, val_crop: int = 384) -> None:
        self.cfg = cfg
        root = Path(cfg.data)
        self.pool = PhotoPool(root, "train")
        val = PhotoPool(root, "val")
        s = cfg.scale
        self.val = []
        for p in val.photos:
            h, w = min(p.shape[0], val_crop), min(p.shape[1], val_crop)
            h, w = h - h % s, w - w % s
            y, x = (p.shape[0] - h) // 2, (p.shape[1] - w) // 2
            hr = torch.from_numpy(np.ascontiguousarray(p[y : y + h, x : x + w])).permute(2, 0, 1)
            self.val.append((hr, quantise(degrade(hr, s, cfg.degradation))))

    def batch(self, step: int, rank: int, world: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.cfg.seed, step])
        per = self.cfg.batch // world
        s = self.cfg.patch * self.cfg.scale
        crops = [
            _augment(self.pool.crop(rng, s, max_down=1.5, exact=True), rng) for _ in range(self.cfg.batch)
        ][rank * per : (rank + 1) * per]
        hr = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
        return {"lr": quantise(degrade(hr, self.cfg.scale, self.cfg.degradation)), "hr": hr}

    def to(self, device: torch.device) -> None:
        pass  # nothing of its own runs on the device (batches are moved by the loop)

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
        return charbonnier(model(b["lr"].to(memory_format=torch.channels_last)), b["hr"])

    def validate(self, model: nn.Module) -> dict[str, float]:
        pairs = [(hr[None], lr[None]) for hr, lr in self.val]
        return validate_pairs(model, pairs, self.cfg.scale, video=False)


class FrameTeacherTask(ForwardingTask):
    """The ground truth and an image model's output on each LR frame, both as targets:
    Charbonnier(out, HR) + w * Charbonnier(out, teacher(LR)), ``w`` falling linearly from
    ``cfg.teacher_weight`` to 0 over the run, so the run ends on the ground truth alone.

    Why: the teachers trained here are below SPAN (docs/quality.md) after CPU-hours where the
    papers spent GPU-days; SPAN's outputs carry what it learnt from far more data, and a target
    that leaves out the detail the LR frame cannot determine gives steadier gradients than the
    HR frame alone (the distillation gains of docs/reproduction-distill.md). The weight falls to 0
    so that a video model may end above its per-frame teacher with what the other frames add."""

    def __init__(self, base: VideoSRTask | ImageSRTask, teacher: nn.Module, cfg: Any) -> None:
        super().__init__(base)
        self.teacher = teacher.eval().requires_grad_(False)
        self.video = isinstance(base, VideoSRTask)
        self.weight, self.steps = cfg.teacher_weight, cfg.steps

    @classmethod
    def from_folder(cls, base: VideoSRTask | ImageSRTask, cfg: Any) -> FrameTeacherTask:
        from ...errors import ConfigError
        from ...models import family_of, load_pretrained

        teacher, meta = load_pretrained(cfg.teacher)
        kind, scale = family_of(teacher).kind, getattr(teacher.config, "scale", None)
        if kind != "image" or scale != cfg.scale:
            raise ConfigError(
                f"--teacher {cfg.teacher}: a x{cfg.scale} image model teaches frame by frame; "
                f"this is a x{scale} {kind} model ({meta.get('name')})"
            )
        return cls(base, teacher, cfg)

    def weight_at(self, step: int) -> float:
        return self.weight * max(0.0, 1.0 - step / max(1, self.steps))

    def batch(self, step: int, rank: int, world: int) -> dict[str, torch.Tensor]:
        b = self.base.batch(step, rank, world)
        b["step"] = torch.tensor(step)
        return b

    def to(self, device: torch.device) -> None:
        super().to(device)
        self.teacher.to(device)

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
        lr, hr = b["lr"], b["hr"]
        out = model(lr) if self.video else model(lr.to(memory_format=torch.channels_last))
        loss = charbonnier(out, hr)
        w = self.weight_at(int(b["step"]))
        if w > 0:
            frames = lr.flatten(0, 1) if self.video else lr
            with torch.no_grad():
                t = self.teacher(frames.to(memory_format=torch.channels_last)).clamp(0, 1)
            loss = loss + w * charbonnier(out, t.reshape(out.shape).to(out.dtype))
        return loss
