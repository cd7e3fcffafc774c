"""Where ssl-uni's time goes on this CPU, and which ways of laying its work out are faster.

    python benchmarks/model_layout.py --out docs/bench-model-layout.json

Model only (no decode or encode), bf16 autocast with channels-last maps (the engine's CPU path),
random inputs of a video's LR size (180x320 for x4, the size the issue and the papers quote; the
upsampler also at 360x640). Every comparison is measured in one process, its variants interleaved
round by round (``--rounds``), medians reported. Pause training first.

  stages      one frame of ssl-uni: SPyNet, the warp, the trunk, the upsampler, and the whole
              streamed chunk of 8 frames per frame, as the engine runs it (``make_runner``)
  peak        this CPU's bf16 and fp32 rate on large 3x3 convolutions (the best of 64..256
              channels at 180x320): the ceiling the model's achieved rate is a fraction of
  upsampler   whole frames against LR tiles of at most 64..192 pixels, each side cut into equal
              parts (exact: the tiles carry the receptive field), and batched over a chunk's 8
              frames against one frame at a time
  trunk       the 30 pruned residual blocks: out-of-place sums (autograd's), in-place sums (the
              inference path), and the RSC gather and scatter fused into the convs' weights
              (zero rows/columns: a 3x3 conv over all 64 channels instead of a 1x1 pick)
  spynet      flow for 8 pairs in batches of 1, 2, 4 and 8
  threads     SPyNet+trunk and the upsampler one after the other on 2 threads, against the two
              side by side on one thread each (a frame pipeline)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from registry_speed import cpu_name

CL = torch.channels_last


def interleaved(fns: dict, rounds: int, per: int = 1) -> dict[str, float]:
    """Median ms per call (``per`` calls' worth per run) of each function, rounds interleaved."""
    for f in fns.values():
        f()
    got: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            got[k].append(1000 * (time.perf_counter() - t) / per)
    return {k: statistics.median(v) for k, v in got.items()}


def conv_peak(rounds: int, dtypes: tuple[str, ...] = ("bf16", "fp32")) -> dict:
    """Best TFLOP/s of a 3x3 conv at 180x320 over channel widths, per dtype ("bf16", "fp32")."""
    out = {}
    for name in dtypes:
        dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[name]
        best = (0.0, 0)
        for c in (64, 128, 192, 256):
            conv = torch.nn.Conv2d(c, c, 3, padding=1).eval().to(memory_format=CL)
            x = torch.rand(1, c, 180, 320).contiguous(memory_format=CL)
            ctx = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)
            with torch.no_grad(), ctx:
                xb = x.to(dtype)
                ms = interleaved({"c": lambda conv=conv, xb=xb: conv(xb)}, rounds)["c"]
            tflops = 2 * 180 * 320 * c * c * 9 / (ms / 1000) / 1e12
            best = max(best, (tflops, c))
        out[name] = {"tflops": best[0], "channels": best[1]}
    return out


def fused_rsc(blk) -> tuple[torch.nn.Conv2d, torch.nn.Conv2d]:
    """A pruned block's gather folded into conv1 (64 inputs, zero columns) and its scatter into
    conv2 (64 outputs, zero rows): the same sum, no 1x1 picks."""
    n = blk.num_feat
    c1 = torch.nn.Conv2d(n, blk.conv1.out_channels, 3, 1, 1)
    c2 = torch.nn.Conv2d(blk.conv2.in_channels, n, 3, 1, 1)
    with torch.no_grad():
        c1.weight.zero_()
        c1.weight[:, blk.in_idx] = blk.conv1.weight
        c1.bias.copy_(blk.conv1.bias)
        c2.weight.zero_()
        c2.bias.zero_()
        c2.weight[blk.out_idx] = blk.conv2.weight
        c2.bias[blk.out_idx] = blk.conv2.bias
    return c1.to(memory_format=CL), c2.to(memory_format=CL)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="ssl-uni")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    from slimvsr.engine import Precision, make_runner
    from slimvsr.models import describe, flow_warp, load_model, profile_model

    torch.manual_seed(0)
    desc = load_model(a.model)
    m = desc.model.eval().to(memory_format=CL)
    blocks = list(m.forward_trunk.blocks)
    nf = m.config.num_feat
    res: dict = {
        "command": "python benchmarks/model_layout.py " + " ".join(sys.argv[1:]),
        "machine": f"{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), {platform.machine()}",
        "model": a.model,
        "precision": "bf16 autocast, channels-last",
        "rounds": a.rounds,
    }
    h, w = 180, 320
    lr = torch.rand(1, 3, h, w).contiguous(memory_format=CL)
    lr2 = torch.rand(1, 3, h, w).contiguous(memory_format=CL)
    feat = torch.rand(1, nf, h, w).contiguous(memory_format=CL)
    res["peak"] = conv_peak(a.rounds)
    print("peak", res["peak"], file=sys.stderr)
    prec = Precision(torch.device("cpu"), torch.bfloat16, channels_last=True)
    runner = make_runner(describe(m, a.model), prec)
    chunk = torch.rand(8, 3, h, w)
    macs = profile_model(m, (h, w)).macs  # per frame, SPyNet apart (the papers' count)
    macs_all = profile_model(m, (h, w), include_flow=True).macs

    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        flow = m.spynet(lr, lr2)
        x = torch.cat((lr, feat), 1)
        st = interleaved(
            {
                "spynet": lambda: m.spynet(lr, lr2),
                "warp": lambda: flow_warp(feat, flow),
                "trunk": lambda: m.forward_trunk(x),
                "upsampler": lambda: m.upsample(feat, lr),
                "upsampler (engine's cache tile)": lambda: _tiled_ups(m, feat, lr, runner.tile),
            },
            a.rounds,
        )

        def stream() -> None:
            runner.state = None
            runner.push(chunk)

        st["streamed chunk, per frame (engine)"] = interleaved({"s": stream}, max(3, a.rounds // 3), per=8)[
            "s"
        ]
        frame_ms = st["streamed chunk, per frame (engine)"]
        res["stages_ms"] = st
        tflops = 2 * macs_all / (frame_ms / 1000) / 1e12
        res["model_only"] = {
            "macs_per_frame_with_flow": macs_all,
            "macs_per_frame_without_flow": macs,
            "ms_per_frame": frame_ms,
            "tflops": tflops,
            "fraction_of_bf16_peak": tflops / res["peak"]["bf16"]["tflops"],
        }
        print("stages", st, res["model_only"], file=sys.stderr)

        ups = {}
        for hh, ww in ((180, 320), (360, 640)):
            f = torch.rand(1, nf, hh, ww).contiguous(memory_format=CL)
            l_ = torch.rand(1, 3, hh, ww).contiguous(memory_format=CL)
            fns = {"whole frame": lambda f=f, l_=l_: m.upsample(f, l_)}
            for tile in (64, 96, 128, 160, 192):
                fns[f"tiles of {tile}"] = lambda f=f, l_=l_, tile=tile: _tiled_ups(m, f, l_, tile)
            ups[f"{ww}x{hh}"] = interleaved(fns, a.rounds)
        f8 = torch.rand(8, nf, h, w).contiguous(memory_format=CL)
        l8 = torch.rand(8, 3, h, w).contiguous(memory_format=CL)
        ups["320x180 chunk of 8, per frame"] = interleaved(
            {
                "one frame at a time": lambda: [m.upsample(f8[i : i + 1], l8[i : i + 1]) for i in range(8)],
                "batched over the chunk": lambda: m.upsample(f8, l8),
            },
            max(3, a.rounds // 3),
            per=8,
        )
        res["upsampler_ms"] = ups
        print("upsampler", ups, file=sys.stderr)

        s = F.leaky_relu(m.forward_trunk.conv(x), 0.1)
        fused = [fused_rsc(b) if not (b.dense_in or b.empty) else None for b in blocks]

        def trunk(inplace: bool) -> torch.Tensor:
            y = s.clone()
            for b in blocks:
                y = b(y, inplace=inplace)
            return y

        def trunk_fused() -> torch.Tensor:
            y = s.clone()
            for b, fz in zip(blocks, fused, strict=True):
                y = y.add_(fz[1](F.relu(fz[0](y)))) if fz else b(y, inplace=True)
            return y

        ref = trunk(False).float()
        res["trunk_fused_max_abs_diff"] = float((trunk_fused().float() - ref).abs().max())
        res["trunk_ms"] = interleaved(
            {
                "out-of-place sums": lambda: trunk(False),
                "in-place sums (inference path)": lambda: trunk(True),
                "RSC gather/scatter fused into the convs": trunk_fused,
            },
            a.rounds,
        )
        print("trunk", res["trunk_ms"], file=sys.stderr)

        pa, pb = torch.rand(8, 3, h, w), torch.rand(8, 3, h, w)
        res["spynet_ms_per_pair"] = interleaved(
            {
                f"batch {k}": (lambda k=k: [m.spynet(pa[i : i + k], pb[i : i + k]) for i in range(0, 8, k)])
                for k in (1, 2, 4, 8)
            },
            max(3, a.rounds // 3),
            per=8,
        )
        print("spynet", res["spynet_ms_per_pair"], file=sys.stderr)

    def part_a() -> None:
        m.forward_trunk(torch.cat((lr, flow_warp(feat, m.spynet(lr, lr2))), 1))

    def part_b() -> None:
        m.upsample(feat, lr)

    def both_in_turn() -> None:
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            part_a()
            part_b()

    def side_by_side(k: int = 4) -> float:
        def work(fn) -> None:
            torch.set_num_threads(1)
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                for _ in range(k):
                    fn()

        ts = [threading.Thread(target=work, args=(fn,)) for fn in (part_a, part_b)]
        t = time.perf_counter()
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        return 1000 * (time.perf_counter() - t) / k

    in_turn = interleaved({"t": both_in_turn}, max(3, a.rounds // 3))["t"]
    side_by_side()
    res["threads_ms_per_frame"] = {
        "in turn, 2 threads each": in_turn,
        "side by side, 1 thread each": statistics.median(side_by_side() for _ in range(3)),
    }
    print("threads", res["threads_ms_per_frame"], file=sys.stderr)
    text = json.dumps(res, indent=1)
    if a.out:
        a.out.write_text(text + "\n")
    print(text)


def _tiled_ups(m, feat: torch.Tensor, lr: torch.Tensor, tile: int | None) -> torch.Tensor:
    if not tile:
        return m.upsample(feat, lr)
    with m.tiled_upsampling(tile):
        return m.upsample(feat, lr)


if __name__ == "__main__":
    main()
