"""The corpus in memory: photos and real video clips, and random crops and synthetic pairs of them
that the training tasks and the flow evaluation draw from."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ...errors import InputError
from ._synth import MotionConfig, render_clip


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
            raise InputError(
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
