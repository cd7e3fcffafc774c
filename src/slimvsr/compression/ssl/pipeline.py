"""``vsr-compress ssl``: teacher -> sparsity-inducing regularisation -> physical pruning ->
fine-tuning with Temporal Finetuning -> evaluation and export. Each stage leaves its result in the
run folder and is skipped when that result exists, so an interrupted pipeline resumes where it was
(the training stages themselves resume from their checkpoints)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ..._choices import check_choices
from ...errors import CompressionError
from ...models import BasicVSR, family_of, load_pretrained, read_config, save_pretrained
from ..losses import charbonnier, tf_loss
from ..runs import RunRecord, finish
from ..training.loop import TrainConfig, train
from ..training.sr import VideoSRTask
from ..training.task import ForwardingTask, SteppedTask
from . import selection as ssl
from .cost import CostModel, measure_cost_model, select_by_time

log = logging.getLogger(__name__)


Criterion = Literal["min-global", "max-global", "min-local", "max-local", "random"]
Method = Literal["ssl", "aligned", "l1norm"]
GroupScore = Literal["mean", "sum"]
Budget = Literal["units", "time"]


@dataclass(frozen=True)
class SSLConfig:
    ratio: float = 0.5  # fraction of units pruned (the paper's main setting)
    criterion: Criterion = "min-global"  # the paper's choice (Table 3)
    delta: float = 1e-4  # Delta: alpha increment (paper)
    t1: int = 5  # T1: steps between increments (paper)
    tau: float = 0.1  # tau: alpha's ceiling (paper)
    t2: int = 3375  # T2: steps at tau (paper)
    finetune_steps: int = 300_000  # T3 (paper)
    temporal_finetune: bool = True  # L_tf against the unpruned teacher's hidden states
    # "ssl" (RSC + criterion above), "aligned" (ASSL-style aligned indices, same SIR), or
    # "l1norm" (Li et al.: local L1 on non-residual filters, pruned at once, no regularisation)
    method: Method = "ssl"
    # Learning rate of the scaling factors while regularising (None: the base lr). Adam moves a
    # parameter by about lr per step whatever the penalty's size, so a gamma can travel at most
    # lr x steps: the paper's 8,375 steps at 2e-4 allow 1.7; the cpu preset's 400 steps need ~4e-3.
    gamma_lr: float | None = None
    # Pixel-shuffle pruning (Table 2): prune the upsampler's convs in groups of 4 filters. False
    # keeps upconv1/upconv2 whole (the ratio then applies to the other units).
    prune_upsampler: bool = True
    # Score of a pixel-shuffle group: "mean" of its 4 filters' L1 norms (on the scale of single
    # filters for the global comparison), or their "sum" (then no group is ever selected in a
    # global ranking: docs/reproduction-ssl.md, Fig. 5); ssl.unit_scores.
    group_score: GroupScore = "mean"
    # Every layer keeps a multiple of this many units (1: the paper, no rounding). CPU kernels
    # compute channels in blocks of 16, so the cpu preset rounds to 16 (ssl.round_kept).
    channel_multiple: int = 1
    # Seed of the training stages' batches (TrainConfig.seed) and of the random criterion: runs
    # that differ only in it measure how far run-to-run noise moves a result.
    seed: int = 0
    # What ``ratio`` is a share of: "units" (the paper: every unit counts one) or "time" (the
    # prunable convs' time per frame measured on this CPU, units ranked by L1 score per ms they
    # cost: ssl.cost), so that pruning removes time where it is spent (the upsampler at 4x).
    budget: Budget = "units"

    def __post_init__(self) -> None:
        check_choices(self)
        if self.budget == "time" and (self.method != "ssl" or self.criterion != "min-global"):
            raise CompressionError(
                "--budget time ranks every unit together by score per ms: it needs --method ssl "
                f"and the min-global criterion, not {self.method} / {self.criterion}"
            )

    @property
    def regularisation_steps(self) -> int:
        """Steps of the regularisation stage: alpha raised by delta every t1 steps up to tau, then
        held t2 steps; none for the l1norm baseline, which prunes at once."""
        return 0 if self.method == "l1norm" else round(self.tau / self.delta) * self.t1 + self.t2

    @property
    def selection_criterion(self) -> str:
        """The criterion the selection applies: ``criterion`` for SSL; the baselines always rank
        each layer's units on their own (``ssl.BASELINE_CRITERION``), whatever is recorded."""
        return self.criterion if self.method == "ssl" else ssl.BASELINE_CRITERION

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SSLConfig:
        """The settings of a finished run from the "ssl" record of its config.json (the teacher and
        its metrics, recorded beside them, are not settings; older records lack newer fields)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})


SSL_PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # 2-core CPU: the same alpha ramp compressed 20x (Delta x20), a short hold, a short fine-tune.
    # Kept channels in multiples of 16, the channel block of this CPU's bf16 kernels.
    "cpu": dict(delta=2e-3, t1=5, tau=0.1, t2=150, finetune_steps=1200, gamma_lr=4e-3, channel_multiple=16),
    # The shared budget of the Tables 1-3 comparisons (about 20 min a run here instead of 50): the
    # ramp compressed 40x, 200 regularisation and 400 fine-tuning steps, the gammas' lr doubled so
    # they can travel as far (lr x steps), and no channel rounding: the comparisons are about the
    # method, as in the paper. Every row of a table uses the same preset.
    "cpu-short": dict(
        delta=4e-3, t1=5, tau=0.1, t2=75, finetune_steps=400, gamma_lr=8e-3, channel_multiple=1
    ),
}

# The training recipe (batch, clip, patch, lr) each SSL preset runs with.
SSL_RECIPE_PRESET = {"paper": "paper", "cpu": "cpu", "cpu-short": "cpu"}


class ScaledModel(nn.Module):
    """A dense BasicVSR with SSL's scaling factors multiplied in (``Gammas.run``)."""

    def __init__(self, model: BasicVSR, gammas: ssl.Gammas | None = None) -> None:
        super().__init__()
        self.model = model
        self.gammas = gammas or ssl.Gammas(model)
        self.config = model.config

    def forward(self, x: torch.Tensor, **kw: Any) -> Any:
        return self.gammas.run(self.model, x, **kw)


class SIRTask(SteppedTask):
    """Charbonnier + alpha(step) * sum(gamma^2) over the selected units; logs Fig. 6's curves
    (mean gamma of the pruned and the kept units, every 10 steps) to ``gammas.jsonl``."""

    def __init__(
        self,
        base: VideoSRTask,
        scaled: ScaledModel,
        pruned: set[ssl.Unit],
        sc: SSLConfig,
        log_path: Path | None = None,
    ) -> None:
        super().__init__(base)
        self.scaled, self.pruned, self.sc = scaled, pruned, sc
        self.log_path = log_path

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
        step = int(b["step"])
        alpha = ssl.sir_alpha(step, self.sc.delta, self.sc.t1, self.sc.tau)
        if self.log_path is not None and step % 10 == 0:
            gp, gk = self.scaled.gammas.mean_gamma(self.pruned)
            with open(self.log_path, "a") as f:
                f.write(
                    json.dumps({"step": step, "alpha": alpha, "gamma_pruned": gp, "gamma_kept": gk}) + "\n"
                )
        rec = charbonnier(model(b["lr"]), b["hr"])
        return rec + ssl.sir_loss(self.scaled.gammas, self.pruned, alpha)

    def validate(self, model: nn.Module) -> dict[str, float]:
        gp, gk = self.scaled.gammas.mean_gamma(self.pruned)
        return {**self.base.validate(model), "gamma_pruned": gp, "gamma_kept": gk}


class TFTask(ForwardingTask):
    """Fine-tuning loss: Charbonnier + Temporal Finetuning against the unpruned teacher."""

    def __init__(self, base: VideoSRTask, teacher: BasicVSR | None) -> None:
        super().__init__(base)
        self.teacher = teacher
        if teacher is not None:
            teacher.eval().requires_grad_(False)

    def to(self, device: torch.device) -> None:
        super().to(device)
        if self.teacher is not None:
            self.teacher.to(device)

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.teacher is None:
            return charbonnier(model(b["lr"]), b["hr"])
        out, hid = model(b["lr"], return_hidden=True)
        with torch.no_grad():
            t_hid = self.teacher.hidden_states(b["lr"])
        return charbonnier(out, b["hr"]) + tf_loss(hid, t_hid)


def run_ssl(
    teacher_dir: Path, out: Path, base: TrainConfig, sc: SSLConfig, cost_model: Path | None = None
) -> BasicVSR:
    """The whole pipeline; returns the pruned, fine-tuned model (run folders under ``out``).
    ``cost_model``: a measured cost model for ``budget="time"`` (default: measured now)."""
    out.mkdir(parents=True, exist_ok=True)
    base = replace(base, seed=sc.seed)
    teacher, _ = load_pretrained(teacher_dir)
    hooks = family_of(teacher).compression
    if hooks is None or hooks.pipeline != "ssl":
        raise CompressionError(
            f"{teacher_dir}: SSL prunes BasicVSR models; this is a {family_of(teacher).name} model "
            "(prune-then-distil it with 'vsr-compress distill')"
        )
    # 1. Select the unimportant units on the trained teacher (deterministic; saved for resume).
    sel_path = out / "selection.json"
    gam = ssl.Gammas(teacher)
    if sel_path.exists():
        pruned = {ssl.Unit(u["layer"], u["index"]) for u in json.loads(sel_path.read_text())}
    else:
        scores = ssl.unit_scores(teacher, gam, sc.group_score)
        if not sc.prune_upsampler:
            scores = {u: v for u, v in scores.items() if u.layer not in ("up1", "up2")}
        m = sc.channel_multiple
        if sc.budget == "time":
            costs = _cost_model(teacher, out / "cost_model.json", cost_model)
            pruned = select_by_time(scores, costs, sc.ratio, multiple=m)
            log.info(
                "time budget: prunable convs %.1f -> %.1f ms per frame by the cost model (%s)",
                costs.predict(),
                costs.predict(pruned),
                costs.machine,
            )
        elif sc.method == "ssl":
            pruned = ssl.select(scores, sc.ratio, sc.criterion, seed=sc.seed, multiple=m)
        elif sc.method == "aligned":
            pruned = ssl.select_aligned(scores, sc.ratio, multiple=m)
        elif sc.method == "l1norm":
            pruned = ssl.select_l1norm(scores, sc.ratio, multiple=m)
        else:
            raise ValueError(f"unknown method {sc.method!r}; use ssl, aligned or l1norm")
        sel_path.write_text(
            json.dumps([u.__dict__ for u in sorted(pruned, key=lambda u: (u.layer, u.index))])
        )
    # 2. Sparsity-inducing regularisation, SPyNet frozen throughout.
    reg_dir = out / "regularise"
    reg_steps = sc.regularisation_steps
    pruned_dir = out / "pruned"
    if not (pruned_dir / "config.json").exists():
        dense, _ = load_pretrained(teacher_dir)
        scaled = ScaledModel(dense)
        cfg = replace(
            base,
            out=str(reg_dir),
            steps=reg_steps,
            freeze_flow_steps=reg_steps,
            warmup=0,
            init=None,
            min_lr=base.lr,
            lr_groups=(("gammas.", sc.gamma_lr),) if sc.gamma_lr else (),
        )  # constant lr while regularising
        if reg_steps:
            task = SIRTask(VideoSRTask(cfg), scaled, pruned, sc, reg_dir / "gammas.jsonl")
            scaled = train(cfg, task=task, model=scaled)
        # 3. Physical pruning: fold the gammas, slice the selected units away.
        small = ssl.prune(scaled.model, scaled.gammas, pruned)
        save_pretrained(
            small,
            pruned_dir,
            {
                "name": "ssl-pruned",
                "ssl": ssl_record(sc, teacher_dir, out),
            },
        )
    # 4. Fine-tuning (Charbonnier + TF).
    small, _ = load_pretrained(pruned_dir)
    cfg = replace(base, out=str(out / "finetune"), steps=sc.finetune_steps, init=None)
    task = TFTask(VideoSRTask(cfg), teacher if sc.temporal_finetune else None)
    return train(cfg, task=task, model=small.train()).eval()


def _cost_model(teacher: BasicVSR, path: Path, given: Path | None = None) -> CostModel:
    """The cost model of a time budget: ``given`` (a cost model's JSON, or a record holding one
    under "cost_model", e.g. benchmarks/ssl_cost_model.py's, measured on a quiet machine) or
    measured now on the teacher; saved in the run folder once, for resume and the record."""
    if path.exists():
        return CostModel.from_dict(json.loads(path.read_text()))
    if given is not None:
        try:
            d = json.loads(given.read_text())
            costs = CostModel.from_dict(d.get("cost_model", d))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise CompressionError(
                f"{given}: not a cost model ({e}); pass the JSON benchmarks/ssl_cost_model.py writes"
            ) from e
        blocks = ssl.block_names(teacher)
        forward = tuple(b for b in blocks if b.startswith("forward."))
        if costs.num_feat == teacher.config.num_feat and costs.blocks == forward != blocks:
            # The unidirectional twin's model serves a bidirectional teacher: the backward blocks'
            # convs have the forward blocks' shapes (num_feat -> num_feat at LR) and the upsampler
            # is the same, so only the block list grows.
            costs = replace(costs, blocks=blocks)
            log.info("cost model of the unidirectional twin: its trunk timings also for the backward blocks")
        if costs.num_feat != teacher.config.num_feat or costs.blocks != blocks:
            raise CompressionError(f"{given}: its cost model is of another network than the teacher's")
    else:
        costs = measure_cost_model(teacher, family_of(teacher).profile_size(teacher.config))
    path.write_text(json.dumps(costs.to_dict(), indent=1) + "\n")
    return costs


def ssl_record(sc: SSLConfig, teacher_dir: Path, run_dir: Path | None = None) -> dict[str, Any]:
    """The "ssl" record of a run's config.json: every setting, the criterion as the selection
    applies it, the teacher by name and sha256 with its metrics, and a time budget's cost model."""
    from ..publish import model_ref

    rec = {
        **asdict(replace(sc, criterion=sc.selection_criterion)),
        "regularisation_steps": sc.regularisation_steps,
        "teacher": model_ref(teacher_dir),
        "teacher_metrics": read_config(teacher_dir).get("metrics"),
    }
    if run_dir is not None and (run_dir / "cost_model.json").exists():
        rec["cost_model"] = json.loads((run_dir / "cost_model.json").read_text())
    return rec


def ssl_pipeline(
    teacher_dir: Path,
    out: Path,
    base: TrainConfig,
    sc: SSLConfig,
    name: str,
    command: str,
    cost_model: Path | None = None,
) -> RunRecord:
    """``run_ssl``, then the shared evaluate-record-export step into ``out/model``."""
    model = run_ssl(teacher_dir, out, base, sc, cost_model)
    cfg = replace(base, out=str(out / "finetune"), model=name, steps=sc.finetune_steps)
    return finish(
        model, cfg, out / "model", name=name, command=command, extra={"ssl": ssl_record(sc, teacher_dir, out)}
    )
