"""Compact student, short runs: validation PSNR-Y after N steps per (mode, lr), in one run.

    python benchmarks/sweep_student_lr.py runs/edsrmini-x2-cpu \\
        --teacher src/slimvsr/models/weights/edsr-baseline-x2 --mode scratch distil \\
        --lr 4e-4 2e-3 --steps 800 --out docs/sweep-student-edsrmini-x2.json

Takes a `vsr-compress distill` run folder (its sizing.json fixes the student) and trains that
student with the distil stage's task (eq. 8-9 against ``--teacher``) or the scratch stage's
(ground truth only): same data, AdaMax, cosine to the end of the short run. It answers, cheaply and
on equal terms, which learning rate suits a network a thirtieth of the teacher's size and whether
the distillation loss helps at all at this budget.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from slimvsr.compression.distill.pipeline import DistillConfig, DistillTask
from slimvsr.compression.training.loop import TrainConfig, train
from slimvsr.compression.training.recipes import recipe
from slimvsr.compression.training.sr import ImageSRTask
from slimvsr.models import ARCHITECTURES, build_model, load_pretrained
from slimvsr.models._config import config_from_dict


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run", type=Path, help="a vsr-compress distill run folder (with sizing.json)")
    p.add_argument("--lr", type=float, nargs="+", required=True)
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--optimizer", default="adamax", choices=["adamax", "adam"])
    p.add_argument("--mode", nargs="+", default=["scratch"], choices=["scratch", "distil"])
    p.add_argument("--teacher", type=Path, default=None, help="teacher model folder (for distil)")
    p.add_argument("--data", default="data/corpus")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    sizing = json.loads((a.run / "sizing.json").read_text())
    arch = sizing["architecture"]
    scfg = config_from_dict(ARCHITECTURES[arch].config_cls, sizing["student"])
    teacher_recipe = "edsr-baseline" if arch == "edsr" else "swinir-lw"
    teacher = load_pretrained(a.teacher)[0] if "distil" in a.mode else None
    rows = []
    for mode, lr in [(m, lr) for m in a.mode for lr in a.lr]:
        torch.manual_seed(0)
        student = build_model(arch, scfg)
        with tempfile.TemporaryDirectory() as tmp:
            base = TrainConfig(
                model=teacher_recipe, out=tmp, data=a.data, scale=scfg.scale, **recipe(teacher_recipe, "cpu")
            )
            cfg = replace(base, steps=a.steps, lr=lr, optimizer=a.optimizer, val_every=a.steps, log_every=100)
            task = ImageSRTask(cfg)
            run_task = task if mode == "scratch" else DistillTask(task, teacher, DistillConfig().alpha)
            model = train(cfg, task=run_task, model=student.train())
            val = task.validate(model.eval())
            rows.append({"mode": mode, "lr": lr, "steps": a.steps, "optimizer": a.optimizer, **val})
        print(json.dumps(rows[-1]), flush=True)
        if a.out:  # after every row, so an interrupted sweep keeps what it measured
            doc = {"command": "python " + " ".join(sys.argv), "student": sizing, "rows": rows}
            a.out.write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
