"""The SPyNet training task: exact synthetic flow, real video with DIS labels and warping error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from ..data._synth import MotionConfig, render_clip
from ..data.degrade import bi_degrade
from ..data.pools import PhotoPool, load_clips, synthetic_pair
from ..losses import epe, photometric_error, smoothness
from .task import model_device

# Batches are made in a background thread while the model trains on all cores: OpenCV's own
# thread pool would only compete with it.
cv2.setNumThreads(1)


class SpyNetTask:
    """Flow with three kinds of supervision. Each training pair is one of:

    * synthetic motion at photo scale, with exact flow (``1 - real_p - lr_p`` of the pairs);
    * synthetic motion rendered at 4x and BI-degraded to LR, the domain BasicVSR feeds SPyNet,
      with the exact flow averaged over each 4x4 block and divided by 4 (``lr_p``);
    * consecutive frames of the real training video (randomly reduced by 1-2.5x), labelled with
      OpenCV's DIS flow as pseudo ground truth, for real motion, noise and compression (``real_p``).

    Exact flow is scored by end-point error. For real pairs the recipe chooses (``flow_loss``):
    ``"epe"`` (the DIS label alone, the first CPU recipe) or ``"photometric"``: the warping error
    itself (Charbonnier, 0-255 scale) plus edge-aware smoothness, with the DIS label kept as a
    weak prior (``pseudo_w``), and a share ``real_lr_p`` of the real pairs taken at the LR scale
    BasicVSR sees (frames reduced 3-4x with BI), in a second group of ``lr_patch`` pixels.
    Validation reports the synthetic EPE and the warping error on the real validation clips at LR
    x4 (the number ``eval-flow`` reports), against no motion compensation.
    """

    real_p = 0.35
    lr_p = 0.3
    real_lr_p = 0.5
    pseudo_w = 0.1
    smooth_w = 2.0

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.photometric = cfg.flow_loss == "photometric"
        self.pool = PhotoPool(Path(cfg.data), "train")
        self.val_pool = PhotoPool(Path(cfg.data), "val")
        self.clips = load_clips(Path(cfg.data), "train")
        self.motion = MotionConfig(max_speed=10.0)
        self._dis = None
        self._val = self._pairs(np.random.default_rng(12345), self.val_pool, 32, synthetic_only=True)
        self._val_real = self._real_val() if self.photometric else None

    def _real_val(self) -> dict[str, torch.Tensor] | None:
        """Consecutive LR x4 frame pairs of the real validation clips (first 16 frames each)."""
        from ..evaluate import _crop_to_scale, degrade, load_items

        pairs = []
        for it in load_items(Path(self.cfg.data) / "video" / "val", "video", 16):
            lr = torch.round(degrade(_crop_to_scale(it.frames, 4), 4, "BI").clamp(0, 1) * 255) / 255
            pairs.append((lr[1:], lr[:-1]))
        if not pairs:
            return None
        none = [photometric_error(c, p, torch.zeros_like(c[:, :2]), charbonnier=False) for c, p in pairs]
        return {"pairs": pairs, "none": float(torch.cat(none).mean())}

    def _synthetic(self, rng: np.random.Generator, pool: PhotoPool, p: int, lr: bool):
        if lr:
            s = 4 * p
            src = pool.crop(rng, 2 * s)
            fg = pool.crop(rng, s // 2)
            frames, fl = render_clip(
                rng,
                src,
                2,
                (s, s),
                MotionConfig(max_speed=24.0),
                fg_photo=fg,
                speed_scale=rng.uniform(0.1, 1.0),
            )
            x = bi_degrade(torch.from_numpy(frames).permute(0, 3, 1, 2), 4).clamp(0, 1)
            x = torch.round(x * 255) / 255
            flow = fl[1].reshape(2, p, 4, p, 4).mean(axis=(2, 4)) / 4.0
            return x[1].permute(1, 2, 0).numpy(), x[0].permute(1, 2, 0).numpy(), flow
        return synthetic_pair(rng, pool, p, self.motion)

    def _real(self, rng: np.random.Generator, p: int, lr_scale: bool = False):
        if self._dis is None:
            self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        clip = self.clips[rng.integers(len(self.clips))]
        t = int(rng.integers(1, len(clip)))
        cur, prev = clip[t], clip[t - 1]
        if rng.random() < 0.5:
            cur, prev = prev, cur
        h, w = cur.shape[:2]
        if lr_scale:  # the LR domain: BI-degraded by 3-4x, rounded to 8 bits
            f = rng.uniform(3.0, 4.0)
            size = (max(p, round(w / f)), max(p, round(h / f)))
            x = torch.from_numpy(np.stack([cur, prev])).permute(0, 3, 1, 2).float() / 255
            x = torch.nn.functional.interpolate(x, size=(size[1] * 4, size[0] * 4), mode="area")
            x = (torch.round(bi_degrade(x, 4).clamp(0, 1) * 255)).to(torch.uint8).permute(0, 2, 3, 1)
            cur, prev = np.ascontiguousarray(x[0].numpy()), np.ascontiguousarray(x[1].numpy())
        else:
            f = rng.uniform(1.0, 2.5)
            size = (max(p, int(w / f)), max(p, int(h / f)))
            cur = cv2.resize(cur, size, interpolation=cv2.INTER_AREA)
            prev = cv2.resize(prev, size, interpolation=cv2.INTER_AREA)
        y = int(rng.integers(0, cur.shape[0] - p + 1))
        x = int(rng.integers(0, cur.shape[1] - p + 1))
        cur, prev = cur[y : y + p, x : x + p], prev[y : y + p, x : x + p]
        g = lambda a: cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_RGB2GRAY)  # noqa: E731
        flow = self._dis.calc(g(cur), g(prev), None).transpose(2, 0, 1)
        return cur.astype(np.float32) / 255, prev.astype(np.float32) / 255, flow

    def _pairs(
        self, rng: np.random.Generator, pool: PhotoPool, n: int, synthetic_only: bool = False, p: int = 0
    ) -> dict[str, torch.Tensor]:
        p = p or self.cfg.patch
        refs, supps, flows, real = [], [], [], []
        for _ in range(n):
            u = 1.0 if synthetic_only else rng.random()
            if u < self.real_p and self.clips:
                ref, supp, fl = self._real(rng, p)
            else:
                ref, supp, fl = self._synthetic(rng, pool, p, lr=u < self.real_p + self.lr_p)
                noise = rng.normal(0, rng.uniform(0, 0.01), (2, *ref.shape)).astype(np.float32)
                ref, supp = ref + noise[0], supp + noise[1]
            refs.append(ref)
            supps.append(supp)
            flows.append(fl)
            real.append(u < self.real_p and bool(self.clips))
        t = lambda a: torch.from_numpy(np.stack(a)).float()  # noqa: E731
        return {
            "ref": t(refs).permute(0, 3, 1, 2).clamp(0, 1),
            "supp": t(supps).permute(0, 3, 1, 2).clamp(0, 1),
            "flow": t(flows),
            "real": torch.tensor(real),
        }

    def _real_lr_pairs(self, rng: np.random.Generator, n: int) -> dict[str, torch.Tensor]:
        p = self.cfg.lr_patch
        items = [self._real(rng, p, lr_scale=True) for _ in range(n)]
        t = lambda k: torch.from_numpy(np.stack([it[k] for it in items])).float()  # noqa: E731
        return {
            "ref": t(0).permute(0, 3, 1, 2),
            "supp": t(1).permute(0, 3, 1, 2),
            "flow": t(2),
            "real": torch.ones(n, dtype=torch.bool),
        }

    def batch(self, step: int, rank: int, world: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.cfg.seed, step])
        per = self.cfg.batch // world
        if not self.photometric:
            b = self._pairs(rng, self.pool, self.cfg.batch)
            return {k: v[rank * per : (rank + 1) * per] for k, v in b.items()}
        # Photometric recipe: the real pairs are split between photo scale (in the main group) and
        # the LR scale (a second group of smaller patches).
        n_lr = round(self.cfg.batch * self.real_p * self.real_lr_p) if self.clips else 0
        n_lr -= n_lr % world
        main = self._pairs(rng, self.pool, self.cfg.batch - n_lr)
        out = {k: v[rank * len(v) // world : (rank + 1) * len(v) // world] for k, v in main.items()}
        if n_lr:
            lr = self._real_lr_pairs(rng, n_lr)
            q = n_lr // world
            out.update({f"lr_{k}": v[rank * q : (rank + 1) * q] for k, v in lr.items()})
        return out

    def _group_loss(self, model: nn.Module, b: dict[str, torch.Tensor], prefix: str = "") -> torch.Tensor:
        cl = torch.channels_last
        ref, supp, gt, real = (b[prefix + k] for k in ("ref", "supp", "flow", "real"))
        pred = model(ref.to(memory_format=cl), supp.to(memory_format=cl))
        err = torch.linalg.vector_norm(pred.float() - gt, dim=1).mean(dim=(1, 2))
        if not self.photometric:
            return err.mean()
        r = real.float()
        photo = photometric_error(ref, supp, pred)
        smooth = smoothness(pred, ref)
        per = (1 - r) * err + r * (photo + self.smooth_w * smooth + self.pseudo_w * err)
        return per.sum()

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
        if not self.photometric:
            return self._group_loss(model, b)
        total = self._group_loss(model, b)
        n = len(b["real"])
        if "lr_ref" in b:
            total = total + self._group_loss(model, b, "lr_")
            n += len(b["lr_real"])
        return total / n

    def to(self, device: torch.device) -> None:
        pass  # nothing of its own runs on the device (batches are moved by the loop)

    def validate(self, model: nn.Module) -> dict[str, float]:
        v, dev = self._val, model_device(model)
        pred = model(v["ref"].to(dev), v["supp"].to(dev)).float().cpu()
        zero = torch.linalg.vector_norm(v["flow"], dim=1).mean()
        out = {"epe": float(epe(pred, v["flow"])), "epe_zero_flow": float(zero)}
        if self._val_real is not None:
            errs = []
            for cur, prev in self._val_real["pairs"]:
                flow = model(cur.to(dev), prev.to(dev)).float().cpu()
                errs.append(photometric_error(cur, prev, flow, charbonnier=False))
            out["warp_error_real_lr"] = float(torch.cat(errs).mean())
            out["warp_error_none"] = self._val_real["none"]
        return out
