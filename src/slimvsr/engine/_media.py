"""Reading media with PyAV: probing, decoding video frames with their timestamps, images.

Frames leave this module as (pts, ndarray) with the array (H, W, 3) RGB, uint8 for 8-bit sources
and uint16 (full 16-bit range) for deeper sources, so 10-bit video is never truncated to 8 bits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import InputError

log = logging.getLogger(__name__)

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}


@dataclass(frozen=True)
class ColorInfo:
    primaries: int | None = None
    trc: int | None = None
    matrix: int | None = None  # AVColorSpace
    range: int | None = None  # 1 = limited (tv), 2 = full (pc)


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    time_base: Fraction
    rate: Fraction | None  # average frame rate, for the encoder's rate control
    frames: int | None  # best estimate of the frame count (None: unknown)
    duration_s: float | None
    bit_depth: int  # 8, 10, 12, 16
    pix_fmt: str
    color: ColorInfo
    rotation: int  # degrees of the display matrix, carried to the output
    other_streams: tuple[int, ...] = field(default=())  # audio/subtitle stream indices to copy
    is_image: bool = False
    start_time: float = 0.0  # seconds of the first video timestamp
    sequence_fps: float | None = None  # set when ``path`` is a folder of frames read as a video
    hdr: HdrInfo | None = None  # HDR10 static metadata of the first frame, carried to the output


@dataclass(frozen=True)
class HdrInfo:
    """HDR10 static metadata: the mastering display (CIE 1931 xy of R, G, B and white, luminance
    in cd/m2) and the content light levels (MaxCLL, MaxFALL in cd/m2)."""

    primaries: tuple[tuple[float, float], ...] | None = None  # R, G, B
    white: tuple[float, float] | None = None
    luminance: tuple[float, float] | None = None  # (min, max)
    max_cll: int | None = None
    max_fall: int | None = None

    def _params(self, md: str, cll: str, xy, lum) -> str:
        parts = []
        if self.primaries and self.white and self.luminance:
            (r, g, b), w = self.primaries, self.white
            light = lum(self.luminance[1]) + "," + lum(self.luminance[0])
            parts.append(f"{md}=G{xy(g)}B{xy(b)}R{xy(r)}WP{xy(w)}L({light})")
        if self.max_cll is not None:
            parts.append(f"{cll}={self.max_cll},{self.max_fall or 0}")
        return ":".join(parts)

    def x265_params(self) -> str:
        """``master-display=...:max-cll=...`` as x265 takes them (0.00002 / 0.0001 units)."""
        return self._params(
            "master-display",
            "max-cll",
            lambda p: f"({round(p[0] * 50000)},{round(p[1] * 50000)})",
            lambda v: str(round(v * 10000)),
        )

    def svtav1_params(self) -> str:
        """``mastering-display=...:content-light=...`` as SVT-AV1 takes them."""
        return self._params(
            "mastering-display", "content-light", lambda p: f"({p[0]:.4f},{p[1]:.4f})", lambda v: f"{v:.4f}"
        )


def _hdr_of(frame: av.VideoFrame) -> HdrInfo | None:
    """Parse AVMasteringDisplayMetadata (10 AVRationals, 2 ints) and AVContentLightMetadata."""
    import struct

    fields: dict = {}
    try:
        side = list(frame.side_data)
    except ValueError:  # PyAV 18 cannot name some side data types (a TIFF's EXIF): none of them HDR
        return None
    for sd in side:
        kind = str(sd.type).rsplit(".", 1)[-1]
        raw = bytes(sd)
        if kind == "MASTERING_DISPLAY_METADATA" and len(raw) >= 88:
            v = struct.unpack("<20i2i", raw[:88])
            q = [v[2 * i] / v[2 * i + 1] if v[2 * i + 1] else 0.0 for i in range(10)]
            if v[20]:
                fields["primaries"] = ((q[0], q[1]), (q[2], q[3]), (q[4], q[5]))
                fields["white"] = (q[6], q[7])
            if v[21]:
                fields["luminance"] = (q[8], q[9])
        elif kind == "CONTENT_LIGHT_LEVEL" and len(raw) >= 8:
            fields["max_cll"], fields["max_fall"] = struct.unpack("<2I", raw[:8])
    return HdrInfo(**fields) if fields else None


def _bit_depth(fmt: av.VideoFormat) -> int:
    try:
        return max(c.bits for c in fmt.components)
    except (AttributeError, ValueError):
        return 8


def _sequence_pattern(folder: Path) -> str:
    """FFmpeg glob pattern for the frames of ``folder`` (its most common image extension)."""
    exts = [f.suffix.lower() for f in folder.iterdir() if f.suffix.lower() in IMAGE_EXTS]
    if not exts:
        raise InputError(f"{folder}: no image frames in this folder; pass a folder of PNG/JPEG/TIFF frames")
    ext = max(set(exts), key=exts.count)
    escaped = "".join("\\" + ch if ch in "[]*?\\" else ch for ch in str(folder))
    return f"{escaped}/*{ext}"


IMAGE_DEMUXERS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "tiff_pipe", "bmp_pipe")


def open_input(path: Path) -> av.container.InputContainer:
    """The one way a media file is opened for reading: tags that are not valid UTF-8 (a damaged
    or foreign header) are read with replacement characters instead of failing the run."""
    return av.open(str(path), "r", metadata_errors="replace")


def _open(path: Path, sequence_fps: float | None = None) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.is_dir():
        if sequence_fps is None:
            raise InputError(
                f"{path}: is a folder; pass the files in it, or read it as a frame sequence with --sequence"
            )
        try:
            return av.open(
                _sequence_pattern(path),
                "r",
                format="image2",
                options={"pattern_type": "glob", "framerate": str(sequence_fps)},
            )
        except av.error.FFmpegError as e:
            raise InputError(f"{path}: cannot read the frames as a sequence ({e})") from e
    try:
        return open_input(path)
    except UnicodeDecodeError as e:  # PyAV decodes some strings strictly even so
        raise InputError(f"{path}: its metadata cannot be read ({e.reason}); the file is damaged") from e
    except av.error.InvalidDataError as e:
        raise InputError(
            f"{path}: not a media file FFmpeg can read ({e.strerror}); pass a video or image file"
        ) from e
    except av.error.FFmpegError as e:
        raise InputError(f"{path}: cannot open ({e}); pass a video or image file") from e


def probe(path: Path, sequence_fps: float | None = None) -> VideoInfo:
    """Describe the first video stream of ``path``: a video, an image file, or (with
    ``sequence_fps``) a folder of frames read as a video at that rate."""
    with _open(path, sequence_fps) as c:
        if not c.streams.video:
            raise InputError(f"{path}: no video stream found; pass a video or image file")
        vs = c.streams.video[0]
        # By content, not by extension: an mp4 named .png is a video, an APNG or GIF is a video,
        # a PNG named .mp4 is a photo.
        is_image = path.is_file() and c.format.name in IMAGE_DEMUXERS
        first = None
        try:
            for frame in c.decode(vs):
                first = frame
                break
        except av.error.FFmpegError as e:
            raise InputError(
                f"{path}: the video stream cannot be decoded ({e}); the file is corrupt or truncated"
            ) from e
        if first is None:
            raise InputError(
                f"{path}: the video stream has no decodable frames; the file is empty, corrupt or truncated"
            )
        rotation = round(first.rotation or 0)
        fmt = first.format
        color = ColorInfo(
            primaries=int(first.color_primaries) if first.color_primaries else None,
            trc=int(first.color_trc) if first.color_trc else None,
            matrix=int(first.colorspace) if first.colorspace else None,
            range=int(first.color_range) if first.color_range else None,
        )
        hdr = _hdr_of(first)
        duration = None
        if vs.duration is not None and vs.time_base:
            duration = float(vs.duration * vs.time_base)
        elif c.duration:
            duration = c.duration / av.time_base
        rate = vs.average_rate or vs.guessed_rate
        frames = vs.frames or None
        if frames is None and duration and rate:
            frames = round(duration * float(rate))
        if is_image:
            frames = 1
        start = float(first.pts * vs.time_base) if first.pts is not None and vs.time_base else 0.0
        others = tuple(s.index for s in c.streams if s.type in ("audio", "subtitle"))
        return VideoInfo(
            path=path,
            width=first.width,
            height=first.height,
            time_base=vs.time_base or Fraction(1, 25),
            rate=Fraction(rate) if rate else None,
            frames=frames,
            hdr=hdr,
            duration_s=duration,
            bit_depth=_bit_depth(fmt),
            pix_fmt=fmt.name,
            color=color,
            rotation=rotation,
            other_streams=others,
            is_image=is_image,
            start_time=start,
            sequence_fps=sequence_fps if path.is_dir() else None,
        )


def _rgb_format(info: VideoInfo) -> str:
    return "rgb48le" if info.bit_depth > 8 else "rgb24"


def frame_to_array(frame: av.VideoFrame, info: VideoInfo) -> np.ndarray:
    """Decoded frame -> (H, W, 3) RGB array; uses the source's own matrix and range."""
    kw = {}
    if info.color.matrix:
        kw["src_colorspace"] = info.color.matrix
    if info.color.range:
        kw["src_color_range"] = info.color.range
    try:
        return frame.reformat(format=_rgb_format(info), **kw).to_ndarray()
    except (ValueError, av.error.FFmpegError):  # unusual matrix values: let swscale decide
        return frame.to_ndarray(format=_rgb_format(info))


def decode_frames(
    info: VideoInfo,
    start: float = 0.0,
    duration: float | None = None,
    stats: dict[str, int] | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (pts, RGB array) for every frame with start <= t < start + duration (seconds from
    the first frame). Threaded decoding; seeks to the keyframe before ``start``."""
    path = info.path
    with _open(path, info.sequence_fps) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        tb = vs.time_base or info.time_base
        t0 = info.start_time
        if start > 0:
            c.seek(int((t0 + start) / tb), stream=vs, backward=True)
        end = None if duration is None else t0 + start + duration
        n = 0
        try:
            for frame in c.decode(vs):
                n += 1
                if (frame.width, frame.height) != (info.width, info.height):
                    raise InputError(
                        f"{path}: frame {n} ({float((frame.pts or 0) * tb) - t0:.2f}s) changes size from "
                        f"{info.width}x{info.height} to {frame.width}x{frame.height}; slimvsr upscales one "
                        "size per file: split it where the size changes, or re-encode it at one size"
                    )
                pts = frame.pts if frame.pts is not None else 0
                t = float(pts * tb)
                if t < t0 + start - 1e-6:
                    if stats is not None:  # before the range; with no --start: a damaged timestamp
                        stats["before_start"] = stats.get("before_start", 0) + 1
                    continue
                if end is not None and t >= end - 1e-6:
                    break
                yield pts, frame_to_array(frame, info)
        except av.error.FFmpegError as e:
            raise InputError(f"{path}: decoding failed ({e}); the file is corrupt or truncated") from e
