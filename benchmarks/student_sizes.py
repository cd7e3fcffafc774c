"""Image-student sizes against SPAN, by measured speed (issue #18: edsrmini is capacity-bound).

    python benchmarks/student_sizes.py --scale 2 --out docs/bench-student-sizes-x2.json

EDSR students of several widths and depths (one conv layer per residual block, as EDSRmini) and the
bundled ``span`` run model-only on the LR frame of a 1280x720 output, interleaved round by round
after a warm-up round, in the precision the engine picks on this CPU; the median round is kept.
``--span-sizes`` adds SPANs narrowed to other widths (the candidates for span-s32, which is pruned
from SPAN). Each row has params, MACs per output frame (``profile_model``) and the speed as a multiple of
SPAN's in the same run, so the widest student that stays N times faster than SPAN can be read off.
Pause training first (``kill -STOP``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch
from bench_models import time_once

from slimvsr.engine import cpu_has_bf16, cpu_name
from slimvsr.models import EDSRConfig, SPANConfig, build_model, load_model, profile_model, resolve

OUT_HW = (720, 1280)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=int, choices=[2, 4], default=2)
    p.add_argument(
        "--sizes", nargs="+", default=["16x8", "24x8", "32x8", "32x12", "40x8", "48x8"], help="FEATxBLOCKS"
    )
    p.add_argument(
        "--upsampler",
        nargs="+",
        default=["shuffle"],
        choices=["shuffle", "direct"],
        help="EDSRConfig.upsampler",
    )
    p.add_argument(
        "--span-sizes",
        nargs="*",
        default=[],
        help="narrower SPANs as STREAM or STREAMxMID features (e.g. 32 32x24): span-s32's candidates",
    )
    p.add_argument("--no-edsr", action="store_true", help="only SPAN and the --span-sizes")
    p.add_argument("--frames", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    prec = "bf16" if cpu_has_bf16() else "fp32"
    torch.manual_seed(0)
    hw = (OUT_HW[0] // a.scale, OUT_HW[1] // a.scale)
    x = torch.rand(1, a.frames, 3, *hw)
    models: dict[str, torch.nn.Module] = {"span": load_model(resolve("span", a.scale).folder).model}
    for s in a.span_sizes:
        feat, mid = (int(v) for v in s.split("x")) if "x" in s else (int(s), None)
        models[f"span-{s}"] = build_model("span", SPANConfig(num_feat=feat, mid_feat=mid, scale=a.scale))
    for up in [] if a.no_edsr else a.upsampler:
        for s in a.sizes:
            feat, blocks = (int(v) for v in s.split("x"))
            cfg = EDSRConfig(num_feat=feat, num_layer=1, num_block=blocks, scale=a.scale, upsampler=up)
            models[f"edsr-{s}" + ("-direct" if up == "direct" else "")] = build_model("edsr", cfg)
    for m in models.values():
        m.eval()
        if prec == "bf16":
            m.to(memory_format=torch.channels_last)
    rounds: dict[str, list[float]] = {k: [] for k in models}
    with torch.no_grad():
        for m in models.values():  # warm-up
            time_once(m, x[:, :1], prec)
        for _ in range(a.repeats):
            for k, m in models.items():
                rounds[k].append(time_once(m, x, prec))
    span_s = statistics.median(rounds["span"])
    rows = []
    for k, m in models.items():
        prof = profile_model(m, hw)
        s = statistics.median(rounds[k])
        rows.append(
            {
                "model": k,
                "params": prof.params,
                "macs": prof.macs,
                "ms_per_frame": round(1000 * s, 1),
                "speed_vs_span": round(span_s / s, 2),
            }
        )
    res = {
        "command": "python benchmarks/student_sizes.py " + " ".join(sys.argv[1:]),
        "what": f"model only, per {OUT_HW[1]}x{OUT_HW[0]} output frame, x{a.scale}, median of the rounds",
        "machine": f"{cpu_name()} ({'native bf16' if cpu_has_bf16() else 'no bf16 units'}), "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}",
        "precision": prec,
        "rows": rows,
    }
    for r in rows:
        print(
            f"{r['model']:<12} {r['params']:>8,} params {r['macs'] / 1e9:7.1f} GMAC "
            f"{r['ms_per_frame']:8.1f} ms  {r['speed_vs_span']:5.2f}x SPAN"
        )
    if a.out:
        a.out.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
