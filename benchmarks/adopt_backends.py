"""Apply issue #19's adoption rule to measured runs and write the engine's backend table.

    python benchmarks/adopt_backends.py docs/bench-end-to-end-backends.json \\
        --runtimes docs/bench-runtimes.json docs/bench-runtimes-teachers.json \\
        --out src/slimvsr/engine/backends.json

A (model, precision) gets OpenVINO as its ``auto`` backend when, in the end-to-end runs
(``benchmarks/end_to_end.py --backends openvino``, every codec measured), the OpenVINO row is
>= 1.3x as fast as the torch row of the same model and precision (median wall times of rounds
run side by side), and its outputs are within the tolerance of torch fp32: bf16 >= 45 dB (the
end-to-end FFV1 output against torch fp32's, and the model-only output in the runtimes runs
where those measured the model); f32 within 1e-4 (the largest absolute difference of the
model-only output in the runtimes runs: the end-to-end output is 8-bit, too coarse to show it).
No evidence of the tolerance, no adoption. The table keys entries by the weights' sha256, so a
model trained again is measured again before ``auto`` picks OpenVINO for it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from slimvsr.models import list_weights, read_config

RULE = {"min_speedup_e2e": 1.3, "bf16_min_psnr_db": 45.0, "f32_max_abs": 1e-4}


def _runtime_rows(files: list[Path]) -> dict[str, dict]:
    rows: dict[str, dict] = {}
    for f in files:
        for model, v in json.loads(f.read_text())["models"].items():
            for rt, cell in v["runtimes"].items():
                rows[f"{model} {rt}"] = {**cell, "source": str(f)}
    return rows


def decide(e2e: dict, runtimes: dict[str, dict], auto_precision: str) -> tuple[list[dict], list[dict]]:
    """(adopted entries, every candidate with its figures and the reason it was or was not)."""
    here = [w for w in list_weights() if w.folder is not None]
    shas = {(w.entry.name, w.scale): read_config(w.folder)["sha256"] for w in here}
    adopted, considered = [], []
    for scale_key, block in e2e["scales"].items():
        scale = int(scale_key[1:])
        runs = block["runs"]
        for label in runs:
            name, _, codec = label.partition(" / ")
            parts = name.split()
            if len(parts) != 3 or parts[2] != "openvino":
                continue
            model, prec = parts[0], parts[1]
            precision = auto_precision if prec == "auto" else prec
            codecs = sorted(c.split(" / ")[1] for c in runs if c.startswith(f"{name} / "))
            if codec != codecs[0]:
                continue  # one candidate per (model, precision), over all its codecs
            torch_walls = {c: runs[f"{model} {prec} / {c}"]["wall_s"] for c in codecs}
            speedups = {c: torch_walls[c] / runs[f"{name} / {c}"]["wall_s"] for c in codecs}
            key = f"{model}-x{scale}"
            ov_rt = runtimes.get(f"{key} ov-{'bf16' if precision == 'bf16' else 'f32'}")
            cand = {
                "model": key,
                "precision": precision,
                "backend": "openvino",
                "speedup_e2e": round(min(speedups.values()), 3),
                "speedup_e2e_by_codec": {c: round(s, 3) for c, s in speedups.items()},
                "machine": e2e["machine"],
            }
            why = None
            if cand["speedup_e2e"] < RULE["min_speedup_e2e"]:
                why = f"{cand['speedup_e2e']:.2f}x end to end, below {RULE['min_speedup_e2e']}x"
            if precision == "bf16":
                ffv1 = runs.get(f"{name} / ffv1", {}).get("psnr_vs_fp32_ffv1")
                model_only = ov_rt["psnr_vs_fp32_db"] if ov_rt else None
                measured = [x for x in (ffv1, model_only) if x is not None]
                cand["psnr_vs_torch_fp32_db"] = min(measured) if measured else None
                if cand["psnr_vs_torch_fp32_db"] is None:
                    why = why or "no bf16 accuracy measured"
                elif cand["psnr_vs_torch_fp32_db"] < RULE["bf16_min_psnr_db"]:
                    why = why or f"{cand['psnr_vs_torch_fp32_db']:.1f} dB from torch fp32, below 45"
            else:
                cand["max_abs_vs_torch_fp32"] = ov_rt["max_abs_vs_fp32"] if ov_rt else None
                if cand["max_abs_vs_torch_fp32"] is None:
                    why = why or "no model-only f32 difference measured (benchmarks/runtimes.py)"
                elif cand["max_abs_vs_torch_fp32"] > RULE["f32_max_abs"]:
                    why = why or f"max |diff| {cand['max_abs_vs_torch_fp32']:.1e} above 1e-4"
            if (model, scale) not in shas:
                why = why or "not a bundled model"
            cand["sha256"] = shas.get((model, scale))
            considered.append({**cand, "adopted": why is None, "why_not": why})
            if why is None:
                adopted.append(cand)
    return adopted, considered


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("e2e", type=Path, help="benchmarks/end_to_end.py --backends output")
    p.add_argument("--runtimes", type=Path, nargs="+", default=[], help="benchmarks/runtimes.py outputs")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument(
        "--auto-precision", choices=["fp32", "bf16"], default=None,
        help="what --precision auto resolved to in the runs (for files that do not record it)",
    )  # fmt: skip
    a = p.parse_args()
    e2e = json.loads(a.e2e.read_text())
    auto = e2e.get("auto_precision") or a.auto_precision
    if auto is None:
        raise SystemExit(f"{a.e2e} does not say what --precision auto was; pass --auto-precision")
    adopted, considered = decide(e2e, _runtime_rows(a.runtimes), auto)
    table = {
        "command": "python benchmarks/adopt_backends.py " + " ".join(sys.argv[1:]),
        "rule": RULE,
        "measured": {"machine": e2e["machine"], "e2e": str(a.e2e), "e2e_command": e2e["command"]},
        "adopted": adopted,
        "considered": considered,
    }
    text = json.dumps(table, indent=1)
    if a.out:
        a.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
