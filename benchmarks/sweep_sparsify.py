"""OBProx-SG step size for a short sparsification: density and quality after N steps, per (lr, lambda).

    python benchmarks/sweep_sparsify.py runs/edsr-baseline-x2-cpu/model --lr 0.01 0.03 0.1 \\
        --steps 300 --out docs/sweep-sparsify-edsr-x2.json

OBProx-SG is plain (momentum) SGD plus the L1 term, so unlike Adam its step size depends on the
gradient's scale; the paper's lambda (1e-4) only sparsifies when lr x lambda x steps is comparable
to the weights' magnitudes. This runs the `vsr-compress distill` sparsification stage (same task,
optimizer, data) on a copy of the teacher for each lr and reports the deep-feature density d and
the validation PSNR-Y (bf16, during training) at the end, to choose the cpu preset's lr.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from slimvsr.compression.distill.algorithm import OBProxSG, density
from slimvsr.compression.distill.pipeline import SparsifyTask, distill_config
from slimvsr.compression.training.loop import TrainConfig, train
from slimvsr.compression.training.recipes import recipe
from slimvsr.compression.training.sr import ImageSRTask
from slimvsr.models import load_pretrained, read_config


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    p = argparse.ArgumentParser()
    p.add_argument("teacher", type=Path)
    p.add_argument("--lr", type=float, nargs="+", required=True)
    p.add_argument("--lam", type=float, nargs="+", default=None, help="default: the cpu preset's")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--data", default="data/corpus")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    meta = read_config(a.teacher)
    arch = meta["architecture"]
    dc = distill_config(arch, "cpu")
    rows = []
    for lr, lam in [(lr, lam) for lam in (a.lam or [dc.lam]) for lr in a.lr]:
        with tempfile.TemporaryDirectory() as tmp:
            base = TrainConfig(
                model="edsr-baseline" if arch == "edsr" else "swinir-lw",
                out=tmp,
                data=a.data,
                scale=meta["config"]["scale"],
                **recipe("edsr-baseline" if arch == "edsr" else "swinir-lw", "cpu"),
            )
            cfg = replace(base, steps=a.steps, lr=lr, min_lr=lr, warmup=0, val_every=a.steps, log_every=50)
            model, _ = load_pretrained(a.teacher)

            def opt(params, lr=lr, lam=lam):
                return OBProxSG(params, lr=lr, lam=lam, n_prox=a.steps // 2, momentum=0.9)

            task = SparsifyTask(ImageSRTask(cfg), dc.eps)
            model = train(cfg, task=task, model=model.train(), optimizer=opt)
            val = task.validate(model.eval())
            rows.append(
                {
                    "lr": lr,
                    "lam": lam,
                    "steps": a.steps,
                    **val,
                    "density": density(model.deep_feature_modules()),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            if a.out:  # after every row, so an interrupted sweep keeps what it measured
                write(a.out, rows)


def write(out: Path, rows: list) -> None:
    command = "python benchmarks/sweep_sparsify.py " + " ".join(sys.argv[1:])
    out.write_text(json.dumps({"command": command, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
