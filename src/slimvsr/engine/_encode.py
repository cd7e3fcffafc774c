"""Writing the output with PyAV: the upscaled video, plus every audio and subtitle stream of the
input copied packet for packet, interleaved by time; or an image file."""

from __future__ import annotations

import contextlib
import errno
import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .. import __version__
from ..errors import OutputError, RunError
from ._media import VideoInfo, open_input
from ._photo import MARKER, PhotoMeta, orient, write_photo

log = logging.getLogger(__name__)

# codec option -> (encoder, 8-bit pix_fmt, high-bit-depth pix_fmt)
CODECS: dict[str, tuple[str, str, str]] = {
    "h264": ("libx264", "yuv420p", "yuv420p10le"),
    "hevc": ("libx265", "yuv420p", "yuv420p10le"),
    "av1": ("libsvtav1", "yuv420p", "yuv420p10le"),
    "vp9": ("libvpx-vp9", "yuv420p", "yuv420p10le"),
    "prores": ("prores_ks", "yuv422p10le", "yuv422p10le"),
    "ffv1": ("ffv1", "yuv444p", "yuv444p10le"),
}
# The constant-quality scale of each codec that has one (ProRes and FFV1 do not: crf is unused).
CRF_RANGE: dict[str, tuple[int, int]] = {"h264": (0, 51), "hevc": (0, 51), "av1": (0, 63), "vp9": (0, 63)}
# container (by extension) -> (FFmpeg muxer, codecs it can hold)
CONTAINERS: dict[str, tuple[str, tuple[str, ...]]] = {
    ".mp4": ("mp4", ("h264", "hevc", "av1", "vp9")),
    ".m4v": ("mp4", ("h264", "hevc", "av1")),
    ".mov": ("mov", ("h264", "hevc", "prores")),
    ".mkv": ("matroska", ("h264", "hevc", "av1", "vp9", "prores", "ffv1")),
    ".webm": ("webm", ("vp9", "av1")),
}
IMAGE_OUT = {
    ".png": "png",
    ".jpg": "mjpeg",
    ".jpeg": "mjpeg",
    ".webp": "libwebp",
    ".tif": "tiff",
    ".tiff": "tiff",
}


def resolve_codec(codec: str, bit_depth: int, path: Path) -> str:
    """The codec ``auto`` means for this input and output (see EncodeSettings.codec)."""
    if codec != "auto":
        return codec
    if path.suffix.lower() == ".webm":
        return "vp9"
    return "hevc" if bit_depth > 8 else "h264"


# Tags that describe the old encode, not the content: dropped from the re-encoded video stream.
_STALE_TAGS = ("encoder", "duration", "bps", "number_of_frames", "number_of_bytes", "vendor_id")


def _content_tags(tags: dict[str, str], stale: bool) -> dict[str, str]:
    out = {}
    for k, v in tags.items():
        low = k.lower()
        if (
            low == "encoder"
            or low == "duration"
            or (stale and (low in _STALE_TAGS or low.startswith("_statistics")))
        ):
            continue
        out[k] = v
    return out


def check_output(path: Path, codec: str) -> str:
    """Validate the output's container/codec pair; returns the muxer name."""
    ext = path.suffix.lower()
    if ext not in CONTAINERS:
        raise OutputError(
            f"{path}: unsupported output container {ext or '(none)'}; use " + ", ".join(CONTAINERS)
        )
    if codec not in CODECS:
        raise OutputError(f"unknown codec {codec!r}; use one of {', '.join(CODECS)}")
    mux, allowed = CONTAINERS[ext]
    if codec not in allowed:
        raise OutputError(
            f"{path}: a {ext} file cannot hold {codec}; use one of "
            f"{', '.join(allowed)}, or another container (e.g. .mkv)"
        )
    if CODECS[codec][0] not in av.codecs_available:
        raise OutputError(f"the {codec} encoder ({CODECS[codec][0]}) is not in this FFmpeg build")
    return mux


@dataclass(frozen=True)
class EncodeSettings:
    # auto: h264 (plays everywhere) for 8-bit input, HEVC Main10 for 10-bit and deeper input (H.264
    # High 10 plays on few players and hardware decoders), VP9 in .webm
    codec: str = "auto"
    crf: int | None = 18  # visually lossless for x264/x265; None: the encoder's default
    preset: str | None = None  # encoder speed preset (x264: ultrafast..veryslow)
    pix_fmt: str | None = None  # None: 8-bit 4:2:0, or 10-bit when the input has > 8 bits
    quality: int | None = None  # JPEG/WebP outputs, 1-100; None: the input JPEG's, else 95

    def __post_init__(self) -> None:
        from ..errors import UsageError

        if self.codec not in CODECS and self.codec != "auto":
            raise UsageError(f"codec {self.codec!r}: choose auto or one of {', '.join(CODECS)}")
        lo, hi = CRF_RANGE.get("h264" if self.codec == "auto" else self.codec, (None, None))
        if self.crf is not None and lo is not None and not lo <= self.crf <= hi:
            what = "h264 and HEVC take" if self.codec == "auto" else f"{self.codec} takes"
            raise UsageError(f"--crf {self.crf}: {what} {lo}-{hi} (lower is better quality)")
        if self.quality is not None and not 1 <= self.quality <= 100:
            raise UsageError(f"--quality {self.quality}: JPEG/WebP quality is 1-100")


def _raise_os(e: OSError, path: Path) -> None:
    if e.errno == errno.ENOSPC:
        raise OutputError(
            f"{path}: no space left on the device; free some space or write elsewhere with -o"
        ) from e
    if e.errno == errno.EFBIG:
        raise OutputError(
            f"{path}: the file size limit was reached (ulimit -f, or the file system's); "
            "write elsewhere with -o or raise the limit"
        ) from e
    raise RunError(f"{path}: write failed ({e})") from e


class VideoSink:
    """Encode SR frames into ``tmp_path`` and copy the input's audio/subtitle packets alongside.

    Call ``write(pts, rgb)`` for each frame in order, then ``close()``; ``abort()`` on failure.
    """

    def __init__(
        self,
        tmp_path: Path,
        info: VideoInfo,
        size: tuple[int, int],
        settings: EncodeSettings,
        start: float = 0.0,
        duration: float | None = None,
        final_path: Path | None = None,
    ) -> None:
        self.path = tmp_path
        self.final = final_path or tmp_path
        self.info = info
        self.notes: list[str] = []  # what the user should know about this output
        mux = check_output(self.final, settings.codec)
        encoder, pf8, pf10 = CODECS[settings.codec]
        self.hbd = info.bit_depth > 8
        pix_fmt = settings.pix_fmt or (pf10 if self.hbd else pf8)
        try:
            self.out = av.open(str(tmp_path), "w", format=mux)
        except OSError as e:
            _raise_os(e, self.final)
        tb = info.time_base
        self.vs = self.out.add_stream(encoder, rate=info.rate or Fraction(25))
        self.vs.width, self.vs.height = size[1], size[0]
        self.vs.pix_fmt = pix_fmt
        self.vs.time_base = tb
        cc = self.vs.codec_context
        cc.time_base = tb
        opts = {}
        if settings.crf is not None and settings.codec in ("h264", "hevc", "av1", "vp9"):
            opts["crf"] = str(settings.crf)
            if settings.codec == "vp9":
                opts["b"] = "0"  # constant-quality mode for libvpx
        if settings.preset:
            opts["preset"] = settings.preset
        if settings.codec == "hevc":
            opts["x265-params"] = "log-level=error"
        hdr = info.hdr
        if hdr is not None:  # HDR10 static metadata: mastering display and light levels
            if settings.codec == "hevc" and hdr.x265_params():
                opts["x265-params"] += ":hdr10=1:repeat-headers=1:" + hdr.x265_params()
            elif settings.codec == "av1" and hdr.svtav1_params():
                opts["svtav1-params"] = hdr.svtav1_params()
            else:
                self.notes.append(
                    f"{self.final}: the input's HDR10 mastering-display/light-level metadata is not "
                    f"written by {settings.codec}; use --codec hevc or av1 to keep it"
                )
        cc.options = opts
        c = info.color
        if c.primaries:
            cc.color_primaries = c.primaries
        if c.trc:
            cc.color_trc = c.trc
        if c.matrix:
            cc.colorspace = c.matrix
        if c.range:
            cc.color_range = c.range
        if info.rotation:
            self.vs.set_display_rotation(info.rotation)
        self._copy_metadata(info, start, duration)
        # Audio and subtitles: a second demuxer on the input, pumped up to the video's time.
        self.copy_in = None
        self.copy_map: dict[int, av.stream.Stream] = {}
        if info.other_streams:
            self.copy_in = open_input(Path(info.path))
            for idx in info.other_streams:
                s = self.copy_in.streams[idx]
                try:
                    self.copy_map[idx] = self.out.add_stream_from_template(s)
                except (ValueError, av.error.FFmpegError) as e:
                    raise OutputError(
                        f"{self.final}: the input's {s.type} stream #{idx} "
                        f"({getattr(s.codec_context, 'name', None) or 'unknown codec'}) cannot be stored in "
                        f"{self.final.suffix}; "
                        "use a .mkv output"
                    ) from e
            for idx, o in self.copy_map.items():
                src = self.copy_in.streams[idx]
                o.metadata.update(_content_tags(dict(src.metadata), stale=False))
                with contextlib.suppress(AttributeError, TypeError, ValueError):
                    o.disposition = src.disposition  # default / forced / hearing impaired ...
            streams = [self.copy_in.streams[i] for i in self.copy_map]
            if start > 0:
                self.copy_in.seek(int((info.start_time + start) * av.time_base), backward=True)
            self.packets = self.copy_in.demux(*streams)
        self.t0 = info.start_time + start
        self.cut_start = start > 0
        self.t_end = None if duration is None else self.t0 + duration
        self.pending = None  # a copied packet read ahead of the video
        self.frames = 0

    def _copy_metadata(self, info: VideoInfo, start: float, duration: float | None) -> None:
        """Container tags (title ...), the video stream's tags and disposition, chapters (cut to
        the range written) and attachments (fonts for subtitles), where the output holds them;
        then slimvsr's marker (the container's comment, or a ``slimvsr`` tag if it has one)."""
        marker = f"{MARKER} {__version__}"
        if info.sequence_fps is not None or not Path(info.path).is_file():
            self.out.metadata["comment"] = marker
            return
        with open_input(Path(info.path)) as src:
            self.out.metadata.update(_content_tags(dict(src.metadata), stale=True))
            sv = src.streams.video[0]
            self.vs.metadata.update(_content_tags(dict(sv.metadata), stale=True))
            with contextlib.suppress(AttributeError, TypeError, ValueError):
                self.vs.disposition = sv.disposition
            t0 = info.start_time + start
            t1 = None if duration is None else t0 + duration
            chapters = []
            for ch in src.chapters():
                tb = ch["time_base"]
                a, b = float(ch["start"] * tb) - t0, float(ch["end"] * tb) - t0
                if b <= 0 or (t1 is not None and a >= t1 - t0):
                    continue
                a, b = max(a, 0.0), b if t1 is None else min(b, t1 - t0)
                ms = Fraction(1, 1000)
                chapters.append(
                    {"id": ch["id"], "start": round(a * 1000), "end": round(b * 1000), "time_base": ms,
                     "metadata": dict(ch.get("metadata") or {})}
                )  # fmt: skip
            if chapters:
                self.out.set_chapters(chapters)
            attachments = list(src.streams.attachments)
            holds = CONTAINERS.get(self.final.suffix.lower(), ("",))[0] == "matroska"
            for at in attachments:
                if holds:
                    self.out.add_attachment(at.name, at.mimetype, bytes(at.data))
                else:
                    self.notes.append(
                        f"{self.final}: attachment {at.name} (e.g. a subtitle font) not kept: "
                        f"{self.final.suffix} cannot hold attachments; write .mkv to keep it"
                    )
        has_comment = any(k.lower() == "comment" for k in self.out.metadata)
        self.out.metadata["slimvsr" if has_comment else "comment"] = marker

    def _pump(self, until: float | None) -> None:
        """Mux copied packets with time < ``until`` (all remaining ones if None)."""
        if self.copy_in is None:
            return
        while True:
            pkt = self.pending
            self.pending = None
            if pkt is None:
                pkt = next(self.packets, None)
                if pkt is None:
                    self.copy_in.close()
                    self.copy_in = None
                    return
            if pkt.size == 0:  # flush/empty packets are not muxed
                continue
            if pkt.dts is None and pkt.pts is None:
                continue  # no time at all: nowhere to put it
            if pkt.dts is None:  # e.g. subtitle packets of some demuxers: muxed at their pts
                pkt.dts = pkt.pts
            tb = pkt.time_base
            t = float(pkt.pts * tb) if pkt.pts is not None else float(pkt.dts * tb)
            if self.cut_start and t < self.t0 - 1e-6:
                continue  # before --start (without --start, even negative-pts priming is kept)
            if self.t_end is not None and t >= self.t_end:
                continue  # drain without muxing, so the demuxer reaches its end
            if until is not None and t > until:
                self.pending = pkt
                return
            shift = round(self.t0 / tb) if self.t0 else 0
            if pkt.pts is not None:
                pkt.pts -= shift
            pkt.dts -= shift
            pkt.stream = self.copy_map[pkt.stream_index]
            self.out.mux(pkt)

    def write(self, pts: int, rgb: np.ndarray) -> None:
        fmt = "rgb48le" if rgb.dtype == np.uint16 else "rgb24"
        frame = av.VideoFrame.from_ndarray(rgb, format=fmt)
        kw = {}
        c = self.info.color
        if c.matrix:
            kw["dst_colorspace"] = c.matrix
        if c.range:
            kw["dst_color_range"] = c.range
        try:
            frame = frame.reformat(format=self.vs.pix_fmt, **kw)
        except (ValueError, av.error.FFmpegError):
            frame = frame.reformat(format=self.vs.pix_fmt)
        shift = round(self.t0 / self.info.time_base) if self.t0 else 0
        frame.pts = pts - shift
        frame.time_base = self.info.time_base
        try:
            self._pump(float(frame.pts * self.info.time_base) + self.t0)
            self.out.mux(self.vs.encode(frame))
        except OSError as e:
            _raise_os(e, self.final)
        self.frames += 1

    def close(self) -> None:
        try:
            self.out.mux(self.vs.encode(None))
            self._pump(None)
            self.out.close()
        except OSError as e:
            _raise_os(e, self.final)

    def abort(self) -> None:
        for c in (self.copy_in, self.out):
            try:
                if c is not None:
                    c.close()
            except Exception:
                pass


def write_image(
    path: Path,
    rgb: np.ndarray,
    final: Path | None = None,
    meta: PhotoMeta | None = None,
    quality: int | None = None,
) -> str | None:
    """Write one RGB image: 8-bit through Pillow with the input's orientation, alpha, grey,
    metadata and quality (engine/_photo.py); 16-bit PNG/TIFF through PyAV (oriented; alpha and
    metadata are not carried at 16 bits). Returns a note for the user, or None."""
    final = final or path
    ext = final.suffix.lower()
    if ext not in IMAGE_OUT:
        raise OutputError(f"{final}: unsupported image format {ext}; use " + ", ".join(IMAGE_OUT))
    meta = meta or PhotoMeta()
    deep = rgb.dtype == np.uint16 and IMAGE_OUT[ext] in ("png", "tiff")
    if not deep:
        if rgb.dtype == np.uint16:
            rgb = (rgb.astype(np.float32) / 257.0).round().astype(np.uint8)
        fmt = {"mjpeg": "jpeg", "libwebp": "webp"}.get(IMAGE_OUT[ext], IMAGE_OUT[ext])
        try:
            return write_photo(path, rgb, fmt, meta, quality)
        except OSError as e:
            _raise_os(e, final)
    rgb = np.ascontiguousarray(orient(rgb, meta.orientation))
    codec = IMAGE_OUT[ext]
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb48le")
    try:
        with av.open(str(path), "w", format="image2", options={"update": "1"}) as out:
            s = out.add_stream(codec, rate=1)
            s.width, s.height = rgb.shape[1], rgb.shape[0]
            s.pix_fmt = "rgb48be" if codec == "png" else "rgb48le"
            out.mux(s.encode(frame.reformat(format=s.pix_fmt)))
            out.mux(s.encode(None))
    except OSError as e:
        _raise_os(e, final)
