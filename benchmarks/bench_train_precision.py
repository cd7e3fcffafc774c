"""Training-step speed: bf16 autocast + channels-last against fp32, measured in one run.

    python benchmarks/bench_train_precision.py --model basicvsr-uni --out docs/bench-train-precision.json

Times full training steps (forward, Charbonnier loss, backward, Adam) of the CPU recipe's shapes
on the same random clip, after one warm-up step each, alternating the two precisions so that both
see the same machine state.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from slimvsr.compression.training.sr import charbonnier
from slimvsr.engine import cpu_has_bf16, cpu_name
from slimvsr.models import named_config


def step_time(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, bf16: bool) -> float:
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    t = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = charbonnier(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="basicvsr-uni")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--frames", type=int, default=6)
    p.add_argument("--patch", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    torch.manual_seed(0)
    named = named_config(a.model)
    video = named.arch == "basicvsr"
    scale = 4 if video else 2
    shape = (a.batch, a.frames, 3, a.patch, a.patch) if video else (a.batch, 3, a.patch, a.patch)
    x = torch.rand(shape)
    y = torch.rand(*shape[:-2], a.patch * scale, a.patch * scale)
    fp32 = named.build(scale)
    bf16 = named.build(scale)
    bf16.load_state_dict(fp32.state_dict())
    bf16 = bf16.to(memory_format=torch.channels_last)
    for m in (fp32, bf16):
        if video:  # the recipe's first steps: SPyNet frozen
            m.spynet.requires_grad_(False)
    step_time(fp32, x, y, False)
    step_time(bf16, x, y, True)
    t32, t16 = [], []
    for _ in range(a.repeats):
        t32.append(step_time(fp32, x, y, False))
        t16.append(step_time(bf16, x, y, True))
    res = {
        "model": a.model,
        "shape": list(shape),
        "fp32_s_per_step": min(t32),
        "bf16_channels_last_s_per_step": min(t16),
        "speedup": min(t32) / min(t16),
        "machine": f"{cpu_name()} ({'native bf16' if cpu_has_bf16() else 'no bf16 units'}), "
        f"{torch.get_num_threads()} threads, torch {torch.__version__}",
        "command": "python benchmarks/bench_train_precision.py "
        + " ".join(
            f"--{k} {v}"
            for k, v in (("model", a.model), ("batch", a.batch), ("frames", a.frames), ("patch", a.patch))
        ),
    }
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
