"""Tables and figures of the SSL reproduction, for docs/reproduction-ssl.md.

    python benchmarks/report_ssl.py teacher=src/slimvsr/models/weights/basicvsr-uni-x4 \\
        SSL=runs/ssl-uni-cpu ... --runtime docs/bench-models-ssl.json --plots docs

Each ``LABEL=FOLDER`` is a model folder (weights and config.json, or config.json alone as kept in
``artifacts/``), or a run folder holding ``model/`` (the output of
``vsr-compress ssl`` or ``vsr-compress train``). The table reads each model's config.json: its final
fp32 validation (``metrics.val``, written by the command that produced it), the pruning settings,
and params / MACs recomputed here at an LR size of 180x320 (the papers'). ``--runtime`` adds the
CPU time per frame from a ``benchmarks/bench_models.py`` result (matched by label, then by the
model's name where no row has that name as its label). Differences (dB, fractions, time ratio)
are taken against the first row, or ``--reference LABEL``, from the unrounded values.
``--plots`` saves, for every SSL run: the Fig. 5 analogue (pruning ratio of each layer) and the
Fig. 6 analogue (mean scaling factor of pruned and kept units during regularisation).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench_models import from_folder

from slimvsr.compression.ssl.pipeline import SSLConfig
from slimvsr.models import BasicVSR, family_of, profile_model


def model_folder(path: Path) -> Path:
    return path / "model" if (path / "model" / "config.json").is_file() else path


def layer_ratios(model: BasicVSR) -> dict[str, list[tuple[str, float]]]:
    """Pruning ratio per layer, as in the paper's Fig. 5: for each residual block the first conv's
    input channels (gamma_{j-1}), its filters (gamma_j) and the last conv's filters (gamma_{j+1});
    for the upsampler the pixel-shuffle groups of upconv1/upconv2 and conv_hr's filters."""
    cfg = model.config
    c = cfg.num_feat
    out: dict[str, list[tuple[str, float]]] = {}
    branches = ["forward", "backward"] if cfg.bidirectional else ["forward"]
    for br in branches:
        rows = []
        for i, s in enumerate(cfg.block_specs(br)):
            rows += [
                (f"{i}.in", 1 - len(s.in_idx) / c),
                (f"{i}.mid", 1 - s.mid / c),
                (f"{i}.out", 1 - len(s.out_idx) / c),
            ]
        out[br] = rows
    g1, g2, hr = cfg.widths()
    out["upsampler"] = [("upconv1", 1 - g1 / c), ("upconv2", 1 - g2 / c), ("conv_hr", 1 - hr / c)]
    return out


def fig5_summary(model: BasicVSR, size: tuple[int, int] = (180, 320)) -> str:
    """The numbers docs/reproduction-ssl.md quotes for Fig. 5: blocks whose conv1 input channels
    are pruned less than their conv2 filters, the upsampler's ratios, and its share of the MACs."""
    ratios = layer_ratios(model)
    branches = []
    for br in ("forward", "backward"):
        if br in ratios:
            rows, n = ratios[br], len(ratios[br]) // 3
            less = sum(rows[3 * i][1] < rows[3 * i + 2][1] for i in range(n))
            branches.append(f"{br} blocks with input ratio < output ratio: {less} of {n}")
    up = ", ".join(f"{k} {v:.2f}" for k, v in ratios["upsampler"])
    return f"{'; '.join(branches)}; upsampler: {up}; {upsampler_share(model, size)}"


def upsampler_share(model: BasicVSR, size: tuple[int, int] = (180, 320)) -> str:
    """The upsampler's MACs (upconv1, upconv2 with their pixel shuffles, conv_hr, conv_last) out of
    the model's, per output frame."""
    cfg = model.config
    hw, c = size[0] * size[1], cfg.num_feat
    g1, g2, hr = cfg.widths()
    up_macs = 9 * hw * (4 * g1 * c + 4 * 4 * g2 * g1 + 16 * hr * g2 + 16 * 3 * hr)
    total = profile_model(model, size).macs
    return f"upsampler {up_macs / 1e9:.1f} of {total / 1e9:.1f} GMACs/frame at {size[0]}x{size[1]}"


def scores(meta: dict, clips: list[str] | None) -> dict[str, float]:
    """The row's fp32 validation scores: the whole split's, or the mean over ``clips`` from its
    per-clip scores (rows scored on different validation splits compare on the clips they share;
    every clip is scored on the same number of frames, so the split's score is the clips' mean)."""
    metrics = meta.get("metrics", {})
    if not clips:
        return metrics.get("val", {})
    per = metrics.get("per_item", {})
    missing = [c for c in clips if c not in per]
    if missing:
        raise SystemExit(f"{meta.get('name', '?')}: no score for {', '.join(missing)} in its record")
    return {k: sum(per[c][k] for c in clips) / len(clips) for k in ("psnr_y", "ssim_y")}


def plot_fig5(label: str, model: BasicVSR, dest: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratios = layer_ratios(model)
    fig, axes = plt.subplots(1, len(ratios), figsize=(5 * len(ratios) + 2, 3.4), squeeze=False)
    for ax, (part, rows) in zip(axes[0], ratios.items(), strict=True):
        if part == "upsampler":
            ax.bar([r[0] for r in rows], [r[1] for r in rows], color="C2")
        else:
            n = len(rows) // 3
            for k, (kind, color) in enumerate([("in", "C0"), ("mid", "C1"), ("out", "C3")]):
                ax.bar(
                    [i + (k - 1) * 0.28 for i in range(n)],
                    [rows[3 * i + k][1] for i in range(n)],
                    width=0.28,
                    color=color,
                    label={
                        "in": "conv1 input (gamma_j-1)",
                        "mid": "conv1 filters (gamma_j)",
                        "out": "conv2 filters (gamma_j+1)",
                    }[kind],
                )
            ax.set_xlabel("residual block")
            ax.legend(fontsize=7)
        ax.set(ylim=(0, 1), ylabel="pruning ratio", title=f"{label}: {part}")
    fig.tight_layout()
    path = dest / f"ssl-fig5-{label}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_fig6(label: str, run: Path, dest: Path) -> Path | None:
    logs = [run / "regularise" / "gammas.jsonl", run / "gammas.jsonl"]  # a run folder, or artifacts/
    log = next((p for p in logs if p.is_file()), None)
    if log is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = {r["step"]: r for r in map(json.loads, log.read_text().splitlines())}  # last wins on resume
    steps = sorted(rows)
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.plot(steps, [rows[s]["gamma_kept"] for s in steps], label="kept units", color="C0")
    ax.plot(steps, [rows[s]["gamma_pruned"] for s in steps], label="pruned units", color="C3")
    ax.set(xlabel="regularisation step", ylabel="mean |gamma|", title=f"{label}: scaling factors")
    ax2 = ax.twinx()
    ax2.plot(steps, [rows[s]["alpha"] for s in steps], color="0.6", ls="--", label="alpha")
    ax2.set_ylabel("alpha (penalty)")
    ax.legend(loc="center right", fontsize=8)
    fig.tight_layout()
    path = dest / f"ssl-fig6-{label}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("models", nargs="+", help="LABEL=FOLDER")
    p.add_argument("--runtime", type=Path, default=None, help="benchmarks/bench_models.py JSON")
    p.add_argument("--precision", default="bf16", help="runtime column to show")
    p.add_argument("--plots", type=Path, default=None)
    p.add_argument(
        "--clips",
        nargs="+",
        default=None,
        help="score every row on these validation clips only (the mean of their per-clip scores)",
    )
    p.add_argument(
        "--reference",
        default=None,
        help="LABEL of the row the difference columns compare with (default: the first row)",
    )
    a = p.parse_args()
    runtime: dict[str, float] = {}
    if a.runtime:
        bench = json.loads(a.runtime.read_text())
        runtime = {r["model"]: r["ms_per_frame"] for r in bench["results"].get(a.precision, [])}
    rows = []
    summaries: list[str] = []
    labels = {m.partition("=")[0] for m in a.models}
    if a.reference is not None and a.reference not in labels:
        raise SystemExit(f"--reference {a.reference}: no such row ({', '.join(sorted(labels))})")
    for item in a.models:
        label, _, path = item.partition("=")
        run = Path(path)
        folder = model_folder(run)
        model, meta = from_folder(folder)  # artifacts/ keep only config.json: shapes are enough here
        prof = profile_model(model, (180, 320))
        val = scores(meta, a.clips)
        s = meta.get("ssl")
        if s:
            sc = SSLConfig.from_record(s)
            method = f"{s['method']}, {sc.selection_criterion}, ratio {s['ratio']}"
            if s.get("budget", "units") == "time":
                method += " of the modelled time"
            if s.get("prune_upsampler", True):
                method += f", PS pruning (group {s.get('group_score', 'sum')})"
            else:
                method += ", no PS pruning"
            method += ", TF" if s["temporal_finetune"] else ", no TF"
            if s.get("seed", 0):
                method += f", seed {s['seed']}"
            if s.get("channel_multiple", 1) > 1:
                method += f", channels in blocks of {s['channel_multiple']}"
            steps = f"{sc.regularisation_steps:,} + {s['finetune_steps']:,}"
        else:
            method = meta.get("name", "")
            n = meta.get("training", {}).get("steps")
            steps = "-" if n is None else f"{n:,}"
        # By label; by the model's own name only where no other row claims that label (an older
        # run may carry the name a later, bundled model now has).
        name = meta.get("name", "")
        ms = runtime.get(label, runtime.get(name) if name not in labels else None)
        rows.append((label, method, val, prof, ms, steps))
        video = family_of(model).kind == "video"
        if video:
            summaries.append(f"{label}: {fig5_summary(model) if s else upsampler_share(model)}")
        if a.plots and s and video:
            a.plots.mkdir(parents=True, exist_ok=True)
            plot_fig5(label, model, a.plots)
            plot_fig6(label, run, a.plots)

    # Differences from the unrounded values of one row, times from the same benchmark run.
    ref = next(r for r in rows if r[0] == (a.reference or rows[0][0]))
    nan = float("nan")
    on = f" PSNR/SSIM-Y on {', '.join(a.clips)} only." if a.clips else ""
    print(
        f"Differences against {ref[0]}: PSNR-Y in dB, params and MACs as fractions, "
        f"CPU time as a ratio ({a.precision}, one benchmark run).{on}\n"
    )
    print(
        "| model | method | PSNR-Y | dPSNR-Y | SSIM-Y | params (w/o SPyNet) | x params | "
        "GMACs/frame (180x320, w/o SPyNet) | "
        f"x MACs | CPU ms/frame ({a.precision}, SPyNet incl.) | x time | training steps |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, method, val, prof, ms, steps in rows:
        psnr = val.get("psnr_y", nan)
        d = psnr - ref[2].get("psnr_y", nan)
        t = "-" if ms is None else f"{ms:.0f}"
        tr = "-" if ms is None or ref[4] is None else f"{ms / ref[4]:.2f}"
        print(
            f"| {label} | {method} | {psnr:.2f} | {d:+.3f} | {val.get('ssim_y', nan):.4f} | "
            f"{prof.params / 1e6:.3f}M | {prof.params / ref[3].params:.3f} | {prof.macs / 1e9:.1f} | "
            f"{prof.macs / ref[3].macs:.3f} | {t} | {tr} | {steps} |"
        )
    print("\n".join(summaries))


if __name__ == "__main__":
    main()
