"""Tables and curves of finished training runs, for docs/training.md.

    python benchmarks/report_training.py runs/spynet-cpu runs/basicvsr-uni-x4-cpu --plots docs

Reads each run's log.jsonl (loss, learning rate, validation metrics against step) and its exported
model/config.json (final fp32 evaluation, wall time, recipe), prints a markdown table, and saves one
PNG per run with the training loss and the validation curve. Runs still in progress (no model
folder yet) get their curves and no table row.

    python benchmarks/report_training.py RUN... --curve docs/curves-teachers-cpu-long.png \
        --offset basicvsr-uni-x4-cpu-long=1800 --ref SPAN=31.17

``--curve`` draws the validation PSNR of every run against its total training steps on a log
axis (``--offset RUN=STEPS``: the steps of the model it started from), with horizontal lines for
``--ref LABEL=DB`` (a peer, the model a run started from): on a log axis a run that still pays
keeps rising in a straight line; one that has stopped flattens.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load(run: Path) -> tuple[list[dict], dict | None]:
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines() if x.strip()]
    cfg_file = run / "model" / "config.json"
    return log, (json.loads(cfg_file.read_text()) if cfg_file.exists() else None)


def curve(runs: list[Path], offsets: dict[str, int], refs: dict[str, float], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(6.4, 4))
    ticks: set[int] = set()
    for i, run in enumerate(runs):
        log, _ = load(run)
        off = offsets.get(run.name, 0)
        vals = [(r["step"] + off, r["val"]["psnr_y"]) for r in log if "psnr_y" in r.get("val", {})]
        ax.plot([s for s, _ in vals], [v for _, v in vals], "o-", color=f"C{i}", label=run.name)
        ticks |= {s for s, _ in vals}
    for j, (label, db) in enumerate(refs.items()):
        ax.axhline(db, ls="--", lw=1, color=f"C{len(runs) + j}", label=f"{label} {db:.2f}")
    ax.set(xscale="log", xlabel="total training steps (log)", ylabel="validation PSNR-Y (dB)")
    ax.set_title("runs: training-time validation (bf16); lines: as given", fontsize=9)
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(sorted(ticks)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _pairs(items: list[str], kind: type) -> dict:
    return {k: kind(v) for k, _, v in (x.partition("=") for x in items)}


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
    p.add_argument("--curve", type=Path, default=None, help="one PNG: validation PSNR against log steps")
    p.add_argument("--offset", nargs="*", default=[], help="RUN=STEPS the run started from")
    p.add_argument("--ref", nargs="*", default=[], help="LABEL=DB horizontal reference lines")
    a = p.parse_args()
    if a.curve:
        print(curve(a.runs, _pairs(a.offset, int), _pairs(a.ref, float), a.curve))
    print("| run | steps | wall time | params | final validation (fp32) | bicubic |")
    print("|---|---|---|---|---|---|")
    for run in a.runs:
        log, cfg = load(run)
        if a.plots:
            plot(run, log, a.plots)
        if cfg is None:
            continue
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


if __name__ == "__main__":
    main()
