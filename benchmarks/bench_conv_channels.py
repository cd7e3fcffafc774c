"""Time of one 3x3 convolution against its channel counts (why SSL rounds kept channels to 16).

    python benchmarks/bench_conv_channels.py --out docs/bench-conv-channels.json

CPU convolution kernels (oneDNN) compute channels in blocks (16 for AVX-512 bf16). A conv whose
channel counts are not multiples of the block is padded up to it, so pruning 64 channels to 37
saves little time although it saves 42% of the MACs. Each row: median of ``--repeats`` timings of
``--iters`` calls on a random input of ``--size`` (the LR frame size of docs/reproduction-ssl.md),
bf16 autocast with channels-last memory (the engine's CPU path), and the MACs relative to 64->64.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

PAIRS = [(64, 64), (64, 48), (64, 37), (64, 32), (48, 48), (40, 40), (37, 37), (33, 33), (32, 32)]
PAIRS += [(24, 24), (17, 17), (16, 16)]


@torch.no_grad()
def time_conv(ci: int, co: int, h: int, w: int, iters: int, repeats: int) -> float:
    conv = torch.nn.Conv2d(ci, co, 3, padding=1).eval().to(memory_format=torch.channels_last)
    x = torch.rand(1, ci, h, w).contiguous(memory_format=torch.channels_last)
    times = []
    with torch.autocast("cpu", dtype=torch.bfloat16):
        for _ in range(3):
            conv(x)
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(iters):
                conv(x)
            times.append((time.perf_counter() - t) / iters)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", default="180x320")
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    h, w = (int(v) for v in a.size.split("x"))
    torch.manual_seed(0)
    rows = []
    for ci, co in PAIRS:
        ms = 1000 * time_conv(ci, co, h, w, a.iters, a.repeats)
        rows.append({"in": ci, "out": co, "ms": ms, "macs_rel": ci * co / 64**2})
    base = rows[0]["ms"]
    for r in rows:
        r["time_rel"] = r["ms"] / base
        head = f"{r['in']:3d} -> {r['out']:3d}  {r['ms']:6.2f} ms"
        print(f"{head}  time x{r['time_rel']:.2f}  MACs x{r['macs_rel']:.2f}")
    if a.out:
        result = {
            "command": f"python benchmarks/bench_conv_channels.py --size {a.size} --iters {a.iters} "
            f"--repeats {a.repeats}",
            "machine": {
                "cpu": platform.processor() or platform.machine(),
                "threads": torch.get_num_threads(),
            },
            "torch": torch.__version__,
            "precision": "bf16 autocast, channels-last",
            "rows": rows,
        }
        a.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
