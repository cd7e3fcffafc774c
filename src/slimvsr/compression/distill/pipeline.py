"""``vsr-compress distill``: teacher -> OBProx-SG sparsification -> density -> compact sizing ->
knowledge distillation -> evaluation and export. Each stage leaves its result in the run folder and
is skipped when that result exists; the training stages resume from their checkpoints."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from ..._choices import check_choices
from ...errors import CompressionError
from ...models import build_model, family_of, load_pretrained, read_config, save_pretrained
from ..losses import charbonnier, distillation_loss
from ..runs import RunRecord, finish
from ..ssl.selection import sir_alpha
from ..training.loop import TrainConfig, train
from ..training.sr import ImageSRTask
from ..training.task import ForwardingTask, SteppedTask
from .algorithm import (
    GatedModel,
    OBProxSG,
    density,
    kept_channels,
    narrowed,
    student_config,
)

log = logging.getLogger(__name__)


Rounding = Literal["round", "floor", "ceil"]
StudentInit = Literal["random", "teacher"]


@dataclass(frozen=True)
class DistillConfig:
    lam: float = 1e-4  # lambda of the L1 term (paper, after CDFI)
    eps: float = 1e-3  # Charbonnier epsilon while sparsifying (paper)
    sparsify_steps: int = 20_000  # "100 epochs" of 100 DIV2K images (paper)
    sparsify_lr: float = 1e-4
    n_prox: int | None = None  # proximal steps before orthant steps (None: half of the steps)
    distill_steps: int = 300_000
    # Learning rate of the distil / scratch stage; None: the teacher recipe's. The paper states
    # AdaMax (0.9, 0.99) but no rate; a student a thirtieth of the teacher's size learns much
    # faster at a larger one (benchmarks/sweep_student_lr.py).
    distill_lr: float | None = None
    alpha: float = 0.1  # weight of the ground-truth term in eq. (8) (paper)
    rounding: Rounding = "round"  # N_b / N_l rounding of eq. (6) (docs/reproduction-distill.md)
    # A named student configuration (e.g. "edsrmini") distilled as it is, instead of one sized
    # from the sparsified teacher: how a teacher of another family (SPAN) teaches the minis.
    student: str | None = None
    # How the student starts: "random" (the paper: a compact network trained by distillation) or
    # "teacher" (a named student of the teacher's own family holding the teacher's channels of
    # largest L1 norm, ``algorithm.narrowed``: how span-s32 is pruned from SPAN).
    student_init: StudentInit = "random"
    # With student_init "teacher": steps that first drive the dropped channels' scaling factors
    # to zero in a gated full-width teacher copy (SSL's regularisation, eq. 1: the network moves
    # what it needs into the kept channels while it is distilled from the teacher), so that cutting
    # them costs little. 0: cut at once. The penalty's weight follows SSL's ramp (reg_delta every
    # reg_t1 steps, capped at reg_tau); the gammas learn at gamma_lr.
    regularise_steps: int = 0
    reg_delta: float = 2e-3
    reg_t1: int = 5
    reg_tau: float = 0.1
    gamma_lr: float = 4e-3  # SSL's cpu preset: a gamma can travel 1.6 in 400 steps
    # The weights' lr while regularising. A trained SPAN does not take AdaMax steps of 1e-3: its
    # distillation loss from itself goes from 0.002 to 0.02-3.8 over 8 steps at 1e-3, 0.005-0.009
    # at 1e-4, 0.003-0.006 at 5e-5 (benchmarks/sweep_span_lr.py, docs/sweep-span-lr.json).
    regularise_lr: float = 5e-5

    def __post_init__(self) -> None:
        check_choices(self)


DISTILL_PRESETS: dict[tuple[str, str], dict[str, Any]] = {
    ("edsr", "paper"): {},
    ("swinir", "paper"): {},
    # OBProx-SG is SGD: its L1 shrinkage per step is lr x lambda, so the paper's lambda over 100
    # epochs becomes a larger lr and lambda over a few hundred steps here, and d is steep in lambda.
    # benchmarks/sweep_sparsify.py on the trained edsr-baseline x2 (docs/sweep-sparsify-edsr-x2.json),
    # lr 0.1, 400 steps: lambda 5e-4 -> d 0.50, 1e-3 -> d 0.11, 2e-3 -> d 0.001; finer
    # (docs/sweep-sparsify-edsr-x2-fine.json): 1.3e-3 -> d 0.028 (the paper's d 0.03), 1.6e-3 -> 0.006.
    # Student lr (docs/sweep-student-edsrmini-x2.json, 800 steps, PSNR-Y on the training-time
    # validation): scratch 30.34 at 4e-4, 32.61 at 2e-3.
    ("edsr", "cpu"): dict(
        sparsify_steps=400, sparsify_lr=0.1, lam=1.3e-3, distill_steps=3000, distill_lr=2e-3
    ),
    # SwinIR does not take EDSR's step: 30 SGD steps at lr 0.1, 0.01 or 3e-3 wreck the trained
    # teacher, 1e-3 keeps it (docs/sweep-sparsify-swinir-x2-lr.json). Lambda: lr x lambda x steps
    # ~ the |w| quantile at 1 - d (benchmarks/lambda_from_magnitudes.py; on EDSR the rule gives
    # 1.29e-3 for d 0.028 and 1.00e-3 for d 0.11, both as measured), here 0.279 for the paper's 0.089.
    ("swinir", "cpu"): dict(
        sparsify_steps=400, sparsify_lr=1e-3, lam=0.28, distill_steps=3000, distill_lr=2e-3
    ),
    # SPAN teaches narrower SPANs that start from its own channels (--student span-s32
    # --student-init teacher): no sparsification; half EDSRmini's student lr (cut at once, the
    # student starts at 13.5 dB, not trained: docs/bench-span-cut-x4.json).
    ("span", "cpu"): dict(distill_steps=3000, distill_lr=1e-3),
}


def distill_config(arch: str, preset: str) -> DistillConfig:
    """The preset's settings for the student's architecture (the teacher's, unless a named student
    of another family is taught), with its rounding."""
    if (arch, preset) not in DISTILL_PRESETS:
        known = ", ".join(sorted({a for a, _ in DISTILL_PRESETS}))
        raise CompressionError(f"no {preset!r} distillation preset for {arch} students ({known} have one)")
    from ...models import ARCHITECTURES

    hooks = ARCHITECTURES[arch].compression
    return DistillConfig(**DISTILL_PRESETS[arch, preset], rounding=hooks.default_rounding)


class SparsifyTask(ForwardingTask):
    """Charbonnier (eps 1e-3) only: OBProx-SG adds the L1 term itself."""

    def __init__(self, base: ImageSRTask, eps: float) -> None:
        super().__init__(base)
        self.eps = eps

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
        return charbonnier(model(b["lr"].to(memory_format=torch.channels_last)), b["hr"], self.eps)

    def validate(self, model: nn.Module) -> dict[str, float]:
        m = model.module if hasattr(model, "module") else model
        return {**self.base.validate(model), "density": density(m.deep_feature_modules())}


class GateRegulariseTask(SteppedTask):
    """SSL's regularisation on a gated full-width teacher copy: the distillation loss plus
    alpha(step) * the dropped channels' squared gammas (``ChannelGates.penalty``); validation adds
    the mean |gamma| of the dropped and the kept channels."""

    def __init__(self, distil: DistillTask, gated: GatedModel, keep: dict, dc: DistillConfig) -> None:
        super().__init__(distil)
        self.gated, self.keep, self.dc = gated, keep, dc

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
        alpha = sir_alpha(int(b["step"]), self.dc.reg_delta, self.dc.reg_t1, self.dc.reg_tau)
        return self.base.loss(model, b) + alpha * self.gated.gates.penalty(self.keep)

    def validate(self, model: nn.Module) -> dict[str, float]:
        dropped, kept = self.gated.gates.mean_gamma(self.keep)
        return {**self.base.validate(model), "gamma_dropped": dropped, "gamma_kept": kept}


class DistillTask(ForwardingTask):
    """alpha * Charbonnier(student, GT) + L_Lap(student, teacher) + L_Lap(HF(student), HF(teacher))."""

    def __init__(self, base: ImageSRTask, teacher: nn.Module, alpha: float) -> None:
        super().__init__(base)
        self.teacher, self.alpha = teacher.eval().requires_grad_(False), alpha

    def to(self, device: torch.device) -> None:
        super().to(device)
        self.teacher.to(device)

    def loss(self, model: nn.Module, b: dict[str, torch.Tensor]) -> torch.Tensor:
        x = b["lr"].to(memory_format=torch.channels_last)
        with torch.no_grad():
            t = self.teacher(x)
        return distillation_loss(model(x), t, b["hr"], self.alpha)


def stage_config(base: TrainConfig, out: Path, dc: DistillConfig, from_scratch: bool) -> TrainConfig:
    """The training settings of the distil (or scratch) stage: AdaMax (0.9, 0.99), the stage's
    steps and learning rate, in ``out/distil`` or ``out/scratch``."""
    return replace(
        base,
        out=str(out / ("scratch" if from_scratch else "distil")),
        steps=dc.distill_steps,
        lr=dc.distill_lr or base.lr,
        optimizer="adamax",
        init=None,
    )


def run_distill(
    teacher_dir: Path, out: Path, base: TrainConfig, dc: DistillConfig, from_scratch: bool = False
) -> tuple[nn.Module, dict[str, Any]]:
    """The whole pipeline. ``from_scratch`` trains the same student size on ground truth only
    (the paper's question: does distillation help?). Returns (student, report)."""
    out.mkdir(parents=True, exist_ok=True)
    teacher, _ = load_pretrained(teacher_dir)
    report_path = out / "sizing.json"
    if dc.student and not report_path.exists():  # a named student: no sparsification, no sizing
        from ...models import named_config

        named = named_config(dc.student)
        scfg = named.config(base.scale)
        report_path.write_text(
            json.dumps(
                {
                    "density": None,
                    "architecture": named.arch,
                    "student": dataclasses.asdict(scfg),
                    "student_config": dc.student,
                    "teacher_architecture": family_of(teacher).name,
                },
                indent=2,
            )
        )
    # 1-2. Sparsify a copy of the teacher with OBProx-SG, then measure the density.
    if not report_path.exists():
        sparse, _ = load_pretrained(teacher_dir)
        cfg = replace(
            base,
            out=str(out / "sparsify"),
            steps=dc.sparsify_steps,
            lr=dc.sparsify_lr,
            warmup=0,
            min_lr=dc.sparsify_lr,
            init=None,
        )
        n_prox = dc.n_prox if dc.n_prox is not None else dc.sparsify_steps // 2

        def opt_factory(params: Any) -> OBProxSG:
            return OBProxSG(params, lr=dc.sparsify_lr, lam=dc.lam, n_prox=n_prox, momentum=0.9)

        sparse = train(
            cfg, task=SparsifyTask(ImageSRTask(cfg), dc.eps), model=sparse.train(), optimizer=opt_factory
        )
        d = density(sparse.deep_feature_modules())
        fam = family_of(teacher)
        arch = fam.name
        scfg = student_config(fam, teacher.config, d, rounding=dc.rounding)
        report = {
            "density": d,
            "architecture": arch,
            "student": dataclasses.asdict(scfg),
            "rounding": dc.rounding,
            "sparsify_steps": dc.sparsify_steps,
            "lambda": dc.lam,
        }
        report_path.write_text(json.dumps(report, indent=2))
        save_pretrained(sparse, out / "sparse", {"name": "sparsified-teacher", "density": d})
    report = json.loads(report_path.read_text())
    from ...models import ARCHITECTURES
    from ...models._config import config_from_dict

    scfg = config_from_dict(ARCHITECTURES[report["architecture"]].config_cls, report["student"])
    if dc.student_init == "teacher":
        if family_of(teacher).name != report["architecture"]:
            raise CompressionError(
                f"--student-init teacher: a {report['architecture']} student cannot start from a "
                f"{family_of(teacher).name} teacher's channels (same family only)"
            )
        fam = family_of(teacher)
        keep = kept_channels(teacher, fam, scfg)
        source = teacher
        if dc.regularise_steps and not from_scratch:
            source = _regularised(teacher_dir, teacher, out, base, dc, keep)
        student = narrowed(source, fam, scfg, keep=keep)
        report = {**report, "student_init": "teacher", "regularise_steps": dc.regularise_steps}
    else:
        student = build_model(report["architecture"], scfg)
    # 3. Distil (or train from scratch for the comparison).
    cfg = stage_config(base, out, dc, from_scratch)
    task = ImageSRTask(cfg) if from_scratch else DistillTask(ImageSRTask(cfg), teacher, dc.alpha)
    student = train(cfg, task=task, model=student.train()).eval()
    return student, report


def _regularised(
    teacher_dir: Path, teacher: nn.Module, out: Path, base: TrainConfig, dc: DistillConfig, keep: dict
) -> nn.Module:
    """A full-width copy of the teacher with SSL's gammas on its channel groups, distilled from the
    teacher for ``dc.regularise_steps`` while the dropped channels' gammas are pushed to 0
    (``GateRegulariseTask``; constant lr, the gammas at ``dc.gamma_lr``), then folded: saved in
    ``out/regularised`` and taken from there when it exists."""
    done = out / "regularised"
    if (done / "config.json").exists():
        return load_pretrained(done)[0]
    dense, _ = load_pretrained(teacher_dir)
    gated = GatedModel(dense, family_of(dense).compression.channel_groups(dense))
    lr = dc.regularise_lr
    cfg = replace(
        base,
        out=str(out / "regularise"),
        steps=dc.regularise_steps,
        lr=lr,
        warmup=0,
        min_lr=lr,
        optimizer="adamax",
        init=None,
        lr_groups=(("gates.", dc.gamma_lr),),
    )
    task = GateRegulariseTask(DistillTask(ImageSRTask(cfg), teacher, dc.alpha), gated, keep, dc)
    gated = train(cfg, task=task, model=gated.train()).eval()
    dropped, kept = gated.gates.mean_gamma(keep)
    dense = gated.gates.fold().eval()
    save_pretrained(
        dense, done, {"name": "regularised-teacher", "gamma_dropped": dropped, "gamma_kept": kept}
    )
    return dense


def distill_pipeline(
    teacher_dir: Path,
    out: Path,
    base: TrainConfig,
    dc: DistillConfig,
    name: str,
    command: str,
    from_scratch: bool = False,
) -> RunRecord:
    """``run_distill``, then the shared evaluate-record-export step into ``out/distil-model`` (or
    ``out/scratch-model``)."""
    from ..publish import model_ref

    student, report = run_distill(teacher_dir, out, base, dc, from_scratch=from_scratch)
    stage = "scratch" if from_scratch else "distil"
    cfg = replace(stage_config(base, out, dc, from_scratch), model=name)
    record = {
        **dataclasses.asdict(dc),
        **report,
        "teacher": model_ref(teacher_dir),
        "from_scratch": from_scratch,
        "teacher_metrics": read_config(teacher_dir).get("metrics"),
    }
    extra: dict[str, Any] = {"distillation": record}
    if report.get("student_init") == "teacher":  # the weights derive from the teacher's
        tlic = read_config(teacher_dir).get("licence") or "the teacher's (see its card)"
        extra["licence"] = (
            f"derived from the weights of {record['teacher'].get('name') or 'its teacher'} (pruned, then "
            f"trained by slimvsr on the corpus in docs/data.md); their licence applies: {tlic}"
        )
    return finish(student, cfg, out / f"{stage}-model", name=name, command=command, extra=extra)
