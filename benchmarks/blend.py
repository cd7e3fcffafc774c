"""Does model A know anything model B does not? PSNR of the blend w*A + (1-w)*B on the same frames.

    python benchmarks/blend.py --a basicvsr-uni --b span --data ~/.cache/slimvsr/corpus \
        --out docs/bench-blend.json

If the best weight on A is 0, A's output adds nothing to B's at any mix: a network trained to
correct B (B's output plus a learnt residual) would start from B and must learn everything it adds
from scratch. Scoring is ``vsr-compress eval``'s (fp32, BI, PSNR/SSIM-Y with a border of ``scale``
pixels cropped) on the validation clips (``--items video``, first ``--max-frames`` frames) or
photos (``--items image``); a video model runs over each clip as trained, an image model frame by
frame. Each model runs once per clip; the blends reuse its outputs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
from pathlib import Path

import torch
from bench_models import load  # benchmarks/ is on sys.path when run as a script

from slimvsr.compression.evaluate import evaluate
from slimvsr.engine import cpu_name
from slimvsr.models import family_of


class Blend(torch.nn.Module):
    """w * a(x) + (1 - w) * b(x) on an LR clip (1, T, 3, H, W), each model's output memoised per
    clip so that scoring many weights runs each model once."""

    def __init__(self, a: torch.nn.Module, b: torch.nn.Module) -> None:
        super().__init__()
        self.a, self.b, self.w = a, b, 1.0
        self._memo: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    @staticmethod
    def _run(m: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        if family_of(m).kind == "video":
            return m(x)
        return torch.stack([m(f[None])[0] for f in x[0]])[None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = hashlib.sha1(x.numpy().tobytes()).hexdigest()
        if key not in self._memo:
            self._memo[key] = (self._run(self.a, x).clamp(0, 1), self._run(self.b, x).clamp(0, 1))
        ya, yb = self._memo[key]
        return self.w * ya + (1 - self.w) * yb


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="a registered name or a model folder")
    ap.add_argument("--b", required=True, help="a registered name or a model folder")
    ap.add_argument("--data", type=Path, required=True, help="the prepared corpus")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--items", choices=["video", "image"], default="video")
    ap.add_argument("--weights", type=float, nargs="+", default=[0, 0.1, 0.25, 0.5, 0.75, 1])
    ap.add_argument("--max-frames", type=int, default=16)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()

    torch.set_grad_enabled(False)
    (ma, la), (mb, lb) = load(a.a, a.scale), load(a.b, a.scale)
    blend = Blend(ma.eval(), mb.eval())
    rows = []
    for w in a.weights:
        blend.w = w
        r = evaluate(blend, f"{w}*{la}+{1 - w}*{lb}", a.data, scale=a.scale, max_frames=a.max_frames,
                     count=False, kind="video", items=a.items)  # fmt: skip
        rows.append({"weight_a": w, "psnr_y": r.psnr_y, "ssim_y": r.ssim_y, "per_item": r.per_item})
        print(f"w={w:<5} {r.psnr_y:7.3f} {r.ssim_y:.4f}", flush=True)
    best = max(rows, key=lambda r: r["psnr_y"])
    print(f"best weight on {la}: {best['weight_a']} ({best['psnr_y']:.3f} dB)")
    if a.out:
        machine = f"{cpu_name()}, {os.cpu_count()} CPUs, {platform.machine()}, torch {torch.__version__}"
        split = f"{a.items}, first {a.max_frames} frames" if a.items == "video" else "photos"
        res = {
            "command": "python " + " ".join(sys.argv),
            "machine": machine,
            "data": f"{a.data}: validation split (docs/data.md), {split}; fp32, BI",
            "a": la,
            "b": lb,
            "rows": rows,
            "best_weight_a": best["weight_a"],
        }
        a.out.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
