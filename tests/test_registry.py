from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from slimvsr.app.cli import main as upscale_main
from slimvsr.errors import ModelError
from slimvsr.models import (
    WEIGHTS,
    _weights,
    build_model,
    list_weights,
    load_model,
    measured_ms,
    measured_speeds,
    named_config,
    profile_model,
    profile_size,
    resolve,
    save_pretrained,
    sha256_file,
)
from tiny import tiny_config


def test_one_default_per_kind() -> None:
    kinds = {e.kind for e in WEIGHTS.values()}
    for k in kinds:
        assert sum(e.default for e in WEIGHTS.values() if e.kind == k) == 1


def test_entries_point_at_named_configs() -> None:
    for e in WEIGHTS.values():
        named = named_config(e.config_name)
        for s in e.scales:
            with torch.device("meta"):
                assert named.build(s).config.scale == s


def test_unknown_model_and_scale_errors() -> None:
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        resolve("nope")
    with pytest.raises(ModelError, match="does not do x3"):
        resolve("edsrmini", 3)


def _check_meta(folder: Path) -> None:
    """Recompute params, MACs and sha256 and compare them with config.json."""
    meta = json.loads((folder / "config.json").read_text())
    model, _ = load_model(folder).model, None
    assert sha256_file(folder / "model.safetensors") == meta["sha256"]
    size = profile_size(model)
    prof = profile_model(model, size)
    assert prof.params == meta["params"]
    assert prof.macs == meta["macs"]
    assert meta["macs_input_size"] == list(size)


@pytest.mark.parametrize(
    "info", [w for w in list_weights() if w.present], ids=lambda w: f"{w.entry.name}-x{w.scale}"
)
def test_bundled_weights_metadata_is_true(info) -> None:
    _check_meta(info.folder)
    meta = info.meta
    assert meta["licence"]
    assert meta["metrics"]["command"] and meta["metrics"]["val"]["psnr_y"] > 0
    if "provenance" in meta:  # weights trained elsewhere (SPAN): who trained them, where they came from
        assert meta["training"]["by"] and meta["training"]["data"]
        assert meta["provenance"]["files"] and meta["provenance"]["package"]
    else:
        assert meta["validation"]["command"]
        assert meta["training"]["data"]


@pytest.mark.parametrize(
    "info", [w for w in list_weights() if w.present], ids=lambda w: f"{w.entry.name}-x{w.scale}"
)
def test_bundled_weights_beat_bicubic(info) -> None:
    """Bundled weights are trained: on a held-out photo (scikit-image's coffee, in the validation
    split, never trained on) made into a short panning clip, MATLAB-bicubic downscaled, the model
    beats bicubic upscaling by a clear margin in PSNR-Y (fp32)."""
    from skimage import data

    from slimvsr.compression.data.degrade import imresize
    from slimvsr.compression.metrics import psnr_y, to_uint8

    s = info.scale
    hr_full = torch.from_numpy(data.coffee()).permute(2, 0, 1).float() / 255  # 400x600
    size = 32 * s  # LR 32x32: a fraction of a second per model
    frames = 5 if info.entry.kind == "video" else 1
    hr = torch.stack(
        [hr_full[:, 120 : 120 + size, 200 + 2 * s * t : 200 + 2 * s * t + size] for t in range(frames)]
    )
    lr = torch.round(imresize(hr, 1 / s).clamp(0, 1) * 255) / 255
    model = load_model(info.folder).model.eval()
    with torch.no_grad():
        sr = model(lr[None])[0] if info.entry.kind == "video" else model(lr)
    bic = imresize(lr, float(s))

    def score(x: torch.Tensor) -> float:
        return (
            sum(psnr_y(to_uint8(a), to_uint8(b), s) for a, b in zip(x.clamp(0, 1), hr, strict=True)) / frames
        )

    print(f"{info.entry.name}: model {score(sr):.2f} dB, bicubic {score(bic):.2f} dB")
    assert score(sr) > score(bic) + 0.3


def test_metadata_check_catches_lies(tmp_path) -> None:
    save_pretrained(build_model("edsr", tiny_config("edsr")), tmp_path / "m")
    _check_meta(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["params"] += 1
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(AssertionError):
        _check_meta(tmp_path / "m")


def _fake_hub(cache: Path, repo_id: str, src: Path) -> Path:
    """Lay out ``src`` as huggingface_hub's cache does: blobs, a snapshot, refs/main."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = "0" * 40
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    for f in src.iterdir():
        (snap / f.name).write_bytes(f.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return snap


def _pin(tmp_path: Path, monkeypatch, src: Path) -> None:
    """Pin slimvsr/edsrmini-x2 at _fake_hub's commit, with the sha256 of ``src``'s files."""
    from slimvsr.models import HubRef, write_pin

    monkeypatch.setenv("SLIMVSR_PINS", str(tmp_path / "published.json"))
    files = {f.name: sha256_file(f) for f in src.iterdir()}
    write_pin("edsrmini-x2", HubRef("slimvsr/edsrmini-x2", "0" * 40, files))


def test_resolves_from_hub_cache_offline_at_the_pinned_revision(
    tmp_path, _isolated_hub_cache, monkeypatch
) -> None:
    monkeypatch.setattr(_weights, "bundled_root", lambda: tmp_path / "nothing-bundled")
    assert not resolve("edsrmini", 2).present
    model = named_config("edsrmini").build(2)
    save_pretrained(model, tmp_path / "src", {"name": "edsrmini"})
    snap = _fake_hub(_isolated_hub_cache, "slimvsr/edsrmini-x2", tmp_path / "src")
    # Not published (no pin): a cache entry is not used; the entry resolves bundled-only.
    assert resolve("edsrmini", 2).source == "missing"
    _pin(tmp_path, monkeypatch, tmp_path / "src")
    info = resolve("edsrmini", 2)
    assert info.present and info.source == "hub-cache" and info.folder == snap
    desc = load_model("edsrmini", 2)
    assert desc.scale == 2 and desc.kind == "image"
    # A cached file that differs from the pinned sha256 is refused before loading.
    cfg = json.loads((snap / "config.json").read_text())
    (snap / "config.json").write_text(json.dumps({**cfg, "note": "edited"}))
    from slimvsr.errors import WeightsError

    with pytest.raises(WeightsError, match="sha256 the registry pins"):
        load_model("edsrmini", 2)


def test_partial_hub_cache_entry_is_never_loaded(tmp_path, _isolated_hub_cache, monkeypatch) -> None:
    """A cache snapshot without its weights file is a 'partial' download: resumed when online,
    an actionable error offline, never passed off as 'not installed' and never loaded."""
    monkeypatch.setattr(_weights, "bundled_root", lambda: tmp_path / "nothing-bundled")
    save_pretrained(named_config("edsrmini").build(2), tmp_path / "src", {"name": "edsrmini"})
    _pin(tmp_path, monkeypatch, tmp_path / "src")
    (tmp_path / "src" / "model.safetensors").unlink()
    _fake_hub(_isolated_hub_cache, "slimvsr/edsrmini-x2", tmp_path / "src")
    assert resolve("edsrmini", 2).source == "partial"
    with pytest.raises(ModelError, match=r"HF_HUB_OFFLINE=1 .*--download edsrmini"):
        load_model("edsrmini", 2)


def test_bundled_takes_precedence(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(_weights, "bundled_root", lambda: tmp_path)
    save_pretrained(named_config("edsrmini").build(4), tmp_path / "edsrmini-x4")
    info = resolve("edsrmini", 4)
    assert info.source == "bundled"
    _check_meta(info.folder)


def test_missing_weights_error_is_actionable(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(_weights, "bundled_root", lambda: tmp_path)
    with pytest.raises(ModelError, match="weights are not installed and not published"):
        load_model("swinirmini", 2)


@pytest.mark.parametrize("precision", ["bf16", "fp32"])
def test_shipped_speeds_are_per_precision(precision) -> None:
    """--list-models shows the speeds measured in the precision the user's CPU runs (a CPU without
    bf16 units runs fp32 and is 2-12x off bf16's figures); each file says what it measured."""
    rec = measured_speeds(precision)
    assert rec["precision"] == precision and rec["machine"]["cpu"] and "registry_speed.py" in rec["command"]
    bundled = {f"{w.entry.name}-x{w.scale}": w for w in list_weights() if w.source == "bundled"}
    assert set(rec["models"]) <= set(bundled) and all(v["ms_per_frame"] > 0 for v in rec["models"].values())
    for k, v in rec["models"].items():  # a figure recorded with its size is shown for that size only
        if "macs" in v:  # (a model re-bundled at another size since keeps its old figure, unshown)
            same = v["macs"] == bundled[k].meta["macs"]
            assert measured_ms(rec, bundled[k]) == (v["ms_per_frame"] if same else None)
    if precision == "fp32":  # measured after every bundled model was in, at its size
        assert set(rec["models"]) == set(bundled)
        assert all(v["macs"] == bundled[k].meta["macs"] for k, v in rec["models"].items())
    with pytest.raises(ValueError, match="precision"):
        measured_speeds("fp16")


def test_list_models_json(capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(_weights, "bundled_root", lambda: tmp_path)
    save_pretrained(
        named_config("edsrmini").build(2),
        tmp_path / "edsrmini-x2",
        {"metrics": {"val": {"psnr_y": 30.5, "ssim_y": 0.9}, "command": "x"}},
    )
    assert upscale_main(["--list-models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = {(r["name"], r["scale"]) for r in rows}
    assert names == {(e.name, s) for e in WEIGHTS.values() for s in e.scales}
    row = next(r for r in rows if r["name"] == "edsrmini" and r["scale"] == 2)
    assert row["present"] and row["kind"] == "image" and row["psnr_y"] == 30.5
    assert row["params"] == 49603
    assert row["ms_per_720p_frame"] > 0  # measured by benchmarks/registry_speed.py, shipped
    assert row["where"] == "bundled"
    assert not next(r for r in rows if r["name"] == "swinirmini")["present"]
    assert upscale_main(["--list-models"]) == 0
    assert "edsrmini" in capsys.readouterr().out


def test_publish_hub_layout_and_bundle(tmp_path, monkeypatch) -> None:
    from slimvsr.compression.cli import main as compress_main

    model = named_config("edsrmini").build(2)
    save_pretrained(
        model,
        tmp_path / "m",
        {
            "name": "edsrmini",
            "scale": 2,
            "metrics": {
                "val": {"psnr_y": 31.0, "ssim_y": 0.9},
                "bicubic": {"psnr_y": 29.0, "ssim_y": 0.85},
                "command": "vsr-compress eval ...",
                "data": "val",
            },
        },
    )
    assert compress_main(["publish", str(tmp_path / "m"), "--out", str(tmp_path / "hub")]) == 0
    card = (tmp_path / "hub" / "README.md").read_text()
    assert "slimvsr/edsrmini-x2" in card and "31.00" in card and "license: apache-2.0" in card
    assert "`vsr-upscale photo.jpg -m edsrmini -s 2`" in card  # an image model's usage line
    assert "image-super-resolution" in card and "video-super-resolution" not in card
    from slimvsr.compression.publish import model_card

    meta = json.loads((tmp_path / "hub" / "config.json").read_text())
    trained = {"command": "vsr-compress train ...", "steps": 10, "recipe": {"init": "runs/x2/model"}}
    assert "Initialised from `runs/x2/model`" in model_card({**meta, "training": trained}, "r")
    assert "Initialised" not in card  # no --init, no line
    # A compressed model's card says which stage its steps are and what came before them.
    ssl = {"method": "ssl", "criterion": "min-global", "ratio": 0.7, "tau": 0.1, "delta": 0.002, "t1": 5}
    ssl |= {"t2": 150, "temporal_finetune": True, "teacher": "basicvsr-uni"}
    pruned = model_card({**meta, "training": trained, "ssl": ssl}, "r")
    assert "Pruned from `basicvsr-uni` by SSL (min-global, ratio 0.7)" in pruned
    assert "regularised for 400 steps" in pruned and "fine-tuning with Temporal Finetuning" in pruned
    l1 = model_card(
        {**meta, "training": trained, "ssl": ssl | {"method": "l1norm", "temporal_finetune": False}}, "r"
    )
    assert "by L1-norm pruning" in l1 and "regularised" not in l1 and "Temporal" not in l1
    assert "Sized from `edsr-baseline` after 400 OBProx-SG" not in card
    dist = {"teacher": "edsr-baseline", "sparsify_steps": 400, "density": 0.0276, "from_scratch": False}
    distilled = model_card({**meta, "training": trained, "distillation": dist}, "r")
    assert "Sized from `edsr-baseline` after 400 OBProx-SG sparsification steps (density 0.0276)" in distilled
    assert "then distilled" in distilled
    monkeypatch.setattr(_weights, "bundled_root", lambda: tmp_path / "bundled")
    assert compress_main(["publish", str(tmp_path / "m"), "--bundle"]) == 0
    info = resolve("edsrmini", 2)
    assert info.source == "bundled" and info.meta["sha256"] == sha256_file(info.folder / "model.safetensors")
    # A run published under another registered name: refused unless asked, then recorded.
    args = ["publish", str(tmp_path / "m"), "--name", "swinirmini", "--out", str(tmp_path / "hub3")]
    assert compress_main(args) == 2
    assert compress_main([*args, "--rename"]) == 0
    renamed = json.loads((tmp_path / "hub3" / "config.json").read_text())
    assert renamed["name"] == "swinirmini" and renamed["published_from"]["name"] == "edsrmini"
    assert renamed["sha256"] == info.meta["sha256"]
    (tmp_path / "m" / "model.safetensors").write_bytes(b"broken")
    assert compress_main(["publish", str(tmp_path / "m"), "--out", str(tmp_path / "hub2")]) == 2


def test_no_shipped_file_contains_an_absolute_path() -> None:
    """Shipped config.json files, model cards and the artifacts' records name teachers and inits
    by registered name and sha256, and paths relative to the project, never a machine's own."""
    import re

    root = Path(__file__).resolve().parents[1]
    absolute = re.compile(r"(?<![\w.:/~$)\]-])/[A-Za-z_][\w.-]*/")
    files = [
        *(root / "src" / "slimvsr" / "models" / "weights").glob("*/*.json"),
        *(root / "src" / "slimvsr" / "models" / "weights").glob("*/*.md"),
        *(root / "artifacts").rglob("*.json"),
    ]
    assert len(files) > 30
    bad = [
        f"{f.relative_to(root)}: {m.group(0)}" for f in files for m in [absolute.search(f.read_text())] if m
    ]
    assert not bad, bad
    for f in (root / "src" / "slimvsr" / "models" / "weights").glob("*/config.json"):
        meta = json.loads(f.read_text())
        for rec in ("ssl", "distillation"):
            if rec in meta:
                assert isinstance(meta[rec]["teacher"], dict) and len(meta[rec]["teacher"]["sha256"]) == 64


def test_records_made_elsewhere_are_written_portably(monkeypatch, tmp_path) -> None:
    from slimvsr.compression.publish import portable

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SLIMVSR_HOME", str(tmp_path / "cache"))
    rec = {"out": str(tmp_path / "runs" / "x"), "data": str(tmp_path / "cache" / "corpus"), "n": 3}
    assert portable(rec) == {"out": "runs/x", "data": "$SLIMVSR_HOME/corpus", "n": 3}


@pytest.mark.parametrize(
    "damage",
    [
        lambda c: 3,
        lambda c: None,
        lambda c: [c],
        lambda c: "config",
        lambda c: {**c, "config": [1, 2]},
        lambda c: {**c, "config": {**c["config"], "num_feat": -1}},
        lambda c: {**c, "config": {**c["config"], "num_feat": 10**5}},
        lambda c: {**c, "config": {**c["config"], "num_feat": 10**9}},
        lambda c: {**c, "config": {**c["config"], "num_block": 10**9}},
        lambda c: {**c, "config": {**c["config"], "num_block": "8"}},
        lambda c: {**c, "config": {**c["config"], "num_feat": 32}},  # weights are 16 wide
        lambda c: {**c, "architecture": 7},
    ],
)
def test_damaged_weights_folders_are_refused_at_once(damage, tmp_path, capsys) -> None:
    """A damaged config.json (wrong top-level type, wrong field types, absurd widths or depths,
    a config the weights do not fit) is one clear line and exit 2, found from config.json and
    the safetensors header before any network is built for real."""
    import time

    from slimvsr.app.cli import main as upscale_main

    folder = tmp_path / "m"
    save_pretrained(named_config("edsrmini").build(2), folder, {"name": "edsrmini"})
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(damage(cfg)))
    photo = tmp_path / "p.png"
    from PIL import Image

    Image.new("RGB", (8, 8)).save(photo)
    t = time.monotonic()
    assert upscale_main([str(photo), "-m", str(folder), "-q"]) == 2
    assert time.monotonic() - t < 20
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vsr-upscale: error:") and "Traceback" not in err[0]


def test_deeply_nested_config_json_is_refused(tmp_path, capsys) -> None:
    from slimvsr.app.cli import main as upscale_main

    folder = tmp_path / "m"
    save_pretrained(named_config("edsrmini").build(2), folder, {"name": "edsrmini"})
    (folder / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "p.png")
    assert upscale_main([str(tmp_path / "p.png"), "-m", str(folder), "-q"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "config.json" in err


def test_bench_models_refuses_a_name_of_several_scales_without_scale() -> None:
    """benchmarks/bench_models.py: a registered name at several scales needs --scale (the entry's
    first scale was timed silently before: SPAN x2 at an x4 model's LR size); with it, that scale."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from bench_models import load

    assert len(WEIGHTS["span"].scales) > 1
    with pytest.raises(SystemExit, match="--scale"):
        load("span", None)
    model, label = load("span", 4)
    assert label == "span" and model.config.scale == 4
