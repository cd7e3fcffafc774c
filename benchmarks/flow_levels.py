"""A cheaper flow network: SPyNet without its finest pyramid level(s), same weights.

    python benchmarks/flow_levels.py --spynet runs/spynet-cpu-long/model \
        --models basicvsr-uni basicvsr --data ~/.cache/slimvsr/corpus --out docs/bench-flow-levels.json

The finest level runs at the full LR size and costs about 3/4 of SPyNet; ``skip_finest=1`` stops
one level short and upsamples that flow (``SPyNetConfig.skip_finest``). For each number of levels
skipped (``--skip``): the flow's quality (``vsr-compress eval-flow``'s figures: real LR warping
error on the validation clips, against DIS and no compensation; synthetic EPE), its time per
pair (bf16 channels-last at 180x320, the engine's CPU path, variants interleaved round by round,
medians), and each video model's PSNR-Y on the validation clips with its own flow network cut the
same way (fp32, the first 16 frames of each clip). Pause training first (SIGSTOP): the timings
need a quiet machine; the quality figures do not.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from slimvsr.compression.evaluate import evaluate, evaluate_flow
from slimvsr.engine import cpu_name
from slimvsr.models import build_model, family_of, load_pretrained, resolve


def _folder(name: str) -> Path:
    return Path(name) if Path(name).is_dir() else resolve(name, 4).folder


def with_skip(model: nn.Module, skip: int) -> nn.Module:
    """The same network with its SPyNet (the model itself, or its flow sub-network) skipping its
    finest ``skip`` levels; every weight but the unused basic modules is carried over."""
    fam = family_of(model)
    cfg = model.config
    if fam.kind == "flow":
        new_cfg = dataclasses.replace(cfg, skip_finest=skip)
    else:
        flow_cfg = getattr(cfg, fam.flow_module)
        new_cfg = dataclasses.replace(
            cfg, **{fam.flow_module: dataclasses.replace(flow_cfg, skip_finest=skip)}
        )
    new = build_model(fam.name, new_cfg)
    own = new.state_dict()
    dropped = [k for k in model.state_dict() if k not in own]
    assert all(".basic_module." in f".{k}" for k in dropped), dropped
    new.load_state_dict({k: v for k, v in model.state_dict().items() if k in own})
    return new.eval()


@torch.no_grad()
def time_flows(nets: dict[int, nn.Module], size: tuple[int, int], rounds: int) -> dict[int, float]:
    """ms per pair, bf16 channels-last, interleaved rounds, medians."""
    h, w = size
    ref, supp = torch.rand(1, 3, h, w), torch.rand(1, 3, h, w)
    ms: dict[int, list[float]] = {k: [] for k in nets}
    fast = {k: n.to(memory_format=torch.channels_last) for k, n in nets.items()}
    for _ in range(rounds + 1):  # the first round warms up
        for k, net in fast.items():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                t0 = time.perf_counter()
                for _ in range(4):
                    net(ref, supp)
                ms[k].append((time.perf_counter() - t0) / 4 * 1000)
    return {k: statistics.median(v[1:]) for k, v in ms.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spynet", required=True, help="a SPyNet model folder")
    ap.add_argument("--models", nargs="*", default=[], help="video models (names or folders) to score")
    ap.add_argument("--data", required=True, help="the prepared corpus (its validation clips)")
    ap.add_argument("--skip", nargs="+", type=int, default=[0, 1, 2], help="finest levels skipped")
    ap.add_argument("--size", default="180x320", help="LR size of the timing (HxW)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-frames", type=int, default=16)
    ap.add_argument("--no-quality", action="store_true", help="timings only")
    ap.add_argument("--out", default=None, help="JSON file to write")
    a = ap.parse_args()
    h, w = (int(v) for v in a.size.split("x"))
    spynet, _ = load_pretrained(a.spynet)
    nets = {s: with_skip(spynet, s) for s in a.skip}
    res: dict = {
        "command": "python " + " ".join(sys.argv),
        "machine": f"{cpu_name()}, {os.cpu_count()} CPUs, {platform.machine()}, torch {torch.__version__}",
        "spynet": str(a.spynet),
        "timing": {"size": [h, w], "precision": "bf16 channels-last", "rounds": a.rounds},
        "ms_per_pair": {str(k): v for k, v in time_flows(nets, (h, w), a.rounds).items()},
        "flow": {},
        "models": {},
    }
    print(json.dumps(res["ms_per_pair"]), flush=True)
    if not a.no_quality:
        for s, net in nets.items():
            res["flow"][str(s)] = evaluate_flow(net, Path(a.data))
            print(s, json.dumps(res["flow"][str(s)]), flush=True)
        for name in a.models:
            model, _ = load_pretrained(_folder(name))
            res["models"][name] = {}
            for s in a.skip:
                r = evaluate(
                    with_skip(model, s), name, Path(a.data), scale=4, max_frames=a.max_frames, count=False
                )
                res["models"][name][str(s)] = {"psnr_y": r.psnr_y, "ssim_y": r.ssim_y, "per_item": r.per_item}
                print(name, s, f"{r.psnr_y:.3f}", flush=True)
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
