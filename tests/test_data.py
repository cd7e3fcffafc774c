from __future__ import annotations

import numpy as np
import pytest
import torch

from slimvsr.compression.data._prepare import split_scenes
from slimvsr.compression.data._synth import MotionConfig, render_clip
from slimvsr.compression.data.degrade import bd_degrade, bi_degrade, cubic, imresize, resize_matrix
from slimvsr.compression.metrics import psnr_y, rgb_to_y, ssim_y
from slimvsr.models import flow_warp


def test_cubic_kernel_values() -> None:
    # Keys (a = -0.5): 1 at 0, 0 at integers, and these hand-derived values at 1/4 steps.
    x = torch.tensor([0.0, 0.25, 0.75, 1.0, 1.25, 1.75, 2.0], dtype=torch.float64)
    expect = [1.0, 0.8671875, 0.2265625, 0.0, -0.0703125, -0.0234375, 0.0]
    assert torch.allclose(cubic(x), torch.tensor(expect, dtype=torch.float64))


def test_downscale_weights_by_hand() -> None:
    # Shrinking by 2 stretches the kernel to width 8 and scales it by 1/2: an interior output
    # pixel sits at u = 2x - 0.5 and takes 0.5*cubic(d/2) at distances d = 0.5, 1.5, 2.5, 3.5.
    row = resize_matrix(16, 8, 0.5)[3].numpy()
    w = [0.5 * v for v in (-0.0234375, -0.0703125, 0.2265625, 0.8671875)]
    assert np.allclose(row[3:11], w + w[::-1])
    assert row.sum() == pytest.approx(1.0)


def test_linear_ramp_is_reproduced() -> None:
    # Cubic convolution reproduces linear functions: away from the borders a ramp x -> x is
    # sampled exactly at u = 2i + 0.5 (0-based) when shrinking by 2.
    x = torch.arange(32, dtype=torch.float64).repeat(4, 1)
    y = imresize(x, 0.5)
    assert torch.allclose(y[0, 3:-3], torch.arange(3, 13, dtype=torch.float64) * 2 + 0.5)


def test_symmetric_border_and_constant() -> None:
    assert torch.allclose(imresize(torch.full((3, 17, 23), 0.7), 0.25), torch.tensor(0.7))
    # MATLAB's symmetric padding repeats the edge sample: on [1, 1, 2, 3, ...] padding is 1, 1, ...
    m = resize_matrix(8, 4, 0.5)
    assert (m >= -1).all() and torch.allclose(m.sum(1), torch.ones(4, dtype=torch.float64))


def test_bi_and_bd_shapes() -> None:
    hr = torch.rand(2, 3, 3, 64, 48)
    assert bi_degrade(hr, 4).shape == (2, 3, 3, 16, 12)
    assert bd_degrade(hr, 4).shape == (2, 3, 3, 16, 12)
    assert torch.allclose(bd_degrade(torch.ones(1, 1, 16, 16)), torch.ones(1, 1, 4, 4))


def test_y_channel_and_psnr() -> None:
    white = np.full((8, 8, 3), 255, np.uint8)
    assert rgb_to_y(white)[0, 0] == pytest.approx(235.0)
    assert rgb_to_y(np.zeros_like(white))[0, 0] == pytest.approx(16.0)
    a = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    b = a.copy()
    b[..., 1] = np.clip(b[..., 1].astype(int) + 2, 0, 255)
    assert psnr_y(a, a, 4) == float("inf")
    assert 35 < psnr_y(b, a, 4) < 60
    assert ssim_y(a, a, 4) == pytest.approx(1.0)
    assert ssim_y(b, a, 4) < 1.0


@pytest.mark.parametrize("seed", range(3))
def test_synthetic_flow_is_exact(seed: int) -> None:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:200, 0:240] / 12.0
    photo = np.stack(
        [np.sin(xx) * 0.5 + 0.5, np.cos(yy) * 0.5 + 0.5, np.sin(xx + yy) * 0.5 + 0.5], -1
    ).astype(np.float32)
    frames, flows = render_clip(rng, photo, 4, (64, 80), MotionConfig(foreground_p=0.0))
    x = torch.from_numpy(frames).permute(0, 3, 1, 2)
    fl = torch.from_numpy(flows[1:])
    warped = flow_warp(x[:-1], fl)
    # Only pixels whose flow lands inside the previous frame can be compared.
    gy, gx = torch.meshgrid(torch.arange(64.0), torch.arange(80.0), indexing="ij")
    tx, ty = gx + fl[:, 0], gy + fl[:, 1]
    inside = ((tx >= 0) & (tx <= 79) & (ty >= 0) & (ty <= 63)).unsqueeze(1).expand_as(warped)
    err = (warped - x[1:]).abs()[inside].mean()
    moved = (x[:-1] - x[1:]).abs().mean()
    assert float(np.abs(flows[1:]).mean()) > 0.5 or moved < 1e-3  # the camera moves (or is still)
    assert err < 0.01 and err < 0.1 * moved  # interpolation error only


def test_scene_split_at_cuts() -> None:
    a = [np.full((4, 4, 3), 10, np.uint8)] * 10
    b = [np.full((4, 4, 3), 200, np.uint8)] * 9
    c = [np.full((4, 4, 3), 90, np.uint8)] * 3
    scenes = split_scenes(a + b + c, min_len=4)
    assert [len(s) for s in scenes] == [10, 9]


def test_photo_crop_exact_side(tmp_path) -> None:
    """Image training patches are exactly ``side`` pixels even where a photo is smaller than
    side x the random reduction factor (x4 patches of 192 px from 200-256 px photos)."""
    import numpy as np
    from PIL import Image

    from slimvsr.compression.data.pools import PhotoPool

    d = tmp_path / "images" / "train"
    d.mkdir(parents=True)
    for i, (h, w) in enumerate([(200, 260), (256, 256), (240, 320)]):
        px = np.random.default_rng(i).integers(0, 255, (h, w, 3), dtype=np.uint8)
        Image.fromarray(px).save(d / f"{i}.png")
    pool = PhotoPool(tmp_path, "train")
    for step in range(40):
        rng = np.random.default_rng([0, step])
        assert pool.crop(rng, 192, max_down=1.5, exact=True).shape == (192, 192, 3)


def test_load_photo_reads_every_corpus_format(tmp_path) -> None:
    """EXIF orientation applied (a phone photo stored sideways comes out upright), SciPy's raw
    bz2 face.dat and PyWavelets' grey .npz read as RGB."""
    import bz2

    from PIL import Image

    from slimvsr.compression.data._prepare import load_photo

    a = np.zeros((20, 30, 3), np.uint8)
    a[:, :10] = 255  # white on the left
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = 6  # Orientation: rotate 90 CW to display
    im.save(tmp_path / "p.jpg", exif=exif, quality=95)
    up = load_photo(tmp_path / "p.jpg")
    assert up.shape == (30, 20, 3)
    assert up[:10].mean() > 200 and up[-10:].mean() < 50  # the white band is now on top

    face = np.random.default_rng(0).integers(0, 256, (768, 1024, 3), dtype=np.uint8)
    (tmp_path / "face.dat").write_bytes(bz2.compress(face.tobytes()))
    np.testing.assert_array_equal(load_photo(tmp_path / "face.dat"), face)

    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.savez(tmp_path / "g.npz", data=grey)
    rgb = load_photo(tmp_path / "g.npz")
    assert rgb.shape == (3, 4, 3) and (rgb[..., 1] == grey).all()


def _write_rcc(path, files: dict[str, bytes], compress: set[str]) -> None:
    """A Qt binary resource bundle (format version 3) holding ``files``, laid out as Qt's rcc
    tool does: breadth first, each directory's children in consecutive nodes."""
    import struct
    import zlib

    tree: dict = {}
    for p, data in files.items():
        node = tree
        *dirs, name = p.split("/")
        for d in dirs:
            node = node.setdefault(d, {})
        node[name] = data
    names, payload = bytearray(), bytearray()
    nodes: list[bytes | None] = [None]

    def name_off(n: str) -> int:
        off = len(names)
        names.extend(struct.pack(">HI", len(n), 0) + n.encode("utf-16-be"))
        return off

    queue = [(0, "", "", tree)]
    while queue:
        idx, name, prefix, d = queue.pop(0)
        kids = sorted(d.items())
        first = len(nodes)
        nodes.extend([None] * len(kids))
        nodes[idx] = struct.pack(">IHIIQ", name_off(name) if idx else 0, 2, len(kids), first, 0)
        for k, (n, v) in enumerate(kids):
            full = f"{prefix}/{n}".lstrip("/")
            if isinstance(v, dict):
                queue.append((first + k, n, full, v))
                continue
            packed = full in compress
            blob = struct.pack(">I", len(v)) + zlib.compress(v) if packed else v
            off = len(payload)
            payload.extend(struct.pack(">I", len(blob)) + blob)
            nodes[first + k] = struct.pack(">IHHHIQ", name_off(n), 1 if packed else 0, 0, 0, off, 0)
    tree_bytes = b"".join(nodes)
    t, d = 24, 24 + len(tree_bytes)
    head = b"qres" + struct.pack(">IIIII", 3, t, d, d + len(payload), 0)
    path.write_bytes(head + tree_bytes + bytes(payload) + bytes(names))


def test_rcc_reader_extracts_files_from_a_qt_resource_bundle(tmp_path) -> None:
    from slimvsr.compression.data.rcc import Rcc, RccError

    files = {"a/res/photo.webp": bytes(range(256)) * 4, "a/res/README": b"Licence: CC0", "top.txt": b"x"}
    _write_rcc(tmp_path / "b.rcc", files, compress={"a/res/photo.webp"})
    r = Rcc.open(tmp_path / "b.rcc")
    assert sorted(p for p, _ in r.files()) == sorted(files)
    r.extract("a/res/photo.webp", tmp_path / "out" / "photo.webp")
    assert (tmp_path / "out" / "photo.webp").read_bytes() == files["a/res/photo.webp"]
    assert r.read(dict(r.files())["a/res/README"]) == b"Licence: CC0"
    with pytest.raises(RccError):
        Rcc(b"nope")
