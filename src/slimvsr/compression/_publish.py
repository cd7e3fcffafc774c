"""Export trained runs as model folders with their metadata, in the Hugging Face Hub layout."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models import save_pretrained
from ._tasks import read_log


def _corpus_summary(data: Path) -> dict[str, Any]:
    manifest = data / "manifest.json"
    if not manifest.is_file():
        return {"root": str(data)}
    m = json.loads(manifest.read_text())
    return {
        "corpus": "slimvsr packaged-media corpus (docs/data.md)",
        "sources": [{k: s[k] for k in ("package", "version", "licence")} for s in m.get("sources", [])],
        "train_photos": len(m.get("images", {}).get("train", [])),
        "train_clips": len(m.get("video", {}).get("train", [])),
    }


def export_run(
    model: nn.Module, cfg: Any, folder: Path, command: str, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``folder`` (model.safetensors + config.json) for a finished training run."""
    records = read_log(Path(cfg.out))
    vals = [r for r in records if "val" in r]
    wall = max((r.get("wall_s", 0.0) for r in records), default=0.0)
    meta = {
        "name": cfg.model,
        "scale": cfg.scale,
        "degradation": cfg.degradation,
        "training": {
            "command": command,
            "recipe": asdict(cfg),
            "steps": cfg.steps,
            "wall_time_s": round(wall, 1),
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip()
            + f", torch {torch.__version__}",
            "data": _corpus_summary(Path(cfg.data)),
        },
        "validation": {
            "last": vals[-1]["val"] if vals else None,
            "step": vals[-1]["step"] if vals else None,
            "command": command,
        },
        "licence": "Apache-2.0 (weights trained by slimvsr on the corpus in docs/data.md)",
        **(extra or {}),
    }
    save_pretrained(model, folder, meta)
    return folder
