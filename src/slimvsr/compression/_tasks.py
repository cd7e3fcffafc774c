"""Training tasks: where each recipe's batches, loss and validation come from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from .data._synth import MotionConfig, render_clip

# Batches are made in a background thread while the model trains on all cores: OpenCV's own
# thread pool would only compete with it.
cv2.setNumThreads(1)


def load_rgb(path: Path) -> np.ndarray:
    """RGB float32 (H, W, 3) in [0, 1]."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0


def load_clips(root: Path, split: str) -> list[np.ndarray]:
    """Real video clips of the corpus as uint8 arrays (T, H, W, 3)."""
    clips = []
    for d in sorted((Path(root) / "video" / split).iterdir()):
        frames = sorted(d.glob("*.png"))
        clips.append(np.stack([(load_rgb(f) * 255).round().astype(np.uint8) for f in frames]))
    return clips


class PhotoPool:
    """The training (or validation) photos of the corpus, held in memory."""

    def __init__(self, root: Path, split: str) -> None:
        files = sorted((Path(root) / "images" / split).glob("*.png"))
        if not files:
            raise FileNotFoundError(
                f"{root}/images/{split}: no photos; run 'vsr-compress data prepare --root {root}'"
            )
        self.names = [f.stem for f in files]
        self.photos = [load_rgb(f) for f in files]

    def crop(
        self, rng: np.random.Generator, side: int, max_down: float = 1.0, *, exact: bool = False
    ) -> np.ndarray:
        """A random square region of about ``side`` pixels, reduced from ``side * f`` pixels by a
        random factor f in [1, max_down] with area averaging (varies the scale of detail without
        aliasing). Photos smaller than ``side`` are skipped when larger ones exist.

        ``exact``: the result is exactly ``side`` pixels whenever the photo has that many (f is
        capped where the photo is smaller than ``side * f``); the default keeps f and returns a
        smaller crop there, as the video recipes' data streams were made with."""
        cands = [p for p in self.photos if min(p.shape[:2]) >= side] or self.photos
        p = cands[rng.integers(len(cands))]
        f = rng.uniform(1.0, max_down)
        if exact and min(p.shape[:2]) >= side:
            f = min(f, min(p.shape[:2]) / side)
        s = min(int(side * f), p.shape[0], p.shape[1])
        y = rng.integers(0, p.shape[0] - s + 1)
        x = rng.integers(0, p.shape[1] - s + 1)
        c = p[y : y + s, x : x + s]
        out = side if s >= int(side * f) else max(1, round(s / f))
        if out != s:
            c = cv2.resize(c, (out, out), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(c)


def synthetic_pair(
    rng: np.random.Generator,
    pool: PhotoPool,
    p: int,
    motion: MotionConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(frame t, frame t-1, exact flow t -> t-1) of ``p`` x ``p`` pixels, from a photo reduced by
    1-2.5x with an optional foreground object."""
    src = pool.crop(rng, 3 * p, max_down=2.5)
    fg = pool.crop(rng, p, max_down=2.0)
    frames, fl = render_clip(rng, src, 2, (p, p), motion, fg_photo=fg, speed_scale=rng.uniform(0.2, 1.0))
    return frames[1], frames[0], fl[1]


class SpyNetTask:
    """Supervised flow; loss = mean end-point error. Each training pair is one of:

    * synthetic motion at photo scale, with exact flow (``1 - real_p - lr_p`` of the pairs);
    * synthetic motion rendered at 4x and BI-degraded to LR, the domain BasicVSR feeds SPyNet,
      with the exact flow averaged over each 4x4 block and divided by 4 (``lr_p``);
    * consecutive frames of the real training video (randomly reduced by 1-2.5x), labelled with
      OpenCV's DIS flow as pseudo ground truth, for real motion, noise and compression (``real_p``).
    """

    real_p = 0.35
    lr_p = 0.3

    def __init__(self, cfg: Any) -> None:
        self.cfg = cfg
        self.pool = PhotoPool(Path(cfg.data), "train")
        self.val_pool = PhotoPool(Path(cfg.data), "val")
        self.clips = load_clips(Path(cfg.data), "train")
        self.motion = MotionConfig(max_speed=10.0)
        self._dis = None
        self._val = self._pairs(np.random.default_rng(12345), self.val_pool, 32, synthetic_only=True)

    def _synthetic(self, rng: np.random.Generator, pool: PhotoPool, p: int, lr: bool):
        if lr:
            from .degrade import bi_degrade

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

    def _real(self, rng: np.random.Generator, p: int):
        if self._dis is None:
            self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        clip = self.clips[rng.integers(len(self.clips))]
        t = int(rng.integers(1, len(clip)))
        cur, prev = clip[t], clip[t - 1]
        if rng.random() < 0.5:
            cur, prev = prev, cur
        f = rng.uniform(1.0, 2.5)
        h, w = cur.shape[:2]
        size = (max(p, int(w / f)), max(p, int(h / f)))
        cur = cv2.resize(cur, size, interpolation=cv2.INTER_AREA)
        prev = cv2.resize(prev, size, interpolation=cv2.INTER_AREA)
        y = int(rng.integers(0, cur.shape[0] - p + 1))
        x = int(rng.integers(0, cur.shape[1] - p + 1))
        cur, prev = cur[y : y + p, x : x + p], prev[y : y + p, x : x + p]
        g = lambda a: cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)  # noqa: E731
        flow = self._dis.calc(g(cur), g(prev), None).transpose(2, 0, 1)
        return cur.astype(np.float32) / 255, prev.astype(np.float32) / 255, flow

    def _pairs(
        self, rng: np.random.Generator, pool: PhotoPool, n: int, synthetic_only: bool = False
    ) -> dict[str, torch.Tensor]:
        p = self.cfg.patch
        refs, supps, flows = [], [], []
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
        t = lambda a: torch.from_numpy(np.stack(a)).float()  # noqa: E731
        return {
            "ref": t(refs).permute(0, 3, 1, 2).clamp(0, 1),
            "supp": t(supps).permute(0, 3, 1, 2).clamp(0, 1),
            "flow": t(flows),
        }

    def batch(self, step: int, rank: int, world: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.cfg.seed, step])
        b = self._pairs(rng, self.pool, self.cfg.batch)
        per = self.cfg.batch // world
        return {k: v[rank * per : (rank + 1) * per] for k, v in b.items()}

    @staticmethod
    def epe(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(pred.float() - gt, dim=1).mean()

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
        cl = torch.channels_last
        return self.epe(model(b["ref"].to(memory_format=cl), b["supp"].to(memory_format=cl)), b["flow"])

    def validate(self, model: nn.Module) -> dict[str, float]:
        v = self._val
        pred = model(v["ref"], v["supp"])
        zero = torch.linalg.vector_norm(v["flow"], dim=1).mean()
        return {"epe": float(self.epe(pred, v["flow"])), "epe_zero_flow": float(zero)}


def make_task(cfg: Any) -> Any:
    if cfg.recipe == "spynet":
        return SpyNetTask(cfg)
    if cfg.recipe in ("vsr", "image"):
        from ._sr_tasks import ImageSRTask, VideoSRTask

        return VideoSRTask(cfg) if cfg.recipe == "vsr" else ImageSRTask(cfg)
    raise ValueError(f"unknown recipe {cfg.recipe!r}")


def read_log(run: Path) -> list[dict[str, Any]]:
    path = Path(run) / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
