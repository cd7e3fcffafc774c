"""The upscaling job: decode -> chunked inference -> encode, as a generator of progress events.

Decoding and encoding run in their own threads with bounded queues, so the model is never idle
waiting for I/O and memory stays bounded whatever the input's length. The generator runs the model
in the caller's thread and yields an event after every chunk; closing the generator (or calling
``Job.cancel()``) stops the job between chunks. The output is written to a temporary file next to
the final name and renamed only when complete, so a failed or cancelled job leaves nothing under
the final name and an existing file is never half-overwritten.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import platform
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np
import torch

from .._choices import check_choices
from ..errors import Cancelled, DeviceError, InputError, OutputError, RunError, Skipped, SlimVSRError
from ..models import Located, ModelDescriptor, default_model, fetch, load_model, locate, parse_repo_ref
from ._backends import BackendName, OpenVINOGraphs, pick_backend
from ._channel import END, Channel, Stop
from ._encode import (
    CONTAINERS,
    IMAGE_OUT,
    EncodeSettings,
    VideoSink,
    check_output,
    resolve_codec,
    write_image,
)
from ._heap import bound_heap, release_heap
from ._media import IMAGE_EXTS, VideoInfo, decode_frames, open_input, probe
from ._photo import PhotoMeta, read_photo_meta
from ._runners import Precision, make_runner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UpscaleOptions:
    model: str | None = None  # a registered name or a model folder; None: the DEFAULT of the input's kind
    scale: int | None = None  # None: the model's own scale
    device: str = "auto"  # auto | cpu | cuda[:N] | mps
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # auto: fp16 on CUDA, bf16 on CPUs with bf16
    backend: BackendName = "auto"  # auto: OpenVINO where backends.json measured it faster, else torch
    encode: EncodeSettings = field(default_factory=EncodeSettings)
    start: float = 0.0  # seconds into the input (a quick preview of a part)
    duration: float | None = None  # seconds to upscale from start (None: to the end)
    chunk: int = 8  # frames per inference call: big enough to batch SPyNet, small enough to cancel
    window: int = 16  # bidirectional models: frames kept per window
    margin: int = 4  # bidirectional models: context frames computed and discarded on each side
    tile: int | None = None  # LR tile side; None: chosen from memory_budget
    memory_budget_mb: int = 4096  # activation memory the model may use before frames are tiled
    overwrite: bool = False  # replace an existing output file
    max_pixels: int = 16_777_216  # input frame pixels (16 MP, 4096x4096); bigger is refused at once
    max_aspect: float = 32.0  # width:height (or height:width) beyond which a frame is refused
    skip_existing: bool = False  # an existing output: skip the job (raises Skipped), for resumable batches
    queue_frames: int = 32  # bound of the decoded-frame queue (LR frames)
    sequence_fps: float = 25.0  # frame rate given to a folder of frames read as a video

    def __post_init__(self) -> None:
        check_choices(self)


@dataclass(frozen=True)
class Started:
    input: Path
    output: Path
    total_frames: int | None
    size: tuple[int, int]  # input (H, W)
    out_size: tuple[int, int]
    model: str
    device: str
    precision: str
    backend: str = "torch"


@dataclass(frozen=True)
class Progress:
    frames_done: int
    total_frames: int | None
    fps: float  # end-to-end output frames per second so far
    eta_s: float | None
    elapsed_s: float


@dataclass(frozen=True)
class Downloading:
    """The job's model is being fetched from the Hub (before Started): bytes of one file."""

    model: str  # "ssl-uni x4", "org/name@main"
    file: str
    done: int
    total: int | None


@dataclass(frozen=True)
class Finished:
    output: Path
    frames: int
    elapsed_s: float
    busy_s: dict[str, float]  # seconds each stage spent working: decode, model, encode
    notes: tuple[str, ...] = ()  # what the user should know about this output (one line each)


Event = Downloading | Started | Progress | Finished


def pick_precision(device: str, precision: str) -> Precision:
    """Resolve ``--device`` / ``--precision`` to a concrete device and compute dtype."""
    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError as e:
        raise DeviceError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from e
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        idx = dev.index or 0
        if idx >= n:
            raise DeviceError(
                f"CUDA device {device} is not available ({n} CUDA devices found); use --device cpu"
            )
    elif dev.type == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise DeviceError("MPS (Apple GPU) is not available here; use --device cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"unsupported device {device!r}; use auto, cpu, cuda, cuda:N or mps")
    if precision == "auto":
        if dev.type in ("cuda", "mps"):
            precision = "fp16"
        elif cpu_has_bf16():
            precision = "bf16"
        else:
            precision = "fp32"
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    if precision not in dtypes:
        raise DeviceError(f"unknown precision {precision!r}; use auto, fp32, fp16 or bf16")
    if dev.type == "cpu" and precision == "fp16":
        raise DeviceError("fp16 is not supported on the CPU; use --precision bf16 or fp32")
    return Precision(dev, dtypes[precision], channels_last=dev.type == "cpu" and precision == "bf16")


_GRAPHS: dict[tuple, OpenVINOGraphs] = {}  # compiled graphs of the models jobs used last


def graphs_for(desc: ModelDescriptor, prec: Precision) -> OpenVINOGraphs:
    """The model's OpenVINO graphs at this precision, compiled once per process (the two most
    recent models are kept, like the jobs' model cache)."""
    key = (id(desc.model), prec.dtype)
    if key not in _GRAPHS:
        while len(_GRAPHS) >= 2:
            _GRAPHS.pop(next(iter(_GRAPHS)))
        _GRAPHS[key] = OpenVINOGraphs(desc, prec.dtype)
    return _GRAPHS[key]


def cpu_name() -> str:
    """The CPU's model name (Linux), else what the platform reports: benchmarks name the machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_has_bf16() -> bool:
    """Native bf16 matrix units (AVX512-BF16 or AMX): where bf16 autocast is ~10x fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def model_for(opts: UpscaleOptions, info: VideoInfo) -> str:
    """The model a job runs: the one asked for, else the DEFAULT of the input's kind (a video
    model for videos and frame sequences, an image model for images)."""
    return opts.model or default_model("image" if info.is_image else "video")


def default_output(inp: Path, model: str, scale: int, is_image: bool) -> Path:
    """Next to the input: ``clip.mp4`` -> ``clip.ssl-uni-x4.mp4`` (images keep their format;
    video containers FFmpeg cannot write, like .avi, become .mp4)."""
    ext = inp.suffix.lower()
    if is_image:
        ext = ext if ext in IMAGE_OUT else ".png"
    elif ext not in CONTAINERS:
        ext = ".mp4"
    if Path(model).is_dir():
        stem = Path(model).name  # a model folder: its name
    else:
        ref = parse_repo_ref(model)  # a Hub repo: its NAME part; a registered name as it is
        stem = ref.repo_id.split("/")[1] if ref is not None and "/" in model else model
    return inp.with_name(f"{inp.stem}.{stem}-x{scale}{ext}")


def _frames_in_range(
    frames: int | None, rate: Fraction | None, start: float, duration: float | None
) -> int | None:
    """How many frames t in [start, start + duration) has, for the progress total: exact for
    constant-rate video (frame k at k / rate), an estimate otherwise; None when unknown."""
    if not rate:
        return frames
    first = math.ceil(start * float(rate) - 1e-6)
    n = None if duration is None else math.ceil((start + duration) * float(rate) - 1e-6) - first
    if frames is not None:
        left = max(frames - first, 0)
        n = left if n is None else min(n, left)
    return n


def _tmp_name(final: Path) -> Path:
    return final.with_name(f".{final.stem}.{os.getpid()}.partial{final.suffix}")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_partials(final: Path) -> list[Path]:
    """Remove the temporaries that runs killed without cleanup (SIGKILL, power loss) left for
    ``final``: ``.STEM.PID.partialSUFFIX`` whose process is gone. Live runs' files stay."""
    removed = []
    prefix, suffix = f".{final.stem}.", f".partial{final.suffix}"
    try:
        siblings = list(final.parent.iterdir())
    except OSError:
        return removed
    for p in siblings:
        name = p.name
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        pid = name[len(prefix) : len(name) - len(suffix)]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


def _to_tensor(frames: list[np.ndarray]) -> torch.Tensor:
    a = np.stack(frames)
    scale = 65535.0 if a.dtype == np.uint16 else 255.0
    return torch.from_numpy(a).permute(0, 3, 1, 2).float().div_(scale)


def _to_array(x: torch.Tensor, deep: bool) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8 / uint16."""
    m = 65535.0 if deep else 255.0
    y = x.mul(m).round_().permute(1, 2, 0)
    return y.to(torch.int32).numpy().astype(np.uint16 if deep else np.uint8)


class _Stage(threading.Thread):
    """A worker thread that records its exception and its busy time."""

    def __init__(self, name: str, target) -> None:
        super().__init__(name=name, daemon=True)
        self.fn = target
        self.error: BaseException | None = None
        self.busy = 0.0

    def run(self) -> None:
        try:
            self.fn(self)
        except BaseException as e:
            self.error = e


class Job:
    """One input -> one output. Iterate ``run()`` for events; ``cancel()`` from any thread."""

    def __init__(
        self,
        inp: Path,
        out: Path | None,
        opts: UpscaleOptions,
        models: dict[tuple[str, int | None], ModelDescriptor] | None = None,
    ) -> None:
        """``models``: loaded models by (name, requested scale), filled as jobs load them; pass
        the same dict to several jobs to load each model once."""
        self.inp, self.opts = Path(inp), opts
        self._stop = Stop()
        self.models = {} if models is None else models
        self.desc: ModelDescriptor | None = None  # set once the job has picked its model
        self.out = Path(out) if out else None
        self.notes: list[str] = []  # filled by the stages (appends are atomic)
        self._photo = PhotoMeta()
        self._decode_stats: dict[str, int] = {}

    def cancel(self) -> None:
        self._stop.set(Cancelled(f"{self.inp}: cancelled; no output written"))

    # -- setup ---------------------------------------------------------------------------
    def _download(self, loc: Located) -> Iterator[Downloading]:
        """Fetch ``loc`` in a thread, yielding its progress; a cancel stops it at the next
        chunk (the files already complete stay in the cache; the next job fetches the rest)."""
        import queue

        updates: queue.SimpleQueue = queue.SimpleQueue()

        def progress(file: str, done: int, total: int | None) -> None:
            self._stop.check()
            updates.put((file, done, total))

        th = _Stage("download", lambda st: fetch(loc, progress))
        th.start()
        try:
            while th.is_alive() or not updates.empty():
                try:
                    file, done, total = updates.get(timeout=0.1)
                except queue.Empty:
                    continue
                yield Downloading(loc.label, file, done, total)
        finally:
            if th.is_alive():
                self._stop.set(Cancelled(f"{self.inp}: cancelled while downloading {loc.label}"))
            th.join()
        if th.error is not None:
            raise th.error

    def _check_size(self, info: VideoInfo) -> None:
        """Refuse decompression bombs and absurd frames before any work: limits a user can raise."""
        w, h = info.width, info.height
        if w * h > self.opts.max_pixels:
            raise InputError(
                f"{self.inp}: frames are {w}x{h} ({w * h / 1e6:.1f} MP), above the "
                f"{self.opts.max_pixels / 1e6:.1f} MP limit; pass --max-pixels {w * h} to upscale it anyway"
            )
        if max(w, h) > self.opts.max_aspect * max(1, min(w, h)):
            raise InputError(
                f"{self.inp}: frames are {w}x{h}, more than {self.opts.max_aspect:g}:1; pass "
                f"--max-aspect {max(w, h) / max(1, min(w, h)):.0f} to upscale it anyway"
            )

    def _check_output_folder(self) -> None:
        """Before any model loads: the output's folder exists and is writable."""
        if self.out is None:  # next to the input (a frame folder's output: next to the folder)
            folder = self.inp.parent
        else:
            folder = self.out if self.out.is_dir() else self.out.parent
        if not folder.is_dir():
            raise OutputError(f"{folder}: output folder does not exist")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise OutputError(f"{folder}: output folder is not writable; choose another with -o")

    def _prepare(self, info: VideoInfo) -> tuple[ModelDescriptor, Precision, Path]:
        prec = pick_precision(self.opts.device, self.opts.precision)
        name = model_for(self.opts, info)
        key = (name, self.opts.scale)
        if key not in self.models:
            self.models[key] = load_model(name, self.opts.scale)
        self.desc = desc = self.models[key]
        if self.opts.scale and self.opts.scale != desc.scale:
            raise InputError(f"model {desc.name} upscales x{desc.scale}, not x{self.opts.scale}")
        out = self.out or default_output(self.inp, name, desc.scale, info.is_image)
        if out.is_dir():
            out = out / default_output(self.inp, name, desc.scale, info.is_image).name
        if out.resolve() == self.inp.resolve():
            raise OutputError(f"{out}: the output would overwrite the input; choose another -o")
        if (out.exists() or out.is_symlink()) and not self.opts.overwrite:  # a dangling link too
            if self.opts.skip_existing:
                raise Skipped(f"{out}: exists, skipped (--skip-existing)")
            raise OutputError(
                f"{out}: already exists; pass --overwrite to replace it, --skip-existing to skip it"
            )
        if not out.parent.is_dir():
            raise OutputError(f"{out.parent}: output folder does not exist")
        if info.is_image:
            self._photo = read_photo_meta(self.inp)
            if out.suffix.lower() not in IMAGE_OUT:
                raise OutputError(
                    f"{out}: an image input needs an image output (" + ", ".join(IMAGE_OUT) + ")"
                )
        else:
            codec = resolve_codec(self.opts.encode.codec, info.bit_depth, out)
            self.opts = dataclasses.replace(
                self.opts, encode=dataclasses.replace(self.opts.encode, codec=codec)
            )
            check_output(out, codec)
        return desc, prec, out

    def _tile(self, desc: ModelDescriptor, info: VideoInfo, step_graphs: bool = False) -> int | None:
        """The LR tile the memory budget asks for (None: whole frames fit). ``step_graphs``: for
        the model run one frame per call (a graph backend), which holds one frame's activations
        plus, for a bidirectional window, every frame's backward hidden state."""
        if self.opts.tile:
            return self.opts.tile
        # Frames whose activations are alive at once: a chunk (uni), a window with its margins
        # (bidirectional), one frame (image models).
        if desc.kind == "image" or step_graphs:
            frames = 1
        elif desc.bidirectional:
            frames = self.opts.window + 2 * self.opts.margin
        else:
            frames = self.opts.chunk
        per_pixel = desc.bytes_per_pixel * frames
        if step_graphs and desc.bidirectional:
            per_pixel += (self.opts.window + 2 * self.opts.margin) * desc.state_channels * 4
        budget = self.opts.memory_budget_mb * 2**20
        if info.width * info.height * per_pixel <= budget:
            return None
        return max(64, int((budget / per_pixel) ** 0.5))

    # -- stages ---------------------------------------------------------------------------
    def _decode(self, info: VideoInfo, ch: Channel):
        """The decode stage: LR frames (pts, array) into ``ch``; a failure travels through it."""

        def stage(st: _Stage) -> None:
            try:
                t = time.monotonic()
                for item in decode_frames(info, self.opts.start, self.opts.duration, self._decode_stats):
                    st.busy += time.monotonic() - t
                    ch.put(item)
                    t = time.monotonic()
                ch.close()
            except Cancelled:
                raise
            except BaseException as e:
                ch.close(_wrap(e, self.inp))
                raise

        return _Stage("slimvsr-decode", stage)

    def _encode(self, info: VideoInfo, ch: Channel, tmp: Path, out: Path, out_size: tuple[int, int]):
        """The encode stage: SR frames from ``ch`` into the temporary output. It owns its sink:
        it closes it after the last frame, or aborts it (in this thread, never concurrently with a
        write) when the job stops; its failure travels back through ``ch``."""

        def stage(st: _Stage) -> None:
            sink = None
            closed = False
            try:
                t = time.monotonic()
                if info.is_image:
                    item = ch.get()
                    if item is not END:
                        note = write_image(tmp, item[1], out, self._photo, self.opts.encode.quality)
                        if note:
                            self.notes.append(f"{out}: {note}")
                    st.busy += time.monotonic() - t
                    # An image output holds one frame: a second one is refused, not waited for.
                    ch.abort(
                        InputError(f"{self.inp}: has more than one frame; write it as a video (-o NAME.mp4)")
                    )
                    return
                sink = VideoSink(
                    tmp, info, out_size, self.opts.encode, self.opts.start, self.opts.duration, final_path=out
                )
                self.notes.extend(sink.notes)
                st.busy += time.monotonic() - t
                while (item := ch.get()) is not END:
                    t = time.monotonic()
                    sink.write(item[0], item[1])
                    st.busy += time.monotonic() - t
                t = time.monotonic()
                sink.close()
                closed = True
                st.busy += time.monotonic() - t
            except Cancelled:
                raise
            except BaseException as e:
                ch.abort(_wrap(e, self.inp, out))
                raise
            finally:
                if sink is not None and not closed:
                    sink.abort()

        return _Stage("slimvsr-encode", stage)

    # -- run ------------------------------------------------------------------------------
    def run(self) -> Iterator[Event]:
        """Set up, then loop over chunks (decode -> model -> encode), emitting events."""
        bound_heap()
        self._stop.check()
        info = probe(self.inp, self.opts.sequence_fps if self.inp.is_dir() else None)
        self._check_size(info)
        if info.duration_s is not None and not info.is_image and self.opts.start >= info.duration_s:
            raise InputError(
                f"{self.inp}: --start {self.opts.start:g}s is past the end ({info.duration_s:.2f}s); "
                "no frames in the requested range"
            )
        self._check_output_folder()
        name = model_for(self.opts, info)
        if (name, self.opts.scale) not in self.models:
            loc = locate(name, self.opts.scale)
            if loc.needs_download:
                yield from self._download(loc)
        desc, prec, out = self._prepare(info)
        s = desc.scale
        out_size = (info.height * s, info.width * s)
        total = _frames_in_range(info.frames, info.rate, self.opts.start, self.opts.duration)
        tile = self._tile(desc, info)
        backend = pick_backend(self.opts.backend, desc, prec.device, prec.dtype, self._tile(desc, info, True))
        yield Started(
            self.inp, out, total, (info.height, info.width), out_size, desc.name, str(prec.device), prec.name,
            backend,
        )  # fmt: skip
        remove_stale_partials(out)
        tmp = _tmp_name(out)
        t_start = time.monotonic()
        runner = make_runner(
            desc, prec, window=self.opts.window, margin=self.opts.margin, tile=tile,
            graphs=graphs_for(desc, prec) if backend == "openvino" else None,
        )  # fmt: skip
        lr_frames = Channel(self.opts.queue_frames, self._stop)
        # SR frames are 16x the pixels of LR ones: they wait as 8/16-bit arrays, at most two
        # chunks of them, so memory does not grow with the encoder's pace or the input's length.
        sr_frames = Channel(2 * self.opts.chunk, self._stop)
        deep = info.bit_depth > 8
        dec = self._decode(info, lr_frames)
        enc = self._encode(info, sr_frames, tmp, out, out_size)
        dec.start()
        enc.start()
        done, model_busy = 0, 0.0
        pts_pending: list[int] = []
        ok = False
        try:
            ended = False
            while not ended:
                frames: list[np.ndarray] = []
                while len(frames) < self.opts.chunk:
                    item = lr_frames.get()
                    if item is END:
                        ended = True
                        break
                    pts_pending.append(item[0])
                    frames.append(item[1])
                self._stop.check()
                t = time.monotonic()
                outs = []
                if frames:
                    y = runner.push(_to_tensor(frames))
                    if y is not None:
                        outs.append(y)
                if ended:
                    y = runner.flush()
                    if y is not None:
                        outs.append(y)
                model_busy += time.monotonic() - t
                for y in outs:
                    for f in y:
                        sr_frames.put((pts_pending.pop(0), _to_array(f, deep)))
                        done += 1
                        el = time.monotonic() - t_start
                        fps = done / el if el > 0 else 0.0
                        eta = (total - done) / fps if total and fps > 0 else None
                        yield Progress(done, total, fps, eta, el)  # per frame, as each is handed on
                # Drop this chunk's float SR frames before the next chunk is computed, so that
                # only one chunk's worth is ever alive, whatever the input's length.
                outs, y, frames = [], None, []
                release_heap()
            if done == 0:
                raise InputError(
                    f"{self.inp}: no frames in the requested range "
                    f"(start {self.opts.start}s); check --start/--duration"
                )
            sr_frames.close()
            enc.join()  # the encoder drains its last frames; a cancel wakes it
            self._stop.check()
            if enc.error is not None:
                raise _wrap(enc.error, self.inp, out)
            dec.join()
            self._stop.check()  # honoured up to the rename: after it, the output is whole
            dropped = self._decode_stats.get("before_start", 0)
            if dropped and self.opts.start == 0:
                self.notes.append(
                    f"{self.inp}: {dropped} decoded frame(s) carry timestamps before the first frame's "
                    "(damaged timestamps) and were left out of the output"
                )
            if total and not info.is_image and done < total - max(2, total // 50):
                self.notes.append(
                    f"{self.inp}: decoded {done} frames of the {total} the container declares; the "
                    "input looks truncated (the output has the frames that could be read)"
                )
            os.replace(tmp, out)
            ok = True
            busy = {"decode": dec.busy, "model": model_busy, "encode": enc.busy}
            yield Finished(out, done, time.monotonic() - t_start, busy, tuple(self.notes))
        except torch.OutOfMemoryError as e:
            raise RunError(
                f"{self.inp}: out of memory in the model; pass --tile 256 or a smaller --chunk"
            ) from e
        finally:
            if not ok:
                # Wakes both stages wherever they wait; they end within a frame's work.
                self._stop.set(Cancelled(f"{self.inp}: stopped; no output written"))
                dec.join(timeout=30)
                enc.join(timeout=30)
                with contextlib.suppress(OSError):  # never masks the error that stopped the job
                    tmp.unlink(missing_ok=True)


def _wrap(e: BaseException, inp: Path, out: Path | None = None) -> BaseException:
    """An internal failure as one line about the user's files: the hidden temporary is named by
    the output it stands for, an OS error by its meaning rather than its number."""
    if isinstance(e, SlimVSRError):
        return e
    if isinstance(e, OSError) and e.strerror:
        text = e.strerror + (f" ({e.filename})" if e.filename else "")
    else:
        text = str(e) or type(e).__name__
    if out is not None:
        text = text.replace(str(_tmp_name(out)), str(out)).replace(_tmp_name(out).name, out.name)
    text = re.sub(r"\s*returned -?\d+$", "", text)  # PyAV's raw return code adds nothing
    return RunError(f"{inp}: {text}; the output {out.name if out else ''} was not written".replace("  ", " "))


def upscale(
    inp: str | Path, out: str | Path | None = None, opts: UpscaleOptions | None = None
) -> Iterator[Event]:
    """Upscale one file; yields Started, Progress..., Finished. See :class:`Job`."""
    return Job(Path(inp), Path(out) if out else None, opts or UpscaleOptions()).run()


VIDEO_EXTS = {".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v", ".mpg", ".mpeg", ".ts"}
_OUTPUT_NAME = re.compile(r"\.([A-Za-z0-9_.-]+)-x(\d+)$")  # clip.ssl-uni-x4 (see default_output)


def is_own_output(path: Path) -> bool:
    """Whether ``path`` is one of this program's outputs: named as default_output names them
    and carrying slimvsr's marker (EXIF Software / PNG text for photos, the container's comment
    for videos)."""
    from ._photo import MARKER
    from ._photo import is_own_output as photo_marked

    if not _OUTPUT_NAME.search(path.stem):
        return False
    if path.suffix.lower() in IMAGE_EXTS:
        return photo_marked(path)
    try:
        with open_input(path) as c:
            # Matroska upper-cases tag names (COMMENT): compare names without case.
            return any(
                k.lower() in ("comment", "slimvsr") and str(v).startswith(MARKER)
                for k, v in c.metadata.items()
            )
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        return False


@dataclass(frozen=True)
class Inputs:
    """What a list of paths expands to: the files to upscale, and this program's own outputs
    found in the folders (skipped, so a second run over a folder does not upscale them again)."""

    files: list[Path]
    own_outputs: list[Path]


def collect_inputs(paths: list[Path], sequences: bool = False) -> Inputs:
    """Files stay as they are. Folders expand to the images and videos directly inside them
    (minus this program's own outputs), or, with ``sequences``, stay whole: each is one video
    made of its frames."""
    out: list[Path] = []
    own: list[Path] = []
    for p in paths:
        if p.is_dir() and not sequences:
            kids = sorted(
                k
                for k in p.iterdir()
                if k.is_file() and k.suffix.lower() in IMAGE_EXTS | VIDEO_EXTS and not k.name.startswith(".")
            )
            mine = [k for k in kids if is_own_output(k)]
            own.extend(mine)
            kids = [k for k in kids if k not in mine]
            if not kids and not mine:
                raise InputError(f"{p}: folder has no images or videos")
            out.extend(kids)
        else:
            out.append(p)
    return Inputs(out, own)


def expand_inputs(paths: list[Path], sequences: bool = False) -> list[Path]:
    """The files of collect_inputs()."""
    return collect_inputs(paths, sequences).files


@dataclass(frozen=True)
class PreviewResult:
    time_s: float  # the frame's time from the start of the input
    input: np.ndarray  # LR frame, (H, W, 3) uint8
    output: np.ndarray  # SR frame, (sH, sW, 3) uint8
    bicubic: np.ndarray  # LR frame upscaled with bicubic interpolation, same size as output
    from_output: bool = False  # ``output`` was read from a finished job's file (preview_output)


def preview(
    inp: str | Path,
    time_s: float,
    opts: UpscaleOptions | None = None,
    desc: ModelDescriptor | None = None,
    context: int = 4,
) -> PreviewResult:
    """Upscale the frame at ``time_s`` (seconds from the start) of ``inp``, for a before/after view.

    Recurrent models first see up to ``context`` earlier frames (and bidirectional ones as many
    later ones), so the preview looks like the frame in a full run.
    """
    import torch.nn.functional as F

    opts = opts or UpscaleOptions()
    inp = Path(inp)
    info = probe(inp, opts.sequence_fps if inp.is_dir() else None)
    prec = pick_precision(opts.device, opts.precision)
    desc = desc or load_model(model_for(opts, info), opts.scale)
    rate = float(info.rate) if info.rate else 25.0
    before = context / rate if desc.recurrent else 0.0
    after = context / rate if desc.bidirectional else 0.0
    start = max(0.0, time_s - before)
    frames = list(decode_frames(info, start, (time_s - start) + after + 1.0 / rate))
    if not frames:
        raise InputError(f"{inp}: no frame at {time_s:.2f}s; pick an earlier time")
    t0 = info.start_time
    tb = info.time_base
    target = min(range(len(frames)), key=lambda i: abs(float(frames[i][0] * tb) - t0 - time_s))
    x = _to_tensor([a for _, a in frames])
    backend = pick_backend(opts.backend, desc, prec.device, prec.dtype, None)
    graphs = graphs_for(desc, prec) if backend == "openvino" else None
    runner = make_runner(desc, prec, window=len(frames), margin=0, graphs=graphs)
    outs = [y for y in (runner.push(x), runner.flush()) if y is not None]
    sr = torch.cat(outs)[target]
    lr = x[target]
    bic = F.interpolate(lr[None], scale_factor=desc.scale, mode="bicubic", align_corners=False)[0]
    deep = info.bit_depth > 8
    as8 = lambda a: (a.astype(np.float32) / 257).round().astype(np.uint8) if deep else a  # noqa: E731
    return PreviewResult(
        time_s=float(frames[target][0] * tb) - t0,
        input=as8(frames[target][1]),
        output=_to_array(sr, False),
        bicubic=_to_array(bic.clamp(0, 1), False),
    )


def _frame_near(info: VideoInfo, time_s: float) -> tuple[float, np.ndarray]:
    """(time, RGB uint8) of the frame of ``info`` nearest ``time_s``."""
    rate = float(info.rate) if info.rate else 25.0
    start = max(0.0, time_s - 1.0 / rate)
    frames = list(decode_frames(info, start, 3.0 / rate)) or list(decode_frames(info, 0.0, None))[-1:]
    if not frames:
        raise InputError(f"{info.path}: no frame at {time_s:.2f}s")
    t0, tb = info.start_time, info.time_base
    pts, a = min(frames, key=lambda f: abs(float(f[0] * tb) - t0 - time_s))
    if a.dtype == np.uint16:
        a = (a.astype(np.float32) / 257).round().astype(np.uint8)
    return float(pts * tb) - t0, a


def preview_output(inp: str | Path, out: str | Path, time_s: float) -> PreviewResult:
    """A finished job's before/after: the output file's own frame at ``time_s`` (what the user
    will get, encoded), against the input's frame upscaled bicubic to the same size."""
    import torch.nn.functional as F

    info, oinfo = probe(Path(inp)), probe(Path(out))
    t, lr = _frame_near(info, time_s)
    _, sr = _frame_near(oinfo, t)
    x = torch.from_numpy(np.ascontiguousarray(lr)).permute(2, 0, 1)[None].float() / 255
    bic = F.interpolate(x, size=sr.shape[:2], mode="bicubic", align_corners=False)[0]
    return PreviewResult(t, lr, sr, _to_array(bic.clamp(0, 1), False), from_output=True)
