"""Synthetic-motion clips rendered from real photos, with their exact optical flow.

A clip is a camera moving over a photo (pan, zoom, small rotation; parallax-free) plus, optionally,
a second photo patch moving on its own (an occluding object with a soft elliptical edge). Frame t
is ``photo(M_t p)`` for output pixel p, so the flow from frame t to frame t-1 is exactly
``M_{t-1}^-1 M_t p - p`` (the foreground's own motion where it covers p in frame t).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MotionConfig:
    max_speed: float = 8.0  # px/frame at the output resolution: typical LR video motion
    max_rot_deg: float = 1.5  # degrees/frame
    max_zoom: float = 0.02  # relative zoom per frame
    foreground_p: float = 0.5  # probability of an independently moving foreground object
    static_p: float = 0.05  # probability of a still camera (the network must learn zero flow)


def _affine(cx: float, cy: float, angle: float, zoom: float, ox: float, oy: float) -> np.ndarray:
    """3x3 map from output pixel coords to source coords: rotate/zoom about the output centre
    (ox, oy), then place it at (cx, cy) in the source."""
    c, s = np.cos(angle) / zoom, np.sin(angle) / zoom
    return np.array([[c, -s, cx - c * ox + s * oy], [s, c, cy - s * ox - c * oy], [0, 0, 1]])


def _trajectory(
    rng: np.random.Generator,
    t: int,
    src_hw: tuple[int, int],
    out_hw: tuple[int, int],
    cfg: MotionConfig,
    speed_scale: float = 1.0,
) -> list[np.ndarray]:
    h, w = out_hw
    sh, sw = src_hw
    static = rng.random() < cfg.static_p
    v = rng.uniform(-1, 1, 2) * cfg.max_speed * speed_scale * (0 if static else 1)
    a = rng.normal(0, 0.05, 2) * cfg.max_speed * (0 if static else 1)  # slight acceleration
    rot = np.deg2rad(rng.uniform(-1, 1) * cfg.max_rot_deg) * (0 if static else 1)
    zr = rng.uniform(-1, 1) * cfg.max_zoom * (0 if static else 1)
    ang0 = rng.uniform(-0.2, 0.2)
    # Keep the whole trajectory inside the photo where possible (reflect padding covers the rest).
    span = np.abs(v) * t + np.abs(a) * t * t / 2 + np.array([w, h]) * 0.75
    cx0 = rng.uniform(min(span[0], sw / 2), max(sw - span[0], sw / 2))
    cy0 = rng.uniform(min(span[1], sh / 2), max(sh - span[1], sh / 2))
    cx0 -= v[0] * t / 2
    cy0 -= v[1] * t / 2
    mats = []
    for k in range(t):
        d = v * k + a * k * k / 2
        mats.append(_affine(cx0 + d[0], cy0 + d[1], ang0 + rot * k, (1 + zr) ** k, w / 2, h / 2))
    return mats


def _flow_from(mats: list[np.ndarray], hw: tuple[int, int]) -> np.ndarray:
    """(T, 2, H, W) flows: [t] maps frame t to frame t-1 (t >= 1); [0] is zero."""
    h, w = hw
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    pts = np.stack([xs.ravel(), ys.ravel(), np.ones(h * w)])
    flows = np.zeros((len(mats), 2, h, w), np.float32)
    for k in range(1, len(mats)):
        q = np.linalg.inv(mats[k - 1]) @ mats[k] @ pts
        flows[k, 0] = (q[0] - pts[0]).reshape(h, w)
        flows[k, 1] = (q[1] - pts[1]).reshape(h, w)
    return flows


def _warp(src: np.ndarray, m: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    return cv2.warpAffine(
        src,
        m[:2],
        (hw[1], hw[0]),
        flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT_101,
    )


def render_clip(
    rng: np.random.Generator,
    photo: np.ndarray,
    t: int,
    hw: tuple[int, int],
    cfg: MotionConfig = MotionConfig(),
    fg_photo: np.ndarray | None = None,
    speed_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Render ``t`` frames of size ``hw`` from ``photo`` (H, W, 3) float32 in [0, 1].

    Returns (frames (T, H, W, 3) float32 in [0, 1], flows (T, 2, H, W) float32 in pixels), where
    flows[t] is the exact flow from frame t to frame t-1 (flows[0] = 0).
    """
    h, w = hw
    mats = _trajectory(rng, t, photo.shape[:2], hw, cfg, speed_scale)
    frames = np.stack([_warp(photo, m, hw) for m in mats])
    flows = _flow_from(mats, hw)
    if fg_photo is not None and rng.random() < cfg.foreground_p:
        rh, rw = int(h * rng.uniform(0.25, 0.6)), int(w * rng.uniform(0.25, 0.6))
        fmats = _trajectory(rng, t, fg_photo.shape[:2], (rh, rw), cfg, speed_scale * 1.5)
        ffl = _flow_from(fmats, (rh, rw))
        yy, xx = np.mgrid[0:rh, 0:rw]
        alpha = np.clip(
            (1 - ((yy - rh / 2) / (rh / 2)) ** 2 - ((xx - rw / 2) / (rw / 2)) ** 2) * 4, 0, 1
        ).astype(np.float32)
        # The object's own placement moves with constant velocity across the frame.
        p0 = np.array([rng.uniform(0, w - rw), rng.uniform(0, h - rh)])
        vel = rng.uniform(-1, 1, 2) * cfg.max_speed * speed_scale
        for k in range(t):
            x0, y0 = np.round(p0 + vel * k).astype(int)
            # Integer placement keeps the layer's flow exact: object flow + placement shift.
            x0, y0 = int(np.clip(x0, 0, w - rw)), int(np.clip(y0, 0, h - rh))
            patch = _warp(fg_photo, fmats[k], (rh, rw))
            sl = (slice(y0, y0 + rh), slice(x0, x0 + rw))
            frames[k][sl] = alpha[..., None] * patch + (1 - alpha[..., None]) * frames[k][sl]
            if k > 0:
                px, py = np.round(p0 + vel * (k - 1)).astype(int)
                px, py = int(np.clip(px, 0, w - rw)), int(np.clip(py, 0, h - rh))
                fg = alpha > 0.5
                flows[k, 0][sl][fg] = ffl[k, 0][fg] + (px - x0)
                flows[k, 1][sl][fg] = ffl[k, 1][fg] + (py - y0)
    return np.clip(frames, 0, 1), flows
