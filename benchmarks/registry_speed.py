"""Model-only speed of every bundled model per 1280x720 output frame, for `vsr-upscale --list-models`.

    python benchmarks/registry_speed.py --out src/slimvsr/models/weights/speed-PRECISION.json

PRECISION is the one the run reports (bf16 on a CPU with native bf16 units, else fp32): the
listing shows the file of the precision the user's CPU runs, so each is measured on such a CPU.

Every model runs at the LR size that gives a 720p output (180x320 for x4, 360x640 for x2), in the
precision the engine picks on this CPU (bf16 + channels-last with bf16 instructions, else fp32),
video models on a sequence of ``--frames`` frames (time / frames), image models one frame at a
time. Models are interleaved for ``--repeats`` rounds after a warm-up round and the median round
is kept (the method of bench_models.py). The file records the CPU, the threads, torch and this
command; the listing names the machine next to the figures. Pause any training first
(``kill -STOP``): a shared CPU measures noise.
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
from slimvsr.models import list_weights, load_pretrained

OUT_HW = (720, 1280)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    prec = "bf16" if cpu_has_bf16() else "fp32"
    rows, macs = [], {}
    for w in list_weights():
        if w.source != "bundled":
            continue
        model, _ = load_pretrained(w.folder)
        model.eval()
        if prec == "bf16":
            model = model.to(memory_format=torch.channels_last)
        hw = (OUT_HW[0] // w.scale, OUT_HW[1] // w.scale)
        rows.append((f"{w.entry.name}-x{w.scale}", model, torch.rand(1, a.frames, 3, *hw)))
        macs[rows[-1][0]] = w.meta["macs"]  # the size measured: a figure is for this architecture
    for _, m, x in rows:  # warm-up
        time_once(m, x[:, :2], prec)
    rounds: dict[str, list[float]] = {k: [] for k, _, _ in rows}
    for _ in range(a.repeats):
        for k, m, x in rows:
            rounds[k].append(time_once(m, x, prec))
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    result = {
        "command": "python benchmarks/registry_speed.py " + " ".join(sys.argv[1:]),
        "what": "model only, per 1280x720 output frame, median of the rounds",
        "machine": {
            "cpu": cpu_name(),
            "amx": " amx_bf16" in flags,
            "avx512_bf16": " avx512_bf16" in flags,
            "threads": torch.get_num_threads(),
        },
        "torch": torch.__version__,
        "precision": prec,
        "models": {
            k: {"ms_per_frame": round(1000 * statistics.median(r), 1), "macs": macs[k]}
            for k, r in rounds.items()
        },
    }
    for k, v in result["models"].items():
        print(f"{k:<18} {v['ms_per_frame']:9.1f} ms/frame  {1000 / v['ms_per_frame']:6.2f} fps")
    if a.out:
        a.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
