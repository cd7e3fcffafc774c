from __future__ import annotations

import hashlib
import json

import pytest
import torch

from slimvsr.errors import WeightsError
from slimvsr.models import (
    EDSR,
    NAMED_CONFIGS,
    BasicVSR,
    BasicVSRConfig,
    SwinIR,
    SwinIRConfig,
    build_model,
    config_from_dict,
    config_to_dict,
    family_of,
    flow_warp,
    load_pretrained,
    profile_model,
    read_config,
    save_pretrained,
)
from tiny import ARCH_NAMES, pruned_basicvsr_config, tiny_config


def _input(model: torch.nn.Module, h: int = 13, w: int = 17) -> tuple[torch.Tensor, ...]:
    """Random real inputs of the shapes the family's profiling input has."""
    fam = family_of(model)
    return tuple(torch.rand((*t.shape[:-2], h, w)) for t in fam.example_input(model.config, h, w))


@pytest.mark.parametrize("arch", ARCH_NAMES)
@pytest.mark.parametrize("seed", [0, 1])
def test_forward_shape(arch: str, seed: int) -> None:
    model = build_model(arch, tiny_config(arch, seed)).eval()
    x = _input(model)
    with torch.no_grad():
        y = model(*x)
    if arch == "spynet":
        assert y.shape == (1, 2, 13, 17)
    elif arch == "basicvsr":
        assert y.shape == (1, 2, 3, 52, 68)
    else:
        assert y.shape == (1, 3, 26, 34)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("arch", ARCH_NAMES)
def test_save_load_roundtrip(arch: str, tmp_path) -> None:
    model = build_model(arch, tiny_config(arch, 1)).eval()
    cfg = save_pretrained(model, tmp_path / "m", {"name": f"tiny-{arch}"})
    loaded, meta = load_pretrained(tmp_path / "m")
    assert meta["sha256"] == cfg["sha256"]
    assert type(loaded) is type(model)
    x = _input(model)
    with torch.no_grad():
        assert torch.equal(model(*x), loaded(*x))


@pytest.mark.parametrize("bidirectional", [True, False])
def test_pruned_basicvsr_roundtrip(bidirectional: bool, tmp_path) -> None:
    cfg = pruned_basicvsr_config(3, bidirectional)
    model = BasicVSR(cfg).eval()
    save_pretrained(model, tmp_path / "p")
    # The folder alone rebuilds the pruned network: widths and kept indices come from config.json.
    saved = json.loads((tmp_path / "p" / "config.json").read_text())
    assert saved["config"]["forward_blocks"][0]["in_idx"] == list(cfg.forward_blocks[0].in_idx)
    loaded, _ = load_pretrained(tmp_path / "p")
    assert loaded.config == cfg
    x = torch.rand(1, 4, 3, 12, 10)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_config_dict_roundtrip() -> None:
    cfg = pruned_basicvsr_config(5)
    assert config_from_dict(type(cfg), json.loads(json.dumps(config_to_dict(cfg)))) == cfg


def test_unknown_config_key_refused() -> None:
    with pytest.raises(ValueError, match="unknown config keys"):
        config_from_dict(type(tiny_config("edsr")), {"num_feat": 4, "bogus": 1})


def test_tampered_and_truncated_weights_refused(tmp_path) -> None:
    model = build_model("edsr", tiny_config("edsr"))
    save_pretrained(model, tmp_path / "m")
    w = tmp_path / "m" / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256 does not match"):
        load_pretrained(tmp_path / "m")
    w.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(WeightsError, match="sha256 does not match"):
        load_pretrained(tmp_path / "m")
    # Without the checksum guard, the truncated file is still refused by the safe loader.
    with pytest.raises(WeightsError, match="unreadable safetensors"):
        load_pretrained(tmp_path / "m", verify=False)


def test_weights_that_do_not_fit_config_refused(tmp_path) -> None:
    model = build_model("edsr", tiny_config("edsr"))
    save_pretrained(model, tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["config"]["num_feat"] += 4
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(WeightsError, match="do not fit the config"):
        load_pretrained(tmp_path / "m")


def test_flow_warp_integer_shift_is_exact() -> None:
    x = torch.rand(1, 3, 8, 9)
    flow = torch.zeros(1, 2, 8, 9)
    flow[:, 0] = 2.0  # sample 2 px to the right
    y = flow_warp(x, flow)
    assert torch.allclose(y[..., :, :-2], x[..., :, 2:], atol=1e-6)
    assert torch.equal(y[..., :, -2:], torch.zeros_like(y[..., :, -2:]))  # zero padding outside


def test_flow_warp_bf16_keeps_subpixel_accuracy() -> None:
    # Coordinates are computed in float32 even for bf16 features (bf16 cannot represent 300.5).
    x = torch.arange(320, dtype=torch.float32).view(1, 1, 1, 320).repeat(1, 1, 4, 1)
    flow = torch.full((1, 2, 4, 320), 0.5)
    flow[:, 1] = 0
    y = flow_warp(x.bfloat16(), flow.bfloat16()).float()
    assert (y[..., :-1] - (x[..., :-1] + 0.5)).abs().max() <= 2.0  # bf16 value rounding only


def test_spynet_skipping_its_finest_level_is_the_coarser_network_at_half_size() -> None:
    """skip_finest=1 runs the first five basic modules of the six-level pyramid: the flow of a
    five-level SPyNet on the 2x2-pooled frames, upsampled to full size and doubled (pixels of the
    finer grid). The full network's weights load without the unused last module."""
    import dataclasses

    import torch.nn.functional as F

    from slimvsr.models import SPyNet, SPyNetConfig

    torch.manual_seed(0)
    full = SPyNet()
    cheap = SPyNet(dataclasses.replace(full.config, skip_finest=1))
    state = {k: v for k, v in full.state_dict().items() if not k.startswith("basic_module.5.")}
    cheap.load_state_dict(state)
    five = SPyNet(SPyNetConfig(levels=5))
    five.load_state_dict(state)
    ref, supp = torch.rand(2, 3, 64, 96), torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        half = five(F.avg_pool2d(ref, 2), F.avg_pool2d(supp, 2))
        want = F.interpolate(half, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
        torch.testing.assert_close(cheap(ref, supp), want, atol=1e-4, rtol=1e-4)
    # The finest level is about 3/4 of the network: the cheap one costs about a quarter.
    assert profile_model(cheap, (64, 96)).macs < 0.26 * profile_model(full, (64, 96)).macs
    with pytest.raises(ValueError, match="skip_finest"):
        SPyNetConfig(skip_finest=6)


@pytest.mark.parametrize("name", sorted(NAMED_CONFIGS))
def test_named_configs_build(name: str) -> None:
    with torch.device("meta"):
        m = NAMED_CONFIGS[name].build()
    assert sum(p.numel() for p in m.parameters()) > 0


def test_basicvsr_uni_chunked_equals_whole_sequence() -> None:
    # The causal model carries (last frame, hidden state) across chunks: identical maths, so the
    # only differences are float reassociation in batched SPyNet calls (tolerance 1e-5).
    model = BasicVSR(tiny_config("basicvsr", 0)).eval()
    assert not model.config.bidirectional
    x = torch.rand(1, 7, 3, 16, 20)
    with torch.no_grad():
        whole = model(x)
        a, st = model.forward_chunk(x[:, :3], None)
        b, st = model.forward_chunk(x[:, 3:4], st)
        c, _ = model.forward_chunk(x[:, 4:], st)
    assert torch.allclose(torch.cat([a, b, c], 1), whole, atol=1e-5)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_step_graphs_replay_the_whole_sequence(bidirectional: bool) -> None:
    """The one-frame step functions (what graph runtimes compile) driven by a plain loop give the
    frames of whole-sequence inference: uni h_t = step(x_t-1, x_t, h_t-1); bi: the backward branch
    from the last frame down, then the forward one fusing h_B,t. A first frame is its own neighbour
    with a zero state (warping zeros gives zeros)."""
    torch.manual_seed(0)
    cfg = BasicVSRConfig(num_feat=8, num_block=2, bidirectional=bidirectional)
    m = BasicVSR(cfg).eval()
    x = torch.rand(1, 5, 3, 16, 20)
    frames = list(x.unbind(1))
    zero = x.new_zeros(1, 8, 16, 20)
    with torch.no_grad():
        whole = m(x)
        outs = []
        if bidirectional:
            back, h = [zero] * 5, zero
            for t in range(4, -1, -1):
                h = back[t] = m.backward_step(frames[min(t + 1, 4)], frames[t], h)
            h = zero
            for t in range(5):
                y, h = m.forward_step(frames[max(t - 1, 0)], frames[t], h, back[t])
                outs.append(y)
        else:
            h = zero
            for t in range(5):
                y, h = m.step(frames[max(t - 1, 0)], frames[t], h)
                outs.append(y)
    assert torch.allclose(torch.stack(outs, 1), whole, atol=1e-5)


def test_bidirectional_hidden_states_for_temporal_finetuning() -> None:
    """``return_hidden`` gives (H_F,T, H_B,0). The backward branch is the forward branch run on the
    reversed clip, so a network whose forward trunk is another's backward trunk must return, on the
    reversed clip, that network's H_B,0 as its H_F,T."""
    torch.manual_seed(0)
    cfg = BasicVSRConfig(num_feat=8, num_block=2, bidirectional=True)
    m, mirrored = BasicVSR(cfg).eval(), BasicVSR(cfg).eval()
    state = m.state_dict()
    for k in list(state):
        if k.startswith("backward_trunk."):
            state[k.replace("backward_trunk.", "forward_trunk.")] = state[k]
    mirrored.load_state_dict(state)
    lrs = torch.rand(1, 4, 3, 16, 16)
    with torch.no_grad():
        _, (h_f, h_b0) = m(lrs, return_hidden=True)
        _, (h_f_rev, _) = mirrored(lrs.flip(1), return_hidden=True)
    assert h_f.shape == h_b0.shape == (1, 8, 16, 16)
    torch.testing.assert_close(h_f_rev, h_b0, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(h_f, h_b0)


@pytest.mark.parametrize("bi", [True, False])
def test_hidden_states_skip_the_upsampler_and_match_forward(bi: bool) -> None:
    """The Temporal Finetuning teacher's shortcut: the same hidden states, bit for bit."""
    torch.manual_seed(0)
    m = BasicVSR(BasicVSRConfig(num_feat=8, num_block=2, bidirectional=bi)).eval()
    lrs = torch.rand(1, 4, 3, 16, 16)
    calls = []
    m.upconv1.register_forward_hook(lambda *a: calls.append(1))
    with torch.no_grad():
        _, want = m(lrs, return_hidden=True)
        n = len(calls)
        got = m.hidden_states(lrs)
    assert n == 4 and len(calls) == n  # forward upsampled every frame; hidden_states none
    assert torch.equal(got[0], want[0])
    assert (got[1] is None and want[1] is None) if not bi else torch.equal(got[1], want[1])


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_channels_last_pixel_shuffle_is_exact(dtype) -> None:
    from slimvsr.models._basicvsr import pixel_shuffle

    x = torch.randn(2, 32, 5, 7, dtype=dtype).contiguous(memory_format=torch.channels_last)
    y = pixel_shuffle(x, 2)
    assert torch.equal(y, torch.nn.functional.pixel_shuffle(x, 2))
    assert y.is_contiguous(memory_format=torch.channels_last)
    xc = x.contiguous()
    assert torch.equal(pixel_shuffle(xc, 2), torch.nn.functional.pixel_shuffle(xc, 2))


def test_pruned_block_channels_last_path_equals_indexing() -> None:
    """RSC's gather/scatter as 0/1 1x1 convs (channels-last) == index_select/index_add (NCHW)."""
    from slimvsr.models._basicvsr import ResBlockSpec, ResidualBlock

    torch.manual_seed(0)
    blk = ResidualBlock(16, ResBlockSpec((0, 3, 4, 9, 15), 6, (1, 2, 3, 8, 10, 14))).eval()
    x = torch.randn(2, 16, 9, 11)
    with torch.no_grad():
        ref = blk(x)
        cl = blk.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(ref, cl, atol=1e-6)
    untouched = [c for c in range(16) if c not in (1, 2, 3, 8, 10, 14)]
    assert torch.equal(cl[:, untouched], x[:, untouched])  # RSC adds onto the kept channels only


@pytest.mark.parametrize("channels_last", [False, True])
def test_trunk_adds_in_place_only_without_autograd_and_gives_the_same_maps(channels_last: bool) -> None:
    """Inference adds each block's residual into the trunk's own maps: the same values as the
    out-of-place sums autograd needs, and the caller's input is never written."""
    torch.manual_seed(0)
    m = BasicVSR(pruned_basicvsr_config(3, bidirectional=False))
    trunk = m.forward_trunk
    x = torch.randn(1, 8 + 3, 9, 11)
    if channels_last:
        trunk = trunk.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    before = x.clone()
    want = trunk(x)  # grad enabled: out-of-place
    want.sum().backward()  # the autograd path still works
    with torch.no_grad():
        got = trunk(x)
    assert torch.allclose(got, want.detach(), atol=1e-6)
    assert torch.equal(x, before)


def test_upsampler_tiles_are_exact_at_the_receptive_field_margin(monkeypatch) -> None:
    """The tiled upsampler equals the whole frame's when each tile carries UPSAMPLER_MARGIN = 2 LR
    pixels of context (the receptive field worked out in _basicvsr.py), and not with one fewer."""
    from slimvsr.models import _basicvsr

    torch.manual_seed(0)
    m = BasicVSR(pruned_basicvsr_config(1, bidirectional=False)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.3)  # weights large enough that every border pixel shows
    feat, lr = torch.randn(1, 8, 13, 17), torch.rand(1, 3, 13, 17)
    with torch.no_grad():
        whole = m.upsample(feat, lr)
        for tile in (3, 5, 8):
            with m.tiled_upsampling(tile):
                assert torch.allclose(m.upsample(feat, lr), whole, atol=1e-5), tile
        monkeypatch.setattr(_basicvsr, "UPSAMPLER_MARGIN", 1)
        with m.tiled_upsampling(5):
            assert (m.upsample(feat, lr) - whole).abs().max() > 1e-2


def test_shifted_window_attention_equals_brute_force() -> None:
    """A shifted Swin layer is global attention over the rolled map, restricted to pairs in the same
    window and the same shift region, plus the relative-position bias of the pair (Swin, Sec. 3.2).
    Brute force over all token pairs must match the windowed implementation with its cached mask."""
    from slimvsr.models._swinir import SwinLayer

    torch.manual_seed(0)
    h = w = 8
    ws, s, dim, heads = 4, 2, 6, 2
    layer = SwinLayer(dim, heads, ws, s, 2.0).eval()
    with torch.no_grad():
        layer.attn.relative_position_bias_table.normal_()
    x = torch.randn(1, h * w, dim)
    with torch.inference_mode():  # the cached mask made here must serve training below too
        layer(x, (h, w))
    got = layer(x, (h, w))
    got.sum().backward()  # the cached shift mask must not be an inference tensor
    with torch.no_grad():  # a batch adds bias and mask summed once; one image adds them in turn
        pair = layer(torch.cat([x, x]), (h, w))
    torch.testing.assert_close(pair, torch.cat([got, got]).detach(), atol=1e-6, rtol=1e-6)
    # Without gradients an fp32 layer runs torch's fused attention (one image, a batch, no shift):
    # the numbers of the explicit form that training runs.
    plain = SwinLayer(dim, heads, ws, 0, 2.0).eval()
    for lay, xs in ((layer, x), (plain, x), (plain, torch.cat([x, -x]))):
        explicit = lay(xs, (h, w)).detach()
        with torch.no_grad():
            torch.testing.assert_close(lay(xs, (h, w)), explicit, atol=1e-6, rtol=1e-6)

    with torch.no_grad():
        a = layer.attn
        t = torch.roll(layer.norm1(x).view(h, w, dim), (-s, -s), (0, 1)).reshape(h * w, dim)
        q, k, v = a.qkv(t).view(h * w, 3, heads, dim // heads).permute(1, 2, 0, 3)
        ii, jj = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        ii, jj = ii.flatten(), jj.flatten()

        def region(p: torch.Tensor, n: int) -> torch.Tensor:
            return (p >= n - ws).long() + (p >= n - s).long()

        same = (
            (ii[:, None] // ws == ii[None] // ws)
            & (jj[:, None] // ws == jj[None] // ws)
            & (region(ii, h)[:, None] == region(ii, h)[None])
            & (region(jj, w)[:, None] == region(jj, w)[None])
        )
        di = (ii % ws)[:, None] - (ii % ws)[None] + ws - 1
        dj = (jj % ws)[:, None] - (jj % ws)[None] + ws - 1
        bias = a.relative_position_bias_table[di * (2 * ws - 1) + dj].permute(2, 0, 1)
        logits = (q * a.scale) @ k.transpose(1, 2) + bias
        out = (logits.masked_fill(~same, float("-inf")).softmax(-1) @ v).permute(1, 0, 2).reshape(h * w, dim)
        out = torch.roll(a.proj(out).view(h, w, dim), (s, s), (0, 1)).reshape(1, h * w, dim)
        y = x + out
        want = y + layer.mlp(layer.norm2(y))
    torch.testing.assert_close(got.detach(), want, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("shift", [0, 2])
def test_window_gather_is_roll_then_partition_and_back(shift: int) -> None:
    """The one-gather window order equals a cyclic shift followed by the window partition, forward
    and backward, bit for bit, and its inverse undoes it (the gradient of a permutation is the
    inverse permutation)."""
    from slimvsr.models._swinir import _Permute, _window_order, _window_partition

    def window_reverse(win: torch.Tensor) -> torch.Tensor:  # windows back to the (b, h, w, c) map
        x = win.view(b, h // ws, w // ws, ws, ws, c)
        return x.permute(0, 1, 3, 2, 4, 5).reshape(b, h, w, c)

    torch.manual_seed(0)
    b, h, w, c, ws = 2, 8, 12, 5, 4
    x = torch.randn(b, h * w, c, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    order, inverse = _window_order(h, w, ws, shift, x.device)
    got = _Permute.apply(x, order, inverse).view(-1, ws * ws, c)
    want = _window_partition(torch.roll(x_ref.view(b, h, w, c), (-shift, -shift), (1, 2)), ws)
    assert torch.equal(got, want)
    upstream = torch.randn_like(got)
    got.backward(upstream)
    want.backward(upstream)
    assert torch.equal(x.grad, x_ref.grad)
    back = _Permute.apply(got.detach().reshape(b, h * w, c), inverse, order)
    assert torch.equal(back, x.detach())
    rev = torch.roll(window_reverse(want.detach()), (shift, shift), (1, 2))
    assert torch.equal(back, rev.reshape(b, h * w, c))


def test_swinir_follows_the_reference_initialisation() -> None:
    """Linear weights N(0, 0.02), zero linear biases, unit LayerNorms; convolutions keep PyTorch's."""
    torch.manual_seed(0)
    m = SwinIR(SwinIRConfig()).requires_grad_(False)
    lin = torch.cat([x.weight.flatten() for x in m.modules() if isinstance(x, torch.nn.Linear)])
    assert float(lin.std()) == pytest.approx(0.02, rel=0.02) and abs(float(lin.mean())) < 1e-3
    for x in m.modules():
        if isinstance(x, torch.nn.Linear):
            assert x.bias is None or not x.bias.any()
        if isinstance(x, torch.nn.LayerNorm):
            assert bool((x.weight == 1).all()) and not x.bias.any()
    # conv_after_body: 60 x 9 fan-in, PyTorch's U(+-1/sqrt(540)), std 1/sqrt(3 x 540)
    assert float(m.conv_after_body.weight.std()) == pytest.approx((3 * 540) ** -0.5, rel=0.05)


def test_edsr_direct_upsampler_is_one_conv_and_one_shuffle(tmp_path) -> None:
    """EDSRConfig.upsampler="direct": the deep features go through one conv to 3*s^2 channels at
    LR and one pixel shuffle (ESPCN's / SPAN's upsampler), with no conv at the output size; the
    config round-trips through a model folder, and older configs (no field) stay EDSR's."""
    import torch.nn.functional as F

    from slimvsr.models import EDSRConfig, build_model, load_pretrained, profile_model, save_pretrained

    cfg = EDSRConfig(num_feat=8, num_layer=1, num_block=2, scale=4, upsampler="direct")
    m = build_model("edsr", cfg).eval()
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        feat = m.head(x - m.mean)
        feat = feat + m.body_end(m.body(feat))
        conv = m.upsample[0]
        want = F.pixel_shuffle(F.conv2d(feat, conv.weight, conv.bias, padding=1), 4) + m.mean
        assert torch.allclose(m(x), want, atol=1e-6)
    assert not any(n.startswith("conv_last") for n, _ in m.named_parameters())
    shuffle = build_model("edsr", EDSRConfig(num_feat=8, num_layer=1, num_block=2, scale=4))
    assert profile_model(m, (12, 10)).macs < profile_model(shuffle, (12, 10)).macs / 2
    save_pretrained(m, tmp_path / "m", {"name": "t"})
    back, _ = load_pretrained(tmp_path / "m")
    assert back.config == cfg
    with torch.no_grad():
        assert torch.equal(back(x), m(x))
    assert EDSRConfig().upsampler == "shuffle"


def test_fp16_storage_refuses_values_out_of_its_range(tmp_path) -> None:
    model = EDSR(tiny_config("edsr", 0, scale=2))
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = 1e5  # beyond fp16's 65504
    with pytest.raises(WeightsError, match="beyond fp16's range"):
        save_pretrained(model, tmp_path / "m", storage="fp16")
    assert not (tmp_path / "m" / "model.safetensors").exists()
    save_pretrained(model, tmp_path / "m")  # fp32 keeps it
    assert read_config(tmp_path / "m")["storage"] == "fp32"


def test_the_same_weights_save_to_the_same_bytes(tmp_path) -> None:
    """safetensors writes its header's metadata map in an order that changes between calls (and
    processes); save_pretrained sorts it, so identical weights always get the same sha256, the
    identity that records (a teacher, a published file) use. A file saved with the other order
    is still recognised as the same weights (weights_sha256s), and loads the same tensors."""
    from safetensors.torch import load_file

    from slimvsr.models._io import canonical_safetensors, weights_sha256s

    model = build_model("edsr", tiny_config("edsr", 1)).eval()
    shas = {save_pretrained(model, tmp_path / f"m{i}")["sha256"] for i in range(8)}
    assert len(shas) == 1
    data = (tmp_path / "m0" / "model.safetensors").read_bytes()
    n = int.from_bytes(data[:8], "little")
    assert data[8 : 8 + n].startswith(b'{"__metadata__":{"format":"slimvsr","version":"1"}')
    other = canonical_safetensors(data, order=("version", "format"))  # as an earlier save wrote it
    assert other != data and len(other) == len(data)
    (tmp_path / "other.safetensors").write_bytes(other)
    assert hashlib.sha256(other).hexdigest() in weights_sha256s(tmp_path / "m0" / "model.safetensors")
    a, b = load_file(tmp_path / "m0" / "model.safetensors"), load_file(tmp_path / "other.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
