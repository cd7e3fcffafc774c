"""What cutting SPAN's channels costs before any distillation (session 22, span-s32).

    python benchmarks/span_cut.py --data ~/.cache/slimvsr/corpus --scale 4 \
        --from span regularised=RUN/regularised --out docs/bench-span-cut-x4.json

Each source (the bundled ``span``, or a model folder such as a run's ``regularised``: SPAN with
SSL's gammas trained toward 0 on the dropped channels and folded) is narrowed to the ``--student``
configuration at the channels ``distill --student-init teacher`` keeps (the largest L1 scores of
the bundled SPAN's weights), and scored on the validation photos (full images, BI, fp32):
PSNR-Y against the ground truth and against SPAN's own output. The source itself is scored too,
so that what the regularisation cost before the cut is visible beside what the cut costs.
``--crops`` also scores each model on the distillation's training-time validation (the 384-px
centre crops of the same photos, ``ImageSRTask.validate``), the scale its run logs are on;
``--also NAME`` adds registered models (e.g. ``edsrmini``) to that comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from types import SimpleNamespace

import torch

from slimvsr.compression.data.degrade import degrade
from slimvsr.compression.data.pools import PhotoPool
from slimvsr.compression.distill.algorithm import kept_channels, narrowed
from slimvsr.compression.training.sr import ImageSRTask, quantise, sr_metrics
from slimvsr.engine import cpu_name
from slimvsr.models import ARCHITECTURES, load_model, named_config, resolve


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--student", default="span-s32")
    p.add_argument("--from", dest="sources", nargs="+", default=["span"], help="span or LABEL=FOLDER")
    p.add_argument("--crops", action="store_true", help="also the training-time centre-crop validation")
    p.add_argument("--also", nargs="*", default=[], help="registered models scored as they are")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    span = load_model(resolve("span", a.scale).folder).model.eval()
    fam = ARCHITECTURES["span"]
    scfg = named_config(a.student).config(a.scale)
    keep = kept_channels(span, fam, scfg)
    photos = PhotoPool(Path(a.data), "val").photos
    pairs = []
    for ph in photos:
        h, w = ph.shape[0] - ph.shape[0] % a.scale, ph.shape[1] - ph.shape[1] % a.scale
        hr = torch.from_numpy(ph[:h, :w].copy()).permute(2, 0, 1)
        pairs.append((hr[None], quantise(degrade(hr[None], a.scale, "BI"))))
    crop_task = (
        ImageSRTask(SimpleNamespace(data=a.data, scale=a.scale, degradation="BI")) if a.crops else None
    )
    rows = []
    with torch.no_grad():
        refs = [span(lr).clamp(0, 1) for _, lr in pairs]
        for src in a.sources:
            label, model = (
                ("span", span)
                if src == "span"
                else (src.split("=", 1)[0], load_model(src.split("=", 1)[1]).model)
            )
            for what, m in (
                (label, model.eval()),
                (f"{label}, cut to {a.student}", narrowed(model, fam, scfg, keep)),
            ):
                gt, vs = [], []
                for (hr, lr), ref in zip(pairs, refs, strict=True):
                    sr = m(lr).clamp(0, 1)
                    gt.append(sr_metrics(sr, hr, a.scale)[0])
                    vs.append(sr_metrics(sr, ref, a.scale)[0])
                vs_span = sum(vs) / len(vs)  # inf for SPAN itself: None in the JSON
                rows.append({"model": what, "psnr_y": sum(gt) / len(gt), "psnr_y_vs_span": vs_span})
                r = rows[-1]
                if crop_task:
                    r["psnr_y_crops"] = crop_task.validate(m)["psnr_y"]
                crops = f"  crops {r['psnr_y_crops']:.2f}" if crop_task else ""
                print(f"{what:<40} PSNR-Y {r['psnr_y']:.2f}  against SPAN's output {vs_span:.2f}{crops}")
        for name in a.also if crop_task else []:
            m = load_model(resolve(name, a.scale).folder).model.eval()
            rows.append({"model": name, "psnr_y_crops": crop_task.validate(m)["psnr_y"]})
            print(f"{name:<40} crops {rows[-1]['psnr_y_crops']:.2f}")
    res = {
        "command": "python benchmarks/span_cut.py " + " ".join(sys.argv[1:]),
        "what": f"validation photos, full images, x{a.scale} BI, fp32; the student {a.student} "
        "cut at the channels of largest L1 score of the bundled SPAN",
        "machine": f"{cpu_name()}, torch {torch.__version__}",
        "rows": rows,
    }
    if a.out:
        for r in rows:
            if r.get("psnr_y_vs_span") == float("inf"):
                r["psnr_y_vs_span"] = None
        a.out.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
