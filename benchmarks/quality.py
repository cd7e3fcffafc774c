"""Every bundled model against the free peers on the same frames and photos (docs/quality.md).

    python benchmarks/quality.py --data ~/.cache/slimvsr/corpus --out docs/bench-quality.json

Quality is ``vsr-compress eval``'s scoring (fp32, BI, PSNR/SSIM on Y, a border of ``scale``
pixels cropped) on the corpus' validation split (docs/data.md), which training never sees:

  video x4   the validation clips (first ``--max-frames`` frames of each): the video models as
             trained and each frame on its own (``--temporal per-frame``: does the model use the
             other frames?), the image models x4 and the peers frame by frame, bicubic
  photos     the validation photos at x2 and x4: the image models, the peers, bicubic

Speed is model-only time per LR frame of one size per task (``--size-x4``, ``--size-x2``: the LR
of a 720x1280 output): slimvsr's models in channels-last memory and the precision the engine picks
on this CPU (``pick_precision``: bf16 autocast with bf16 instructions, else fp32; emulated bf16 is
an order of magnitude slower), video models on ``--clip-frames`` frames, image models on
``--image-frames``; each peer in its own runtime (ncnn, fp32); all interleaved for
``--repeats`` rounds after a warm-up round, medians. ``--add LABEL=FOLDER`` adds a model folder
(a new teacher, a re-compressed model) beside the bundled ones. Pause training for the timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

import torch
from bench_models import load, time_once, time_peer  # benchmarks/ is on sys.path when run as a script

from slimvsr.compression.evaluate import evaluate
from slimvsr.compression.peers import load_peer
from slimvsr.engine import cpu_name, pick_precision
from slimvsr.models import family_of

VIDEO = ["ssl-uni", "ssl-bi", "basicvsr-uni", "basicvsr"]
IMAGE = ["edsrmini", "swinirmini", "edsr-baseline", "swinir-lw"]
PEERS = ["span", "realesr-animevideov3"]


def _row(r, **extra) -> dict:
    return {"psnr_y": r.psnr_y, "ssim_y": r.ssim_y, "per_item": r.per_item, **extra}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="the prepared corpus")
    ap.add_argument("--video", nargs="*", default=VIDEO, help="video models (x4)")
    ap.add_argument("--image", nargs="*", default=IMAGE, help="image models (x2 and x4)")
    ap.add_argument("--peers", nargs="*", default=PEERS, choices=PEERS)
    ap.add_argument("--add", nargs="*", default=[], help="LABEL=FOLDER: more model folders")
    ap.add_argument("--max-frames", type=int, default=16)
    ap.add_argument("--size-x4", default="180x320")
    ap.add_argument("--size-x2", default="360x640")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--clip-frames", type=int, default=8, help="frames per timed call of a video model")
    ap.add_argument("--image-frames", type=int, default=2, help="frames per timed call of an image model")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--no-quality", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()

    # (task, label) -> (module, kind, ours); tasks: "video-x4", "photos-x2", "photos-x4"
    models: dict[tuple[str, str], tuple[torch.nn.Module, str, bool]] = {}
    for name in a.video:
        m, label = load(name, 4)
        models[("video-x4", label)] = (m.eval(), "video", True)
    for scale in (2, 4):
        for name in a.image:
            m, label = load(name, scale)
            models[(f"photos-x{scale}", label)] = (m.eval(), "image", True)
            if scale == 4:
                models[("video-x4", label)] = (m, "image", True)
        for peer in a.peers:
            label = f"{peer} (ncnn)"
            p = load_peer(peer, scale)
            models[(f"photos-x{scale}", label)] = (p, "image", False)
            if scale == 4:
                models[("video-x4", label)] = (p, "image", False)
    for spec in a.add:
        m, label = load(spec, None)
        fam = family_of(m)
        scale = fam.scale_of(m.config)
        if fam.kind == "video":
            models[("video-x4", label)] = (m.eval(), "video", True)
        else:
            models[(f"photos-x{scale}", label)] = (m.eval(), "image", True)
            if scale == 4:
                models[("video-x4", label)] = (m, "image", True)

    res: dict = {
        "command": "python " + " ".join(sys.argv),
        "machine": f"{cpu_name()}, {os.cpu_count()} CPUs, {platform.machine()}, torch {torch.__version__}",
        "data": f"{a.data}: validation split (docs/data.md); clips: first {a.max_frames} frames; fp32, BI",
        "tasks": {},
    }
    if not a.no_quality:
        for (task, label), (m, kind, ours) in models.items():
            scale = int(task[-1])
            on = "video" if task.startswith("video") else "image"
            t = res["tasks"].setdefault(task, {"rows": {}})
            kw = dict(scale=scale, max_frames=a.max_frames, count=False, kind=kind, items=on)
            r = evaluate(m, label, a.data, **kw)
            t["rows"][label] = _row(r, kind=kind, ours=ours)
            t["bicubic"] = {"psnr_y": r.bicubic_psnr_y, "ssim_y": r.bicubic_ssim_y}
            print(f"{task:<10} {label:<32} {r.psnr_y:6.2f} {r.ssim_y:.4f}", flush=True)
            if kind == "video":
                r = evaluate(m, label, a.data, temporal="per-frame", **kw)
                t["rows"][f"{label} (per-frame)"] = _row(r, kind=kind, ours=ours, temporal="per-frame")
                print(f"{task:<10} {label + ' (per-frame)':<32} {r.psnr_y:6.2f} {r.ssim_y:.4f}", flush=True)
    if not a.no_speed:
        sizes = {"video-x4": a.size_x4, "photos-x4": a.size_x4, "photos-x2": a.size_x2}
        timed = {k: v for k, v in models.items() if k[0] != "video-x4" or v[1] == "video"}
        n = {"video": a.clip_frames, "image": a.image_frames}
        xs = {k: torch.rand(1, n[timed[k][1]], 3, *(int(v) for v in sizes[k[0]].split("x"))) for k in timed}
        fast = {
            k: (m.to(memory_format=torch.channels_last) if ours else m) for k, (m, _, ours) in timed.items()
        }
        prec = pick_precision("cpu", "auto").name  # the engine's choice on this CPU
        ms: dict[tuple[str, str], list[float]] = {k: [] for k in timed}
        for rnd in range(a.repeats + 1):  # round 0 warms up
            for k, m in fast.items():
                if timed[k][2]:
                    time_once(m, xs[k], prec)  # an untimed call first: each model timed warm
                    v = time_once(m, xs[k], prec)
                else:
                    v = time_peer(m, xs[k])
                if rnd:
                    ms[k].append(1000 * v)
            print(f"speed round {rnd} of {a.repeats} done", flush=True)
        for (task, label), v in ms.items():
            row = res["tasks"].setdefault(task, {"rows": {}})["rows"].setdefault(label, {})
            row["ms_per_frame"] = statistics.median(v)
            row["ms_per_frame_all"] = v
            row["timing"] = f"{sizes[task]} LR, " + (
                f"{prec} channels-last" if timed[(task, label)][2] else "ncnn fp32"
            )
            print(f"{task:<10} {label:<32} {row['ms_per_frame']:8.1f} ms/frame", flush=True)
    if a.out:
        a.out.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
