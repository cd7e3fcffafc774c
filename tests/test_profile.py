"""Model sizes against the papers (SSL Table 1; prune-then-distil Table I), within 6%."""

from __future__ import annotations

import json

import pytest

from slimvsr.compression.cli import main as compress_main
from slimvsr.models import named_config, profile_model

# name, LR input (H, W), scale, paper params, paper "FLOPs" (= multiply-accumulates)
PAPER = [
    ("basicvsr", (180, 320), 4, 4.9e6, 338.5e9),
    ("basicvsr-uni", (180, 320), 4, 2.6e6, 218.1e9),
    ("spynet", (180, 320), None, 1.4e6, 19.6e9),
    ("edsr-baseline", (360, 640), 2, 1.37e6, 316.3e9),
    ("edsrmini", (360, 640), 2, 49.6e3, 11.7e9),
    ("swinir-lw", (360, 640), 2, 0.878e6, 195.6e9),
    ("swinirmini", (360, 640), 2, 98.8e3, 22.0e9),
]


def _profile_cli(name: str, size: tuple[int, int], scale: int | None, capsys) -> dict:
    argv = ["profile", name, "--input-size", f"{size[0]}x{size[1]}", "--json"]
    if scale:
        argv += ["--scale", str(scale)]
    assert compress_main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(("name", "size", "scale", "params", "macs"), PAPER)
def test_sizes_match_papers(name, size, scale, params, macs, capsys) -> None:
    out = _profile_cli(name, size, scale, capsys)
    assert abs(out["params"] - params) / params <= 0.06, out
    if name == "swinirmini":
        # docs/model-sizes.md: the paper's 22.0G is SwinIR-LW's 195.6G scaled by the parameter
        # ratio (98.8K / 878K), which no layer-by-layer count of this architecture gives; our
        # count (18.3G weight MACs + 8.5G attention) is checked against its closed form instead.
        assert abs(22.0e9 - 195.6e9 * 98.8e3 / 878e3) / 22.0e9 < 0.001
        dim, depth, hw = 24, 12, 360 * 640
        per_px = depth * (3 * dim * dim + dim * dim + 2 * 2 * dim * dim)  # qkv, proj, mlp
        per_px += 4 * 9 * dim * dim + 9 * 3 * dim + 9 * dim * 12  # 3 RSTB + after-body, first, up
        assert out["macs"] == per_px * hw
        assert out["attn_macs"] == depth * 2 * 64 * dim * hw
        return
    assert abs(out["macs"] - macs) / macs <= 0.06, out


def test_include_flow_adds_spynet_per_frame() -> None:
    uni = named_config("basicvsr-uni").build()
    bi = named_config("basicvsr").build()
    flow = profile_model(named_config("spynet").build(), (180, 320)).macs
    assert (
        profile_model(uni, (180, 320), include_flow=True).macs == profile_model(uni, (180, 320)).macs + flow
    )
    assert (
        profile_model(bi, (180, 320), include_flow=True).macs == profile_model(bi, (180, 320)).macs + 2 * flow
    )


def test_lite_models_match_pruned_flops() -> None:
    # basicvsr-lite (width 32) has the FLOPs of the 0.5-ratio pruned BasicVSR (paper: 85.5G).
    lite = profile_model(named_config("basicvsr-lite").build(), (180, 320))
    assert abs(lite.macs - 85.5e9) / 85.5e9 < 0.01
