"""Video metadata a user's files carry survives the upscale: container and stream tags, default
and forced flags, chapters (cut to the range), attachments; 10-bit input gets a codec that plays."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from media import write_clip
from slimvsr.app.cli import main as upscale_main
from slimvsr.engine import Job, UpscaleOptions
from slimvsr.models import EDSR, save_pretrained
from tiny import tiny_config


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("meta-model")
    save_pretrained(EDSR(tiny_config("edsr", 0, scale=2)), root / "edsr", {"name": "edsr"})
    return root / "edsr"


def _film(path: Path, n: int = 20) -> Path:
    """An MKV as mkvmerge users have them: a title, tagged video and audio (French, default and
    forced), chapters and a font attachment."""
    with av.open(str(path), "w") as o:
        o.metadata["title"] = "My Film"
        v = o.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 32, 24, "yuv420p"
        v.metadata.update({"language": "eng", "title": "Main video", "_STATISTICS_TAGS": "BPS"})
        a = o.add_stream("aac", rate=48000)
        a.metadata.update({"language": "fra", "title": "Français"})
        a.disposition = av.stream.Disposition.default | av.stream.Disposition.forced
        o.add_attachment("font.ttf", "application/x-truetype-font", b"\x00\x01fontdata")
        tb = Fraction(1, 10)
        o.set_chapters(
            [
                {"id": 1, "start": 0, "end": 10, "time_base": tb, "metadata": {"title": "Intro"}},
                {"id": 2, "start": 10, "end": 20, "time_base": tb, "metadata": {"title": "End"}},
            ]
        )
        rng = np.random.default_rng(0)
        for i in range(n):
            f = av.VideoFrame.from_ndarray((rng.random((24, 32, 3)) * 255).astype(np.uint8), format="rgb24")
            f.pts = i
            o.mux(v.encode(f))
        o.mux(v.encode(None))
        for i in range(n * 4):
            fr = av.AudioFrame.from_ndarray(np.zeros((1, 1200), np.float32), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = 48000, i * 1200
            o.mux(a.encode(fr))
        o.mux(a.encode(None))
    return path


def test_mkv_tags_dispositions_chapters_and_attachments_are_kept(model, tmp_path) -> None:
    src = _film(tmp_path / "film.mkv")
    out = tmp_path / "out.mkv"
    list(Job(src, out, UpscaleOptions(model=str(model), precision="fp32", device="cpu")).run())
    with av.open(str(src)) as a, av.open(str(out)) as b:
        tags = {k.lower(): v for k, v in b.metadata.items()}  # Matroska upper-cases COMMENT
        assert tags["title"] == "My Film" and tags["comment"].startswith("slimvsr")
        va, vb = a.streams.video[0], b.streams.video[0]
        assert vb.metadata["language"] == "eng" and vb.metadata["title"] == "Main video"
        assert "_STATISTICS_TAGS" not in vb.metadata  # describes the old encode
        ab = b.streams.audio[0]
        assert ab.metadata["language"] == "fra" and ab.metadata["title"] == "Français"
        assert (
            ab.disposition == a.streams.audio[0].disposition and ab.disposition & av.stream.Disposition.forced
        )
        assert [c["metadata"]["title"] for c in b.chapters()] == ["Intro", "End"]
        assert [round(float(c["start"] * c["time_base"]), 2) for c in b.chapters()] == [0.0, 1.0]
        att = list(b.streams.attachments)
        assert [x.name for x in att] == ["font.ttf"] and bytes(att[0].data) == b"\x00\x01fontdata"
        assert (vb.width, vb.height) == (2 * va.width, 2 * va.height)


def test_a_cut_keeps_the_chapters_in_range_and_mp4_says_what_it_drops(model, tmp_path, capsys) -> None:
    src = _film(tmp_path / "film.mkv")
    out = tmp_path / "cut.mkv"
    list(Job(src, out, UpscaleOptions(model=str(model), device="cpu", start=1.2, duration=0.5)).run())
    with av.open(str(out)) as b:
        chapters = b.chapters()
    assert [c["metadata"]["title"] for c in chapters] == ["End"] and chapters[0]["start"] == 0
    code = upscale_main([str(src), "-m", str(model), "-o", str(tmp_path / "f.mp4"), "--device", "cpu"])
    err = capsys.readouterr().err
    # MP4 cannot hold attachments: written without, and the user is told which.
    assert code == 0 and "attachment font.ttf" in err and "write .mkv" in err


def test_ten_bit_input_gets_hevc_main10_by_default(model, tmp_path) -> None:
    src = write_clip(tmp_path / "10bit.mkv", n=3, ten_bit=True, audio=False)
    out = tmp_path / "o.mkv"
    assert upscale_main([str(src), "-m", str(model), "-o", str(out), "--device", "cpu", "-q"]) == 0
    with av.open(str(out)) as c:
        vs = c.streams.video[0]
        assert vs.codec_context.name == "hevc" and vs.codec_context.pix_fmt == "yuv420p10le"
    src8 = write_clip(tmp_path / "8bit.mp4", n=3, audio=False)
    assert upscale_main([str(src8), "-m", str(model), "-o", str(tmp_path / "o8.mp4"), "-q"]) == 0
    with av.open(str(tmp_path / "o8.mp4")) as c:
        assert c.streams.video[0].codec_context.name == "h264"


def _hdr_clip(path: Path) -> Path:
    """A PQ HEVC clip with HDR10 mastering-display and light-level SEI, as x265 writes them."""
    md = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"
    with av.open(str(path), "w") as o:
        v = o.add_stream("libx265", rate=10)
        v.width, v.height, v.pix_fmt = 32, 24, "yuv420p10le"
        cc = v.codec_context
        cc.color_primaries, cc.color_trc, cc.colorspace = 9, 16, 9  # BT.2020, PQ
        cc.options = {
            "x265-params": f"log-level=error:hdr10=1:repeat-headers=1:master-display={md}:max-cll=1000,400"
        }
        rng = np.random.default_rng(0)
        for i in range(3):
            f = av.VideoFrame.from_ndarray((rng.random((24, 32, 3)) * 255).astype(np.uint8), format="rgb24")
            f = f.reformat(format="yuv420p10le")
            f.pts = i
            o.mux(v.encode(f))
        o.mux(v.encode(None))
    return path


def test_hdr10_mastering_display_and_light_levels_are_carried(model, tmp_path) -> None:
    from slimvsr.engine import probe

    src = _hdr_clip(tmp_path / "hdr.mkv")
    hdr = probe(src).hdr
    assert hdr is not None and (hdr.max_cll, hdr.max_fall) == (1000, 400)
    assert hdr.luminance == (0.0001, 1000.0) and hdr.primaries[1] == (0.265, 0.69)  # G
    out = tmp_path / "out.mkv"
    assert upscale_main([str(src), "-m", str(model), "-o", str(out), "--device", "cpu", "-q"]) == 0
    got = probe(out)
    assert got.hdr == hdr and got.color.trc == 16 and got.color.primaries == 9
