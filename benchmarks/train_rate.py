"""A training step's achieved rate against this CPU's convolution peak, per step shape and precision.

    python benchmarks/train_rate.py --model basicvsr-uni --data ~/.cache/slimvsr/corpus \
        --shapes 4x6x32 2x10x40 1x10x56 2x6x48 1x6x64 --threads 1 2 --out docs/bench-train-rate.json
    python benchmarks/train_rate.py --shapes 2x10x32 --precisions fp32 fp32-cl --threads 1 2 ...

Each shape is BATCHxFRAMESxPATCH (LR pixels) of the video recipes. A step is what the training loop
does: forward (``bf16-cl``: bf16 autocast with channels-last weights, the loop's bf16 path;
``fp32``: contiguous fp32, the loop's fp32 path; ``fp32-cl``: fp32 with channels-last weights),
Charbonnier loss, backward, Adam; SPyNet trainable (the recipes' steps after its frozen start).
Its FLOPs are counted once per shape by torch's FlopCounterMode (convolutions and matrix products,
forward and backward), so the achieved rate is FLOPs / median step time; the peak is the best
rate of a large 3x3 conv in the step's dtype (64-256 channels at 180x320,
``benchmarks/model_layout.py``'s ``conv_peak``) on the same number of threads, in the same run.
With ``--data`` each shape's batch is also built the way the run builds it
(``VideoSRTask.batch``): the data pipeline, which a background thread runs, must stay below the
step time. Variants are interleaved round by round, medians kept. Pause training first.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).parent))
from model_layout import conv_peak

from slimvsr.compression.training.sr import charbonnier
from slimvsr.engine import cpu_name
from slimvsr.models import named_config

PRECISIONS = ("bf16-cl", "fp32", "fp32-cl")


def parse(shape: str) -> tuple[int, int, int]:
    b, t, p = (int(v) for v in shape.split("x"))
    return b, t, p


class Step:
    def __init__(self, model_name: str, shape: str, precision: str) -> None:
        torch.manual_seed(0)
        self.b, self.t, self.p = parse(shape)
        self.bf16 = precision.startswith("bf16")
        self.model = named_config(model_name).build(4).train()
        if precision.endswith("-cl"):
            self.model = self.model.to(memory_format=torch.channels_last)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-6, betas=(0.9, 0.99))
        self.x = torch.rand(self.b, self.t, 3, self.p, self.p)
        self.y = torch.rand(self.b, self.t, 3, 4 * self.p, 4 * self.p)

    def __call__(self) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
            loss = charbonnier(self.model(self.x), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def flops(self) -> int:
        with FlopCounterMode(display=False) as fc:
            self()
        return fc.get_total_flops()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="basicvsr-uni")
    ap.add_argument("--shapes", nargs="+", default=["4x6x32", "2x10x40"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["bf16-cl"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", type=Path, default=None, help="the prepared corpus: time the batches too")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    # variant "SHAPE" (one precision, the files' earlier keys) or "SHAPE/PRECISION"
    variants = {
        (s if len(a.precisions) == 1 else f"{s}/{pr}"): (s, pr) for s in a.shapes for pr in a.precisions
    }
    steps = {v: Step(a.model, s, pr) for v, (s, pr) in variants.items()}
    flops = {v: st.flops() for v, st in steps.items()}
    res: dict = {
        "command": "python " + " ".join(sys.argv),
        "machine": f"{cpu_name()}, {os.cpu_count()} CPUs, {platform.machine()}, torch {torch.__version__}",
        "model": a.model,
        "step": "forward in the precision, Charbonnier, backward, Adam; SPyNet trainable",
        "precisions": a.precisions,
        "flops_per_step": flops,
        "threads": {},
    }
    for n in a.threads:
        torch.set_num_threads(n)
        peaks = conv_peak(3, tuple(sorted({pr.split("-")[0] for pr in a.precisions})))
        times: dict[str, list[float]] = {s: [] for s in steps}
        for st in steps.values():
            st()  # warm-up (oneDNN kernels, Adam state)
        for _ in range(a.rounds):
            for s, st in steps.items():
                t0 = time.perf_counter()
                st()
                times[s].append(time.perf_counter() - t0)
        rows = {}
        for s, (shape, pr) in variants.items():
            b, t, p = parse(shape)
            sec = statistics.median(times[s])
            tflops = flops[s] / sec / 1e12
            dtype = pr.split("-")[0]
            rows[s] = {
                "precision": pr,
                "s_per_step": sec,
                "all_s": times[s],
                "lr_pixels_per_step": b * t * p * p,
                "lr_pixels_per_s": b * t * p * p / sec,
                "tflops": tflops,
                f"fraction_of_{dtype}_peak": tflops / peaks[dtype]["tflops"],
            }
            print(n, s, json.dumps({k: v for k, v in rows[s].items() if k != "all_s"}), flush=True)
        res["threads"][str(n)] = {
            **{f"{d}_conv_peak": peak for d, peak in peaks.items()},
            "shapes": rows,
        }
    if a.data:
        from types import SimpleNamespace

        from slimvsr.compression.training.sr import VideoSRTask

        res["batch_s"] = {}
        for s in a.shapes:
            b, t, p = parse(s)
            shape = dict(frames=t, patch=p, batch=b)
            cfg = SimpleNamespace(data=str(a.data), scale=4, seed=0, degradation="BI", **shape)
            task = VideoSRTask(cfg, val_frames=1)
            t0 = time.perf_counter()
            for k in range(a.rounds):
                task.batch(k, 0, 1)
            res["batch_s"][s] = (time.perf_counter() - t0) / a.rounds
            print("batch", s, res["batch_s"][s], flush=True)
    if a.out:
        a.out.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
