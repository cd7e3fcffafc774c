"""Is one training run with all cores faster than one run per core? Measured on this machine.

    python benchmarks/bench_parallel_runs.py --model edsr-baseline --batch 16 --patch 48 --scale 2

Times ``--steps`` training steps (forward, Charbonnier, backward, Adam) of the CPU recipe's shapes,
in the precision the training loop picks on this CPU (bf16 autocast + channels-last with native
bf16 units, else contiguous fp32): (a) one process using every core; (b) one process per core, all at once,
each pinned to one thread. Reports steps per second summed over the processes, so (b) / (a) > 1
means running independent jobs side by side finishes a queue of runs sooner.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import torch


def worker(model_name: str, batch: int, patch: int, frames: int, scale: int, steps: int) -> float:
    from slimvsr.compression.training.loop import auto_train_precision
    from slimvsr.compression.training.sr import charbonnier
    from slimvsr.models import named_config

    bf16 = auto_train_precision() == "bf16"
    named = named_config(model_name)
    model = named.build(scale).train()
    video = named.arch == "basicvsr"
    shape = (batch, frames, 3, patch, patch) if video else (batch, 3, patch, patch)
    x = torch.rand(shape)
    y = torch.rand(*shape[:-2], patch * scale, patch * scale)
    if bf16:
        model = model.to(memory_format=torch.channels_last)
    if not video:
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-5)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = charbonnier(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # warm-up
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="edsr-baseline")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--patch", type=int, default=48)
    p.add_argument("--frames", type=int, default=6)
    p.add_argument("--scale", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--out", default=None, help="write the result JSON here too")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    args = (a.model, a.batch, a.patch, a.frames, a.scale, a.steps)
    if a.worker:
        print(json.dumps(worker(*args)))
        return
    cores = os.cpu_count() or 1
    cmd = [sys.executable, __file__, "--worker", *sys.argv[1:]]
    from slimvsr.compression.training.loop import auto_train_precision
    from slimvsr.engine import cpu_name

    def launch(threads: int) -> subprocess.Popen:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)

    one = float(launch(cores).communicate()[0])
    procs = [launch(1) for _ in range(cores)]
    each = [float(pr.communicate()[0]) for pr in procs]
    res = {
        "command": "python benchmarks/bench_parallel_runs.py " + " ".join(sys.argv[1:]),
        "machine": cpu_name(),
        "precision": auto_train_precision(),
        "cores": cores,
        "one_process_steps_per_s": one,
        "per_core_processes_steps_per_s": each,
        "ratio": sum(each) / one,
    }
    print(json.dumps(res, indent=2))
    if a.out:
        with open(a.out, "w") as f:
            f.write(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
