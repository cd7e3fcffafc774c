from __future__ import annotations

import errno
import json
import os
import platform
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from media import write_clip
from slimvsr.app.cli import main as upscale_main
from slimvsr.engine import (
    Finished,
    Job,
    Precision,
    Progress,
    Started,
    UniRunner,
    UpscaleOptions,
    WindowRunner,
    make_runner,
    probe,
)
from slimvsr.engine._media import decode_frames
from slimvsr.models import EDSR, BasicVSR, describe, save_pretrained
from tiny import tiny_config

CPU32 = Precision(torch.device("cpu"), torch.float32, channels_last=False)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    out = {}
    for name, model in (
        ("uni", BasicVSR(tiny_config("basicvsr", 0))),
        ("bi", BasicVSR(tiny_config("basicvsr", 1))),
        ("edsr", EDSR(tiny_config("edsr", 0, scale=2))),
    ):
        save_pretrained(model, root / name, {"name": f"tiny-{name}"})
        out[name] = root / name
    return out


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("media") / "clip.mp4", n=12)


def _video(path: Path) -> tuple[list[float], av.video.stream.VideoStream, tuple[int, int], str]:
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        frames = list(c.decode(vs))
        ts = [float(f.pts * vs.time_base) for f in frames]
        return ts, vs.codec_context.name, (frames[0].height, frames[0].width), frames[0].format.name


def _packets(path: Path, kind: str) -> list[bytes]:
    with av.open(str(path)) as c:
        s = next(s for s in c.streams if s.type == kind)
        return [bytes(p) for p in c.demux(s) if p.size]


def _run(inp: Path, out: Path | None, **kw) -> list:
    return list(Job(inp, out, UpscaleOptions(**kw)).run())


def test_clip_with_audio_keeps_frames_timestamps_and_audio(clip, models, tmp_path) -> None:
    out = tmp_path / "out.mp4"
    events = _run(clip, out, model=str(models["uni"]), precision="fp32")
    assert isinstance(events[0], Started) and isinstance(events[-1], Finished)
    assert any(isinstance(e, Progress) for e in events)
    ts_in, _, size_in, _ = _video(clip)
    ts_out, codec, size_out, _ = _video(out)
    assert size_out == (size_in[0] * 4, size_in[1] * 4)
    assert codec == "h264"
    assert ts_out == ts_in
    assert _packets(out, "audio") == _packets(clip, "audio")
    assert not list(tmp_path.glob(".*partial*"))


def test_vfr_stays_vfr(models, tmp_path) -> None:
    src = write_clip(tmp_path / "vfr.mp4", n=9, vfr=True, audio=False)
    out = tmp_path / "vfr-out.mkv"
    _run(src, out, model=str(models["edsr"]), precision="fp32")
    ts_in, ts_out = _video(src)[0], _video(out)[0]
    assert len(set(np.round(np.diff(ts_in), 3))) > 1  # the input really is VFR
    assert np.allclose(ts_out, ts_in, atol=1e-3)  # mkv stores milliseconds


def test_ten_bit_stays_ten_bit(models, tmp_path) -> None:
    src = write_clip(tmp_path / "10bit.mkv", n=4, ten_bit=True, audio=False)
    info = probe(src)
    assert info.bit_depth == 10
    _, arr = next(iter(decode_frames(info)))
    # Decoded to 16-bit without an 8-bit round trip: levels between 8-bit steps are present.
    assert arr.dtype == np.uint16 and np.mean(arr % 257 != 0) > 0.5
    out = tmp_path / "10bit-out.mkv"
    _run(src, out, model=str(models["edsr"]), precision="fp32", encode=_enc("hevc"))
    assert _video(out)[3] == "yuv420p10le"


def _enc(codec: str):
    from slimvsr.engine import EncodeSettings

    return EncodeSettings(codec=codec)


def test_rotation_and_colour_metadata_survive(models, tmp_path) -> None:
    src = write_clip(tmp_path / "rot.mp4", n=4, rotation=90, bt709=True, audio=False)
    info = probe(src)
    assert info.rotation != 0 and info.color.matrix == 1
    out = tmp_path / "rot-out.mp4"
    _run(src, out, model=str(models["edsr"]), precision="fp32")
    o = probe(out)
    assert o.rotation == info.rotation
    assert (o.color.primaries, o.color.trc, o.color.matrix, o.color.range) == (1, 1, 1, 1)


def test_streaming_uni_equals_whole_sequence(models) -> None:
    from slimvsr.models import load_model

    desc = load_model(models["uni"])
    x = torch.rand(10, 3, 12, 14)
    with torch.no_grad():
        whole = desc.model(x.unsqueeze(0))[0]
    r = UniRunner(desc, CPU32)
    streamed = torch.cat([r.push(x[i : i + 3]) for i in range(0, 10, 3)])
    # Same recurrence; only batched-SPyNet summation order differs: 1e-5 in [0, 1] units.
    assert torch.allclose(streamed, whole.clamp(0, 1), atol=1e-5)
    tiled = UniRunner(desc, CPU32, tile=5)
    streamed_tiled = torch.cat([tiled.push(x[i : i + 4]) for i in range(0, 10, 4)])
    # Upsampler tiling with a 4-pixel margin covers its receptive field: exact up to float.
    assert torch.allclose(streamed_tiled, whole.clamp(0, 1), atol=1e-5)


def test_video_models_tile_their_upsampler_for_the_cache_on_cpu_only(models) -> None:
    """On CPU the upsampler runs in the family's cache tile (or the memory budget's, if smaller);
    on a GPU only the memory budget tiles; single-image models have no in-model tiling."""
    from slimvsr.engine import in_model_tile
    from slimvsr.models import load_model
    from slimvsr.models._basicvsr import UPSAMPLER_CACHE_TILE

    uni, img = load_model(models["uni"]), load_model(models["edsr"])
    gpu = Precision(torch.device("cuda"), torch.float16, channels_last=False)
    assert in_model_tile(uni, CPU32, None) == UPSAMPLER_CACHE_TILE == 128
    assert in_model_tile(uni, CPU32, 64) == 64 and in_model_tile(uni, CPU32, 512) == 128
    assert in_model_tile(uni, gpu, None) is None and in_model_tile(uni, gpu, 512) == 512
    assert in_model_tile(img, CPU32, None) is None
    assert make_runner(uni, CPU32).tile == 128


def test_bidirectional_windows_close_to_whole_sequence(models) -> None:
    from slimvsr.models import load_model

    desc = load_model(models["bi"])
    assert desc.bidirectional
    x = torch.rand(23, 3, 12, 14)
    with torch.no_grad():
        whole = desc.model(x.unsqueeze(0))[0].clamp(0, 1)
    r = WindowRunner(desc, CPU32, window=6, margin=3)
    outs = [y for i in range(0, 23, 5) if (y := r.push(x[i : i + 5])) is not None]
    outs.append(r.flush())
    win = torch.cat(outs)
    assert win.shape == whole.shape
    # Each kept frame sees >= 3 frames of context each way; the rest of the sequence reaches
    # it only through the recurrent state. Stated tolerance: PSNR >= 40 dB against whole.
    mse = torch.mean((win - whole) ** 2).item()
    assert 10 * np.log10(1 / max(mse, 1e-12)) >= 40


def test_cancel_leaves_no_output(models, tmp_path) -> None:
    src = write_clip(tmp_path / "long.mp4", n=40, audio=True)
    out = tmp_path / "long-out.mp4"
    job = Job(src, out, UpscaleOptions(model=str(models["uni"]), chunk=4, precision="fp32"))
    from slimvsr.errors import Cancelled

    with pytest.raises(Cancelled):
        for ev in job.run():
            if isinstance(ev, Progress) and ev.frames_done >= 8:
                job.cancel()
    assert not out.exists()
    assert not list(tmp_path.glob(".*partial*"))
    assert not _stage_threads()  # decoder and encoder ended with the job, none left blocked


def _stage_threads() -> list[str]:
    import threading

    return [t.name for t in threading.enumerate() if t.name.startswith("slimvsr-")]


def test_cancel_after_last_frame_still_leaves_no_output(models, tmp_path, clip) -> None:
    """A cancel that arrives while the encoder drains its last frames is honoured up to the rename."""
    from slimvsr.errors import Cancelled

    out = tmp_path / "late.mp4"
    job = Job(clip, out, UpscaleOptions(model=str(models["uni"]), chunk=2))
    with pytest.raises(Cancelled):
        for ev in job.run():
            if isinstance(ev, Progress) and ev.frames_done == ev.total_frames:
                job.cancel()
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))
    assert not _stage_threads()


def test_closing_generator_leaves_no_output(models, tmp_path, clip) -> None:
    out = tmp_path / "closed.mp4"
    gen = Job(clip, out, UpscaleOptions(model=str(models["uni"]), chunk=2)).run()
    for ev in gen:
        if isinstance(ev, Progress):
            break
    gen.close()
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))


def test_start_duration_preview(models, tmp_path) -> None:
    src = write_clip(tmp_path / "p.mp4", n=20, fps=10)
    out = tmp_path / "p-out.mp4"
    events = _run(src, out, model=str(models["edsr"]), start=0.5, duration=1.0)
    ts = _video(out)[0]
    assert len(ts) == 10 and ts[0] == pytest.approx(0.0)
    # the progress total is the frames the range holds, so the bar ends full
    assert events[0].total_frames == 10 and events[-2].frames_done == events[-2].total_frames == 10
    audio_s = sum(1024 for _ in _packets(out, "audio")) / 48000
    assert 0.9 <= audio_s <= 1.2


def test_image_in_image_out(models, tmp_path) -> None:
    from PIL import Image

    src = tmp_path / "photo.png"
    Image.fromarray((np.random.default_rng(0).random((20, 24, 3)) * 255).astype(np.uint8)).save(src)
    assert upscale_main([str(src), "-m", str(models["edsr"]), "-q"]) == 0
    out = tmp_path / "photo.edsr-x2.png"
    assert Image.open(out).size == (48, 40)
    # A second run refuses to overwrite; --overwrite replaces.
    assert upscale_main([str(src), "-m", str(models["edsr"]), "-q"]) == 2
    assert upscale_main([str(src), "-m", str(models["edsr"]), "-q", "--overwrite"]) == 0


def test_several_inputs_into_folder(models, tmp_path, clip) -> None:
    from PIL import Image

    img = tmp_path / "a.jpg"
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(img)
    outdir = tmp_path / "out"
    outdir.mkdir()
    assert upscale_main([str(clip), str(img), "-m", str(models["edsr"]), "-o", str(outdir), "-q"]) == 0
    assert sorted(p.name for p in outdir.iterdir()) == ["a.edsr-x2.jpg", "clip.edsr-x2.mp4"]


def test_without_a_model_each_input_gets_its_kinds_default(tmp_path) -> None:
    """No -m: videos get the DEFAULT video model, photos the DEFAULT image model, at its own scale
    (the bundled weights); each model is loaded once for all the inputs of its kind."""
    from PIL import Image

    from slimvsr.engine import Job, UpscaleOptions
    from slimvsr.models import WEIGHTS, default_model

    video, image = default_model("video"), default_model("image")
    assert WEIGHTS[video].kind == "video" and WEIGHTS[image].kind == "image"
    small = write_clip(tmp_path / "small.mp4", n=3, size=(24, 32), audio=False)
    imgs = [tmp_path / "a.png", tmp_path / "b.png"]
    for p in imgs:
        Image.fromarray(np.full((12, 16, 3), 100, np.uint8)).save(p)
    outdir = tmp_path / "out"
    outdir.mkdir()
    assert upscale_main([str(small), *map(str, imgs), "-o", str(outdir), "-q"]) == 0
    s_img = WEIGHTS[image].scales[0]
    assert sorted(p.name for p in outdir.iterdir()) == [
        f"a.{image}-x{s_img}.png",
        f"b.{image}-x{s_img}.png",
        f"small.{video}-x{WEIGHTS[video].scales[0]}.mp4",
    ]
    assert Image.open(outdir / f"a.{image}-x{s_img}.png").size == (16 * s_img, 12 * s_img)
    models: dict = {}
    jobs = [Job(p, tmp_path / f"{p.stem}-again.png", UpscaleOptions(), models) for p in imgs]
    for job in jobs:
        list(job.run())
    assert jobs[0].desc is jobs[1].desc and list(models) == [(image, None)]  # loaded once


# -- errors: one line, exit code 2 for usage/input errors -------------------------------------
def _err(capsys, argv: list[str]) -> tuple[int, str]:
    code = upscale_main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def test_error_missing_file(capsys, tmp_path) -> None:
    code, msg = _err(capsys, [str(tmp_path / "nope.mp4")])
    assert code == 2 and "nope.mp4: no such file" in msg


def test_error_not_media(capsys, tmp_path) -> None:
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video")
    code, msg = _err(capsys, [str(p)])
    assert code == 2 and "not a media file" in msg


def test_error_no_video_stream(capsys, tmp_path) -> None:
    p = tmp_path / "sound.m4a"
    with av.open(str(p), "w", format="mp4") as out:
        a = out.add_stream("aac", rate=48000)
        a.layout = "mono"
        for k in range(0, 48000, 1024):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            f.sample_rate, f.pts, f.time_base = 48000, k, Fraction(1, 48000)
            out.mux(a.encode(f))
        out.mux(a.encode(None))
    code, msg = _err(capsys, [str(p)])
    assert code == 2 and "no video stream" in msg


def test_error_truncated(capsys, clip, tmp_path) -> None:
    p = tmp_path / "cut.mp4"
    p.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    code, msg = _err(capsys, [str(p)])
    assert code == 2 and "cut.mp4" in msg


def test_error_unknown_model_and_scale(capsys, clip) -> None:
    code, msg = _err(capsys, [str(clip), "-m", "nope"])
    assert code == 2 and "unknown model 'nope'" in msg
    code, msg = _err(capsys, [str(clip), "-m", "edsrmini", "-s", "3"])
    assert code == 2 and "does not do x3" in msg


def test_error_codec_container_mismatch(capsys, clip, models, tmp_path) -> None:
    code, msg = _err(
        capsys, [str(clip), "-m", str(models["edsr"]), "-o", str(tmp_path / "x.webm"), "--codec", "h264"]
    )
    assert code == 2 and "cannot hold h264" in msg


def test_error_missing_cuda_device(capsys, clip, models) -> None:
    code, msg = _err(capsys, [str(clip), "-m", str(models["edsr"]), "--device", "cuda:7"])
    assert code == 2 and "cuda:7 is not available" in msg


def test_error_no_space_left(capsys, clip, models, tmp_path, monkeypatch) -> None:
    from slimvsr.engine import _encode

    monkeypatch.setattr(
        _encode.VideoSink,
        "write",
        lambda self, pts, rgb: _encode._raise_os(
            OSError(errno.ENOSPC, "No space left on device"), self.final
        ),
    )
    out = tmp_path / "full.mp4"
    code, msg = _err(capsys, [str(clip), "-m", str(models["edsr"]), "-o", str(out)])
    assert code == 2 and "no space left" in msg
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))


def test_error_output_is_input(capsys, clip, models) -> None:
    code, msg = _err(capsys, [str(clip), "-m", str(models["edsr"]), "-o", str(clip), "--overwrite"])
    assert code == 2 and "would overwrite the input" in msg


def test_debug_env_shows_traceback(clip, monkeypatch) -> None:
    from slimvsr.errors import ModelError

    monkeypatch.setenv("SLIMVSR_DEBUG", "1")
    with pytest.raises(ModelError):
        upscale_main([str(clip), "-m", "nope"])


def test_describe_rejects_flow_network() -> None:
    from slimvsr.errors import ModelError
    from slimvsr.models import SPyNet

    with pytest.raises(ModelError):
        describe(SPyNet())


def test_image_sequence_folder_as_video(models, tmp_path) -> None:
    from PIL import Image

    from media import moving_pattern

    seq = tmp_path / "frames [take 1]"  # glob characters in the name are escaped
    seq.mkdir()
    for i, f in enumerate(moving_pattern(7, 24, 32)):
        Image.fromarray(f).save(seq / f"{i:04d}.png")
    assert upscale_main([str(seq), "--sequence", "--fps", "12", "-m", str(models["edsr"]), "-q"]) == 0
    out = tmp_path / "frames [take 1].edsr-x2.mp4"
    ts, _, size, _ = _video(out)
    assert len(ts) == 7 and size == (48, 64)
    assert ts[1] == pytest.approx(1 / 12, abs=1e-3)
    # Without --sequence a folder expands to its files (here: 7 images -> 7 outputs).
    assert upscale_main([str(seq), "-m", str(models["edsr"]), "-q"]) == 0
    assert len(list(seq.glob("*.edsr-x2.png"))) == 7


def test_subtitles_are_copied(models, clip, tmp_path) -> None:
    from media import with_subtitles

    src = with_subtitles(clip, tmp_path / "subs.mkv", [(0.1, 0.5, "Hello"), (0.6, 0.9, "World")])
    out = tmp_path / "subs-out.mkv"
    _run(src, out, model=str(models["edsr"]))
    assert _packets(out, "subtitle") == _packets(src, "subtitle") == [b"Hello", b"World"]
    assert _packets(out, "audio") == _packets(src, "audio")
    # An .mp4 cannot hold SRT: a clear error, no output.
    code = upscale_main([str(src), "-m", str(models["edsr"]), "-o", str(tmp_path / "s.mp4"), "-q"])
    assert code == 2 and not (tmp_path / "s.mp4").exists()


@pytest.mark.parametrize("ext", [".webp", ".tif", ".jpg"])
def test_image_formats(models, tmp_path, ext) -> None:
    from PIL import Image

    src = tmp_path / f"in{ext}"
    Image.fromarray((np.random.default_rng(2).random((18, 22, 3)) * 255).astype(np.uint8)).save(src)
    out = tmp_path / f"out{ext}"
    assert upscale_main([str(src), "-m", str(models["edsr"]), "-o", str(out), "-q"]) == 0
    assert Image.open(out).size == (44, 36)


def test_memory_budget_tiles_and_matches_untiled(models, tmp_path) -> None:
    from slimvsr.engine import EncodeSettings
    from slimvsr.models import load_model

    def frames(path: Path) -> np.ndarray:
        with av.open(str(path)) as c:
            return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(float)

    src = write_clip(tmp_path / "big.mp4", n=5, size=(96, 144), audio=False)
    enc = EncodeSettings(codec="ffv1")  # lossless YUV 4:4:4: only the model's output differs
    whole, tiled = tmp_path / "whole.mkv", tmp_path / "tiled.mkv"
    _run(src, whole, model=str(models["uni"]), precision="fp32", encode=enc)
    opts = UpscaleOptions(model=str(models["uni"]), precision="fp32", encode=enc, memory_budget_mb=1)
    job = Job(src, tiled, opts)
    assert job._tile(load_model(models["uni"]), probe(src)) == 64  # < 144: frames are tiled
    list(job.run())
    a, b = frames(whole), frames(tiled)
    # The upsampler's tiles carry a margin covering its receptive field: equal up to float
    # rounding. One 8-bit RGB level of difference can become up to 3 after the RGB -> YUV -> RGB
    # round trip, and almost every pixel is identical.
    assert a.shape == b.shape and np.abs(a - b).max() <= 3 and np.mean(a != b) < 0.01


_HEAP_PROBE = """
import json, os, resource, threading
import torch
from slimvsr.engine._heap import bound_heap, release_heap
policy = bound_heap()
assert policy and bound_heap() == policy  # applied once, idempotent
page = os.sysconf("SC_PAGE_SIZE")
rss = lambda: int(open("/proc/self/statm").read().split()[1]) * page / 2**20
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
SIZES = (544 * 960 * 3, 7_000_000, 40_000_000)  # an SR frame, a layer's output, an HR one > 32 MiB
def work(rounds):  # what a job's threads do: the same buffers made, written and freed
    for _ in range(rounds):
        keep = [torch.ones(n, dtype=torch.uint8) for n in SIZES]  # (numpy asks for huge pages)
        del keep
def run(rounds):
    threads = [threading.Thread(target=work, args=(rounds,)) for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
base = rss()
run(3)  # warm-up: the heap grows to the working set
f0 = faults()
run(20)
steady = faults() - f0
release_heap()  # what the engine does between chunks
print(json.dumps({"policy": policy, "faults_per_round": steady / 20,
                  "pages_per_round": 3 * sum(SIZES) / page, "rss_after_release": rss() - base}))
"""


def _heap_probe(policy: str) -> dict:
    env = {**os.environ, "SLIMVSR_HEAP": policy}
    r = subprocess.run(
        [sys.executable, "-c", _HEAP_PROBE], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(r.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_heap_reuses_buffers_and_hands_them_back_between_chunks() -> None:
    """The engine's heap policy (trim): buffers freed by several threads are reused with their
    pages resident (a fraction of the page faults of the mmap policy, whose fresh mapping per
    buffer faults in every page every time), and the trim between chunks gives the memory back."""
    trim, mmap = _heap_probe("trim"), _heap_probe("mmap")
    assert trim["policy"] == "trim" and mmap["policy"] == "mmap"
    assert mmap["faults_per_round"] > 0.5 * mmap["pages_per_round"]  # the cost being removed
    # (a real job: 23x fewer faults, docs/performance.md; here threads racing for one arena)
    assert trim["faults_per_round"] < 0.3 * mmap["faults_per_round"]
    assert trim["rss_after_release"] < 20.0


def test_heap_policy_typo_is_one_clear_error() -> None:
    code = "from slimvsr.engine._heap import heap_policy; heap_policy()"
    env = {**os.environ, "SLIMVSR_HEAP": "fast"}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode != 0 and "SLIMVSR_HEAP='fast' is not a heap policy; use one of trim" in r.stderr


@pytest.mark.parametrize(
    "frames,rate,start,duration,expected",
    [
        (20, 10, 0.0, None, 20),
        (20, 10, 0.5, None, 15),  # --start alone: the rest of the clip
        (20, 10, 0.5, 1.0, 10),
        (20, 10, 0.25, 1.0, 10),  # frames 3..12 (0.3 s .. 1.2 s)
        (20, 10, 1.5, 5.0, 5),  # the range runs past the end
        (None, 10, 0.0, 2.0, 20),  # unknown length, known range
        (20, None, 0.5, 1.0, 20),  # no rate: the stream's count
    ],
)
def test_progress_total_counts_the_frames_in_range(frames, rate, start, duration, expected) -> None:
    from slimvsr.engine._pipeline import _frames_in_range

    assert _frames_in_range(frames, rate, start, duration) == expected


def test_channel_wakes_on_stop_and_carries_stage_errors() -> None:
    """The job's one plumbing type: a blocked put or get wakes at once on a stop (no polling), a
    producer's failure reaches the consumer after the items, a consumer's failure reaches the
    producer, and END follows a clean close."""
    import threading

    from slimvsr.engine._channel import END, Channel, Stop
    from slimvsr.errors import Cancelled, RunError

    stop = Stop()
    ch = Channel(1, stop)
    ch.put(1)
    got: list[BaseException] = []

    def blocked_put() -> None:
        try:
            ch.put(2)  # full: blocks until the stop
        except BaseException as e:
            got.append(e)

    t = threading.Thread(target=blocked_put)
    t.start()
    t.join(0.2)
    assert t.is_alive()
    stop.set(Cancelled("cancelled"))
    t.join(2)
    assert not t.is_alive() and isinstance(got[0], Cancelled)
    with pytest.raises(Cancelled):
        ch.get()

    ch = Channel(4, Stop())
    ch.put("a")
    ch.close(RunError("decoder failed"))
    assert ch.get() == "a"
    with pytest.raises(RunError, match="decoder failed"):
        ch.get()

    ch = Channel(4, Stop())
    ch.abort(RunError("encoder failed"))
    with pytest.raises(RunError, match="encoder failed"):
        ch.put("x")

    ch = Channel(4, Stop())
    ch.put("x")
    ch.close()
    assert ch.get() == "x" and ch.get() is END


def test_copied_packets_without_dts_are_kept(models, clip, tmp_path, monkeypatch) -> None:
    """Some demuxers give subtitle (or audio) packets a pts but no dts: they are muxed at their
    pts, not dropped."""
    from media import with_subtitles
    from slimvsr.engine import _encode

    src = with_subtitles(clip, tmp_path / "subs.mkv", [(0.1, 0.5, "Hello"), (0.6, 0.9, "World")])
    orig = _encode.VideoSink.__init__

    def init(self, *a, **kw):
        orig(self, *a, **kw)
        inner = self.packets

        def no_dts():
            for p in inner:
                if p.stream.type == "subtitle":
                    p.dts = None
                yield p

        self.packets = no_dts()

    monkeypatch.setattr(_encode.VideoSink, "__init__", init)
    out = tmp_path / "subs-out.mkv"
    _run(src, out, model=str(models["edsr"]))
    assert _packets(out, "subtitle") == [b"Hello", b"World"]


def test_gui_job_queue_runs_without_qt_and_shares_models(models, clip, tmp_path) -> None:
    """The desktop app's queue logic is Qt-free: jobs run one at a time through the engine, a
    model is loaded once for all the jobs that use it, states are an enum, a pending job can be
    cancelled, and a cancelled running job leaves no output."""
    import time

    from slimvsr.app._queue import JobQueue, JobState

    seen: list[tuple[str, JobState]] = []
    q = JobQueue(on_state=lambda j: seen.append((j.input.name, j.status)))
    a, b, c = (tmp_path / n for n in ("a.mp4", "b.mp4", "c.mp4"))
    for dst in (a, b, c):
        dst.write_bytes(clip.read_bytes())
    opts = UpscaleOptions(model=str(models["edsr"]), precision="fp32")
    out = tmp_path / "out"
    out.mkdir()
    jobs = q.add([a, b, c], opts, out)
    q.cancel(jobs[2])  # pending: cancelled at once
    q.start()
    deadline = time.monotonic() + 120
    while q.busy and time.monotonic() < deadline:
        q.poll()
        time.sleep(0.02)
    assert [j.status for j in jobs] == [JobState.DONE, JobState.DONE, JobState.CANCELLED]
    assert len(q.models) == 1  # loaded once, shared by both jobs
    assert jobs[0].history == [JobState.PENDING, JobState.RUNNING, JobState.DONE]
    assert ("a.mp4", JobState.RUNNING) in seen and ("c.mp4", JobState.CANCELLED) in seen
    assert sorted(p.name for p in out.iterdir()) == [f"{s}.edsr-x2.mp4" for s in "ab"]

    assert q.retry(jobs[2])
    q.cancel(jobs[2])  # running now: stops between frames, nothing left
    while q.busy and time.monotonic() < deadline:
        q.poll()
        time.sleep(0.02)
    assert jobs[2].status in (JobState.CANCELLED, JobState.DONE)
    if jobs[2].status is JobState.CANCELLED:
        assert not (out / "c.edsr-x2.mp4").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_sigterm_cleans_up_like_sigint_and_exits_143(models, tmp_path) -> None:
    """A plain kill (SIGTERM) mid-run: exit 143, nothing under the output name, no temporary."""
    import signal
    import subprocess
    import sys
    import time

    src = write_clip(tmp_path / "long.mp4", n=120, size=(64, 96), audio=False)
    out = tmp_path / "out.mp4"
    cmd = [sys.executable, "-m", "slimvsr.app.cli", str(src), "-m", str(models["edsr"]), "-o", str(out)]
    proc = subprocess.Popen([*cmd, "--precision", "fp32", "--chunk", "2"], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".out.*.partial.mp4")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "terminated" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".out.*"))
    assert src.exists()


def test_stale_temporaries_of_dead_runs_are_removed(models, clip, tmp_path) -> None:
    """A run killed with SIGKILL leaves .STEM.PID.partial.EXT: the next run on that output removes
    it; a live process's temporary is left alone."""
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "o.mp4"
    stale = tmp_path / f".o.{dead.pid}.partial.mp4"
    live = tmp_path / f".o.{os.getppid()}.partial.mp4"
    stale.write_bytes(b"x")
    live.write_bytes(b"y")
    _run(clip, out, model=str(models["edsr"]))
    assert out.exists() and not stale.exists() and live.exists()
