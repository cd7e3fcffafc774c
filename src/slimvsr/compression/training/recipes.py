"""Named training recipes: the papers' settings (``paper``, for a GPU) and this machine's (``cpu``).

Same code, different sizes. ``cpu`` presets are sized so each run finishes in about 1-2 hours on a
2-core CPU with bf16 autocast; ``paper`` presets are the published hyper-parameters.
"""

from __future__ import annotations

from typing import Any

from ...errors import CompressionError

# BasicVSR (Chan et al.): Adam 2e-4, cosine, 300k iters, batch 8 x 15 frames of 64x64 LR, SPyNet at
# 2.5e-5 and frozen for the first 5000 iterations; the same for the uni variant.
_BASICVSR_PAPER: dict[str, Any] = dict(
    recipe="vsr",
    steps=300_000,
    batch=8,
    frames=15,
    patch=64,
    lr=2e-4,
    lr_flow=2.5e-5,
    freeze_flow_steps=5000,
)

# CPU: short clips of small patches (the throughput per LR pixel is about the same as with the
# paper's 15 x 64x64 clips here, and more steps help more than longer clips at this budget):
# about 1.5 s per step for uni (1,800 steps, 45 min), twice that for bi (1,600 steps).
_BASICVSR_CPU: dict[str, Any] = dict(
    recipe="vsr",
    steps=1800,
    batch=4,
    frames=6,
    patch=32,
    lr=4e-4,
    lr_flow=2.5e-5,
    freeze_flow_steps=300,
    warmup=100,
)

# The long CPU runs of the teachers (docs/training.md, round 2): from the cpu-preset teacher and the
# long-trained SPyNet (--init, --flow-init), ten-frame clips so that the recurrence learns to carry
# detail further, the paper's lr, the flow network frozen while the trunk meets the new flow; uni
# and bi side by side, a thread each. Every step shape measured runs at the same LR pixels per
# second (docs/bench-train-rate.json: 5,800-6,600 on one thread), but SPyNet pads a side to a
# multiple of 32, so 32x32 patches waste nothing (40 pads to 64: 12% more FLOPs per pixel).
# uni: about 3.7 s a step side by side with bi (its log: 0.27 it/s), 3,000 steps in about 3 hours;
# bi about 5 hours.
_BASICVSR_CPU_LONG: dict[str, Any] = dict(
    recipe="vsr",
    steps=3000,
    batch=2,
    frames=10,
    patch=32,
    lr=2e-4,
    lr_flow=2.5e-5,
    freeze_flow_steps=300,
    warmup=200,
    val_every=500,
)

# (model, preset) -> TrainConfig fields. The recipe field picks the task.
RECIPES: dict[tuple[str, str], dict[str, Any]] = {
    # SPyNet from scratch on synthetic-motion pairs with exact flow.
    ("spynet", "cpu"): dict(recipe="spynet", steps=2500, batch=16, patch=128, lr=2e-4, warmup=200),
    ("spynet", "paper"): dict(recipe="spynet", steps=100_000, batch=32, patch=256, lr=1e-4, warmup=1000),
    # The long CPU run (docs/training.md, "Flow that aligns"): real pairs scored by their warping
    # error and smoothness with DIS as a weak prior, half of them at the LR scale; many more steps.
    ("spynet", "cpu-long"): dict(
        recipe="spynet",
        steps=20_000,
        batch=16,
        patch=128,
        lr=2e-4,
        warmup=500,
        flow_loss="photometric",
        lr_patch=64,
        val_every=1000,
    ),
    ("basicvsr", "paper"): _BASICVSR_PAPER,
    ("basicvsr-uni", "paper"): _BASICVSR_PAPER,
    ("basicvsr", "cpu"): {**_BASICVSR_CPU, "steps": 1600},
    ("basicvsr-uni", "cpu"): _BASICVSR_CPU,
    ("basicvsr", "cpu-long"): _BASICVSR_CPU_LONG,
    ("basicvsr-uni", "cpu-long"): _BASICVSR_CPU_LONG,
    # The -lite baselines of SSL's Table 1 (width 32, from scratch but for the trained SPyNet): the
    # same total steps as the pruned model saw, teacher + regularisation (400) + fine-tuning (1,200).
    ("basicvsr-uni-lite", "cpu"): {**_BASICVSR_CPU, "steps": 1800 + 400 + 1200},
    ("basicvsr-lite", "cpu"): {**_BASICVSR_CPU, "steps": 1600 + 400 + 1200},
    # Against an SSL model of the long-trained uni teacher: the teacher's 1,800 + 3,000 steps, SSL's
    # 400 + 1,200, in the long runs' clips; from-scratch lr (the cpu preset's).
    ("basicvsr-uni-lite", "cpu-long"): {**_BASICVSR_CPU_LONG, "lr": 4e-4, "steps": 1800 + 3000 + 400 + 1200},
    ("basicvsr-uni-lite", "paper"): {**_BASICVSR_PAPER, "steps": 300_000 + 8375 + 300_000},
    ("basicvsr-lite", "paper"): {**_BASICVSR_PAPER, "steps": 300_000 + 8375 + 300_000},
    # EDSR / SwinIR teachers: the original recipes (Adam, 2e-4 / L1 family; patch 48 / 64).
    ("edsr-baseline", "paper"): dict(recipe="image", steps=300_000, batch=16, patch=48, lr=1e-4),
    ("swinir-lw", "paper"): dict(recipe="image", steps=500_000, batch=64, patch=64, lr=2e-4),
    ("edsr-baseline", "cpu"): dict(recipe="image", steps=4000, batch=16, patch=48, lr=4e-4, warmup=100),
    # SwinIR-LW: 2.4 s per step here (bf16, batch 16, patch 48), so 2,500 steps is about 100 min.
    ("swinir-lw", "cpu"): dict(recipe="image", steps=2500, batch=16, patch=48, lr=5e-4, warmup=200),
    # SPAN-family students (span-s32) take EDSR baseline's CPU batches; slimvsr never trains SPAN
    # itself (its weights are the authors'), so there is no paper preset.
    ("span", "cpu"): dict(recipe="image", steps=4000, batch=16, patch=48, lr=4e-4, warmup=100),
}


def recipe(model: str, preset: str) -> dict[str, Any]:
    try:
        return dict(RECIPES[(model, preset)])
    except KeyError:
        known = ", ".join(f"{m}/{p}" for m, p in RECIPES)
        raise CompressionError(f"no recipe for {model!r} with preset {preset!r}; known: {known}") from None
