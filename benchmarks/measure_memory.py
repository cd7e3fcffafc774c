"""Peak inference memory per LR input pixel, for the engine's tiling decision.

    python benchmarks/measure_memory.py --size 90x160 --out docs/bench-memory.json

Each (model, precision) runs in a fresh process that loads the model, runs one warm-up chunk on a
tiny input, records its peak RSS, then runs one chunk (4 frames for video models, 1 frame for image
models) at ``--size`` and records the new peak. (peak - baseline) / (frames x H x W) is the figure
``ModelDescriptor.bytes_per_pixel`` uses.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

MODELS = ["basicvsr-uni", "basicvsr", "edsr-baseline", "edsrmini", "swinir-lw", "swinirmini"]


def child(name: str, precision: str, h: int, w: int) -> None:
    import torch

    from slimvsr.engine import make_runner, pick_precision
    from slimvsr.models import describe, named_config

    torch.manual_seed(0)
    named = named_config(name)
    desc = describe(named.build(4 if named.arch == "basicvsr" else 2), name)
    prec = pick_precision("cpu", precision)
    frames = 4 if desc.kind == "video" else 1
    runner = make_runner(desc, prec, window=frames, margin=0)
    runner.push(torch.rand(frames, 3, 16, 16))
    runner.flush()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    runner = make_runner(desc, prec, window=frames, margin=0)
    runner.push(torch.rand(frames, 3, h, w))
    runner.flush()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "model": name,
                "precision": prec.name,
                "frames": frames,
                "size": [h, w],
                "peak_bytes": peak - base,
                "bytes_per_pixel": (peak - base) / (frames * h * w),
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", default="90x160")
    p.add_argument("--models", nargs="+", default=MODELS)
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--child", nargs=4, default=None)
    a = p.parse_args()
    if a.child:
        child(a.child[0], a.child[1], int(a.child[2]), int(a.child[3]))
        return
    h, w = (int(v) for v in a.size.split("x"))
    rows = []
    for m in a.models:
        for prec in a.precisions:
            r = subprocess.run(
                [sys.executable, __file__, "--child", m, prec, str(h), str(w)],
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]))
    if a.out:
        a.out.write_text(
            json.dumps(
                {"command": f"python benchmarks/measure_memory.py --size {a.size}", "rows": rows}, indent=2
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
