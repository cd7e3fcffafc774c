"""Synthesised test media: short clips with audio, VFR, 10-bit, rotation and colour metadata."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def moving_pattern(n: int, h: int, w: int, seed: int = 0) -> list[np.ndarray]:
    """Frames of a smooth textured pattern translating by ~1 px/frame (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    big = rng.random((h + n + 8, w + n + 8, 3)).astype(np.float32)
    # Smooth the noise so it looks like natural texture rather than per-pixel noise.
    k = np.ones(5, np.float32) / 5
    for ax in (0, 1):
        big = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), ax, big)
    frames = []
    for i in range(n):
        f = big[i : i + h, i // 2 : i // 2 + w]
        f = (f - f.min()) / (f.max() - f.min() + 1e-6)
        frames.append((f * 255).astype(np.uint8))
    return frames


def write_clip(
    path: Path,
    n: int = 12,
    size: tuple[int, int] = (32, 48),
    fps: int = 10,
    audio: bool = True,
    vfr: bool = False,
    ten_bit: bool = False,
    rotation: int = 0,
    bt709: bool = False,
    codec: str = "libx264",
) -> Path:
    """Write a short clip (H, W = size) with an optional AAC tone; returns ``path``."""
    h, w = size
    frames = moving_pattern(n, h, w)
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = w, h
        vs.pix_fmt = "yuv420p10le" if ten_bit else "yuv420p"
        tb = Fraction(1, 1000)
        vs.time_base = tb
        vs.codec_context.time_base = tb
        vs.codec_context.options = {"crf": "10", "bf": "0"} if codec == "libx264" else {}
        if bt709:
            vs.codec_context.color_primaries = 1
            vs.codec_context.color_trc = 1
            vs.codec_context.colorspace = 1
            vs.codec_context.color_range = 1
        if rotation:
            vs.set_display_rotation(rotation)
        a = None
        if audio:
            a = out.add_stream("aac", rate=48000)
            a.layout = "mono"
        t_ms = 0
        for i, f in enumerate(frames):
            if ten_bit:
                fr = av.VideoFrame.from_ndarray(f.astype(np.uint16) * 257, format="rgb48le")
            else:
                fr = av.VideoFrame.from_ndarray(f, format="rgb24")
            kw = {"dst_colorspace": 1, "dst_color_range": 1} if bt709 else {}
            fr = fr.reformat(format=vs.pix_fmt, **kw)
            fr.pts = t_ms
            fr.time_base = tb
            out.mux(vs.encode(fr))
            t_ms += (1000 // fps) * (3 if vfr and i % 3 == 2 else 1)
        out.mux(vs.encode(None))
        if a is not None:
            total_s = t_ms / 1000
            samples = int(48000 * total_s)
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
            for k in range(0, samples, 1024):
                chunk = tone[k : k + 1024]
                af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                af.sample_rate = 48000
                af.pts = k
                af.time_base = Fraction(1, 48000)
                out.mux(a.encode(af))
            out.mux(a.encode(None))
    return path


def make_corpus(root: Path) -> Path:
    """A tiny corpus in the prepared layout: smooth textured photos and two short clips."""
    from PIL import Image

    for split, n in (("train", 3), ("val", 1)):
        d = root / "images" / split
        d.mkdir(parents=True)
        for i in range(n):
            f = moving_pattern(1, 72, 80, seed=i + (10 if split == "val" else 0))[0]
            Image.fromarray(f).save(d / f"p{i}.png")
        clip = root / "video" / split / "c0"
        clip.mkdir(parents=True)
        for j, f in enumerate(moving_pattern(6, 48, 56, seed=5)):
            Image.fromarray(f).save(clip / f"{j:05d}.png")
    return root


def with_subtitles(clip: Path, out: Path, cues: list[tuple[float, float, str]]) -> Path:
    """Remux ``clip`` into ``out`` (.mkv) with an SRT subtitle track holding ``cues``."""
    srt = out.with_suffix(".srt")

    def ts(t: float) -> str:
        ms = round(t * 1000)
        return f"00:00:{ms // 1000:02d},{ms % 1000:03d}"

    srt.write_text(
        "".join(f"{i + 1}\n{ts(a)} --> {ts(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(cues))
    )
    with av.open(str(clip)) as v, av.open(str(srt)) as s, av.open(str(out), "w") as o:
        streams = {}
        for st in [*v.streams, *s.streams]:
            streams[(id(st.container), st.index)] = o.add_stream_from_template(st)
        for c in (v, s):
            for pkt in c.demux():
                if pkt.dts is None:
                    continue
                pkt.stream = streams[(id(pkt.stream.container), pkt.stream.index)]
                o.mux(pkt)
    return out
