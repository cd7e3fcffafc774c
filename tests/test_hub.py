"""Publishing to and fetching from the Hub, against the loopback stand-in (tests/hub_standin.py):
the real huggingface_hub client and slimvsr's real code paths, never the network."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from slimvsr.app.cli import main as upscale_main
from slimvsr.compression.cli import main as compress_main
from slimvsr.engine import Downloading, Finished, Job, Started, UpscaleOptions
from slimvsr.errors import ModelError, WeightsError
from slimvsr.models import _weights, load_model, named_config, read_pins, resolve, save_pretrained
from slimvsr.models._hub import cached

REPO = "slimvsr/edsrmini-x2"


def _model_folder(path: Path, scale: int = 2, seed: int = 0) -> Path:
    import torch

    torch.manual_seed(seed)
    meta = {
        "name": "edsrmini",
        "scale": scale,
        "metrics": {
            "val": {"psnr_y": 31.5, "ssim_y": 0.9},
            "bicubic": {"psnr_y": 29.0, "ssim_y": 0.85},
            "command": "vsr-compress eval m --data data/corpus",
            "data": "tiny test split",
        },
    }
    save_pretrained(named_config("edsrmini").build(scale), path, meta)
    return path


def _photo(path: Path) -> Path:
    rng = np.random.default_rng(0)
    img = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
    Image.fromarray(img).save(path)
    return path


def _run(inp: Path, out: Path, model: str) -> list:
    job = Job(inp, out, UpscaleOptions(model=model, scale=2, device="cpu", precision="fp32"))
    return list(job.run())


def test_round_trip_publish_download_upscale_bit_for_bit(hub, tmp_path, capsys) -> None:
    folder = _model_folder(tmp_path / "m")
    assert compress_main(["publish", str(folder), "--repo-id", REPO]) == 0
    out = capsys.readouterr().out
    head = hub.head(REPO)
    assert f"{REPO}@{head}" in out and "new commit" in out
    # The publish pinned the registry entry to the commit it made, with every file's sha256.
    pin = read_pins()["edsrmini-x2"]
    assert pin.repo_id == REPO and pin.revision == head
    remote = hub.files(REPO)
    assert remote["model.safetensors"] == (folder / "model.safetensors").read_bytes()
    assert set(pin.sha256) == {"config.json", "model.safetensors", "README.md"}
    card = remote["README.md"].decode()
    assert "library_name: slimvsr" in card and "model-index" in card and "value: 31.5" in card
    assert ("POST", "/api/validate-yaml", None) in hub.requests  # the Hub checked the card
    assert resolve("edsrmini", 2).source == "downloadable"

    # The engine downloads the pinned revision into the empty cache, then upscales.
    photo = _photo(tmp_path / "p.png")
    events = _run(photo, tmp_path / "hub.png", "edsrmini")
    kinds = [type(e) for e in events]
    assert kinds.index(Downloading) < kinds.index(Started) and isinstance(events[-1], Finished)
    last = [e for e in events if isinstance(e, Downloading) and e.file == "model.safetensors"][-1]
    assert last.done == last.total == (folder / "model.safetensors").stat().st_size
    info = resolve("edsrmini", 2)
    assert info.source == "hub-cache" and info.hub.revision == head
    for f in ("config.json", "model.safetensors"):
        assert (info.folder / f).read_bytes() == (folder / f).read_bytes()
    _run(photo, tmp_path / "local.png", str(folder))
    a, b = np.asarray(Image.open(tmp_path / "hub.png")), np.asarray(Image.open(tmp_path / "local.png"))
    assert a.shape == (48, 64, 3) and np.array_equal(a, b)

    # Publishing the same folder again makes no commit, and the pin stays.
    n = hub.n_commits(REPO)
    assert compress_main(["publish", str(folder), "--repo-id", REPO]) == 0
    assert "unchanged, no commit" in capsys.readouterr().out
    assert hub.n_commits(REPO) == n and read_pins()["edsrmini-x2"].revision == head

    # Any slimvsr repo by id and revision, and the list says where each model is.
    assert load_model(f"{REPO}@{head}").scale == 2
    assert upscale_main(["--list-models", "--json"]) == 0
    row = next(r for r in json.loads(capsys.readouterr().out) if r["name"] == "edsrmini" and r["scale"] == 2)
    assert row["where"] == "cached" and row["revision"] == head


def test_new_weights_make_a_new_commit_and_move_the_pin(hub, tmp_path, capsys) -> None:
    assert compress_main(["publish", str(_model_folder(tmp_path / "a")), "--repo-id", REPO]) == 0
    first = read_pins()["edsrmini-x2"].revision
    assert compress_main(["publish", str(_model_folder(tmp_path / "b", seed=1)), "--repo-id", REPO]) == 0
    second = read_pins()["edsrmini-x2"].revision
    assert second != first and hub.head(REPO) == second
    # The old revision stays reachable by id: pinned revisions never move under a user.
    assert load_model(f"{REPO}@{first}").scale == 2


def test_tampered_download_is_refused_and_evicted(hub, tmp_path) -> None:
    assert compress_main(["publish", str(_model_folder(tmp_path / "m")), "--repo-id", REPO]) == 0
    hub.tamper.add("model.safetensors")
    with pytest.raises(WeightsError, match="sha256"):
        load_model("edsrmini", 2)
    _, missing = cached(read_pins()["edsrmini-x2"])
    assert "model.safetensors" in missing  # never left in the cache to be loaded later
    hub.tamper.clear()
    assert load_model("edsrmini", 2).scale == 2


def test_interrupted_download_resumes_with_a_range_request(hub, tmp_path, monkeypatch) -> None:
    from huggingface_hub import constants

    folder = _model_folder(tmp_path / "m")
    assert compress_main(["publish", str(folder), "--repo-id", REPO]) == 0
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 4096)  # the real 10 MB, scaled to the model
    hub.truncate["model.safetensors"] = 1  # the first GET stops half-way
    assert load_model("edsrmini", 2).scale == 2
    gets = [r for r in hub.requests if r[0] == "GET" and r[1].endswith("/model.safetensors")]
    assert len(gets) == 2 and gets[0][2] is None and gets[1][2].startswith("bytes=")
    assert int(gets[1][2][6:].rstrip("-")) > 0
    info = resolve("edsrmini", 2)
    assert (info.folder / "model.safetensors").read_bytes() == (folder / "model.safetensors").read_bytes()


def test_partial_snapshot_is_detected_and_resumed_never_loaded(hub, tmp_path, monkeypatch, capsys) -> None:
    from huggingface_hub import constants

    assert compress_main(["publish", str(_model_folder(tmp_path / "m")), "--repo-id", REPO]) == 0
    load_model("edsrmini", 2)
    link = resolve("edsrmini", 2).folder / "model.safetensors"
    link.resolve().unlink()  # as a download cut between the two files: no blob, no link
    link.unlink()
    assert resolve("edsrmini", 2).source == "partial"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE"):
        load_model("edsrmini", 2)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    n = len(hub.requests)
    assert upscale_main(["--download", "edsrmini", "-q"]) == 0
    assert "edsrmini x2: downloaded" in capsys.readouterr().out
    fetched = [r[1] for r in hub.requests[n:] if r[0] == "GET"]
    assert fetched and all(p.endswith("/model.safetensors") for p in fetched)  # only what was missing
    assert resolve("edsrmini", 2).source == "hub-cache"


def test_offline_with_an_empty_cache_is_one_clear_line(hub, tmp_path, monkeypatch, capsys) -> None:
    from huggingface_hub import constants

    assert compress_main(["publish", str(_model_folder(tmp_path / "m")), "--repo-id", REPO]) == 0
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    n = len(hub.requests)
    capsys.readouterr()  # the publish's upload bars
    assert upscale_main([str(_photo(tmp_path / "p.png")), "-m", "edsrmini", "-s", "2", "-q"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vsr-upscale: error: edsrmini")
    assert "HF_HUB_OFFLINE=1" in err[0] and "--download edsrmini" in err[0] and REPO in err[0]
    assert len(hub.requests) == n and not (tmp_path / "p.edsrmini-x2.png").exists()


def test_publish_needs_a_token_and_dry_run_needs_no_network(hub, tmp_path, monkeypatch, capsys) -> None:
    folder = _model_folder(tmp_path / "m")
    monkeypatch.delenv("HF_TOKEN")
    assert compress_main(["publish", str(folder), "--repo-id", REPO]) == 2
    assert "no Hugging Face token" in capsys.readouterr().err
    assert compress_main(["publish", str(folder), "--repo-id", REPO, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would upload model.safetensors" in out and "pipeline_tag: image-to-image" in out
    assert hub.requests == [] and read_pins() == {}
    # A wrong token: the Hub's refusal, in one line.
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    assert compress_main(["publish", str(folder), "--repo-id", REPO]) != 0
    assert "HF_TOKEN" in capsys.readouterr().err and REPO not in hub.repos
    # No metrics, nothing to publish.
    cfg = json.loads((folder / "config.json").read_text())
    del cfg["metrics"]
    (folder / "config.json").write_text(json.dumps(cfg))
    assert compress_main(["publish", str(folder), "--repo-id", REPO, "--dry-run"]) == 2
    assert "no measured metrics" in capsys.readouterr().err


def test_publish_all_is_idempotent(hub, tmp_path, monkeypatch, capsys) -> None:
    bundled = tmp_path / "bundled"
    _model_folder(bundled / "edsrmini-x2", 2)
    _model_folder(bundled / "edsrmini-x4", 4)
    monkeypatch.setattr(_weights, "bundled_root", lambda: bundled)
    assert compress_main(["publish", "--all", "--org", "acme"]) == 0
    pins = read_pins()
    assert {k: p.repo_id for k, p in pins.items()} == {
        "edsrmini-x2": "acme/edsrmini-x2",
        "edsrmini-x4": "acme/edsrmini-x4",
    }
    counts = {r: hub.n_commits(r) for r in hub.repos}
    capsys.readouterr()
    assert compress_main(["publish", "--all", "--org", "acme"]) == 0
    assert capsys.readouterr().out.count("unchanged, no commit") == 2
    assert {r: hub.n_commits(r) for r in hub.repos} == counts and read_pins() == pins


def test_card_validation_catches_broken_metadata() -> None:
    from slimvsr.compression.publish import validate_card
    from slimvsr.errors import CompressionError

    with pytest.raises(CompressionError):
        validate_card("---\nlicense: [unclosed\n---\n# x\n")
    with pytest.raises(CompressionError, match="pipeline_tag"):
        validate_card("---\nlicense: apache-2.0\nlibrary_name: slimvsr\ntags: [a]\n---\n# x\n")


def test_cancel_mid_download_then_the_next_job_resumes(hub, tmp_path, monkeypatch) -> None:
    import threading

    from huggingface_hub import constants

    from slimvsr.errors import Cancelled

    assert compress_main(["publish", str(_model_folder(tmp_path / "m")), "--repo-id", REPO]) == 0
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 4096)
    hub.slow["model.safetensors"] = 2.0
    photo = _photo(tmp_path / "p.png")
    job = Job(photo, tmp_path / "o.png", UpscaleOptions(model="edsrmini", scale=2, device="cpu"))
    gen = job.run()
    ev = next(gen)
    while not (isinstance(ev, Downloading) and ev.file == "model.safetensors" and ev.done > 0):
        ev = next(gen)
    threading.Timer(0.2, job.cancel).start()
    with pytest.raises(Cancelled):
        for _ in gen:
            pass
    assert resolve("edsrmini", 2).source == "partial" and not (tmp_path / "o.png").exists()
    hub.slow.clear()
    n = len(hub.requests)
    # huggingface_hub (>= 2.4) drops a cancelled file's partial bytes (unique temporary names, so
    # that concurrent processes cannot corrupt a blob); what was complete is kept: the next job
    # fetches only the file that was cut.
    cache = Path(os.environ["HF_HUB_CACHE"])
    assert not list(cache.rglob("*.incomplete"))
    assert isinstance(_run(photo, tmp_path / "o.png", "edsrmini")[-1], Finished)
    gets = [r[1] for r in hub.requests[n:] if r[0] == "GET"]
    assert gets and all(g.endswith("/model.safetensors") for g in gets)


def test_publish_to_a_private_branch(hub, tmp_path, capsys) -> None:
    folder = _model_folder(tmp_path / "m")
    args = ["publish", str(folder), "--repo-id", "acme/mini", "--revision", "dev", "--private", "--no-pin"]
    assert compress_main([*args, "--commit-message", "first cut"]) == 0
    repo = hub.repos["acme/mini"]
    assert repo.private and repo.branches["dev"] != repo.branches["main"] and read_pins() == {}
    assert "model.safetensors" in hub.files("acme/mini", "dev") and "model.safetensors" not in hub.files(
        "acme/mini"
    )
    assert load_model("acme/mini@dev").scale == 2  # the token reads the private repo
    with pytest.raises(ModelError, match="no revision 'nope'"):
        load_model("acme/mini@nope")
