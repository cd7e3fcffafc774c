"""Tables and curves of training runs, for docs/training.md.

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

``--project K`` fits that straight line (PSNR = a + b log2 steps, least squares) to each run's
last K validation points, prints its slope in dB per doubling of the total steps and where it
would cross each reference above the run's last point (total steps, and hours at the run's own
recorded rate), and draws it dotted on ``--curve``. A projection, not a measurement: an SR curve's
slope falls as it goes, and a cosine schedule flattens each run's end, so the fitted slope of a
run's last points is a lower bound on what a longer schedule gives early and an upper bound on
what it gives late.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def name(run: Path) -> str:
    """A run's name: its folder's; for a stage folder of a compression run (RUN/distil,
    RUN/regularise, RUN/scratch) or a log file (a committed snapshot's training-log.jsonl) the
    folder above."""
    return run.parent.name if run.is_file() or run.name in ("distil", "regularise", "scratch") else run.name


def load(run: Path) -> tuple[list[dict], dict | None]:
    """A run folder's log.jsonl and exported model/config.json, or a log file and the
    config.json beside it (a committed snapshot: artifacts/NAME/training-log.jsonl)."""
    log_file, cfg_file = (
        (run, run.parent / "config.json")
        if run.is_file()
        else (run / "log.jsonl", run / "model" / "config.json")
    )
    log = [json.loads(x) for x in log_file.read_text().splitlines() if x.strip()]
    return log, (json.loads(cfg_file.read_text()) if cfg_file.exists() else None)


def val_points(run: Path, offset: int) -> list[tuple[int, float]]:
    log, _ = load(run)
    return [(r["step"] + offset, r["val"]["psnr_y"]) for r in log if "psnr_y" in r.get("val", {})]


def seconds_per_step(run: Path) -> float | None:
    """The run's own recorded rate: the median seconds a step over its last 50 logged steps (on
    a shared CPU, the rate it had beside the queue's other runs)."""
    import statistics

    log, _ = load(run)
    rates = [r["it_per_s"] for r in log if r.get("it_per_s")][-50:]
    return 1 / statistics.median(rates) if rates else None


def project(points: list[tuple[int, float]], last: int, refs: dict[str, float]) -> dict | None:
    """PSNR = a + b log2(steps) fitted to the last ``last`` points; where it crosses each ref."""
    import numpy as np

    pts = points[-last:]
    if len(pts) < 3:
        return None
    x = np.log2([s for s, _ in pts])
    y = np.array([v for _, v in pts])
    b, a = np.polyfit(x, y, 1)
    cross = {}
    for label, db in refs.items():
        if db > y[-1] and b > 0:
            cross[label] = float(2 ** ((db - a) / b))
    return {
        "db_per_doubling": float(b),
        "intercept": float(a),
        "fit_steps": [s for s, _ in pts],
        "cross": cross,
    }


def curve(
    runs: list[Path],
    offsets: dict[str, int],
    refs: dict[str, float],
    out: Path,
    fits: dict[str, dict] | None = None,
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(6.4, 4))
    ticks: set[int] = set()
    for i, run in enumerate(runs):
        log, _ = load(run)
        off = offsets.get(name(run), 0)
        vals = [(r["step"] + off, r["val"]["psnr_y"]) for r in log if "psnr_y" in r.get("val", {})]
        ax.plot([s for s, _ in vals], [v for _, v in vals], "o-", color=f"C{i}", label=name(run))
        ticks |= {s for s, _ in vals}
        fit = (fits or {}).get(name(run))
        if fit and vals:
            import math

            ends = [vals[-1][0] * 4, *fit["cross"].values()]
            x1 = min(max(ends), vals[-1][0] * 64)  # to the farthest crossing, at most 6 doublings on
            xs = [fit["fit_steps"][0], x1]
            ys = [fit["intercept"] + fit["db_per_doubling"] * math.log2(x) for x in xs]
            ax.plot(
                xs,
                ys,
                ":",
                color=f"C{i}",
                lw=1,
                label=f"{name(run)}: {fit['db_per_doubling']:+.2f} dB/doubling",
            )
    for j, (label, db) in enumerate(refs.items()):
        ax.axhline(db, ls="--", lw=1, color=f"C{len(runs) + j}", label=f"{label} {db:.2f}")
    ax.set(xscale="log", xlabel="total training steps (log)", ylabel="validation PSNR-Y (dB)")
    ax.set_title("runs: training-time validation; dashed: as given; dotted: fitted", fontsize=9)
    shown: list[int] = []
    for t in sorted(ticks):  # the points' steps, thinned to ticks that do not overlap
        if not shown or t >= shown[-1] * 1.12:
            shown.append(t)
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(shown))
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
    ax[0].set(xlabel="step", ylabel="training loss", title=name(run), yscale="log")
    key = "psnr_y" if vals and "psnr_y" in vals[0][1] else "epe"
    ax[1].plot([s for s, _ in vals], [v[key] for _, v in vals], "o-", color="C1")
    ax[1].set(xlabel="step", ylabel=f"validation {key}", title="validation (bf16, during training)")
    fig.tight_layout()
    path = out / f"curves-{name(run)}.png"
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
    p.add_argument("--project", type=int, default=0, metavar="K", help="fit log-linear to the last K points")
    a = p.parse_args()
    offsets, refs = _pairs(a.offset, int), _pairs(a.ref, float)
    fits: dict[str, dict] = {}
    if a.project:
        print("| run | fitted on steps | dB per doubling | crosses (total steps, hours at its rate) |")
        print("|---|---|---|---|")
        for run in a.runs:
            fit = project(val_points(run, offsets.get(name(run), 0)), a.project, refs)
            if fit is None:
                continue
            fits[name(run)] = fit
            sps = seconds_per_step(run)
            done = fit["fit_steps"][-1]
            cross = "; ".join(
                f"{label}: {st:,.0f}" + (f" ({(st - done) * sps / 3600:,.0f} h more)" if sps else "")
                for label, st in fit["cross"].items()
            )
            span = f"{fit['fit_steps'][0]:,}-{done:,}"
            print(f"| {name(run)} | {span} | {fit['db_per_doubling']:+.3f} | {cross or '-'} |")
    if a.curve:
        print(curve(a.runs, offsets, refs, a.curve, fits))
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
            f"| {name(run)} | {cfg['training']['steps']:,} | {wall:.0f} min | {cfg['params']:,} | "
            f"{final} | {base} |"
        )


if __name__ == "__main__":
    main()
