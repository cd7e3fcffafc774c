"""Folders and batches as a user runs them: output folders made, own outputs skipped, a batch that
goes on past a failure and says what happened, resumable with --skip-existing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from media import write_clip
from slimvsr.app.cli import main as upscale_main
from slimvsr.engine import is_own_output
from slimvsr.models import EDSR, save_pretrained
from tiny import tiny_config


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("batch-model")
    save_pretrained(EDSR(tiny_config("edsr", 0, scale=2)), root / "edsr", {"name": "edsr"})
    return root / "edsr"


def _photos(folder: Path, n: int = 3) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        p = folder / f"p{i}.png"
        Image.fromarray((np.random.default_rng(i).random((12, 16, 3)) * 255).astype(np.uint8)).save(p)
        paths.append(p)
    return paths


def test_output_folder_is_created(model, tmp_path) -> None:
    (src,) = _photos(tmp_path / "in", 1)
    assert upscale_main([str(src), "-m", str(model), "-o", str(tmp_path / "new" / "deeper") + "/", "-q"]) == 0
    assert (tmp_path / "new" / "deeper" / "p0.edsr-x2.png").is_file()
    a, b = _photos(tmp_path / "two", 2)
    assert upscale_main([str(a), str(b), "-m", str(model), "-o", str(tmp_path / "outs"), "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "outs").iterdir()) == ["p0.edsr-x2.png", "p1.edsr-x2.png"]


def test_rerun_on_a_folder_skips_its_own_outputs(model, tmp_path, capsys) -> None:
    folder = tmp_path / "pics"
    _photos(folder, 2)
    clip = write_clip(folder / "clip.mp4", n=3, size=(16, 16))
    assert upscale_main([str(folder), "-m", str(model), "-q"]) == 0
    outs = {"p0.edsr-x2.png", "p1.edsr-x2.png", "clip.edsr-x2.mp4"}
    assert outs <= {p.name for p in folder.iterdir()}
    assert all(is_own_output(folder / n) for n in outs) and not is_own_output(clip)
    capsys.readouterr()
    assert upscale_main([str(folder), "-m", str(model), "--overwrite"]) == 0
    assert "skipping 3 file(s) that are vsr-upscale's own outputs" in capsys.readouterr().err
    assert not [p for p in folder.iterdir() if "edsr-x2.edsr-x2" in p.name]
    # A user's file that only looks like an output (no marker) is not skipped.
    lookalike = folder / "holiday.trip-x2.png"
    Image.fromarray(np.zeros((12, 16, 3), np.uint8)).save(lookalike)
    assert not is_own_output(lookalike)


def test_batch_goes_on_past_failures_and_reports_them(model, tmp_path, capsys) -> None:
    folder = tmp_path / "b"
    p0, p1, p2 = _photos(folder, 3)
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    (folder / "p1.edsr-x2.png").write_bytes(b"an existing output the user made")  # no marker
    code = upscale_main([str(folder), "-m", str(model), "-q"])
    err = capsys.readouterr().err
    assert code == 2  # the first failure's code; every other input was still done
    assert (folder / "p0.edsr-x2.png").is_file() and (folder / "p2.edsr-x2.png").is_file()
    # p1.edsr-x2.png carries no marker: it is the user's, an input (that does not decode) too.
    assert "2 done, 0 skipped, 3 failed (of 5 inputs)" in err
    assert err.count("  failed: ") == 3 and "already exists" in err and "broken.png" in err
    # --skip-existing: resumable; what exists is skipped, not failed.
    code = upscale_main([str(p0), str(p1), str(p2), "-m", str(model), "-o", str(folder), "--skip-existing"])
    err = capsys.readouterr().err
    assert code == 0 and "0 done, 3 skipped, 0 failed" in err


def test_checks_happen_before_the_model_loads(model, tmp_path, capsys, monkeypatch) -> None:
    """A start past the end and a read-only output folder are refused before any model loads,
    with one line and no traceback."""
    import slimvsr.engine._pipeline as pipeline

    def no_model(*a, **k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(pipeline, "load_model", no_model)
    clip = write_clip(tmp_path / "c.mp4", n=5, size=(16, 16))
    assert upscale_main([str(clip), "-m", str(model), "--start", "100"]) == 2
    assert "past the end" in capsys.readouterr().err
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        try:
            assert upscale_main([str(clip), "-m", str(model), "-o", str(ro / "x.mp4")]) != 0
            err = capsys.readouterr().err
            assert "not writable" in err and "Traceback" not in err
        finally:
            ro.chmod(0o755)


def test_truncated_input_says_so(model, tmp_path, capsys) -> None:
    """A file cut short (a copy that stopped) still upscales what can be read, and says how much
    is missing instead of finishing silently."""
    clip = write_clip(tmp_path / "full.mkv", n=40, size=(16, 16), audio=False)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])  # Matroska keeps its declared duration up front
    assert upscale_main([str(cut), "-m", str(model), "-o", str(tmp_path / "o.mkv"), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "looks truncated" in err and "of the 40 the container declares" in err
