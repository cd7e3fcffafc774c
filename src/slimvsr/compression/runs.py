"""The shared last step of every compression pipeline, and the record it returns.

``finish`` scores a trained model the way its family is scored (SR on the validation split, or
the flow metrics for a flow network), writes the record into config.json and exports the model
folder. ``train_pipeline``, ``ssl.pipeline.ssl_pipeline`` and ``distill.pipeline.distill_pipeline``
end with it, so ``vsr-compress train|ssl|distill`` only map arguments to a config and print the
record's summary.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from ..models import family_of


@dataclass(frozen=True)
class RunRecord:
    name: str  # the model's name (config.json "name")
    folder: Path  # the exported model folder
    metrics: dict[str, Any]  # the evaluation record written to config.json
    extra: dict[str, Any] = field(default_factory=dict)  # the pipeline's own record

    @property
    def summary(self) -> str:
        m = self.metrics
        if "val" in m:
            return (
                f"{self.name}: {self.folder} PSNR-Y {m['val']['psnr_y']:.2f} "
                f"(bicubic {m['bicubic']['psnr_y']:.2f})"
            )
        if "warp_error_spynet" in m:
            return (
                f"{self.name}: {self.folder} EPE {m['epe']:.2f} px, real-video warp error "
                f"{m['warp_error_spynet']:.2f} (DIS {m['warp_error_dis']:.2f}, "
                f"none {m['warp_error_none']:.2f})"
            )
        return f"{self.name}: {self.folder}"


def finish(
    model: nn.Module,
    cfg: Any,
    folder: Path,
    *,
    name: str,
    command: str,
    extra: dict[str, Any] | None = None,
) -> RunRecord:
    """Evaluate ``model`` (trained with ``cfg``) on ``cfg.data``, record and export to ``folder``."""
    from .evaluate import evaluate, evaluate_flow
    from .publish import export_run

    extra = dict(extra or {})
    if family_of(model).kind == "flow":
        metrics = {
            **evaluate_flow(model, Path(cfg.data)),
            "command": f"vsr-compress eval-flow {folder} --data {cfg.data}",
        }
        extra["flow_metrics"] = metrics
    else:
        res = evaluate(model, name, Path(cfg.data), scale=cfg.scale, degradation=cfg.degradation)
        metrics = res.record(f"vsr-compress eval {folder} --data {cfg.data} --scale {cfg.scale}")
        extra["metrics"] = metrics
    export_run(model, cfg, folder, command=command, extra=extra)
    return RunRecord(name, folder, metrics, extra)


def train_pipeline(cfg: Any, command: str) -> RunRecord | None:
    """Train (or resume) ``cfg`` and finish the run; None on the non-zero ranks of a
    data-parallel run (rank 0 evaluates and exports)."""
    from .training.loop import train

    model = train(cfg)
    if int(os.environ.get("RANK", "0")) != 0:
        return None
    return finish(model, cfg, Path(cfg.out) / "model", name=cfg.model, command=command)
