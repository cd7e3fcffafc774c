"""The ``Task`` protocol of the training loop, a forwarding base for tasks that wrap another, and
the recipe -> task table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn


@runtime_checkable
class Task(Protocol):
    """Where a recipe's batches, loss and validation come from. ``batch(step, rank, world)`` is a
    pure function of the step (exact resume, data-parallel shards), built on the CPU (the loop
    moves it to the training device); ``loss`` runs the model on a batch under the loop's
    autocast; ``validate`` returns named metrics (logged), running the model on its own device;
    ``to`` moves the networks the task runs itself (a teacher) to the training device."""

    def batch(self, step: int, rank: int, world: int) -> dict[str, torch.Tensor]: ...

    def to(self, device: torch.device) -> None: ...

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...

    def validate(self, model: nn.Module) -> dict[str, float]: ...


class ForwardingTask:
    """A task that changes part of another (``base``): batches and validation are the base's unless
    overridden. The SSL, distillation and sparsification stages are such wrappers."""

    def __init__(self, base: Task) -> None:
        self.base = base

    def batch(self, step: int, rank: int, world: int) -> dict[str, torch.Tensor]:
        return self.base.batch(step, rank, world)

    def to(self, device: torch.device) -> None:
        self.base.to(device)

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.base.loss(model, batch)

    def validate(self, model: nn.Module) -> dict[str, float]:
        return self.base.validate(model)


class SteppedTask(ForwardingTask):
    """A forwarding task whose loss follows a schedule over the steps (SSL's alpha ramp): each
    batch carries its step as ``b["step"]``."""

    def batch(self, step: int, rank: int, world: int) -> dict[str, torch.Tensor]:
        b = self.base.batch(step, rank, world)
        b["step"] = torch.tensor(step)
        return b


def model_device(model: nn.Module) -> torch.device:
    """Where ``model`` computes (its first parameter's device)."""
    return next(model.parameters()).device


def make_task(cfg: Any) -> Task:
    """The task of ``cfg.recipe`` (checked when the TrainConfig was built)."""
    from .flow import SpyNetTask
    from .sr import ImageSRTask, VideoSRTask

    tasks = {"spynet": SpyNetTask, "vsr": VideoSRTask, "image": ImageSRTask}
    task = tasks[cfg.recipe](cfg)
    if getattr(cfg, "teacher", None):
        from .sr import FrameTeacherTask

        return FrameTeacherTask.from_folder(task, cfg)
    return task


def read_log(run: Path) -> list[dict[str, Any]]:
    path = Path(run) / "log.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
