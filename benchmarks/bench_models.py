"""CPU time per frame of several models, measured side by side in one run.

    python benchmarks/bench_models.py basicvsr-uni runs/ssl-uni-cpu/model --size 180x320 \\
        --frames 16 --precision bf16 fp32 --out docs/bench-models-ssl.json

Each model is a registered name (with ``--scale``), a model folder, or ``LABEL=FOLDER``; a folder
with only config.json (an ``artifacts/`` run) is timed with random weights of its architecture. Video
models (BasicVSR family) run a whole ``--frames`` sequence of LR frames and report time / frames;
image models run one LR frame at a time. The models are interleaved (model A, model B, ..., then again) for
``--repeats`` rounds after a warm-up round, so slow drift of the machine hits them alike; the
median round is reported, together with each model's time relative to the first model. Random LR
input: runtime does not depend on the picture.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from slimvsr.models import build_model, family_of, load_pretrained, profile_model, read_config, resolve


def from_folder(folder: Path) -> tuple[torch.nn.Module, dict]:
    """A model folder; one with only config.json (artifacts/ of a run whose weights were not kept)
    gives the same architecture with random weights: enough for runtime, not for quality."""
    if (folder / "model.safetensors").is_file():
        return load_pretrained(folder)
    meta = read_config(folder)
    torch.manual_seed(0)
    return build_model(meta["architecture"], meta["config"]).eval(), meta


def load(name: str, scale: int | None) -> tuple[torch.nn.Module, str]:
    """A registered name, a model folder, or LABEL=FOLDER (the label then names the row)."""
    label, sep, path = name.partition("=")
    if sep and Path(path).is_dir():
        return from_folder(Path(path))[0], label
    if Path(name).is_dir():
        model, meta = from_folder(Path(name))
        return model, str(meta.get("name", Path(name).name))
    info = resolve(name, scale)
    if scale is None and len(info.entry.scales) > 1:
        # the entry's first scale would be timed silently (span x2 at an x4 model's LR size)
        raise SystemExit(f"{name}: registered at several scales; pass --scale or a model folder")
    if not info.present:
        raise SystemExit(f"{name}: weights not installed; pass a model folder")
    return load_pretrained(info.folder)[0], name


@torch.no_grad()
def time_once(model: torch.nn.Module, x: torch.Tensor, precision: str) -> float:
    cl = precision == "bf16"
    t = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cl):
        if family_of(model).kind == "video":
            model(x)
            n = x.shape[1]
        else:
            for f in x[0]:
                model(f[None])
            n = x.shape[1]
    return (time.perf_counter() - t) / n


@torch.no_grad()
def time_peer(model: torch.nn.Module, x: torch.Tensor) -> float:
    """A peer network (ncnn: its own runtime and precision, no slimvsr family) on each frame of
    ``x``, after one untimed call as for slimvsr's models; seconds per frame."""
    model(x[0, :1])
    t = time.perf_counter()
    for f in x[0]:
        model(f[None])
    return (time.perf_counter() - t) / x.shape[1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="+")
    p.add_argument("--scale", type=int, default=None)
    p.add_argument("--size", default="180x320", help="LR frame HxW")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--precision", nargs="+", default=["bf16", "fp32"], choices=["bf16", "fp32"])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    h, w = (int(v) for v in a.size.split("x"))
    torch.manual_seed(0)
    models = [load(m, a.scale) for m in a.models]
    x = torch.rand(1, a.frames, 3, h, w)
    result = {
        "command": "python benchmarks/bench_models.py "
        + " ".join(a.models)
        + (f" --scale {a.scale}" if a.scale else "")
        + f" --size {a.size} --frames {a.frames} --precision {' '.join(a.precision)} --repeats {a.repeats}",
        "machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads()},
        "torch": torch.__version__,
        "lr_size": [h, w],
        "frames": a.frames,
        "results": {},
    }
    for prec in a.precision:
        runs = []
        for m, _ in models:
            m.eval()
            runs.append(
                m.to(memory_format=torch.channels_last)
                if prec == "bf16"
                else m.to(memory_format=torch.contiguous_format)
            )
        for m in runs:  # warm-up round (oneDNN kernels, allocations)
            time_once(m, x[:, :2], prec)
        rounds: list[list[float]] = [[] for _ in runs]
        for _ in range(a.repeats):
            for i, m in enumerate(runs):
                rounds[i].append(time_once(m, x, prec))
        base = statistics.median(rounds[0])
        rows = []
        for (m, label), r in zip(models, rounds, strict=True):
            med = statistics.median(r)
            prof = profile_model(m, (h, w))
            rows.append(
                {
                    "model": label,
                    "ms_per_frame": 1000 * med,
                    "ms_per_frame_all": [1000 * v for v in r],
                    "relative_to_first": med / base,
                    "params": prof.params,
                    "macs": prof.macs,
                }
            )
            print(
                f"{prec:<5} {label:<28} {1000 * med:9.1f} ms/frame  x{med / base:5.2f}  "
                f"{prof.params / 1e6:6.3f}M params  {prof.macs / 1e9:7.1f} GMACs"
            )
        result["results"][prec] = rows
    if a.out:
        a.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
