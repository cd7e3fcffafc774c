"""Side by side, end to end: the bundled models against the free peers and a BasicSR-style path.

    python benchmarks/end_to_end.py --out docs/bench-end-to-end.json

Clips (real video held out of training): the first ``--frames`` frames of the validation clip
cityCC0-00 (720x405, CC0; corpus of ``vsr-compress data prepare``), resized (Pillow bicubic) to
320x180 for the x4 runs and 640x360 for the x2 runs, x264 CRF 10 at 25 fps.

Every runner is a fresh process, timed whole (start-up, decode, model, encode) with ``os.wait4``
for its wall time, CPU user and kernel time and peak RSS; outputs are H.264 (CRF 18, x264's
default preset, yuv420p: what ``vsr-upscale`` writes by default) and FFV1 (yuv444p):

  slimvsr  ``vsr-upscale IN -m MODEL -s S -o OUT --codec C -q`` at ``--precision auto`` (bf16 on
           this CPU) and fp32, every bundled model of that scale
  span / realesr-animevideov3  the peer's ncnn graph (the ``ncnn`` wheel, CPU, one thread per
           core) on each frame, decoded and encoded with PyAV at the same settings, one after
           the other, as a user's script around a single-image model runs
  basicsr  ssl-uni in fp32 as BasicSR's ``inference_basicvsr.py`` runs a video: the clip
           extracted to PNG frames first, read back, the sequence through the model in segments
           of 15 frames (its ``--interval``), PNG frames written, then encoded

With ``--backends openvino`` every slimvsr row is also run with that inference backend
(``MODEL PRECISION openvino``), after one untimed run each that fills its on-disk graph cache (its
wall time is reported as ``first_run_wall_s``): the rounds time what a user's second run costs.

With ``--baseline SRC`` (the ``src`` folder of another checkout, e.g. a ``git worktree`` of an
earlier commit) every slimvsr row is also run with that code (``MODEL auto (baseline)``), in the
same rounds: a change's effect as a ratio measured side by side.

Reported per runner and codec: wall seconds, fps, CPU user and kernel seconds, kernel share, peak
RSS, and (slimvsr and basicsr) the output's PSNR against the same model's fp32 output through
``vsr-upscale`` with FFV1 (so the H.264 rows include the codec's loss). ``--rounds`` rounds, every
runner once per round in an order rotated each round; medians. Pause training first.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from registry_speed import cpu_name

PEERS = ("span", "realesr-animevideov3")
SIZES = {4: (180, 320), 2: (360, 640)}  # LR (H, W) for each scale


def make_clip(src: Path, dst: Path, frames: int, size: tuple[int, int]) -> Path:
    from PIL import Image

    files = sorted(src.glob("*.png"))[:frames]
    if len(files) < frames:
        raise SystemExit(f"{src} has {len(files)} frames, fewer than --frames {frames}")
    with av.open(str(dst), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.height, vs.width = size
        vs.pix_fmt = "yuv420p"
        vs.codec_context.options = {"crf": "10"}
        for i, f in enumerate(files):
            im = Image.open(f).convert("RGB").resize((size[1], size[0]), Image.BICUBIC)
            fr = av.VideoFrame.from_ndarray(np.asarray(im), format="rgb24")
            fr.pts = i
            out.mux(vs.encode(fr))
        out.mux(vs.encode(None))
    return dst


# -- the peers' and BasicSR's pipelines (children) -----------------------------------------------
def _open_sink(path: Path, codec: str, size: tuple[int, int], rate):
    out = av.open(str(path), "w")
    if codec == "h264":
        vs = out.add_stream("libx264", rate=rate)
        vs.pix_fmt, vs.codec_context.options = "yuv420p", {"crf": "18"}
    else:
        vs = out.add_stream("ffv1", rate=rate)
        vs.pix_fmt = "yuv444p"
    vs.height, vs.width = size
    return out, vs


def peer_child(name: str, scale: int, inp: Path, out_path: Path, codec: str) -> None:
    import torch

    from slimvsr.compression.peers import load_peer

    net = load_peer(name, scale)
    with av.open(str(inp)) as src:
        stream = src.streams.video[0]
        out, vs = _open_sink(
            out_path, codec, (stream.height * scale, stream.width * scale), stream.average_rate
        )
        with out:
            for i, f in enumerate(src.decode(stream)):
                x = torch.from_numpy(f.to_ndarray(format="rgb24")).permute(2, 0, 1)[None].float() / 255
                y = net(x)[0].permute(1, 2, 0).mul(255).round().clamp(0, 255).byte().numpy()
                fr = av.VideoFrame.from_ndarray(np.ascontiguousarray(y), format="rgb24")
                fr.pts = i
                out.mux(vs.encode(fr))
            out.mux(vs.encode(None))


def basicsr_child(inp: Path, out_path: Path, codec: str, interval: int = 15) -> None:
    import torch
    from PIL import Image

    from slimvsr.models import load_model

    work = out_path.with_suffix(".frames")
    lr_dir, sr_dir = work / "lr", work / "sr"
    lr_dir.mkdir(parents=True)
    sr_dir.mkdir()
    with av.open(str(inp)) as src:  # what `ffmpeg -i clip %08d.png` does first
        rate = src.streams.video[0].average_rate
        for i, f in enumerate(src.decode(video=0)):
            f.to_image().save(lr_dir / f"{i:08d}.png")
    model = load_model("ssl-uni").model.eval()
    files = sorted(lr_dir.glob("*.png"))
    imgs = [torch.from_numpy(np.asarray(Image.open(p).convert("RGB"))).permute(2, 0, 1) for p in files]
    lrs = torch.stack(imgs).float().div(255)[None]  # (1, T, 3, H, W), the whole clip in memory
    with torch.inference_mode():
        for s in range(0, lrs.shape[1], interval):
            sr = model(lrs[:, s : s + interval])[0]
            for j, y in enumerate(sr):
                a = y.clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
                Image.fromarray(a).save(sr_dir / f"{s + j:08d}.png")
    srs = sorted(sr_dir.glob("*.png"))
    h, w = np.asarray(Image.open(srs[0])).shape[:2]
    out, vs = _open_sink(out_path, codec, (h, w), rate)
    with out:
        for i, p in enumerate(srs):
            fr = av.VideoFrame.from_image(Image.open(p).convert("RGB"))
            fr.pts = i
            out.mux(vs.encode(fr))
        out.mux(vs.encode(None))
    shutil.rmtree(work)


# -- timing ---------------------------------------------------------------------------------------
# Linux carries a process's peak RSS across exec (the forked copy of the parent counts), so a child
# forked from this process would report at least this process's own peak. Each runner is therefore
# started by a small launcher (a fresh interpreter that imports nothing): the runner is the
# launcher's child, forked from a few MB, and the launcher reports the runner's own wall time and
# os.wait4 figures as one JSON line.
_LAUNCH = """
import json, os, subprocess, sys, time
t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = p.stderr.read().decode(errors="replace")
_, status, ru = os.wait4(p.pid, 0)
print(json.dumps({"wall_s": time.perf_counter() - t, "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
                  "peak_rss_mb": ru.ru_maxrss / 1024, "rc": os.waitstatus_to_exitcode(status),
                  "err": err[-800:]}))
"""


def timed(cmd: list[str], env: dict | None = None) -> dict:
    """Run ``cmd`` to its end: wall seconds, its CPU user/kernel seconds and its own peak RSS."""
    launch = [sys.executable, "-S", "-c", _LAUNCH, *cmd]
    got = subprocess.run(launch, capture_output=True, text=True, check=True, env=env)
    m = json.loads(got.stdout)
    if m.pop("rc") != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {m['err']}")
    del m["err"]
    return m


def frames_of(path: Path):
    """The video's frames one at a time (RGB uint8), so comparing two clips holds two frames."""
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            yield f.to_ndarray(format="rgb24")


def psnr(a: Path, b: Path) -> float:
    """PSNR over every frame of two clips (one MSE over all pixels); NaN if they differ in shape."""
    se, n = 0.0, 0
    for x, y in zip(frames_of(a), frames_of(b), strict=True):
        if x.shape != y.shape:
            return float("nan")
        se += float(np.sum((x.astype(np.float64) - y.astype(np.float64)) ** 2))
        n += x.size
    return float("inf") if se == 0 else float(10 * np.log10(255.0**2 * n / se))


def runners(
    scale: int,
    models: list[str],
    with_fp32: bool,
    baseline: str | None = None,
    backends: tuple[str, ...] = (),
) -> list[dict]:
    """(label, kind, model, precision[, src, backend]) of every runner at ``scale``; ``backends``:
    inference backends run beside the default torch rows (``MODEL PRECISION BACKEND``)."""
    out = []
    for m in models:
        for prec in ("auto", "fp32") if with_fp32 else ("auto",):
            row = {"label": f"{m} {prec}", "kind": "slimvsr", "model": m, "precision": prec}
            out.append(row)
            if baseline and prec == "auto":
                out.append({**row, "label": f"{m} auto (baseline)", "src": baseline})
            out += [{**row, "label": f"{m} {prec} {b}", "backend": b} for b in backends]
    out += [{"label": f"{p} ncnn", "kind": "peer", "model": p, "precision": "fp32"} for p in PEERS]
    if scale == 4:
        out.append(
            {
                "label": "ssl-uni basicsr-style fp32",
                "kind": "basicsr",
                "model": "ssl-uni",
                "precision": "fp32",
            }
        )
    return out


def command(r: dict, scale: int, inp: Path, out: Path, codec: str) -> list[str]:
    me = [sys.executable, __file__]
    if r["kind"] == "slimvsr":
        exe = shutil.which("vsr-upscale", path=str(Path(sys.executable).parent)) or "vsr-upscale"
        return [exe, str(inp), "-m", r["model"], "-s", str(scale), "-o", str(out), "--codec", codec,
                "--precision", r["precision"], "--backend", r.get("backend", "torch"),
                "--overwrite", "-q"]  # fmt: skip
    if r["kind"] == "peer":
        return [*me, "--child", "peer", r["model"], str(scale), str(inp), str(out), codec]
    return [*me, "--child", "basicsr", "ssl-uni", str(scale), str(inp), str(out), codec]


def _commit(src: Path) -> str | None:
    got = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True)
    return got.stdout.strip() or None


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--scales", default="4,2")
    p.add_argument("--codecs", default="h264,ffv1")
    p.add_argument("--models", default=None, help="comma list (default: every bundled model of each scale)")
    p.add_argument("--no-fp32", action="store_true", help="skip the fp32 runs of the bundled models")
    p.add_argument("--clip", default=os.path.expanduser("~/.cache/slimvsr/corpus/video/val/cityCC0-00"))
    p.add_argument("--work", default="runs/bench-e2e")
    p.add_argument("--out", default=None)
    p.add_argument("--baseline", default=None, help="src folder of another checkout to run beside")
    p.add_argument("--only-slimvsr", action="store_true", help="no peer or basicsr rows (a quick A/B)")
    p.add_argument(
        "--backends", default="", help="comma list of other inference backends to run beside torch (openvino)"
    )
    p.add_argument("--child", nargs=6, default=None)
    a = p.parse_args()
    if a.child:
        kind, name, scale, inp, out, codec = a.child
        if kind == "peer":
            peer_child(name, int(scale), Path(inp), Path(out), codec)
        else:
            basicsr_child(Path(inp), Path(out), codec)
        return
    from slimvsr.engine import pick_precision
    from slimvsr.models import list_weights

    work = Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    codecs = a.codecs.split(",")
    res: dict = {
        "command": "python benchmarks/end_to_end.py " + " ".join(sys.argv[1:]),
        "machine": f"{cpu_name()}, {os.cpu_count()} cores",
        "commit": _commit(Path(__file__).parent),
        "data": f"{Path(a.clip).name}, first {a.frames} frames, Pillow bicubic to LR, x264 CRF 10",
        "auto_precision": pick_precision("cpu", "auto").name,
        "scales": {},
        "runner_rss": "each runner's own peak, started from a small launcher (not this process)",
    }
    if a.baseline:
        res["baseline"] = {"src": a.baseline, "commit": _commit(Path(a.baseline))}
    t0 = time.monotonic()
    for scale in (int(s) for s in a.scales.split(",")):
        inp = make_clip(Path(a.clip), work / f"in-x{scale}.mp4", a.frames, SIZES[scale])
        here = sorted({w.entry.name for w in list_weights() if w.scale == scale and w.folder is not None})
        names = [n for n in a.models.split(",") if n in here] if a.models else here
        backends = tuple(b for b in a.backends.split(",") if b)
        rs = runners(scale, names, not a.no_fp32, a.baseline, backends)
        if a.only_slimvsr:
            rs = [r for r in rs if r["kind"] == "slimvsr"]
        cells = [(r, c) for r in rs for c in codecs]
        times: dict = {}
        cold: dict = {}
        for r in rs:  # fill the backends' on-disk graph caches first: the rounds time warm starts
            if "backend" in r:
                out = work / f"x{scale}-{r['label'].replace(' ', '_')}.warmup.mkv"
                cold[r["label"]] = timed(command(r, scale, inp, out, codecs[0]))["wall_s"]
        for k in range(a.rounds):
            shift = k * len(cells) // max(a.rounds, 1)
            for r, codec in cells[shift:] + cells[:shift]:
                out = work / f"x{scale}-{r['label'].replace(' ', '_')}.{codec}.mkv"
                env = {**os.environ, "PYTHONPATH": r["src"]} if "src" in r else None
                m = timed(command(r, scale, inp, out, codec), env)
                times.setdefault((r["label"], codec), []).append(m)
                print(f"x{scale} {r['label']:32s} {codec:5s} {a.frames / m['wall_s']:6.2f} fps "
                      f"user {m['user_s']:6.1f} sys {m['sys_s']:5.1f} rss {m['peak_rss_mb']:5.0f}",
                      file=sys.stderr)  # fmt: skip
        table = {}
        for r in rs:
            for codec in codecs:
                ms = times[(r["label"], codec)]
                med = {k: statistics.median(m[k] for m in ms) for k in ms[0]}
                row = {
                    "fps": a.frames / med["wall_s"],
                    **med,
                    "kernel_share": med["sys_s"] / (med["user_s"] + med["sys_s"]),
                    "walls_s": [m["wall_s"] for m in ms],
                }
                if r["label"] in cold:
                    row["first_run_wall_s"] = cold[r["label"]]  # graphs converted and compiled
                if r["kind"] != "peer":
                    ref = work / f"x{scale}-{r['model']}_fp32.ffv1.mkv"
                    out = work / f"x{scale}-{r['label'].replace(' ', '_')}.{codec}.mkv"
                    row["psnr_vs_fp32_ffv1"] = psnr(out, ref) if ref.is_file() else None
                table[f"{r['label']} / {codec}"] = row
        res["scales"][f"x{scale}"] = {"input": f"{SIZES[scale][1]}x{SIZES[scale][0]}", "runs": table}
    res["seconds"] = round(time.monotonic() - t0)
    text = json.dumps(res, indent=1, default=float)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
