"""Image SR models side by side in one run: quality on the validation photos and CPU time per image.

    python benchmarks/compare_image_models.py edsr-baseline runs/edsrmini-x2-cpu/distil-model \\
        runs/edsrmini-x2-cpu/scratch-model --peer span --scale 2 --out docs/compare-edsrmini-x2.json

The first model is the reference (the teacher): every row reports its PSNR-Y difference and size
relative to it. Quality: ``vsr-compress eval``'s scoring (fp32, BI, PSNR/SSIM on Y, border = scale)
on the corpus' validation photos (docs/data.md), bicubic as its own row. Time: one LR image of
``--size`` (default: the LR of a 1280x720 output) per call, all models interleaved for ``--repeats``
rounds after a warm-up round, each timed call right after an untimed one of the same model, median
reported, in each ``--precision`` for slimvsr models; a
``--peer`` (SPAN through ncnn, the ``bench`` extra) runs in its own runtime's fp32 in every round.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path

import torch
from bench_models import load, time_once, time_peer  # benchmarks/ is on sys.path when run as a script

from slimvsr.compression.evaluate import evaluate
from slimvsr.compression.peers import load_peer
from slimvsr.models import profile_model


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="+", help="registered names or model folders; the first is the reference")
    p.add_argument("--scale", type=int, required=True)
    p.add_argument("--peer", nargs="*", default=[], help="peer networks (span)")
    p.add_argument("--data", type=Path, default=Path("data/corpus"))
    p.add_argument("--size", default=None, help="LR image HxW for timing (default: 1280x720 / scale)")
    p.add_argument("--precision", nargs="+", default=["bf16", "fp32"], choices=["bf16", "fp32"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    h, w = (int(v) for v in a.size.split("x")) if a.size else (720 // a.scale, 1280 // a.scale)
    models = [(*load(m, a.scale), True) for m in a.models]
    models += [(load_peer(n, a.scale), f"{n}-x{a.scale} (ncnn fp32)", False) for n in a.peer]

    rows = []
    for m, label, ours in models:
        r = evaluate(m.eval(), label, a.data, scale=a.scale, count=ours, kind="image")
        params, macs = (r.params, profile_model(m, (h, w)).macs) if ours else (m.params, None)
        rows.append({"model": label, "psnr_y": r.psnr_y, "ssim_y": r.ssim_y, "params": params, "macs": macs})
        print(f"{label:<32} PSNR-Y {r.psnr_y:6.2f}  SSIM-Y {r.ssim_y:.4f}  {params / 1e3:8.1f}K", flush=True)
    bicubic = {"psnr_y": r.bicubic_psnr_y, "ssim_y": r.bicubic_ssim_y}

    x = torch.rand(1, 1, 3, h, w)  # one LR image per call
    for prec in a.precision:  # the peer ignores both (its own runtime, fp32)
        fmt = torch.channels_last if prec == "bf16" else torch.contiguous_format
        runs = [(m.to(memory_format=fmt) if ours else m, ours) for m, _, ours in models]
        for m, ours in runs:  # warm-up (oneDNN kernels, allocations)
            if ours:
                time_once(m, x, prec)
            else:
                time_peer(m, x)
        rounds: list[list[float]] = [[] for _ in runs]
        for _ in range(a.repeats):
            for i, (m, ours) in enumerate(runs):
                # One untimed call first: a user runs one model on image after image, so a model
                # is timed warm, not right after another model has evicted its caches (a small
                # model timed right after the teacher measured up to 1.7x its warm time here).
                if ours:
                    time_once(m, x, prec)
                    rounds[i].append(time_once(m, x, prec))
                else:  # its own runtime (ncnn fp32), its untimed call inside
                    rounds[i].append(time_peer(m, x))
        for row, r in zip(rows, rounds, strict=True):
            row[f"ms_{prec}"] = 1000 * statistics.median(r)
            row[f"ms_{prec}_all"] = [1000 * v for v in r]

    ref = rows[0]
    for row in rows:
        row["delta_psnr_y"] = row["psnr_y"] - ref["psnr_y"]
        row["size_vs_first"] = row["params"] / ref["params"]
    result = {
        "command": "python " + " ".join(sys.argv),
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads()},
        "torch": torch.__version__,
        "data": f"{a.data}: validation photos (docs/data.md), BI x{a.scale}, fp32",
        "lr_size_for_timing": [h, w],
        "bicubic": bicubic,
        "rows": rows,
    }
    cols = " | ".join(f"ms/image {p}" for p in a.precision)
    print(f"\n| model | params | size vs first | GMACs | PSNR-Y | SSIM-Y | dPSNR vs first | {cols} |")
    print("|---|---|---|---|---|---|---|" + "---|" * len(a.precision))
    for row in rows:
        macs = f"{row['macs'] / 1e9:.1f}" if row["macs"] is not None else "-"
        ms = " | ".join(f"{row[f'ms_{p}']:.0f}" for p in a.precision)
        print(
            f"| {row['model']} | {row['params'] / 1e3:.1f}K | {row['size_vs_first']:.3f} | {macs} | "
            f"{row['psnr_y']:.2f} | {row['ssim_y']:.4f} | {row['delta_psnr_y']:+.2f} | {ms} |"
        )
    dashes = " | ".join("-" for _ in a.precision)
    print(
        f"| bicubic | - | - | - | {bicubic['psnr_y']:.2f} | {bicubic['ssim_y']:.4f} | "
        f"{bicubic['psnr_y'] - ref['psnr_y']:+.2f} | {dashes} |"
    )
    if a.out:
        a.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
