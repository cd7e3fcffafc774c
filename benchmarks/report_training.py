"""Tables and curves of finished training runs, for docs/training.md.

    python benchmarks/report_training.py runs/spynet-cpu runs/basicvsr-uni-x4-cpu --plots docs

Reads each run's log.jsonl (loss, learning rate, validation metrics against step) and its exported
model/config.json (final fp32 evaluation, wall time, recipe), prints a markdown table, and saves one
PNG per run with the training loss and the validation curve.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load(run: Path) -> tuple[list[dict], dict]:
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines() if x.strip()]
    cfg = json.loads((run / "model" / "config.json").read_text())
    return log, cfg


def plot(run: Path, log: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in log if "loss" in r]
    loss = [r["loss"] for r in log if "loss" in r]
    vals = [(r["step"], r["val"]) for r in log if "val" in r]
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    k = max(1, len(loss) // 100)  # running mean over ~1% of the run
    smooth = [sum(loss[max(0, i - k) : i + 1]) / len(loss[max(0, i - k) : i + 1]) for i in range(len(loss))]
    ax[0].plot(steps, loss, color="0.8", lw=0.6)
    ax[0].plot(steps, smooth, color="C0")
    ax[0].set(xlabel="step", ylabel="training loss", title=run.name, yscale="log")
    key = "psnr_y" if vals and "psnr_y" in vals[0][1] else "epe"
    ax[1].plot([s for s, _ in vals], [v[key] for _, v in vals], "o-", color="C1")
    ax[1].set(xlabel="step", ylabel=f"validation {key}", title="validation (bf16, during training)")
    fig.tight_layout()
    path = out / f"curves-{run.name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--plots", type=Path, default=None)
    a = p.parse_args()
    print("| run | steps | wall time | params | final validation (fp32) | bicubic |")
    print("|---|---|---|---|---|---|")
    for run in a.runs:
        log, cfg = load(run)
        wall = cfg["training"]["wall_time_s"] / 60
        if "flow_metrics" in cfg:
            m = cfg["flow_metrics"]
            final = (
                f"EPE {m['epe']:.2f} px (zero flow {m['epe_zero_flow']:.2f}); real-video warp "
                f"error {m['warp_error_spynet']:.2f} (DIS {m['warp_error_dis']:.2f}, none "
                f"{m['warp_error_none']:.2f})"
            )
            base = "-"
        else:
            m = cfg["metrics"]
            final = f"PSNR-Y {m['val']['psnr_y']:.2f} dB / SSIM-Y {m['val']['ssim_y']:.4f}"
            base = f"{m['bicubic']['psnr_y']:.2f} dB / {m['bicubic']['ssim_y']:.4f}"
        print(
            f"| {run.name} | {cfg['training']['steps']:,} | {wall:.0f} min | {cfg['params']:,} | "
            f"{final} | {base} |"
        )
        if a.plots:
            plot(run, log, a.plots)


if __name__ == "__main__":
    main()
