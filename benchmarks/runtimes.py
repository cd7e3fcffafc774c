"""Every bundled model on every inference runtime, side by side in one run: speed and accuracy.

    python benchmarks/runtimes.py --out docs/bench-runtimes.json

Each model is run as the graphs a runtime would compile, one output frame per call with the hidden
state explicit (``BasicVSR.step``, ``backward_step`` + ``forward_step``; image models: the whole
network), at fixed shapes. Runtimes: torch eager (the engine's path: fp32 NCHW, and bf16 autocast +
channels-last), torch.compile (inductor, weights frozen), ONNX Runtime (CPU EP, fp32; and static
int8 QDQ, per-channel weights, calibrated on another clip) and OpenVINO (CPU, f32 and bf16
inference precision; int8 by NNCF post-training quantisation, calibrated the same way). Every
runtime gets the same number of threads as torch.

Data (real frames, corpus of ``vsr-compress data prepare``): HR = the first ``--frames`` frames of
the validation clip VID_20191220_170832-00 (960x540), LR = bicubic /scale (135x240 for x4, 270x480
for x2). Reported per (model, runtime): ms per output frame (median of ``--repeats`` passes over
the frames after a warm-up pass), speed relative to the engine's torch path, the largest absolute
difference from torch fp32, PSNR of the output against torch fp32's, and PSNR-Y against HR minus
torch fp32's. Pause training first (``kill -STOP``): a shared CPU measures noise.

Adoption rule (issue #19): a runtime becomes a backend if it is >= 1.3x faster end to end than
the engine's path with outputs within 1e-4 of torch fp32 (f32) or >= 45 dB from it (bf16); a
runtime cannot be faster end to end than model only, so a model-only speed-up below 1.3x rules it
out. int8 is adopted if it is faster at <= 0.1 dB PSNR-Y loss.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from slimvsr.compression.metrics import psnr_y, to_uint8
from slimvsr.models import describe, family_of, list_weights, load_pretrained

sys.path.insert(0, str(Path(__file__).parent))
from registry_speed import cpu_name

Arrays = tuple[np.ndarray, ...]


# -- the model as graphs and a driver ----------------------------------------------------------
def graphs(model: nn.Module) -> dict[str, nn.Module]:
    """The model's step graphs, as the engine's OpenVINO backend runs them."""
    return describe(model).step_graphs()


def drive(
    model: nn.Module, call: Callable[[str, Arrays], Arrays], lrs: list[np.ndarray]
) -> tuple[list[np.ndarray], dict]:
    """Run the frames through the graphs with ``call(graph, inputs) -> outputs`` (numpy float32);
    returns the SR frames and every graph's inputs (for int8 calibration)."""
    fam = family_of(model)
    seen: dict[str, list[Arrays]] = {}

    def c(name: str, *xs: np.ndarray) -> Arrays:
        seen.setdefault(name, []).append(xs)
        return call(name, xs)

    if fam.kind == "image":
        return [c("frame", x)[0] for x in lrs], seen
    n = len(lrs)
    h, w = lrs[0].shape[-2:]
    zero = np.zeros((1, model.config.num_feat, h, w), np.float32)
    outs = []
    if model.config.bidirectional:
        back, feat = [zero] * n, zero
        for t in range(n - 1, -1, -1):
            feat = back[t] = c("backward", lrs[min(t + 1, n - 1)], lrs[t], feat)[0]
        feat = zero
        for t in range(n):
            y, feat = c("forward", lrs[max(t - 1, 0)], lrs[t], feat, back[t])
            outs.append(y)
    else:
        feat = zero
        for t in range(n):
            y, feat = c("step", lrs[max(t - 1, 0)], lrs[t], feat)
            outs.append(y)
    return outs, seen


def example_inputs(model: nn.Module, lr: np.ndarray) -> dict[str, Arrays]:
    x = lr
    if family_of(model).kind == "image":
        return {"frame": (x,)}
    feat = np.zeros((1, model.config.num_feat, *x.shape[-2:]), np.float32)
    if model.config.bidirectional:
        return {"backward": (x, x, feat), "forward": (x, x, feat, feat)}
    return {"step": (x, x, feat)}


# -- runtimes: each returns call(graph, inputs) -> outputs ---------------------------------------
def _outs(y) -> Arrays:
    ys = y if isinstance(y, (tuple, list)) else (y,)
    return tuple(np.ascontiguousarray(t.float().numpy()) for t in ys)


def torch_runtime(model: nn.Module, ex: dict[str, Arrays], bf16: bool, compiled: bool = False) -> Callable:
    """The engine's path (bf16: autocast + channels-last; fp32: NCHW), eager or torch.compile'd."""
    fmt = torch.channels_last if bf16 else torch.contiguous_format
    gs = graphs(model.to(memory_format=fmt))
    if compiled:
        import torch._inductor.config as ic

        ic.freezing = True  # weights as constants: folded and prepacked for oneDNN
        # Every graph is the same code object (ModelDescriptor's _Method.forward): without a reset, dynamo's
        # recompile limit (8) is reached after a few models and the rest silently run eager.
        torch._dynamo.reset()
        gs = {k: torch.compile(g, dynamic=False) for k, g in gs.items()}

    @torch.no_grad()
    def call(name: str, xs: Arrays) -> Arrays:
        ts = [torch.from_numpy(x).contiguous(memory_format=fmt) for x in xs]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return _outs(gs[name](*ts))

    return call


def _export_onnx(model: nn.Module, ex: dict[str, Arrays], folder: Path) -> dict[str, Path]:
    model = model.to(memory_format=torch.contiguous_format)
    paths = {}
    for name, g in graphs(model).items():
        path = folder / f"{name}.onnx"
        args = tuple(torch.from_numpy(x) for x in ex[name])
        with torch.no_grad():
            torch.onnx.export(
                g,
                args,
                str(path),
                opset_version=17,
                dynamo=False,
                input_names=[f"in{i}" for i in range(len(args))],
            )
        paths[name] = path
    return paths


def onnxruntime_fp32(
    model: nn.Module, ex: dict[str, Arrays], folder: Path, int8_calib: dict | None = None
) -> Callable:
    import onnxruntime as ort

    paths = _export_onnx(model, ex, folder)
    if int8_calib is not None:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
        from onnxruntime.quantization.shape_inference import quant_pre_process

        class Reader(CalibrationDataReader):
            def __init__(self, feeds: list[Arrays]) -> None:
                self.it = iter([{f"in{i}": x for i, x in enumerate(xs)} for xs in feeds])

            def get_next(self):
                return next(self.it, None)

        for name, path in list(paths.items()):
            pre = path.with_suffix(".pre.onnx")
            q = path.with_suffix(".int8.onnx")
            with contextlib.chdir(folder):  # its shape inference leaves temporaries in the cwd
                quant_pre_process(str(path), str(pre))
                quantize_static(
                    str(pre),
                    str(q),
                    Reader(int8_calib[name]),
                    quant_format=QuantFormat.QDQ,
                    per_channel=True,
                    weight_type=QuantType.QInt8,
                    activation_type=QuantType.QUInt8,
                )
            paths[name] = q
    so = ort.SessionOptions()
    so.intra_op_num_threads = torch.get_num_threads()
    so.inter_op_num_threads = 1
    sess = {k: ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"]) for k, p in paths.items()}

    def call(name: str, xs: Arrays) -> Arrays:
        s = sess[name]
        return tuple(s.run(None, {i.name: x for i, x in zip(s.get_inputs(), xs, strict=True)}))

    return call


def openvino(model: nn.Module, ex: dict[str, Arrays], bf16: bool, int8_calib: dict | None = None) -> Callable:
    import openvino as ov

    core = ov.Core()
    model = model.to(memory_format=torch.contiguous_format)
    cfg = {
        "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32",
        "NUM_STREAMS": "1",
        "INFERENCE_NUM_THREADS": str(torch.get_num_threads()),
        "PERFORMANCE_HINT": "LATENCY",
    }
    comp = {}
    for name, g in graphs(model).items():
        args = tuple(torch.from_numpy(x) for x in ex[name])
        with torch.no_grad():
            om = ov.convert_model(g, example_input=args)
        if int8_calib is not None:  # NNCF post-training quantisation (symmetric int8, calibrated)
            import nncf

            feeds = int8_calib[name]
            om = nncf.quantize(om, nncf.Dataset(feeds, lambda xs: list(xs)), subset_size=len(feeds))
        comp[name] = core.compile_model(om, "CPU", cfg)

    def call(name: str, xs: Arrays) -> Arrays:
        r = comp[name](list(xs))
        return tuple(np.asarray(r[o]) for o in comp[name].outputs)

    return call


def make_call(rt: str, model: nn.Module, ex: dict[str, Arrays], folder: Path, calib: dict) -> Callable:
    if rt in ("torch-fp32", "torch-bf16", "compile-fp32", "compile-bf16"):
        return torch_runtime(model, ex, rt.endswith("bf16"), compiled=rt.startswith("compile"))
    if rt in ("ort-fp32", "ort-int8"):
        return onnxruntime_fp32(model, ex, folder, calib if rt.endswith("int8") else None)
    if rt in ("ov-f32", "ov-bf16", "ov-int8"):
        return openvino(model, ex, rt == "ov-bf16", calib if rt == "ov-int8" else None)
    raise SystemExit(f"unknown runtime {rt!r}")


# -- the run --------------------------------------------------------------------------------------
def frames(
    clip: str, n: int, scale: int, size: tuple[int, int] | None = None
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(LR frames (1,3,h,w) float32 by bicubic /scale, HR frames HxWx3 uint8)."""
    lrs, hrs = [], []
    for f in sorted(glob.glob(f"{clip}/*.png"))[:n]:
        im = Image.open(f).convert("RGB")
        if size:
            im = im.resize(size[::-1], Image.Resampling.BICUBIC)
        w, h = im.size
        im = im.crop((0, 0, w - w % scale, h - h % scale))
        lr = im.resize((im.width // scale, im.height // scale), Image.Resampling.BICUBIC)
        hrs.append(np.asarray(im))
        lrs.append((np.asarray(lr, np.float32).transpose(2, 0, 1)[None] / 255).copy())
    return lrs, hrs


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.clip(a, 0, 1).astype(np.float64) - np.clip(b, 0, 1)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=None, help="comma-separated NAME-xS (default: every bundled model)")
    p.add_argument(
        "--runtimes",
        default="torch-fp32,torch-bf16,compile-fp32,compile-bf16,ort-fp32,ort-int8,ov-f32,ov-bf16,ov-int8",
    )
    p.add_argument("--frames", type=int, default=4)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--corpus", default=os.path.expanduser("~/.cache/slimvsr/corpus"))
    p.add_argument("--clip", default="video/val/VID_20191220_170832-00")
    p.add_argument(
        "--calib-clip", default="video/val/cityCC0-00", help="int8 calibration (resized to the clip's size)"
    )
    p.add_argument("--out", default=None)
    a = p.parse_args()
    clip, calib = f"{a.corpus}/{a.clip}", f"{a.corpus}/{a.calib_clip}"
    hr_size = np.asarray(Image.open(sorted(glob.glob(f"{clip}/*.png"))[0])).shape[:2]
    wanted = a.models.split(",") if a.models else None
    runtimes = a.runtimes.split(",")
    res: dict = {
        "command": "python benchmarks/runtimes.py " + " ".join(sys.argv[1:]),
        "machine": f"{cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads",
        "versions": {"torch": torch.__version__},
        "data": f"{a.clip}, first {a.frames} frames; int8 calibration {a.calib_clip}",
        "models": {},
    }
    for mod in ("onnxruntime", "openvino"):
        with contextlib.suppress(ImportError):
            res["versions"][mod] = __import__(mod).__version__
    for w in list_weights():
        key = f"{w.entry.name}-x{w.scale}"
        if w.source != "bundled" or (wanted and key not in wanted):
            continue
        model, _ = load_pretrained(w.folder)
        lrs, hrs = frames(clip, a.frames, w.scale)
        cal_lrs, _ = frames(calib, a.frames, w.scale, size=hr_size)
        ex = example_inputs(model, lrs[0])
        ref_call = torch_runtime(model, ex, bf16=False)
        ref, _ = drive(model, ref_call, lrs)
        _, calib_feeds = drive(model, ref_call, cal_lrs)
        ref_y = statistics.mean(
            psnr_y(to_uint8(torch.from_numpy(o[0])), h, w.scale) for o, h in zip(ref, hrs, strict=True)
        )
        rows: dict = {}
        print(
            f"{key}: LR {lrs[0].shape[-2]}x{lrs[0].shape[-1]}, PSNR-Y fp32 {ref_y:.2f} dB",
            file=sys.stderr,
            flush=True,
        )
        for rt in runtimes:
            tmp = tempfile.TemporaryDirectory()
            try:
                t0 = time.perf_counter()
                call = make_call(rt, model, ex, Path(tmp.name), calib_feeds)
                out, _ = drive(model, call, lrs)  # warm-up (compiles where lazy)
                prep = time.perf_counter() - t0
                times = []
                for _ in range(a.repeats):
                    t = time.perf_counter()
                    out, _ = drive(model, call, lrs)
                    times.append((time.perf_counter() - t) / len(lrs))
                y = statistics.mean(
                    psnr_y(to_uint8(torch.from_numpy(o[0])), h, w.scale)
                    for o, h in zip(out, hrs, strict=True)
                )
                rows[rt] = {
                    "ms_per_frame": round(1000 * statistics.median(times), 1),
                    "prepare_s": round(prep, 1),
                    "max_abs_vs_fp32": float(max(np.abs(o - r).max() for o, r in zip(out, ref, strict=True))),
                    "psnr_vs_fp32_db": round(
                        statistics.mean(psnr(o, r) for o, r in zip(out, ref, strict=True)), 2
                    ),
                    "psnr_y_minus_fp32_db": round(y - ref_y, 3),
                }
            except Exception as e:  # a runtime that cannot take a model is a result too
                rows[rt] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"}
                traceback.print_exc(limit=2)
            finally:
                tmp.cleanup()
            print(f"  {rt:13s} {rows[rt]}", file=sys.stderr, flush=True)
        base = rows.get("torch-bf16", {}).get("ms_per_frame")
        for r in rows.values():
            if base and "ms_per_frame" in r:
                r["speed_vs_engine"] = round(base / r["ms_per_frame"], 3)
        res["models"][key] = {
            "lr": list(lrs[0].shape[-2:]),
            "psnr_y_fp32_db": round(ref_y, 3),
            "runtimes": rows,
        }
        if a.out:
            Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    if not a.out:
        print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
