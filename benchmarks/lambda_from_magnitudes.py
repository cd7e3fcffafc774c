"""A first lambda for a short OBProx-SG sparsification, from the teacher's weight magnitudes.

    python benchmarks/lambda_from_magnitudes.py runs/swinir-lw-x2-cpu/model --density 0.089 \\
        --lr 1e-3 --steps 400

In a few hundred steps at a small lr, soft-thresholding by lr x lambda each step outweighs the
loss's gradient for most weights, so the sparsification acts close to magnitude pruning: a weight
survives about when |w| > lr x lambda x steps. The |w| quantile of the deep-feature module at
1 - d then gives lambda ~ q / (lr x steps). On the trained edsr-baseline x2 this rule gives
1.29e-3 for d = 0.028, where the sweep measured d = 0.028 at 1.3e-3
(docs/sweep-sparsify-edsr-x2-fine.json). It is a starting point for benchmarks/sweep_sparsify.py,
not a replacement: the run's own d is what sizes the student.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from slimvsr.models import load_pretrained


def magnitudes(model: torch.nn.Module) -> torch.Tensor:
    return torch.cat(
        [p.detach().float().abs().flatten() for m in model.deep_feature_modules() for p in m.parameters()]
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("model", type=Path)
    p.add_argument("--density", type=float, nargs="+", required=True)
    p.add_argument("--lr", type=float, required=True)
    p.add_argument("--steps", type=int, required=True)
    a = p.parse_args()
    model, _ = load_pretrained(a.model)
    w = magnitudes(model).sort().values
    for d in a.density:
        q = float(w[min(len(w) - 1, int((1 - d) * len(w)))])
        row = {"density": d, "quantile": q, "lam": q / (a.lr * a.steps), "lr": a.lr, "steps": a.steps}
        print(json.dumps(row))


if __name__ == "__main__":
    main()
