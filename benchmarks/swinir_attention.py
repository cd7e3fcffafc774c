"""SwinIR's window attention at inference: torch's fused attention against the explicit form.

    python benchmarks/swinir_attention.py --out docs/bench-swinir-attention.json

For each bundled SwinIR model (the LR size that makes a 1280x720 output), each precision (fp32;
bf16 autocast + channels-last, the engine's CPU path) and each form (``FUSED_ATTENTION`` "always"
/ "never" in ``slimvsr.models._swinir``; the product runs the fused form where this measures it
faster): a fresh process loads the model, runs one warm-up frame and
``--repeats`` timed frames of a real validation frame (cityCC0-00, bicubic to the LR size), and
reports ms per frame (median) and its peak RSS; forms alternate, rounds rotate the order. Also
the largest difference between the two forms' outputs. Pause training first.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from registry_speed import cpu_name

MODELS = {  # LR (H, W) of a 1280x720 output
    "swinirmini-x2": (360, 640),
    "swinirmini-x4": (180, 320),
    "swinir-lw-x2": (360, 640),
    "swinir-lw-x4": (180, 320),
}


def child(model: str, precision: str, fused: bool, repeats: int, frame: str, out: str) -> None:
    import time

    import numpy as np
    import torch
    from PIL import Image

    from slimvsr.models import _swinir, load_model

    _swinir.FUSED_ATTENTION = "always" if fused else "never"
    name, scale = model.rsplit("-x", 1)
    h, w = MODELS[model]
    m = load_model(name, int(scale)).model.eval()
    im = Image.open(frame).convert("RGB").resize((w, h), Image.BICUBIC)
    x = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)[None].float() / 255
    bf16 = precision == "bf16"
    ctx = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    if bf16:
        m, x = m.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    times = []
    with torch.inference_mode(), ctx:
        for i in range(repeats + 1):
            t = time.perf_counter()
            y = m(x)
            if i:
                times.append(time.perf_counter() - t)
    np.save(out, y.float().numpy())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"ms": 1000 * statistics.median(times), "rss_mb": rss}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="swinirmini-x2,swinirmini-x4,swinir-lw-x4")
    p.add_argument("--precisions", default="bf16,fp32")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    val = "~/.cache/slimvsr/corpus/video/val/cityCC0-00/00000.png"
    p.add_argument("--frame", default=os.path.expanduser(val))
    p.add_argument("--work", default="runs/bench-swinir-attention")
    p.add_argument("--out", default=None)
    p.add_argument("--child", nargs=6, default=None)
    a = p.parse_args()
    if a.child:
        model, precision, fused, repeats, frame, out = a.child
        child(model, precision, fused == "1", int(repeats), frame, out)
        return
    import numpy as np

    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    cells = [(m, pr, f) for m in a.models.split(",") for pr in a.precisions.split(",") for f in (True, False)]
    got: dict = {}
    for k in range(a.rounds):
        shift = k % 2  # alternate which form runs first
        for m, pr, f in sorted(cells, key=lambda c: (c[0], c[1], c[2] != bool(shift))):
            out = work / f"{m}-{pr}-{int(f)}.npy"
            cmd = [sys.executable, __file__, "--child", m, pr, str(int(f)), str(a.repeats), a.frame, str(out)]
            run = subprocess.run(cmd, check=True, capture_output=True, text=True)
            r = json.loads(run.stdout.splitlines()[-1])
            got.setdefault((m, pr, f), []).append(r)
            print(m, pr, "fused" if f else "explicit", r, file=sys.stderr)
    res = {
        "command": "python benchmarks/swinir_attention.py " + " ".join(sys.argv[1:]),
        "machine": f"{cpu_name()}, {os.cpu_count()} cores",
        "data": f"{Path(a.frame).parent.name}/{Path(a.frame).name}, bicubic to the LR size",
        "models": {},
    }
    for m, pr, _ in cells[::2]:
        fu, ex = got[(m, pr, True)], got[(m, pr, False)]
        yf, ye = (np.load(work / f"{m}-{pr}-{i}.npy") for i in (1, 0))
        ms_f = statistics.median(r["ms"] for r in fu)
        ms_e = statistics.median(r["ms"] for r in ex)
        res["models"].setdefault(m, {})[pr] = {
            "lr": MODELS[m],
            "fused_ms": round(ms_f, 1),
            "explicit_ms": round(ms_e, 1),
            "speedup": round(ms_e / ms_f, 3),
            "fused_rss_mb": round(max(r["rss_mb"] for r in fu)),
            "explicit_rss_mb": round(max(r["rss_mb"] for r in ex)),
            "max_abs_diff": float(np.abs(yf - ye).max()),
        }
    text = json.dumps(res, indent=1)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
