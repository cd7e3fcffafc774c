"""Many jobs in one process, as the GUI runs them: resident memory, open file descriptors and
threads sampled after every job must stay within a bound (no growth with the number of jobs).

    python benchmarks/soak.py --jobs 2000 --out docs/soak.json

Jobs alternate a photo (tiny EDSR x2) and a 6-frame clip (tiny BasicVSR-uni x4), sharing one
model cache like the GUI's queue; a tenth of them fail on purpose (a damaged file), so error
paths are soaked too. Reported: the first sample after the warm-up (the first 10% of the jobs),
the maximum and the last, for RSS (MB), descriptors and threads.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=2000)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    import torch
    from PIL import Image

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from media import write_clip
    from slimvsr.engine import Job, UpscaleOptions
    from slimvsr.errors import SlimVSRError
    from slimvsr.models import EDSR, BasicVSR, save_pretrained
    from tiny import tiny_config

    with tempfile.TemporaryDirectory(prefix="slimvsr-soak-") as tmp:
        root = Path(tmp)
        torch.manual_seed(0)
        save_pretrained(EDSR(tiny_config("edsr", 0, scale=2)), root / "edsr", {"name": "edsr"})
        save_pretrained(BasicVSR(tiny_config("basicvsr", 0)), root / "uni", {"name": "uni"})
        photo = root / "p.png"
        Image.fromarray((np.random.default_rng(0).random((24, 32, 3)) * 255).astype(np.uint8)).save(photo)
        clip = write_clip(root / "c.mp4", n=6, size=(16, 24), audio=True)
        bad = root / "bad.mp4"
        bad.write_bytes(clip.read_bytes()[:900])
        models: dict = {}
        samples = []
        t0 = time.monotonic()
        for i in range(a.jobs):
            inp, model = (photo, "edsr") if i % 2 == 0 else (clip, "uni")
            if i % 10 == 9:
                inp = bad
            out = root / "out" / f"{i % 7}{'.png' if inp == photo else '.mkv'}"
            out.parent.mkdir(exist_ok=True)
            opts = UpscaleOptions(model=str(root / model), device="cpu", overwrite=True)
            with contextlib.suppress(SlimVSRError):  # the damaged file's clean error
                list(Job(inp, out, opts, models).run())
            samples.append(
                (
                    _rss_mb(),
                    len(os.listdir("/proc/self/fd")),
                    threading.active_count(),
                    len(os.listdir("/proc/self/task")),
                )
            )
        secs = time.monotonic() - t0
    warm = samples[max(1, a.jobs // 10) - 1]
    names = ("rss_mb", "fds", "python_threads", "os_threads")
    rec = {
        "command": f"python benchmarks/soak.py --jobs {a.jobs}",
        "machine": f"{platform.machine()} {platform.processor()}, {os.cpu_count()} cores",
        "seconds": round(secs),
        "jobs": a.jobs,
        **{
            n: {"after_warmup": warm[k], "max": max(s[k] for s in samples), "last": samples[-1][k]}
            for k, n in enumerate(names)
        },
    }
    rec["rss_mb"] = {k: round(v, 1) for k, v in rec["rss_mb"].items()}
    print(json.dumps(rec, indent=2))
    if a.out:
        a.out.write_text(json.dumps(rec, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
