"""The tables of docs/quality.md from benchmarks/quality.py's JSON files.

    python benchmarks/report_quality.py docs/bench-quality.json docs/bench-quality-speed.json

Rows of the same task and label in several files are merged (a quality run and a speed run, or a
later run with ``--add`` for new models; a later file's figures win). For each task: PSNR-Y and
SSIM-Y, the gap to SPAN on the same frames, and the model-only time per LR frame with its fps
where a speed run measured it. Video models' per-frame rows (the hidden state zeroed) sit under
the model as "... per frame"; the gain from the other frames is the difference.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TITLES = {"video-x4": "Video x4 (validation clips)", "photos-x2": "Photos x2", "photos-x4": "Photos x4"}
REFERENCE = "span (ncnn)"


def merge(paths: list[Path]) -> tuple[dict, list[dict]]:
    tasks: dict = {}
    heads = []
    for p in paths:
        d = json.loads(p.read_text())
        heads.append({k: d.get(k) for k in ("command", "machine", "data")} | {"file": str(p)})
        for task, t in d["tasks"].items():
            into = tasks.setdefault(task, {"rows": {}})
            if "bicubic" in t:
                into["bicubic"] = t["bicubic"]
            for label, row in t["rows"].items():
                into["rows"].setdefault(label, {}).update(row)
    # quality.py times an image model once per size: its x4 photo time is its time on the clips
    for label, row in tasks.get("video-x4", {}).get("rows", {}).items():
        same = tasks.get("photos-x4", {}).get("rows", {}).get(label, {})
        if "ms_per_frame" not in row and "ms_per_frame" in same:
            row["ms_per_frame"] = same["ms_per_frame"]
    return tasks, heads


def table(task: str, t: dict) -> str:
    rows = t["rows"]
    ref = rows.get(REFERENCE, {}).get("psnr_y")
    out = [
        f"**{TITLES.get(task, task)}**",
        "",
        "| model | PSNR-Y | SSIM-Y | vs SPAN | ms / LR frame | fps |",
        "|---|---|---|---|---|---|",
    ]

    def line(label: str, r: dict) -> str:
        p = r.get("psnr_y")
        cells = [
            label,
            f"{p:.2f}" if p is not None else "",
            f"{r['ssim_y']:.4f}" if "ssim_y" in r else "",
            f"{p - ref:+.2f}" if p is not None and ref is not None and label != REFERENCE else "",
            f"{r['ms_per_frame']:.0f}" if "ms_per_frame" in r else "",
            f"{1000 / r['ms_per_frame']:.2f}" if "ms_per_frame" in r else "",
        ]
        return "| " + " | ".join(cells) + " |"

    order = sorted(rows, key=lambda k: (not rows[k].get("ours", True), -(rows[k].get("psnr_y") or 0)))
    for label in order:
        if rows[label].get("temporal"):
            continue
        out.append(line(label, rows[label]))
        pf = rows.get(f"{label} (per-frame)")
        if pf:
            out.append(line(f"{label}, per frame", pf))
    if "bicubic" in t:
        out.append(line("bicubic", t["bicubic"]))
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", type=Path)
    a = ap.parse_args()
    tasks, heads = merge(a.files)
    for h in heads:
        print(f"- `{h['file']}`: `{h['command']}`; {h['machine']}; {h['data']}")
    for task in ("video-x4", "photos-x2", "photos-x4"):
        if task in tasks:
            print()
            print(table(task, tasks[task]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
