"""One plain training loop for every model: SPyNet, video teachers, image teachers, students.

Read it top to bottom: build model and task, resume if a checkpoint exists, loop over steps with a
learning rate that is a pure function of the step, checkpoint every few minutes. Data for step s
comes from an RNG seeded by (seed, s), so a resumed run sees exactly the batches it would have
seen, and N data-parallel processes see the same global batch as one process.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.distributed as dist
from torch import nn

from ..._choices import check_choices
from ...errors import CompressionError, ConfigError, DeviceError, TrainingStopped
from ...models import build_model, family_of, load_pretrained, named_config
from ...models._io import atomic_write_bytes

log = logging.getLogger(__name__)


Degradation = Literal["BI", "BD"]
TrainPrecision = Literal["auto", "bf16", "fp32"]


@dataclass(frozen=True)
class TrainConfig:
    recipe: Literal["spynet", "vsr", "image"]  # flow, video SR, single-image SR
    model: str  # a named configuration, e.g. "basicvsr-uni"
    out: str  # run folder: checkpoint, log, final weights
    # (field, value) changes to the named configuration, e.g. (("num_feat", 8),) for experiments
    # and smoke tests; recorded with the run like every other field.
    model_overrides: tuple[tuple[str, Any], ...] = ()
    data: str = "data/corpus"  # corpus prepared by `vsr-compress data prepare`
    scale: int = 4
    steps: int = 3000
    batch: int = 8  # global batch, split across data-parallel processes
    patch: int = 64  # LR patch side (SPyNet: image side)
    # SPyNet: how real video pairs are scored ("epe": the DIS label; "photometric": the warping
    # error + smoothness, DIS as a weak prior, part of them at the LR scale in lr_patch pixels)
    flow_loss: Literal["epe", "photometric"] = "epe"
    lr_patch: int = 64
    frames: int = 10  # clip length for video recipes
    lr: float = 2e-4  # SSL paper / BasicVSR: 2e-4 with Adam and cosine annealing
    lr_flow: float = 2.5e-5  # BasicVSR fine-tunes SPyNet 8x slower
    # (parameter-name prefix, lr) groups with their own learning rate, e.g. SSL's scaling factors
    lr_groups: tuple[tuple[str, float], ...] = ()
    min_lr: float = 1e-7
    warmup: int = 0  # linear warm-up steps
    optimizer: Literal["adam", "adamax"] = "adam"  # betas 0.9/0.99; adamax: prune+distil paper
    degradation: Degradation = "BI"  # MATLAB bicubic; Gaussian 1.6 + every 4th pixel
    # "cpu", "cuda" or "cuda:N"; "auto" (resolved when the config is made): CUDA where torch has a
    # CUDA device, else the CPU. A data-parallel run on GPUs takes one GPU per process (LOCAL_RANK).
    device: str = "auto"
    # bf16 autocast + channels_last, or fp32; "auto" (resolved when the config is made, so the run
    # records what it ran): on the CPU bf16 where it has native bf16 units (AVX512-BF16, AMX), else
    # fp32, since emulated bf16 is ~12x slower than fp32 (docs/training.md); on a GPU bf16 where
    # it computes bf16 (Ampere and later), else fp32.
    precision: TrainPrecision = "auto"
    init: str | None = None  # model folder to start from (e.g. a trained SPyNet for BasicVSR)
    # A SPyNet folder that replaces the flow network after ``init`` (a trained teacher's trunk
    # with a better-trained flow network); BasicVSR only.
    flow_init: str | None = None
    freeze_flow_steps: int = 0  # keep SPyNet fixed for the first N steps (BasicVSR: 5000)
    # An image model (folder) that teaches the trained model frame by frame, beside the ground
    # truth: loss = Charbonnier(out, HR) + w(step) * Charbonnier(out, teacher(LR)), w falling
    # linearly from teacher_weight at step 0 to 0 at the last step (training/sr.py, FrameTeacherTask).
    teacher: str | None = None
    teacher_weight: float = 1.0
    seed: int = 0
    ckpt_every_s: float = 600.0  # checkpoint every ~10 minutes of wall time
    val_every: int = 250
    log_every: int = 10
    threads: int = 0  # torch threads per process (0: leave torch's default)
    # Stop at this Unix time (0: never): the loop checkpoints after the step that reaches it and
    # raises TrainingStopped; the same command resumes exactly there. For runs that must fit a
    # time slot (a lent GPU, the end of a session).
    stop_at: float = 0.0

    def __post_init__(self) -> None:
        check_choices(self)
        if self.teacher is not None and (self.recipe == "spynet" or self.teacher_weight <= 0):
            raise ConfigError(
                f"--teacher teaches SR models with a weight > 0; got recipe {self.recipe}, "
                f"weight {self.teacher_weight}"
            )
        object.__setattr__(self, "device", str(train_device(self.device)))
        if self.precision == "auto":
            object.__setattr__(self, "precision", auto_train_precision(self.device))


def train_device(name: str) -> torch.device:
    """``--device`` of a training run: auto, cpu, cuda or cuda:N, checked against this torch."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown training device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (dev.index or 0) >= n:
            raise DeviceError(
                f"training device {name}: this torch ({torch.__version__}) sees {n} CUDA devices; "
                "use --device cpu"
            )
    elif dev.type != "cpu":
        raise DeviceError(f"training runs on the CPU or CUDA GPUs, not {name!r}; use cpu or cuda")
    return dev


def auto_train_precision(device: str = "cpu") -> TrainPrecision:
    """bf16 where ``device`` computes it natively, else fp32."""
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    from ...engine import cpu_has_bf16

    return "bf16" if cpu_has_bf16() else "fp32"


def lr_at(step: int, cfg: TrainConfig, base: float) -> float:
    """Linear warm-up, then cosine annealing from ``base`` to ``min_lr`` at ``cfg.steps``."""
    if cfg.warmup and step < cfg.warmup:
        return base * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.min_lr + 0.5 * (base - cfg.min_lr) * (1 + math.cos(math.pi * min(1.0, t)))


def _dist(device: torch.device) -> tuple[int, int, torch.device]:
    """(rank, world size, this process's device): gloo between CPU processes, NCCL between GPU
    processes, each on the GPU of its LOCAL_RANK."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return (dist.get_rank(), world, device) if world > 1 else (0, 1, device)


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    if device.type == "cpu":
        return batch
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def is_flow_param(name: str) -> bool:
    """SPyNet's parameters, also inside a wrapper (``model.spynet.*``)."""
    return name.startswith("spynet.") or ".spynet." in name


def _param_groups(model: nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
    named = list(model.named_parameters())
    special = [
        {"params": [p for n, p in named if n.startswith(prefix)], "base_lr": lr}
        for prefix, lr in cfg.lr_groups
    ]
    taken = {id(p) for g in special for p in g["params"]}
    flow = [p for n, p in named if is_flow_param(n) and id(p) not in taken]
    rest = [p for n, p in named if not is_flow_param(n) and id(p) not in taken]
    groups = [{"params": rest, "base_lr": cfg.lr}, {"params": flow, "base_lr": cfg.lr_flow}, *special]
    return [g for g in groups if g["params"]]


def _make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    groups = _param_groups(model, cfg)
    optimizers = {"adam": torch.optim.Adam, "adamax": torch.optim.Adamax}
    return optimizers[cfg.optimizer](groups, lr=cfg.lr, betas=(0.9, 0.99))


def build_for_training(cfg: TrainConfig, *, starting: bool = True) -> nn.Module:
    """The network ``cfg`` trains: its architecture, and with ``starting`` its weights from
    ``cfg.init`` / ``cfg.flow_init``. A resumed run passes ``starting=False``: its checkpoint holds
    every weight, so the folders it started from need not exist any more (a new machine keeps a
    run's committed checkpoint, not always its starting point)."""
    named = named_config(cfg.model)
    arch_cfg = named.config(cfg.scale if named.arch != "spynet" else None)
    if cfg.model_overrides:
        arch_cfg = dataclasses.replace(arch_cfg, **dict(cfg.model_overrides))
    model = build_model(named.arch, arch_cfg)
    if not starting:
        return model
    if cfg.init:
        init_model, _ = load_pretrained(cfg.init)
        if type(init_model) is type(model):
            fresh = load_matching(model, init_model.state_dict())
            if fresh:
                log.info("init from %s: kept fresh (shape differs or absent): %s", cfg.init, ", ".join(fresh))
        else:  # e.g. a trained SPyNet into BasicVSR
            model.spynet.load_state_dict(init_model.state_dict())
    if cfg.flow_init:
        flow = family_of(model).flow_module
        flow_model, _ = load_pretrained(cfg.flow_init)
        if flow is None or family_of(flow_model).kind != "flow":
            raise ConfigError(
                f"--flow-init needs a model with a flow network and a flow model folder; got "
                f"{cfg.model} and {family_of(flow_model).name} ({cfg.flow_init})"
            )
        getattr(model, flow).load_state_dict(flow_model.state_dict())
        log.info("flow network from %s", cfg.flow_init)
    return model


def _trim_log(path: Path, step: int) -> None:
    """Drop the log records after ``step``, the step training restarts from: those of a run stopped
    after its last checkpoint (or before its first), which the restarted run writes again. The log
    then reads as one uninterrupted run."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= step:
                keep.append(line + "\n")
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by the stop
    atomic_write_bytes(path, "".join(keep).encode())


def load_matching(model: nn.Module, state: dict[str, torch.Tensor]) -> list[str]:
    """Load every tensor of ``state`` whose name and shape match one of ``model``'s, and return the
    names left as initialised. This is how the EDSR and SwinIR papers start x3/x4 from a trained x2
    network: the body carries over, the scale-specific upsampler starts fresh. A state that shares
    less than half of the model's tensors is refused (a different architecture, not another scale)."""
    own = model.state_dict()
    take = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if 2 * len(take) < len(own):
        raise CompressionError(
            f"only {len(take)} of the model's {len(own)} tensors match the init weights by name "
            "and shape; is it the same architecture?"
        )
    model.load_state_dict(take, strict=False)
    return sorted(set(own) - set(take))


class _Prefetch:
    """Builds the batches of the coming steps in a background thread (data synthesis in numpy and
    OpenCV releases the GIL), so the model does not wait for them. Batches are a pure function of
    the step, so prefetching changes nothing in what is trained."""

    def __init__(
        self, task: Any, start: int, stop: int, rank: int, world: int, depth: int = 2, pin: bool = False
    ) -> None:
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.halt = threading.Event()

        def work() -> None:
            for s in range(start, stop):
                try:
                    b = task.batch(s, rank, world)
                    if pin:  # page-locked, so the copy to the GPU overlaps the step
                        b = {k: v.pin_memory() for k, v in b.items()}
                    item = (s, b, None)
                except BaseException as e:
                    item = (s, None, e)
                while not self.halt.is_set():
                    try:
                        self.q.put(item, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if self.halt.is_set() or item[2] is not None:
                    return

        self.thread = threading.Thread(target=work, name="slimvsr-data", daemon=True)
        self.thread.start()

    def get(self, step: int) -> dict[str, torch.Tensor]:
        s, batch, err = self.q.get()
        if err is not None:
            raise err
        assert s == step, (s, step)
        return batch

    def close(self) -> None:
        self.halt.set()


def _save_ckpt(
    path: Path,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    step: int,
    cfg: TrainConfig,
    extra: dict[str, Any],
) -> None:
    import io

    buf = io.BytesIO()
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "step": step,
            "config": asdict(cfg),
            "torch_rng": torch.get_rng_state(),
            **({"cuda_rng": torch.cuda.get_rng_state()} if _on_cuda(model) else {}),
            "extra": extra,
        },
        buf,
    )
    atomic_write_bytes(path, buf.getvalue())


def _time_is_up(stop_at: float, world: int, device: torch.device) -> bool:
    """Past ``stop_at`` by rank 0's clock (every process of a data-parallel run stops at one step)."""
    up = torch.tensor([float(time.time() >= stop_at)], device=device)
    if world > 1:
        dist.broadcast(up, 0)
    return bool(up.item())


def _on_cuda(model: nn.Module) -> bool:
    return any(p.is_cuda for p in model.parameters())


def train(
    cfg: TrainConfig,
    task: Any | None = None,
    model: nn.Module | None = None,
    optimizer: Callable[..., torch.optim.Optimizer] | None = None,
) -> nn.Module:
    """Run (or resume) the training described by ``cfg``; returns the trained model.

    ``task`` and ``model`` replace the ones ``cfg`` names (pruning and distillation stages pass
    their own loss and their scaled or pruned networks; ``optimizer`` builds another optimizer
    from the parameters, e.g. OBProx-SG); everything else is the same loop. The model trains on
    ``cfg.device`` and is returned on the CPU. Past ``cfg.stop_at`` the loop checkpoints and
    raises TrainingStopped."""
    from .task import make_task

    rank, world, device = _dist(torch.device(cfg.device))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if cfg.batch % world:
        raise ConfigError(f"global batch {cfg.batch} is not divisible by {world} processes")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    ckpt = out / "ckpt.pt"
    model = model if model is not None else build_for_training(cfg, starting=not ckpt.exists())
    model = model.to(device)  # before the optimizer: its state lives beside the parameters
    task = task or make_task(cfg)
    task.to(device)
    if optimizer is not None:
        opt = optimizer(model.parameters())
        for g in opt.param_groups:
            g.setdefault("base_lr", g["lr"])
    else:
        opt = _make_optimizer(model, cfg)
    step, extra = 0, {"wall_s": 0.0}
    if ckpt.exists():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])  # (moved to the parameters' device)
        torch.set_rng_state(state["torch_rng"])
        if device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"])
        step, extra = state["step"], state["extra"]
        if rank == 0:
            log.info("resumed %s at step %d", ckpt, step)
    cl = cfg.precision == "bf16"
    if cl:
        model = model.to(memory_format=torch.channels_last)
    flow_params = [p for n, p in model.named_parameters() if is_flow_param(n)]

    def wrap() -> nn.Module:
        # A frozen SPyNet is excluded from autograd altogether (not just lr 0): its backward is
        # skipped, which is a quarter of a BasicVSR step on CPU. DDP is re-wrapped on thaw.
        for p in flow_params:
            p.requires_grad_(step >= cfg.freeze_flow_steps)
        if world == 1:
            return model
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    ddp = wrap()
    if rank == 0:
        _trim_log(out / "log.jsonl", step)
    logf = open(out / "log.jsonl", "a") if rank == 0 else None  # noqa: SIM115
    t_last_ckpt = time.monotonic()
    t0, s0 = time.monotonic(), step
    wall0 = extra["wall_s"]
    model.train()
    batches = _Prefetch(task, step, cfg.steps, rank, world, pin=device.type == "cuda")
    try:
        while step < cfg.steps:
            if flow_params and step == cfg.freeze_flow_steps and not flow_params[0].requires_grad:
                ddp = wrap()
            for g in opt.param_groups:
                g["lr"] = lr_at(step, cfg, g["base_lr"])
            batch = _to(batches.get(step), device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cl):
                loss = task.loss(ddp, batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            now = time.monotonic()
            if rank == 0 and (step % cfg.log_every == 0 or step == cfg.steps):
                ips = (step - s0) / max(now - t0, 1e-9)
                eta = (cfg.steps - step) / max(ips, 1e-9)
                rec = {
                    "step": step,
                    "loss": loss.item(),
                    "lr": opt.param_groups[0]["lr"],
                    "it_per_s": ips,
                    "wall_s": wall0 + now - t0,
                }
                logf.write(json.dumps(rec) + "\n")
                logf.flush()
                log.info(
                    "step %d/%d loss %.5f lr %.2e %.2f it/s ETA %.0f min",
                    step,
                    cfg.steps,
                    rec["loss"],
                    rec["lr"],
                    ips,
                    eta / 60,
                )
            if rank == 0 and (step % cfg.val_every == 0 or step == cfg.steps):
                model.eval()
                with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=cl):
                    metrics = task.validate(model)
                model.train()
                logf.write(json.dumps({"step": step, "val": metrics}) + "\n")
                logf.flush()
                log.info("step %d validation %s", step, metrics)
            if rank == 0 and (now - t_last_ckpt > cfg.ckpt_every_s or step == cfg.steps):
                extra["wall_s"] = wall0 + now - t0
                _save_ckpt(ckpt, model, opt, step, cfg, extra)
                t_last_ckpt = now
            if cfg.stop_at and step < cfg.steps and _time_is_up(cfg.stop_at, world, device):
                if rank == 0:
                    extra["wall_s"] = wall0 + now - t0
                    _save_ckpt(ckpt, model, opt, step, cfg, extra)
                raise TrainingStopped(
                    f"stopped at step {step} of {cfg.steps} (the time limit); checkpoint {ckpt}: "
                    "run the same command again to resume"
                )
    finally:
        batches.close()
        if logf:
            logf.close()
    return model.to("cpu", memory_format=torch.contiguous_format)
