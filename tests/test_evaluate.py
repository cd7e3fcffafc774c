from __future__ import annotations

import json

import pytest

from media import make_corpus, write_clip
from slimvsr.compression.cli import main as compress_main
from slimvsr.models import EDSR, BasicVSR, SPyNet, save_pretrained
from tiny import tiny_config


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    root = make_corpus(tmp_path_factory.mktemp("corpus"))
    (root / "manifest.json").write_text("{}")
    return root


def test_eval_image_model_json(corpus, tmp_path, capsys) -> None:
    save_pretrained(EDSR(tiny_config("edsr", 0, scale=2)), tmp_path / "e", {"name": "tiny"})
    assert (
        compress_main(
            ["eval", str(tmp_path / "e"), "--data", str(corpus), "--json", "--degradation", "BI", "BD"]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [r["degradation"] for r in rows] == ["BI", "BD"]
    for r in rows:
        assert 5 < r["psnr_y"] < 60 and 5 < r["bicubic_psnr_y"] < 60
        assert r["params"] > 0 and r["macs"] > 0


def test_metrics_record_says_what_was_scored(corpus, tmp_path) -> None:
    from slimvsr.compression.evaluate import evaluate

    image = evaluate(EDSR(tiny_config("edsr", 0, scale=2)), "e", corpus, scale=2, count=False)
    assert image.record("cmd")["data"].endswith("validation split (docs/data.md), full images")
    video = evaluate(BasicVSR(tiny_config("basicvsr", 0)), "v", corpus, scale=4, max_frames=3, count=False)
    assert video.record("cmd")["data"].endswith("first 3 frames per clip")
    assert all(v["frames"] <= 3 for v in video.per_item.values())


def test_eval_video_model_on_folder_of_videos(tmp_path, capsys) -> None:
    vids = tmp_path / "videos"
    vids.mkdir()
    write_clip(vids / "a.mp4", n=5, size=(32, 48), audio=False)
    save_pretrained(BasicVSR(tiny_config("basicvsr", 0)), tmp_path / "v", {"name": "tiny-uni"})
    assert compress_main(["eval", str(tmp_path / "v"), "--data", str(vids)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("bicubic") and lines[2].startswith("tiny-uni")
    assert compress_main(["eval", str(tmp_path / "v"), "--data", str(vids), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["per_item"]["a"]["frames"] == 5 and row["scale"] == 4


def test_eval_flow(corpus, tmp_path, capsys) -> None:
    save_pretrained(SPyNet(), tmp_path / "s")
    assert compress_main(["eval-flow", str(tmp_path / "s"), "--data", str(corpus)]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["real_pairs"] == 5 and r["epe_zero_flow"] > 0 and r["warp_error_none"] > 0


def test_eval_decodes_video_as_the_engine_does(tmp_path) -> None:
    """Evaluation reads a video through the engine's decoder: a 10-bit BT.709 clip gives the
    engine's 16-bit RGB (scaled to [0, 1]), not an 8-bit conversion with the default matrix."""
    import numpy as np

    from media import write_clip
    from slimvsr.compression.evaluate import _read_video
    from slimvsr.engine import decode_frames, probe

    src = write_clip(tmp_path / "deep.mkv", n=3, ten_bit=True, bt709=True, audio=False)
    hr = _read_video(src, None)
    ref = np.stack([a for _, a in decode_frames(probe(src))])
    assert ref.dtype == np.uint16 and hr.shape == (3, 3, *ref.shape[1:3])
    np.testing.assert_allclose(hr.permute(0, 2, 3, 1).numpy(), ref / 65535.0, atol=1e-6)


def test_temporal_ablations_are_the_network_without_its_neighbours(tmp_path, capsys) -> None:
    """per-frame: each SR frame is the step of a zero hidden state; no-flow: the hidden state is
    carried unwarped (trunk on [frame, previous state]); the model keeps its SPyNet afterwards."""
    import torch

    from slimvsr.compression.evaluate import _run_video

    torch.manual_seed(0)
    model = BasicVSR(tiny_config("basicvsr", 0)).eval()  # seed 0: unidirectional
    flow = model.spynet
    lr = torch.rand(4, 3, 16, 20)
    with torch.no_grad():
        zero = torch.zeros(1, model.config.num_feat, 16, 20)
        per_frame = _run_video(model, lr, "per-frame")
        want = torch.cat([model.step(f[None], f[None], zero)[0] for f in lr])
        torch.testing.assert_close(per_frame, want)
        no_flow = _run_video(model, lr, "no-flow")
        feat, want = zero, []
        for f in lr:
            feat = model.forward_trunk(torch.cat((f[None], feat), dim=1))
            want.append(model.upsample(feat, f[None]))
        torch.testing.assert_close(no_flow, torch.cat(want))
        full = _run_video(model, lr, "full")
    assert model.spynet is flow
    assert not torch.allclose(full[1:], no_flow[1:]) and not torch.allclose(full[1:], per_frame[1:])

    vids = tmp_path / "videos"
    vids.mkdir()
    write_clip(vids / "a.mp4", n=4, size=(32, 48), audio=False)
    save_pretrained(model, tmp_path / "v", {"name": "tiny-uni"})
    args = ["eval", str(tmp_path / "v"), "--data", str(vids), "--json"]
    assert compress_main([*args, "--temporal", "full", "per-frame", "no-flow"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["temporal"] for r in rows] == ["full", "per-frame", "no-flow"]
    save_pretrained(EDSR(tiny_config("edsr", 0, scale=2)), tmp_path / "e")
    assert compress_main(["eval", str(tmp_path / "e"), "--data", str(vids), "--temporal", "per-frame"]) != 0
    assert "image model" in capsys.readouterr().err


def test_image_model_scored_on_the_clips_frame_by_frame(corpus) -> None:
    """items="video": an image model on the validation clips, each frame on its own, described
    as clips (what a user comparing it with the video models sees); a video model has no photos."""
    from slimvsr.compression.evaluate import evaluate
    from slimvsr.errors import InputError

    edsr = EDSR(tiny_config("edsr", 0, scale=4)).eval()
    r = evaluate(edsr, "e", corpus, scale=4, max_frames=3, count=False, items="video")
    assert r.video and r.record("cmd")["data"].endswith("first 3 frames per clip")
    assert all(v["frames"] <= 3 for v in r.per_item.values())
    assert 5 < r.psnr_y < 60
    with pytest.raises(InputError, match="video model"):
        evaluate(BasicVSR(tiny_config("basicvsr", 0)), "v", corpus, scale=4, count=False, items="image")


def test_publish_fp16_storage_is_measured_as_stored(corpus, tmp_path, capsys) -> None:
    import torch
    from safetensors import safe_open

    from slimvsr.models import load_pretrained

    model = EDSR(tiny_config("edsr", 0, scale=2))
    fp32_metrics = {"val": {"psnr_y": 1.0, "ssim_y": 0.5}, "command": "vsr-compress eval ..."}
    save_pretrained(model, tmp_path / "m", {"name": "edsrmini", "scale": 2, "metrics": fp32_metrics})
    out = tmp_path / "out"
    args = ["publish", str(tmp_path / "m"), "--out", str(out), "--storage", "fp16"]
    assert compress_main(args) == 2  # rounded weights are measured again: --data is required
    assert "--data" in capsys.readouterr().err and not out.exists()
    assert compress_main([*args, "--data", str(corpus)]) == 0
    with safe_open(str(out / "model.safetensors"), framework="pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}  # noqa: SIM118
    size = (out / "model.safetensors").stat().st_size
    assert size < 0.6 * (tmp_path / "m" / "model.safetensors").stat().st_size
    stored, meta = load_pretrained(out)
    assert meta["storage"] == "fp16" and meta["stored_from"]["metrics"] == fp32_metrics
    # It loads as the fp32 network whose weights are the original's fp16 rounding, exactly ...
    for (k, a), b in zip(stored.state_dict().items(), model.state_dict().values(), strict=True):
        assert a.dtype == torch.float32 and torch.equal(a, b.half().float()), k
    # ... and the metrics it carries are what eval measures of the stored file.
    capsys.readouterr()
    assert compress_main(["eval", str(out), "--data", str(corpus), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["psnr_y"] == meta["metrics"]["val"]["psnr_y"] != 1.0
    card = (out / "README.md").read_text()
    assert "stored in fp16" in card and "scored 1.00 / 0.5000" in card


def test_publish_data_measures_again_in_place(corpus, tmp_path, capsys) -> None:
    """A model folder published onto itself with --data: the weights untouched, the metrics those of
    the corpus given (e.g. a grown validation split), the earlier ones kept."""
    from slimvsr.models import load_pretrained, sha256_file

    earlier = {"val": {"psnr_y": 1.0, "ssim_y": 0.5}, "command": "vsr-compress eval ..."}
    folder = tmp_path / "edsrmini-x2"
    meta = {"name": "edsrmini", "scale": 2, "metrics": earlier}
    save_pretrained(EDSR(tiny_config("edsr", 0, scale=2)), folder, meta)
    digest = sha256_file(folder / "model.safetensors")
    argv = ["publish", str(folder), "--out", str(folder), "--data", str(corpus)]
    assert compress_main(argv) == 0
    _, meta = load_pretrained(folder)  # sha256 still matches: the weights are the same bytes
    assert sha256_file(folder / "model.safetensors") == digest == meta["sha256"]
    assert meta["earlier_metrics"] == earlier and meta["metrics"]["val"]["psnr_y"] != 1.0
    capsys.readouterr()
    assert compress_main(["eval", str(folder), "--data", str(corpus), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["psnr_y"] == meta["metrics"]["val"]["psnr_y"]
    assert f"{row['psnr_y']:.2f}" in (folder / "README.md").read_text()
    assert compress_main([*argv[:2], "--repo-id", "o/n", "--data", str(corpus)]) == 2  # folder first


def test_blend_scores_its_ends_as_the_models_and_runs_each_once(corpus) -> None:
    """benchmarks/blend.py: weight 1 scores as model A alone and weight 0 as model B alone (the
    same evaluation), a middle weight a score of its own; each model runs once per clip in all."""
    import sys
    from pathlib import Path

    import torch

    from slimvsr.compression.evaluate import evaluate

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
    from blend import Blend

    video = BasicVSR(tiny_config("basicvsr", 0)).eval()
    image = EDSR(tiny_config("edsr", 1, scale=4)).eval()
    calls = []
    video.register_forward_hook(lambda *_: calls.append(1))
    blend = Blend(video, image)
    kw = dict(scale=4, max_frames=3, count=False, kind="video", items="video")
    scores = {}
    with torch.no_grad():
        for w in (1.0, 0.0, 0.5):
            blend.w = w
            scores[w] = evaluate(blend, "b", corpus, **kw).psnr_y
        alone_a = evaluate(video, "a", corpus, scale=4, max_frames=3, count=False)
        alone_b = evaluate(image, "i", corpus, **{**kw, "kind": "image"}).psnr_y
    assert len(calls) == 2 * len(alone_a.per_item)  # once per clip for all blends, once alone
    assert scores[1.0] == pytest.approx(alone_a.psnr_y, abs=1e-9)
    assert scores[0.0] == pytest.approx(alone_b, abs=1e-9)
    assert scores[0.5] not in (scores[0.0], scores[1.0]) and 5 < scores[0.5] < 60
