"""Export trained runs as model folders with their metadata, in the Hugging Face Hub layout."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import UsageError
from ..models import ARCHITECTURES, save_pretrained
from .training.task import read_log


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


def model_ref(folder: str | Path) -> dict[str, Any] | str:
    """How a record names another model (a teacher, an --init): its registered name, scale and
    weights sha256 from its config.json, never the path it happened to have on the machine that
    ran. A folder without a slimvsr config.json is named by its last path parts (portable)."""
    cfg_path = Path(folder) / "config.json"
    if not cfg_path.is_file():
        return portable_text(str(folder))
    meta = json.loads(cfg_path.read_text())
    ref = {"name": meta.get("name"), "sha256": meta.get("sha256")}
    fam = ARCHITECTURES.get(meta.get("architecture", ""))
    scale = meta.get("scale") or (meta.get("config") or {}).get("scale")
    if scale and fam is not None and fam.kind != "flow":
        ref["scale"] = scale
    return ref


def ref_label(ref: Any) -> str:
    """``name xS (sha256 1234abcd...)`` for a model_ref, or the text of an older record."""
    if isinstance(ref, dict):
        scale = f" x{ref['scale']}" if ref.get("scale") else ""
        sha = f", sha256 {ref['sha256'][:12]}" if ref.get("sha256") else ""
        return f"{ref.get('name')}{scale}{sha}"
    return str(ref)


def portable_text(text: str) -> str:
    """``text`` without this machine's absolute paths: the working directory becomes relative,
    the slimvsr home (``$SLIMVSR_HOME``, default ~/.cache/slimvsr) and the home folder become
    ``$SLIMVSR_HOME`` and ``~``."""
    home_dir = os.environ.get("SLIMVSR_HOME") or str(Path.home() / ".cache" / "slimvsr")
    for prefix, repl in (
        (home_dir, "$SLIMVSR_HOME"),
        (str(Path.cwd()) + "/", ""),
        (str(Path.home()), "~"),
    ):
        if prefix and prefix not in ("/", "~"):
            text = text.replace(prefix, repl)
    return text


def portable(obj: Any) -> Any:
    """``portable_text`` applied to every string of a JSON-like record."""
    if isinstance(obj, str):
        return portable_text(obj)
    if isinstance(obj, dict):
        return {k: portable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [portable(v) for v in obj]
    return obj


def export_run(
    model: nn.Module, cfg: Any, folder: Path, command: str, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``folder`` (model.safetensors + config.json) for a finished training run."""
    records = read_log(Path(cfg.out))
    vals = [r for r in records if "val" in r]
    wall = max((r.get("wall_s", 0.0) for r in records), default=0.0)
    recipe = asdict(cfg)
    if cfg.init:
        recipe["init"] = model_ref(cfg.init)
    meta = {
        "name": cfg.model,
        "scale": cfg.scale,
        "degradation": cfg.degradation,
        "training": {
            "command": command,
            "recipe": recipe,
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
    save_pretrained(model, folder, portable(meta))
    return folder


def _is_image_model(meta: dict[str, Any]) -> bool:
    return ARCHITECTURES[meta["architecture"]].kind == "image"


def _usage(meta: dict[str, Any]) -> str:
    """The vsr-upscale command for the model's kind: a video, or a photo at the model's scale."""
    name, scale = meta.get("name"), meta.get("scale")
    if _is_image_model(meta):
        return f"vsr-upscale photo.jpg -m {name} -s {scale}"
    return f"vsr-upscale in.mp4 -m {name}"


_METHODS = {"ssl": "SSL", "l1norm": "L1-norm pruning", "aligned": "aligned (ASSL-style) pruning"}


def _compression_lines(meta: dict[str, Any]) -> list[str]:
    """For a compressed model, which stage the training line's steps are and what came before."""
    s, d = meta.get("ssl"), meta.get("distillation")
    if s:
        from .ssl.pipeline import SSLConfig

        sc = SSLConfig.from_record(s)
        reg = sc.regularisation_steps
        before = f"regularised for {reg:,} steps (sparsity on their scaling factors), " if reg else ""
        tf = " with Temporal Finetuning" if s["temporal_finetune"] else ""
        method = _METHODS.get(s["method"], s["method"])
        return [
            f"Pruned from `{ref_label(s['teacher'])}` by {method} ({sc.selection_criterion}, "
            f"ratio {s['ratio']}): units "
            f"selected on the teacher, {before}pruned; the steps above are the fine-tuning{tf}.",
            "",
        ]
    if d and d.get("student_config"):
        start = (
            "trained from scratch" if d.get("from_scratch") else f"distilled from `{ref_label(d['teacher'])}`"
        )
        return [
            f"The `{d['student_config']}` configuration {start} (no sparsification: a teacher of "
            f"another family, {d.get('teacher_architecture')}); the steps above are the student's.",
            "",
        ]
    if d:
        start = "trained from scratch" if d.get("from_scratch") else "distilled"
        return [
            f"Sized from `{ref_label(d['teacher'])}` after {d['sparsify_steps']:,} OBProx-SG "
            "sparsification steps "
            f"(density {d['density']:.4f}), then {start}; the steps above are the student's.",
            "",
        ]
    return []


def model_card(meta: dict[str, Any], repo_id: str) -> str:
    """A Hugging Face model card (README.md) from a model's config.json."""
    m = meta.get("metrics") or {}
    val, bic = m.get("val") or {}, m.get("bicubic") or {}
    kind = "image" if _is_image_model(meta) else "video"
    lines = [
        "---",
        "license: apache-2.0",
        "library_name: slimvsr",
        f"tags: [super-resolution, {kind}-super-resolution, slimvsr]",
        "---",
        "",
        f"# {repo_id}",
        "",
        f"`{meta.get('name')}` ({meta['architecture']}, x{meta.get('scale')}, "
        f"{meta.get('degradation', 'BI')} degradation): {meta['params']:,} parameters, "
        f"{meta['macs'] / 1e9:.1f} G multiply-accumulates per output frame at LR "
        f"{meta['macs_input_size'][0]}x{meta['macs_input_size'][1]}.",
        "",
        f"Use: `pip install slimvsr`, then `{_usage(meta)}` (the weights are found in the local Hub cache).",
        "",
    ]
    if val:
        lines += [
            "## Validation",
            "",
            "| | PSNR-Y | SSIM-Y |",
            "|---|---|---|",
            f"| this model | {val['psnr_y']:.2f} | {val['ssim_y']:.4f} |",
            f"| bicubic | {bic.get('psnr_y', float('nan')):.2f} | {bic.get('ssim_y', float('nan')):.4f} |",
            "",
            f"Measured by `{m.get('command')}` on {m.get('data', 'the validation split')}.",
            "",
        ]
    tr = meta.get("training") or {}
    if tr:
        lines += [
            "## Training",
            "",
            f"`{tr.get('command')}`: {tr.get('steps', 0):,} steps, "
            f"{tr.get('wall_time_s', 0) / 60:.0f} min on {tr.get('machine')}.",
            "",
        ]
        lines += _compression_lines(meta)
        init = (tr.get("recipe") or {}).get("init")
        if init:
            lines += [
                f"Initialised from `{ref_label(init)}` (`--init`: every tensor of matching name and shape).",
                "",
            ]
        data = tr.get("data") or {}
        if data.get("sources"):
            lines += ["Data (real media shipped in packages; licences):", ""]
            lines += [f"- {s['package']} {s['version']}: {s['licence']}" for s in data["sources"]]
            lines.append("")
    lines += [f"Licence of the weights: {meta.get('licence', 'see config.json')}.", ""]
    return "\n".join(lines)


def publish(model_dir: Path, out: Path, name: str, scale: int, *, rename: bool = False) -> Path:
    """Write ``out`` in the Hub layout: model.safetensors, config.json, README.md (model card).

    The weights are verified (sha256, strict load) before anything is written. A model whose
    config.json carries another name is refused unless ``rename``: then the published config.json
    takes ``name`` and records the run's own name under ``published_from`` (e.g. the run
    ``ssl-uni-mean`` published as ``ssl-uni``)."""
    import shutil

    from ..models import load_pretrained
    from ..models._weights import HUB_ORG

    _, meta = load_pretrained(model_dir)
    if meta.get("name") != name and not rename:
        raise UsageError(
            f"{model_dir}: config.json names {meta.get('name')!r}, not {name!r} "
            f"(--rename publishes it as {name!r})"
        )
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_dir / "model.safetensors", out / "model.safetensors")
    if meta.get("name") != name:
        meta = {
            **meta,
            "name": name,
            "published_from": {"name": meta.get("name"), "sha256": meta.get("sha256")},
        }
        (out / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
    else:
        shutil.copyfile(model_dir / "config.json", out / "config.json")
    (out / "README.md").write_text(model_card(meta, f"{HUB_ORG}/{name}-x{scale}"))
    return out
