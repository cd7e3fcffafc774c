"""Does the engine's heap setting (``slimvsr.engine._heap.bound_heap``) cost model speed?

    python benchmarks/bench_heap.py --model ssl-uni --rounds 2  # after engine_throughput.py

With the mmap threshold fixed at 128 KiB every large tensor is a fresh mapping, page-faulted on
first touch, where glibc would otherwise recycle heap memory. This runs the model-only pass of
``engine_throughput.py`` (the runner on decoded frames held in memory) in fresh processes,
alternating without and with the setting, and reports frames per second of each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path


def child(inp: Path, model: str, chunk: int, heap: bool) -> float:
    from engine_throughput import _model_only

    from slimvsr.engine import probe
    from slimvsr.engine._heap import bound_heap
    from slimvsr.engine._media import decode_frames

    if heap:
        assert bound_heap()
    frames = [a for _, a in decode_frames(probe(inp))]
    return _model_only(frames, model, chunk)[0]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="ssl-uni")
    p.add_argument("--chunk", type=int, default=8)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--input", default="runs/bench/short.mp4", help="made by engine_throughput.py")
    p.add_argument("--child", choices=["on", "off"], default=None)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    if a.child:
        sys.path.insert(0, str(Path(__file__).parent))
        print(json.dumps(child(Path(a.input), a.model, a.chunk, a.child == "on")))
        return
    res: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(a.rounds):
        for mode in ("off", "on"):
            cmd = [sys.executable, __file__, "--child", mode, "--model", a.model, "--input", a.input]
            r = subprocess.run([*cmd, "--chunk", str(a.chunk)], capture_output=True, text=True, check=True)
            res[mode].append(float(r.stdout.strip().splitlines()[-1]))
    out = {
        "command": "python benchmarks/bench_heap.py " + " ".join(sys.argv[1:]),
        "model_fps_default_malloc": res["off"],
        "model_fps_bound_heap": res["on"],
        "ratio_median": statistics.median(res["on"]) / statistics.median(res["off"]),
    }
    print(json.dumps(out, indent=2))
    if a.out:
        Path(a.out).write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
