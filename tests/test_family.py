"""A new model family is one registration: a toy family registered here (and only here) runs
through describe, profile, save/load, the engine (vsr-upscale -m FOLDER) and vsr-compress size."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from slimvsr.app.cli import main as upscale_main
from slimvsr.compression.cli import main as compress_main
from slimvsr.models import (
    CompressionHooks,
    NamedConfig,
    describe,
    image_family,
    load_model,
    profile_model,
    register_family,
    save_pretrained,
    unregister_family,
)


@dataclass(frozen=True)
class ToyConfig:
    num_feat: int = 8
    num_layer: int = 1
    num_block: int = 2
    scale: int = 2


class Toy(nn.Module):
    """conv -> num_block x (num_layer x conv+ReLU) -> conv -> pixel shuffle, plus bilinear."""

    def __init__(self, config: ToyConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or ToyConfig()
        self.head = nn.Conv2d(3, c.num_feat, 3, padding=1)
        self.body = nn.Sequential(
            *(nn.Conv2d(c.num_feat, c.num_feat, 3, padding=1) for _ in range(c.num_block * c.num_layer))
        )
        self.tail = nn.Conv2d(c.num_feat, 3 * c.scale**2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(x)
        for conv in self.body:
            y = F.relu(conv(y))
        base = F.interpolate(x, scale_factor=self.config.scale, mode="bilinear", align_corners=False)
        return F.pixel_shuffle(self.tail(y), self.config.scale) + base


TOY = image_family(
    name="toy",
    model_cls=Toy,
    config_cls=ToyConfig,
    scales=(2, 4),
    bytes_per_pixel=2048,
    compression=CompressionHooks(
        pipeline="distill",
        teacher_recipe=lambda cfg: "toy-net",
        default_student=lambda cfg: "toymini",
        compact_sizes=lambda cfg: (cfg.num_feat, cfg.num_layer, cfg.num_block),
        with_compact_sizes=lambda cfg, nc, nl, nb: dataclasses.replace(
            cfg, num_feat=nc, num_layer=nl, num_block=nb
        ),
    ),
)


@pytest.fixture
def toy():
    register_family(
        TOY, NamedConfig("toy-net", "toy", lambda s: ToyConfig(num_feat=32, num_block=4, scale=s), "toy", 2)
    )
    yield TOY
    unregister_family("toy")


def test_toy_family_runs_everywhere(toy, tmp_path, capsys) -> None:
    model = Toy(ToyConfig()).eval()
    desc = describe(model, "toy")
    assert (desc.kind, desc.scale, desc.recurrent, desc.bytes_per_pixel) == ("image", 2, False, 2048)

    prof = profile_model(model, (10, 12))
    # head 3->8, two body convs 8->8, tail 8->12, all 3x3, per LR pixel
    assert prof.macs == 10 * 12 * 9 * (3 * 8 + 2 * 8 * 8 + 8 * 12)
    assert prof.params == sum(p.numel() for p in model.parameters())

    folder = tmp_path / "toy-x2"
    meta = save_pretrained(model, folder, {"name": "toy", "scale": 2})
    assert meta["architecture"] == "toy" and meta["macs_input_size"] == [360, 640]
    loaded = load_model(folder)
    assert loaded.family is TOY

    photo = tmp_path / "p.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "p-x2.png"
    assert upscale_main([str(photo), "-m", str(folder), "-o", str(out), "-q", "--precision", "fp32"]) == 0
    with Image.open(out) as im:
        assert im.size == (48, 40)
        got = np.asarray(im.convert("RGB"))
    x = torch.from_numpy(np.asarray(Image.open(photo).convert("RGB"))).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        want = (model(x)[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    assert np.abs(got.astype(int) - want).max() <= 1

    capsys.readouterr()
    assert compress_main(["size", "--model", "toy-net", "--density", "0.1", "--json"]) == 0
    size = json.loads(capsys.readouterr().out)
    assert size["rounding"] == "round" and size["num_feat"] < 32 and size["params"] > 0


def test_registering_twice_is_refused(toy) -> None:
    from slimvsr.errors import ModelError

    with pytest.raises(ModelError, match="already registered"):
        register_family(TOY)
