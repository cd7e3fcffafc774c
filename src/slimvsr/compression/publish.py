"""Export trained runs as model folders with their metadata, in the Hugging Face Hub layout."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CompressionError, UsageError
from ..models import ARCHITECTURES, Storage, save_pretrained
from ..models._io import WEIGHTS_FILE, atomic_write_bytes, weights_sha256s
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
    recipe.pop("stop_at", None)  # when this invocation was to stop, not how the model was made
    for key in ("init", "flow_init", "teacher"):
        if getattr(cfg, key, None):
            recipe[key] = model_ref(getattr(cfg, key))
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


def _teacher_licence(ref: Any) -> str:
    """`` Teacher's licence: ...`` for a teacher that is a registered model with these weights."""
    from ..models import WEIGHTS, resolve

    if not isinstance(ref, dict) or ref.get("name") not in WEIGHTS:
        return ""
    info = resolve(ref["name"], ref.get("scale"))
    meta = info.meta
    if not info.present or not meta.get("licence"):
        return ""
    if ref.get("sha256") not in {meta.get("sha256")} | weights_sha256s(info.folder / WEIGHTS_FILE):
        return ""  # the same name, other weights (an earlier save of these counts as these)
    return f" Teacher's licence: {meta['licence']}."


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
    if d and d.get("student_init") == "teacher":
        return [
            f"The `{d['student_config']}` configuration pruned from `{ref_label(d['teacher'])}` (its "
            "channels of largest L1 norm; no sparsification stage), then distilled from it; the steps "
            "above are the student's." + _teacher_licence(d["teacher"]),
            "",
        ]
    if d and d.get("student_config"):
        start = (
            "trained from scratch" if d.get("from_scratch") else f"distilled from `{ref_label(d['teacher'])}`"
        )
        return [
            f"The `{d['student_config']}` configuration {start} (no sparsification: a teacher of "
            f"another family, {d.get('teacher_architecture')}); the steps above are the student's."
            + _teacher_licence(d["teacher"]),
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


def _teacher_repo(meta: dict[str, Any], repo_id: str) -> str | None:
    """The teacher's repo id in the same org (``base_model``), when it is a registered model."""
    from ..models import WEIGHTS

    teacher = (meta.get("ssl") or {}).get("teacher") or (meta.get("distillation") or {}).get("teacher")
    if not isinstance(teacher, dict) or teacher.get("name") not in WEIGHTS:
        return None
    org = repo_id.split("/")[0]
    return f"{org}/{teacher['name']}-x{teacher.get('scale') or meta.get('scale')}"


def card_data(meta: dict[str, Any], repo_id: str):
    """The card's metadata (huggingface_hub's ModelCardData), with a model-index carrying the
    measured PSNR/SSIM-Y, the data and the command that measured them."""
    from huggingface_hub import EvalResult, ModelCardData

    kind = "image" if _is_image_model(meta) else "video"
    task = f"{kind}-super-resolution"
    m = meta.get("metrics") or {}
    val = m.get("val") or {}
    results = []
    for metric, key, label in (("psnr", "psnr_y", "PSNR-Y (dB)"), ("ssim", "ssim_y", "SSIM-Y")):
        if val.get(key) is None:
            continue
        results.append(
            EvalResult(
                task_type=task,
                task_name=f"{kind.capitalize()} super-resolution x{meta.get('scale')}",
                dataset_type="slimvsr-corpus",
                dataset_name=str(m.get("data") or "slimvsr corpus, validation split"),
                dataset_split="validation",
                metric_type=metric,
                metric_name=label,
                metric_value=round(float(val[key]), 4),
                metric_args={
                    "degradation": m.get("degradation", meta.get("degradation", "BI")),
                    "precision": m.get("precision", "fp32"),
                    "command": str(m.get("command") or "vsr-compress eval"),
                },
            )
        )
    d, sl = meta.get("distillation"), meta.get("ssl")
    tags = ["super-resolution", task, "slimvsr"]
    tags += ["pruning"] if sl else []
    tags += ["knowledge-distillation"] if d else []
    return ModelCardData(
        license="apache-2.0",
        library_name="slimvsr",
        pipeline_tag="image-to-image",
        tags=tags,
        base_model=_teacher_repo(meta, repo_id),
        model_name=repo_id,
        eval_results=results or None,
        metrics=["psnr", "ssim"] if results else None,
    )


def model_card(meta: dict[str, Any], repo_id: str) -> str:
    """A Hugging Face model card (README.md) from a model's config.json."""
    from huggingface_hub import ModelCard

    m = meta.get("metrics") or {}
    val, bic = m.get("val") or {}, m.get("bicubic") or {}
    lines = [
        f"# {repo_id}",
        "",
        f"`{meta.get('name')}` ({meta['architecture']}, x{meta.get('scale')}, "
        f"{meta.get('degradation', 'BI')} degradation): {meta['params']:,} parameters, "
        f"{meta['macs'] / 1e9:.1f} G multiply-accumulates per output frame at LR "
        f"{meta['macs_input_size'][0]}x{meta['macs_input_size'][1]}.",
        "",
        f"Use: `pip install slimvsr`, then `{_usage(meta)}` (bundled in the package), or any slimvsr "
        f"model from the Hub: `vsr-upscale in.mp4 -m {repo_id}`.",
        "",
        "Speed on your machine: `python benchmarks/bench_models.py` in the slimvsr repository "
        "(docs/performance.md has the project's measurements, with the machine).",
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
        src_val = ((meta.get("stored_from") or {}).get("metrics") or {}).get("val") or {}
        if meta.get("storage") == "fp16" and src_val:
            lines += [
                f"The weights are stored in fp16 (half the download) and measured as stored; the fp32 "
                f"weights they were rounded from scored {src_val['psnr_y']:.2f} / {src_val['ssim_y']:.4f}.",
                "",
            ]
    tr = meta.get("training") or {}
    if tr and not tr.get("command"):  # weights trained elsewhere (a converted peer)
        lines += ["## Training", "", f"By {tr.get('by')}; data: {tr.get('data')}.", ""]
    elif tr:
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
    prov = meta.get("provenance") or {}
    if prov:
        files = ", ".join(f"`{f}` (sha256 {h[:12]}...)" for f, h in (prov.get("files") or {}).items())
        lines += [
            "## Provenance",
            "",
            f"Converted from {files} of the `{prov.get('package')}` {prov.get('version')} wheel by "
            f"{prov.get('converted_by')}.",
            "",
        ]
    lines += [f"Licence of the weights: {meta.get('licence', 'see config.json')}.", ""]
    card = ModelCard(f"---\n{card_data(meta, repo_id).to_yaml()}\n---\n\n" + "\n".join(lines))
    return str(card)


def validate_card(text: str) -> None:
    """Parse a card as the Hub's client does (front matter, model-index) and check what the
    Hub requires of a model card; the Hub validates it again on upload."""
    from huggingface_hub import ModelCard

    try:
        card = ModelCard(text, ignore_metadata_errors=False)
    except Exception as e:  # YAML that does not parse, a model-index the library rejects
        raise CompressionError(f"model card: invalid metadata ({e})") from None
    data = card.data
    missing = [k for k in ("license", "library_name", "pipeline_tag", "tags") if not getattr(data, k, None)]
    if missing:
        raise CompressionError(f"model card: metadata lacks {', '.join(missing)}")
    for r in data.eval_results or []:
        if not isinstance(r.metric_value, int | float):
            raise CompressionError(f"model card: {r.metric_type} has no numeric value")


def publish(
    model_dir: Path,
    out: Path,
    name: str,
    scale: int,
    *,
    rename: bool = False,
    repo_id: str | None = None,
    storage: Storage | None = None,
    data: Path | None = None,
) -> Path:
    """Write ``out`` in the Hub layout: model.safetensors, config.json, README.md (model card).

    The weights are verified (sha256, strict load) before anything is written. A model whose
    config.json carries another name is refused unless ``rename``: then the published config.json
    takes ``name`` and records the run's own name under ``published_from`` (e.g. the run
    ``ssl-uni-mean`` published as ``ssl-uni``). With ``data`` (a corpus) the model is evaluated
    again on its validation split and the record's metrics replaced, the earlier ones kept under
    ``earlier_metrics`` (the weights are copied as they are; ``out`` may be the folder itself).
    ``storage="fp16"`` writes the weights in half the bytes: they are rounded, so ``data`` is then
    required and the model is evaluated as stored, the fp32 weights' metrics kept under
    ``stored_from``."""
    import shutil

    from ..models import load_pretrained
    from ..models._weights import HUB_ORG

    model, meta = load_pretrained(model_dir)
    if meta.get("name") != name and not rename:
        raise UsageError(
            f"{model_dir}: config.json names {meta.get('name')!r}, not {name!r} "
            f"(--rename publishes it as {name!r})"
        )
    if storage is not None and storage != meta.get("storage", "fp32"):
        if storage != "fp16":
            raise UsageError(f"{model_dir}: stored {meta.get('storage')}; it cannot be widened to {storage}")
        if data is None:
            raise UsageError(
                "fp16 storage rounds the weights: give --data CORPUS to evaluate the model as stored"
            )
        return _publish_rounded(model, meta, out, name, scale, storage, data, repo_id)
    changed = meta.get("name") != name or data is not None
    if meta.get("name") != name:
        meta = {
            **meta,
            "name": name,
            "published_from": {"name": meta.get("name"), "sha256": meta.get("sha256")},
        }
    if data is not None:  # measured again (e.g. on a grown validation split); the weights as they are
        earlier = meta.get("metrics")
        meta = {**meta, "metrics": _measure(model, meta, out, name, scale, data), "earlier_metrics": earlier}
    out.mkdir(parents=True, exist_ok=True)
    if not _same_file(model_dir / "model.safetensors", out / "model.safetensors"):
        shutil.copyfile(model_dir / "model.safetensors", out / "model.safetensors")
    if changed:
        atomic_write_bytes(out / "config.json", (json.dumps(meta, indent=2) + "\n").encode())
    elif not _same_file(model_dir / "config.json", out / "config.json"):
        shutil.copyfile(model_dir / "config.json", out / "config.json")
    return _write_card(out, meta, repo_id or f"{HUB_ORG}/{name}-x{scale}")


def _same_file(a: Path, b: Path) -> bool:
    return b.exists() and a.resolve() == b.resolve()


def _measure(model: nn.Module, meta: dict[str, Any], out: Path, name: str, scale: int, data: Path) -> dict:
    """The ``metrics`` record of ``model`` on ``data``'s validation split, as ``vsr-compress eval``
    of the published folder measures it."""
    from .evaluate import evaluate

    res = evaluate(model, name, data, scale=scale, degradation=meta.get("degradation", "BI"))
    return portable(res.record(f"vsr-compress eval {out} --data {data} --scale {scale}"))


def _publish_rounded(
    model: nn.Module,
    meta: dict[str, Any],
    out: Path,
    name: str,
    scale: int,
    storage: Storage,
    data: Path,
    repo_id: str | None,
) -> Path:
    """``publish`` with the weights rounded to ``storage``: evaluated as stored, then saved."""
    from ..models._io import round_to_storage
    from ..models._weights import HUB_ORG

    round_to_storage(model, storage)
    computed = ("format_version", "architecture", "config", "params", "macs", "macs_input_size", "sha256")
    kept = {k: v for k, v in meta.items() if k not in computed}
    kept |= {
        "name": name,
        "metrics": _measure(model, meta, out, name, scale, data),
        "stored_from": {
            "name": meta.get("name"),
            "sha256": meta.get("sha256"),
            "storage": meta.get("storage", "fp32"),
            "metrics": meta.get("metrics"),
        },
    }
    saved = save_pretrained(model, out, portable(kept), storage=storage)
    return _write_card(out, saved, repo_id or f"{HUB_ORG}/{name}-x{scale}")


def _write_card(out: Path, meta: dict[str, Any], repo_id: str) -> Path:
    """``out``/README.md: the model card of ``meta``, validated as the Hub would."""
    card = model_card(meta, repo_id)
    validate_card(card)
    (out / "README.md").write_text(card)
    return out


# -- the Hub ---------------------------------------------------------------------------------
HUB_FILES = ("config.json", "model.safetensors", "README.md")


@dataclass(frozen=True)
class PublishRecord:
    """What a publish did (or, with dry_run, would do)."""

    name: str
    scale: int
    repo_id: str
    branch: str
    files: dict[str, str]  # file -> sha256, as uploaded
    dry_run: bool
    revision: str | None = None  # the commit the repo's branch points at afterwards
    commit_url: str | None = None
    committed: bool = False  # False: nothing changed, no commit made
    pins: Path | None = None  # the pins file the revision was recorded in

    @property
    def summary(self) -> str:
        if self.dry_run:
            return f"{self.name} x{self.scale}: would publish to {self.repo_id} ({self.branch}); --dry-run"
        what = f"new commit {self.commit_url}" if self.committed else "unchanged, no commit"
        pinned = f"; pinned in {self.pins}" if self.pins else ""
        return f"{self.name} x{self.scale}: {self.repo_id}@{self.revision} ({what}){pinned}"


def _hub_call(what: str, fn, /, *args: Any, **kwargs: Any) -> Any:
    """A huggingface_hub call whose failures become one line naming the repo."""
    from huggingface_hub import errors as hfe

    from ..models._hub import endpoint

    try:
        return fn(*args, **kwargs)
    except hfe.HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else "?"
        hint = " (check HF_TOKEN: it needs write access)" if status in (401, 403) else ""
        msg = str(e).splitlines()[0]
        raise CompressionError(f"{what}: the Hub refused it ({status}): {msg}{hint}") from None
    except ValueError as e:  # the Hub's verdict on the card's metadata, raised as ValueError
        raise CompressionError(f"{what}: {str(e).splitlines()[0]}") from None
    except Exception as e:
        if not type(e).__module__.startswith(("httpx", "httpcore", "ssl", "socket")):
            raise
        raise CompressionError(f"{what}: cannot reach the Hub at {endpoint()} ({e})") from None


def publish_to_hub(
    model_dir: Path,
    repo_id: str,
    *,
    name: str,
    scale: int,
    branch: str | None = None,
    private: bool = False,
    commit_message: str | None = None,
    dry_run: bool = False,
    rename: bool = False,
    pin: bool = True,
    echo=print,
) -> PublishRecord:
    """Validate ``model_dir`` (strict load, sha256, metrics), write its card, upload the three
    files to ``repo_id`` with huggingface_hub, and pin the registry entry to the new commit.
    Publishing unchanged files again makes no commit (the library skips unchanged files)."""
    import tempfile

    from huggingface_hub import HfApi, get_token

    from ..models import WEIGHTS, sha256_file, write_pin
    from ..models._hub import HubRef, endpoint, offline, parse_repo_ref

    ref = parse_repo_ref(repo_id)
    if ref is None or "@" in repo_id:
        raise UsageError(f"--repo-id {repo_id!r}: expected ORG/NAME")
    branch = branch or "main"
    meta = json.loads((Path(model_dir) / "config.json").read_text())
    if not (meta.get("metrics") or {}).get("val"):
        raise UsageError(
            f"{model_dir}: config.json has no measured metrics; publish a folder exported by "
            "vsr-compress train, prune or distill (they evaluate it on the validation split)"
        )
    with tempfile.TemporaryDirectory(prefix="slimvsr-publish-") as tmp:
        staged = publish(Path(model_dir), Path(tmp) / "repo", name, scale, rename=rename, repo_id=repo_id)
        files = {f: sha256_file(staged / f) for f in HUB_FILES}
        if dry_run:
            echo(f"would create {'private ' if private else ''}repo {repo_id} on {endpoint()} (if missing)")
            for f in HUB_FILES:
                echo(f"would upload {f} ({(staged / f).stat().st_size:,} bytes, sha256 {files[f][:16]}...)")
            echo(f"to branch {branch}; the registry would pin {name}-x{scale} to the new commit")
            echo("--- README.md ---")
            echo((staged / "README.md").read_text())
            return PublishRecord(name, scale, repo_id, branch, files, dry_run=True)
        if offline():
            raise UsageError("HF_HUB_OFFLINE=1: publishing needs the Hub (--dry-run checks without it)")
        token = get_token()
        if not token:
            raise UsageError("no Hugging Face token: set HF_TOKEN or run 'hf auth login' (write access)")
        api = HfApi(endpoint=endpoint(), token=token)
        _hub_call(repo_id, api.create_repo, repo_id, private=private, exist_ok=True)
        if branch != "main":
            _hub_call(repo_id, api.create_branch, repo_id, branch=branch, exist_ok=True)
        before = _hub_call(repo_id, api.repo_info, repo_id, revision=branch).sha
        info = _hub_call(
            repo_id,
            api.upload_folder,
            folder_path=str(staged),
            repo_id=repo_id,
            revision=branch,
            commit_message=commit_message
            or f"{name} x{scale}: weights sha256 {files['model.safetensors'][:12]}",
        )
    pins = None
    if pin and name in WEIGHTS:
        pins = write_pin(f"{name}-x{scale}", HubRef(repo_id, info.oid, files))
    return PublishRecord(
        name, scale, repo_id, branch, files, False, info.oid, info.commit_url, info.oid != before, pins
    )
