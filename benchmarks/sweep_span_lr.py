"""How large an AdaMax step a trained SPAN takes (session 22: the lr of span-s32's regularisation).

    python benchmarks/sweep_span_lr.py --data ~/.cache/slimvsr/corpus --out docs/sweep-span-lr.json

The bundled SPAN is distilled from itself (the prune-then-distil loss, eq. 8-9, against its own
output and the ground truth) for a few AdaMax steps at each lr, on the same training batches of
the corpus (the distillation recipe's patches, BI). At step 0 the loss is its floor (the student
is the teacher); a step size the trained network cannot take shows as the loss jumping far above
it. Every parameter at one lr (``flat``) or at lr x its own RMS (``relative``: a step of the same
fraction of every tensor).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from slimvsr.compression.losses import distillation_loss
from slimvsr.compression.training.loop import TrainConfig
from slimvsr.compression.training.sr import ImageSRTask
from slimvsr.engine import cpu_name
from slimvsr.models import load_model, resolve


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--lrs", nargs="+", type=float, default=[1e-3, 1e-4, 5e-5, 2e-5])
    p.add_argument("--relative", nargs="*", type=float, default=[1e-3], help="lr x RMS of each tensor")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--patch", type=int, default=48)
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args()
    folder = resolve("span", a.scale).folder
    teacher = load_model(folder).model.eval().requires_grad_(False)
    cfg = TrainConfig(
        model="span",
        out="/tmp/unused",
        data=a.data,
        scale=a.scale,
        recipe="image",
        batch=a.batch,
        patch=a.patch,
    )
    task = ImageSRTask(cfg)
    batches = [task.batch(step, 0, 1) for step in range(a.steps)]
    rows = []
    for mode, values in (("flat", a.lrs), ("relative", a.relative)):
        for lr in values:
            model = load_model(folder).model.train()
            groups = [
                {
                    "params": [q],
                    "lr": lr * (float(q.detach().pow(2).mean().sqrt()) if mode == "relative" else 1.0),
                }
                for q in model.parameters()
            ]
            opt = torch.optim.Adamax(groups, betas=(0.9, 0.99))
            losses = []
            for b in batches:
                with torch.no_grad():
                    t = teacher(b["lr"])
                loss = distillation_loss(model(b["lr"]), t, b["hr"], 0.1)
                opt.zero_grad()
                loss.backward()
                opt.step()
                losses.append(round(float(loss.detach()), 5))
            rows.append({"mode": mode, "lr": lr, "losses": losses, "max_after_step0": max(losses[1:])})
            print(f"{mode:<8} lr {lr:g}: " + " ".join(f"{v:.4f}" for v in losses))
    res = {
        "command": "python benchmarks/sweep_span_lr.py " + " ".join(sys.argv[1:]),
        "what": f"SPAN x{a.scale} distilled from itself, AdaMax (0.9, 0.99), batch {a.batch} of "
        f"{a.patch}x{a.patch} LR; the loss before each step (step 0: the floor)",
        "machine": f"{cpu_name()}, torch {torch.__version__}",
        "rows": rows,
    }
    if a.out:
        a.out.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
