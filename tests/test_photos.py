"""Photos keep what they carry besides pixels: orientation, transparency, grey, ICC/EXIF/XMP,
quality; with photos made by Pillow in the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms, ImageOps

from slimvsr.app.cli import main as upscale_main
from slimvsr.engine._photo import estimate_jpeg_quality, orient
from slimvsr.models import EDSR, save_pretrained
from tiny import tiny_config


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("photo-model")
    save_pretrained(EDSR(tiny_config("edsr", 0, scale=2)), root / "edsr", {"name": "edsr"})
    return root / "edsr"


def _rgb(h: int = 20, w: int = 24, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def _up(model: Path, src: Path, out: Path, *extra: str) -> Image.Image:
    assert upscale_main([str(src), "-m", str(model), "-o", str(out), "-q", "--device", "cpu", *extra]) == 0
    return Image.open(out)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied_to_the_pixels(model, tmp_path, orientation) -> None:
    """A phone photo stored landscape with Orientation=6 comes out as it is displayed (portrait),
    with the tag reset: every viewer shows it the same way."""
    raw = Image.fromarray(_rgb())
    exif = raw.getexif()
    exif[0x0112] = orientation
    raw.save(tmp_path / "phone.png", exif=exif.tobytes())
    raw.save(tmp_path / "plain.png")
    out = _up(model, tmp_path / "phone.png", tmp_path / "out.png")
    ref = _up(model, tmp_path / "plain.png", tmp_path / "ref.png")
    assert out.getexif().get(0x0112, 1) == 1
    # The same model output, oriented as Pillow's exif_transpose displays it.
    tagged = ref.copy()
    tagged.getexif()[0x0112] = orientation
    shown = np.asarray(ImageOps.exif_transpose(tagged))
    assert np.array_equal(np.asarray(out), shown) and np.array_equal(
        shown, orient(np.asarray(ref), orientation)
    )
    if orientation in (6, 8):
        assert out.size == (40, 48)  # portrait: 20 x 24 stored, displayed 24 high


def test_transparency_is_upscaled_not_dropped(model, tmp_path) -> None:
    rgba = np.dstack([_rgb(), np.zeros((20, 24), np.uint8)])
    rgba[:, 12:, 3] = 255  # the right half opaque
    Image.fromarray(rgba, "RGBA").save(tmp_path / "logo.png")
    Image.fromarray(rgba[..., :3]).save(tmp_path / "rgb.png")
    out = _up(model, tmp_path / "logo.png", tmp_path / "out.png")
    ref = _up(model, tmp_path / "rgb.png", tmp_path / "ref.png")
    assert out.mode == "RGBA" and out.size == (48, 40)
    want = Image.fromarray(rgba[..., 3]).resize((48, 40), Image.Resampling.BICUBIC)
    assert np.array_equal(np.asarray(out)[..., 3], np.asarray(want))  # alpha: bicubic
    assert np.array_equal(np.asarray(out)[..., :3], np.asarray(ref))  # colour: the model's
    # JPEG cannot hold alpha: flattened onto white, and the user is told.
    assert upscale_main([str(tmp_path / "logo.png"), "-m", str(model), "-o", str(tmp_path / "o.jpg")]) == 0
    assert Image.open(tmp_path / "o.jpg").mode == "RGB"


def test_transparency_note_for_jpeg(model, tmp_path, capsys) -> None:
    rgba = np.dstack([_rgb(), np.full((20, 24), 128, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert upscale_main([str(tmp_path / "a.png"), "-m", str(model), "-o", str(tmp_path / "a.jpg"), "-q"]) == 0
    assert "flattened onto white" in capsys.readouterr().err


def test_grey_stays_grey_and_palette_keeps_transparency(model, tmp_path) -> None:
    Image.fromarray(_rgb()[..., 0], "L").save(tmp_path / "grey.png")
    assert _up(model, tmp_path / "grey.png", tmp_path / "g.png").mode == "L"
    pal = Image.fromarray(_rgb()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.save(tmp_path / "pal.png", transparency=0)
    out = _up(model, tmp_path / "pal.png", tmp_path / "p.png")
    assert out.mode == "RGBA" and out.size == (48, 40)
    assert (np.asarray(out)[..., 3] < 255).any()


def test_jpeg_quality_follows_the_input_or_the_flag(model, tmp_path) -> None:
    Image.fromarray(_rgb(64, 64)).save(tmp_path / "q90.jpg", quality=90)
    assert estimate_jpeg_quality(_up(model, tmp_path / "q90.jpg", tmp_path / "a.jpg").quantization) == 90
    out = _up(model, tmp_path / "q90.jpg", tmp_path / "b.jpg", "--quality", "70")
    assert estimate_jpeg_quality(out.quantization) == 70
    assert upscale_main([str(tmp_path / "q90.jpg"), "-m", str(model), "--quality", "0"]) == 2


def test_icc_exif_and_xmp_are_kept_and_marked(model, tmp_path) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    im = Image.fromarray(_rgb())
    exif = im.getexif()
    exif[0x010F] = "PhoneMaker"  # Make
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>'
    im.save(tmp_path / "in.jpg", quality=95, icc_profile=icc, exif=exif.tobytes(), xmp=xmp)
    out = _up(model, tmp_path / "in.jpg", tmp_path / "out.jpg")
    assert out.info.get("icc_profile") == icc
    assert out.getexif().get(0x010F) == "PhoneMaker"
    assert out.getexif().get(0x0131, "").startswith("slimvsr")  # Software: slimvsr's own output
    assert b"xmpmeta" in (out.info.get("xmp") or b"")
    png = _up(model, tmp_path / "in.jpg", tmp_path / "out.png")
    assert png.info.get("Software", "").startswith("slimvsr") and png.info.get("icc_profile") == icc


def test_numeric_options_are_validated(model, tmp_path, capsys) -> None:
    Image.fromarray(_rgb()).save(tmp_path / "p.png")
    assert upscale_main([str(tmp_path / "p.png"), "-m", str(model), "--crf", "99"]) == 2
    assert "--crf 99: h264 and HEVC take 0-51" in capsys.readouterr().err
    assert upscale_main([str(tmp_path / "p.png"), "-m", str(model), "--codec", "av1", "--crf", "64"]) == 2
