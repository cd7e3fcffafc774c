"""SSL: the equivalences that carry the method's mathematics."""

from __future__ import annotations

import json

import pytest
import torch

from slimvsr.compression.cli import main as compress_main
from slimvsr.compression.losses import tf_loss
from slimvsr.compression.publish import model_card
from slimvsr.compression.ssl import selection as ssl
from slimvsr.errors import CompressionError
from slimvsr.models import BasicVSR, BasicVSRConfig, count_params, load_pretrained, save_pretrained


def _dense(bi: bool, seed: int = 0) -> BasicVSR:
    torch.manual_seed(seed)
    m = BasicVSR(BasicVSRConfig(num_feat=8, num_block=3, bidirectional=bi)).eval()
    with torch.no_grad():  # non-trivial biases, so a wrong fold would show
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return m


@pytest.mark.parametrize("bi", [True, False])
def test_scaled_network_equals_unscaled_at_init(bi: bool) -> None:
    m = _dense(bi)
    x = torch.rand(1, 4, 3, 10, 12)
    with torch.no_grad():
        ref = m(x)
        out = ssl.Gammas(m).run(m, x)
    assert torch.equal(out, ref)  # gammas are exactly 1: multiplying by 1.0 is exact


def _scaled_feature_maps(m: BasicVSR, g: ssl.Gammas, x: torch.Tensor) -> torch.Tensor:
    """The reference: Fig. 2 b/c as drawn, each gamma multiplied onto its feature maps by hooks."""
    view = lambda v: v.view(1, -1, 1, 1)  # noqa: E731
    hooks = []
    for name, blk in ssl._blocks(m):
        g_in, g_mid, g_out = (g.g[g.key(name, p)] for p in ("in", "mid", "out"))
        hooks.append(blk.conv1.register_forward_pre_hook(lambda _, a, v=g_in: (a[0] * view(v),)))
        hooks.append(blk.conv1.register_forward_hook(lambda _, a, y, v=g_mid: y * view(v)))
        hooks.append(blk.conv2.register_forward_hook(lambda _, a, y, v=g_out: y * view(v)))
    for conv, v in (
        (m.upconv1, g.g["up1"].repeat_interleave(4)),
        (m.upconv2, g.g["up2"].repeat_interleave(4)),
    ):
        hooks.append(conv.register_forward_hook(lambda _, a, y, v=v: y * view(v)))
    hooks.append(m.conv_hr.register_forward_hook(lambda _, a, y: y * view(g.g["hr"])))
    try:
        return m(x)
    finally:
        for h in hooks:
            h.remove()


@pytest.mark.parametrize("bi", [True, False])
def test_gammas_in_the_weights_equal_gammas_on_the_feature_maps(bi: bool) -> None:
    """Folding each gamma into its conv's weight rows / input columns and bias is the network
    that scales the feature maps (Fig. 2 b/c), values and gradients (the gammas' too)."""
    m = _dense(bi, seed=2)
    g = ssl.Gammas(m)
    with torch.no_grad():
        for v in g.g.values():
            v.uniform_(0.5, 1.5)
    x = torch.rand(1, 4, 3, 10, 12)
    grads = []
    for f in (lambda: _scaled_feature_maps(m, g, x), lambda: g.run(m, x)):
        out = f()
        out.square().mean().backward()
        grads.append((out.detach(), [p.grad.clone() for p in [*m.parameters(), *g.parameters()]]))
        m.zero_grad()
        g.zero_grad()
    (ref, ref_g), (got, got_g) = grads
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    for a, b in zip(got_g, ref_g, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("bi", [True, False])
@pytest.mark.parametrize("criterion", ["min-global", "max-local", "random"])
def test_physical_prune_equals_masked(bi: bool, criterion: str, tmp_path) -> None:
    m = _dense(bi, seed=1)
    g = ssl.Gammas(m)
    with torch.no_grad():  # trained gammas are not 1: the fold must carry them
        for v in g.g.values():
            v.uniform_(0.5, 1.5)
    pruned = ssl.select(ssl.unit_scores(m, g), 0.5, criterion, seed=3)
    g.masked(pruned)
    x = torch.rand(1, 5, 3, 10, 12)
    with torch.no_grad():
        masked = g.run(m, x)
        small = ssl.prune(m, g, pruned)
        out = small(x)
    # Same sums with fewer zero terms: float32 reassociation only.
    assert torch.allclose(out, masked, atol=1e-5), (out - masked).abs().max()
    assert count_params(small) < count_params(m)
    # The pruned network round-trips through its folder alone.
    save_pretrained(small, tmp_path / "p")
    again, _ = load_pretrained(tmp_path / "p")
    with torch.no_grad():
        assert torch.equal(again(x), out)


def test_pruned_size_is_what_kept_channels_imply(tmp_path, capsys) -> None:
    m = _dense(False, seed=2)
    g = ssl.Gammas(m)
    pruned = ssl.select(ssl.unit_scores(m, g), 0.5)
    small = ssl.prune(m, g, pruned)
    cfg, c = small.config, 8
    expect = sum(
        p.numel()
        for n, p in m.named_parameters()
        if n.startswith(("spynet.", "fusion.", "forward_trunk.conv."))
    )
    for s in cfg.forward_blocks:
        expect += len(s.in_idx) * s.mid * 9 + s.mid + s.mid * len(s.out_idx) * 9 + len(s.out_idx)
    g1, g2, hr = len(cfg.up1_idx), len(cfg.up2_idx), len(cfg.hr_idx)
    expect += c * 4 * g1 * 9 + 4 * g1 + g1 * 4 * g2 * 9 + 4 * g2 + g2 * hr * 9 + hr + hr * 3 * 9 + 3
    assert count_params(small) == expect
    save_pretrained(small, tmp_path / "p")
    assert compress_main(["profile", str(tmp_path / "p"), "--input-size", "18x32", "--json"]) == 0
    prof = json.loads(capsys.readouterr().out)
    hw = 18 * 32
    macs = hw * ((3 + c) * c * 9 + c * c)  # first trunk conv, fusion (unpruned)
    for s in cfg.forward_blocks:
        macs += hw * 9 * (len(s.in_idx) * s.mid + s.mid * len(s.out_idx))
    macs += hw * 9 * c * 4 * g1 + 4 * hw * 9 * g1 * 4 * g2 + 16 * hw * 9 * (g2 * hr + hr * 3)
    assert prof["macs"] == macs


def test_group_score_sum_and_mean() -> None:
    """A pixel-shuffle group's score is its 4 filters' L1 norms summed, or their mean."""
    m = _dense(False)
    g = ssl.Gammas(m)
    w = m.upconv1.weight.detach().abs().sum(dim=(1, 2, 3)).view(-1, 4)
    s_sum, s_mean = ssl.unit_scores(m, g, "sum"), ssl.unit_scores(m, g, "mean")
    for k in range(w.shape[0]):
        assert s_sum[ssl.Unit("up1", k)] == pytest.approx(float(w[k].sum()))
        assert s_mean[ssl.Unit("up1", k)] == pytest.approx(float(w[k].sum()) / 4)
    assert all(s_sum[u] == s_mean[u] for u in s_sum if u.layer not in ("up1", "up2"))
    with pytest.raises(ValueError, match="group_score"):
        ssl.unit_scores(m, g, "max")


def test_select_counts() -> None:
    m = _dense(True)
    g = ssl.Gammas(m)
    s = ssl.unit_scores(m, g)
    n = len(s)
    glob = ssl.select(s, 0.5, "min-global")
    assert abs(len(glob) - n / 2) <= len({u.layer for u in s})  # minus the keep-one guard
    # Global: the pruned units are the smallest overall, except the per-layer keep-one guard.
    guard = {u for u in s if u not in glob and all(v in glob for v in s if v.layer == u.layer and v != u)}
    assert max(s[u] for u in glob) <= min(s[u] for u in s if u not in glob and u not in guard)
    loc = ssl.select(s, 0.5, "min-local")
    for layer in {u.layer for u in s}:
        assert sum(u.layer == layer for u in loc) == 4  # 8 units per layer, half pruned
    # Min picks the smallest-L1 units: every pruned score <= every kept score in that layer.
    for layer in {u.layer for u in s}:
        pr = [s[u] for u in loc if u.layer == layer]
        kp = [s[u] for u in s if u.layer == layer and u not in loc]
        assert max(pr) <= min(kp)
    mx = ssl.select(s, 0.5, "max-local")
    assert not (mx & loc)


def test_sir_schedule_and_pull() -> None:
    assert ssl.sir_alpha(0, 1e-4, 5, 0.1) == pytest.approx(1e-4)
    assert ssl.sir_alpha(9, 1e-4, 5, 0.1) == pytest.approx(2e-4)
    assert ssl.sir_alpha(10**6, 1e-4, 5, 0.1) == pytest.approx(0.1)
    m = _dense(False)
    g = ssl.Gammas(m)
    pruned = ssl.select(ssl.unit_scores(m, g), 0.5)
    opt = torch.optim.SGD(g.parameters(), lr=1.0)
    for _ in range(20):
        opt.zero_grad()
        ssl.sir_loss(g, pruned, 0.1).backward()
        opt.step()
    p_mean, k_mean = g.mean_gamma(pruned)
    assert p_mean < 0.05 and k_mean == pytest.approx(1.0)  # only the selected gammas shrink


def test_tf_loss() -> None:
    h = (torch.rand(1, 8, 4, 4), torch.rand(1, 8, 4, 4))
    assert float(tf_loss(h, h)) < 1e-5
    assert float(tf_loss((h[0] + 1, None), (h[0], None))) == pytest.approx(1.0, abs=1e-4)


def test_ssl_refuses_pruned_input() -> None:
    m = _dense(False)
    g = ssl.Gammas(m)
    small = ssl.prune(m, g, ssl.select(ssl.unit_scores(m, g), 0.3))
    with pytest.raises(CompressionError, match="dense"):
        ssl.Gammas(small)


@pytest.mark.parametrize("method", ["ssl", "l1norm", "ssl-keep-upsampler", "ssl-bi", "ssl-time"])
def test_ssl_pipeline_smoke(method, tmp_path, capsys) -> None:
    """The whole `vsr-compress ssl` pipeline on a tiny teacher and corpus (bidirectional for ssl-bi:
    its recipe, and Temporal Finetuning on both branches' hidden states)."""
    from media import make_corpus
    from slimvsr.compression.ssl import pipeline as _ssl_pipeline
    from slimvsr.compression.training import recipes as _recipes

    corpus = make_corpus(tmp_path / "corpus")
    (corpus / "manifest.json").write_text("{}")
    bi = method == "ssl-bi"
    teacher = _dense(bi, seed=4)
    save_pretrained(teacher, tmp_path / "teacher", {"name": "basicvsr" if bi else "basicvsr-uni"})
    tiny = dict(
        recipe="vsr", steps=2, batch=2, frames=3, patch=8, lr=1e-3, precision="fp32", val_every=2, log_every=1
    )
    orig = dict(_recipes.RECIPES)
    _recipes.RECIPES[("basicvsr" if bi else "basicvsr-uni", "cpu")] = tiny
    orig_ssl = dict(_ssl_pipeline.SSL_PRESETS["cpu"])
    _ssl_pipeline.SSL_PRESETS["cpu"].update(delta=0.05, t1=1, t2=1)  # 3 regularisation steps
    try:
        argv = [
            "ssl",
            "--teacher",
            str(tmp_path / "teacher"),
            "--data",
            str(corpus),
            "--out",
            str(tmp_path / "run"),
            "--finetune-steps",
            "2",
            "--method",
            "ssl" if bi else method.removesuffix("-keep-upsampler").removesuffix("-time"),
        ]
        if method == "ssl-time":
            argv += ["--budget", "time"]
        if method.endswith("-keep-upsampler"):
            argv.append("--keep-upsampler")
        if method == "l1norm":
            argv += ["--seed", "3"]
        assert compress_main(argv) == 0
    finally:
        _recipes.RECIPES.clear()
        _recipes.RECIPES.update(orig)
        _ssl_pipeline.SSL_PRESETS["cpu"].clear()
        _ssl_pipeline.SSL_PRESETS["cpu"].update(orig_ssl)
    model, meta = load_pretrained(tmp_path / "run" / "model")
    assert meta["name"] == ("ssl-bi" if bi else "ssl-uni") and meta["ssl"]["ratio"] == 0.5
    assert model.config.bidirectional == bi
    assert count_params(model) < count_params(teacher)
    seed = 3 if method == "l1norm" else 0  # recorded, and the seed the fine-tuning batches used
    assert meta["ssl"]["seed"] == seed and meta["training"]["recipe"]["seed"] == seed
    ckpt = torch.load(tmp_path / "run" / "finetune" / "ckpt.pt", weights_only=True)
    assert ckpt["config"]["seed"] == seed
    # The recorded criterion, and the model card's, is the one the selection applied.
    criterion = "min-local" if method == "l1norm" else "min-global"
    assert meta["ssl"]["criterion"] == criterion
    assert f"({criterion}, ratio 0.5)" in model_card(meta, "slimvsr/test")
    if method == "ssl-keep-upsampler":  # no pixel-shuffle group selected, upconv1/upconv2 whole
        selected = json.loads((tmp_path / "run" / "selection.json").read_text())
        assert selected and not any(u["layer"] in ("up1", "up2") for u in selected)
        assert model.config.widths()[:2] == (teacher.config.num_feat,) * 2
    if method.startswith("ssl"):
        log = (tmp_path / "run" / "regularise" / "log.jsonl").read_text()
        assert "gamma_pruned" in log
        curve = [json.loads(x) for x in (tmp_path / "run" / "regularise" / "gammas.jsonl").open()]
        assert curve[0]["step"] == 0 and curve[0]["gamma_pruned"] == 1.0  # Fig. 6, from gamma = 1
    else:
        assert not (tmp_path / "run" / "regularise").exists()
    if method == "ssl-time":  # the cost model measured once, kept for resume and in the record
        costs = json.loads((tmp_path / "run" / "cost_model.json").read_text())
        assert meta["ssl"]["budget"] == "time" and meta["ssl"]["cost_model"] == costs
        assert costs["trunk"]["hi"] == [8, 8] and costs["size"] == [180, 320]


def _fake_costs(m: BasicVSR):
    """A cost model with made-up corner timings: each conv's ms proportional to ci x co x its
    pixels (LR 1, 2x 4, 4x 16), as an ideal CPU would run it."""
    from slimvsr.compression.ssl.cost import ConvCost, CostModel

    c, k = m.config.num_feat, 2

    def conv(px: int, g_out: int = 1, fixed_in: int | None = None, fixed_out: int | None = None) -> ConvCost:
        cis = (fixed_in,) * 2 if fixed_in else (k, c)
        cos = (fixed_out,) * 2 if fixed_out else (k, c)
        ms = tuple(tuple(1e-3 * px * ci * co * g_out for co in cos) for ci in cis)
        return ConvCost((cis[0], cos[0]), (cis[1], cos[1]), ms)

    return CostModel(
        trunk=conv(1),
        upconv1=conv(1, 4, fixed_in=c),
        upconv2=conv(4, 4),
        conv_hr=conv(16),
        conv_last=conv(16, fixed_out=3),
        blocks=ssl.block_names(m),
        num_feat=c,
        size=(8, 12),
        precision="bf16",
        machine="test",
    )


def test_cost_model_is_bilinear_in_the_kept_widths() -> None:
    """t(ci, co) interpolates the four corner timings; the model of a pruned network sums its
    convs at their kept widths, and a unit's saving is the exact difference it makes."""
    m = _dense(False)
    costs = _fake_costs(m)
    c = m.config.num_feat
    assert costs.trunk.at(5, 7) == pytest.approx(1e-3 * 5 * 7)  # exact for a bilinear truth
    dense = 2 * 3 * costs.trunk.at(c, c) + costs.upconv1.at(c, c) + costs.upconv2.at(c, c)
    dense += costs.conv_hr.at(c, c) + costs.conv_last.at(c, 3)
    assert costs.predict() == pytest.approx(dense)
    s = ssl.unit_scores(m, ssl.Gammas(m))
    some = sorted(s, key=s.__getitem__)[:40]
    widths = costs.widths(some[:-1])
    saving = costs.marginal(some[-1], widths)
    assert costs.predict(some[:-1]) - costs.predict(some) == pytest.approx(saving)
    # Cutting both sides of a conv is not counted twice (a per-unit slope would go negative).
    everything_but_one = [u for u in s if u.index > 0]
    assert costs.predict(everything_but_one) > 0


def test_time_budget_prunes_where_the_time_is() -> None:
    """Greedy by L1 score per ms saved: the budget's share of the modelled time goes, taken
    where the time is (the upsampler's convs at 2x and 4x, 4-16x the pixels of LR), so far fewer
    units go than the paper's unit ratio removes for about the same time; among the units of one
    layer the order is the paper's (smallest score first)."""
    from slimvsr.compression.ssl.cost import select_by_time
    from slimvsr.compression.ssl.selection import part_of

    m = _dense(False, seed=2)
    costs = _fake_costs(m)
    s = ssl.unit_scores(m, ssl.Gammas(m))
    by_time = select_by_time(s, costs, 0.5)
    by_units = ssl.select(s, 0.5, "min-global")
    assert costs.predict(by_time) <= 0.5 * costs.predict() < costs.predict(by_units)
    assert 3 * len(by_time) < len(by_units)  # here 6 units against 48 for the same halving
    ups = ("up1", "up2", "hr")
    assert all(part_of(u) in ups for u in by_time) and sum(part_of(u) in ups for u in by_units) < 10
    for layer in {u.layer for u in s}:
        us = sorted((u for u in s if u.layer == layer), key=s.__getitem__)
        chosen = [u in by_time for u in us]
        assert chosen == sorted(chosen, reverse=True) and not all(chosen)
    rounded = select_by_time(s, costs, 0.8, multiple=4)
    for layer in {u.layer for u in s}:
        assert sum(u not in rounded for u in s if u.layer == layer) % 4 == 0


def test_cost_model_is_measured_on_the_models_conv_shapes() -> None:
    from slimvsr.compression.ssl.cost import CostModel, measure_cost_model
    from slimvsr.compression.ssl.pipeline import SSLConfig

    m = _dense(False)
    c = measure_cost_model(m, (8, 12), precision="fp32", rounds=1)
    assert c.trunk.lo == (2, 2) and c.trunk.hi == (8, 8) and c.conv_last.hi == (8, 3)  # 8 channels: cut to 2
    assert c.size == (8, 12) and len(c.blocks) == 3 and "cores" in c.machine
    assert all(v > 0 for row in c.conv_hr.ms for v in row) and c.predict() > 0
    assert CostModel.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    with pytest.raises(CompressionError, match="min-global"):
        SSLConfig(budget="time", method="l1norm")


def test_a_given_cost_model_is_checked_against_the_teacher_and_kept(tmp_path) -> None:
    from slimvsr.compression.ssl.pipeline import _cost_model

    m = _dense(False)
    given = tmp_path / "bench.json"
    given.write_text(json.dumps({"command": "...", "cost_model": _fake_costs(m).to_dict()}))
    (tmp_path / "run").mkdir()
    got = _cost_model(m, tmp_path / "run" / "cost_model.json", given)
    assert got == _fake_costs(m) and (tmp_path / "run" / "cost_model.json").exists()
    # The bidirectional twin (same width and blocks per branch): the forward blocks' timings serve
    # the backward blocks too, so the model predicts both trunks' time and the upsampler's once.
    bi = _dense(True)
    got_bi = _cost_model(bi, tmp_path / "bi.json", given)
    assert got_bi.blocks == ssl.block_names(bi) and len(got_bi.blocks) == 2 * len(got.blocks)
    trunk_ms = sum(got.conv_ms(k).at(*w) for k, w in got.widths(()).items() if "." in k)
    assert 0 < trunk_ms < got.predict()
    assert got_bi.predict() == pytest.approx(got.predict() + trunk_ms)
    for feat, n in ((8, 2), (16, 3)):  # other blocks, other widths
        other = BasicVSR(BasicVSRConfig(num_feat=feat, num_block=n))
        with pytest.raises(CompressionError, match="another network"):
            _cost_model(other, tmp_path / "x.json", given)
    given.write_text("not json")
    with pytest.raises(CompressionError, match="not a cost model"):
        _cost_model(m, tmp_path / "y.json", given)
    assert compress_main(["ssl", "--teacher", "basicvsr-uni", "--cost-model", str(given)]) == 2


def test_baselines_reject_a_criterion_and_report_the_one_they_apply(tmp_path, capsys) -> None:
    from slimvsr.compression.ssl.pipeline import SSLConfig

    argv = ["ssl", "--teacher", str(tmp_path), "--method", "aligned", "--criterion", "max-global"]
    assert compress_main(argv) == 2
    assert "--criterion applies to --method ssl" in capsys.readouterr().err
    # Records written before the CLI refused it say min-global; the selection was per layer.
    old = {"method": "aligned", "criterion": "min-global", "ratio": 0.5}
    assert SSLConfig.from_record(old).selection_criterion == ssl.BASELINE_CRITERION == "min-local"
    assert SSLConfig.from_record({**old, "method": "ssl"}).selection_criterion == "min-global"


def test_l1norm_baseline_keeps_residual_paths() -> None:
    m = _dense(False)
    g = ssl.Gammas(m)
    pr = ssl.select_l1norm(ssl.unit_scores(m, g), 0.5)
    assert pr and not any(u.layer.endswith(("_in", "_out")) for u in pr)
    small = ssl.prune(m, g, pr)
    for spec in small.config.forward_blocks:
        assert spec.in_idx == spec.out_idx == tuple(range(8)) and spec.mid == 4


def test_aligned_baseline_shares_indices_across_blocks() -> None:
    m = _dense(True)
    g = ssl.Gammas(m)
    pr = ssl.select_aligned(ssl.unit_scores(m, g), 0.5)
    small = ssl.prune(m, g, pr)
    for specs in (small.config.forward_blocks, small.config.backward_blocks):
        kept = {s.in_idx for s in specs} | {s.out_idx for s in specs}
        assert len(kept) == 1 and len(next(iter(kept))) == 4  # one aligned set per branch
    x = torch.rand(1, 3, 3, 8, 8)
    with torch.no_grad():
        g.masked(pr)
        masked = g.run(m, x)
        assert torch.allclose(ssl.prune(m, g, pr)(x), masked, atol=1e-5)


def test_kept_target_rounds_to_the_channel_block() -> None:
    assert [ssl.kept_target(64, k, 16) for k in (1, 8, 23, 24, 37, 40, 56, 64)] == [
        16,
        16,
        16,
        32,
        32,
        48,
        64,
        64,
    ]
    assert ssl.kept_target(8, 3, 16) == 3  # a layer narrower than the block is left alone
    assert ssl.kept_target(64, 37, 1) == 37


@pytest.mark.parametrize("criterion", ["min-global", "max-local", "random"])
def test_channel_multiple_keeps_blocks_of_16(criterion: str) -> None:
    torch.manual_seed(1)
    m = BasicVSR(BasicVSRConfig(num_feat=64, num_block=2, bidirectional=False)).eval()
    g = ssl.Gammas(m)
    s = ssl.unit_scores(m, g)
    plain = ssl.select(s, 0.5, criterion, seed=2)
    rounded = ssl.select(s, 0.5, criterion, seed=2, multiple=16)
    sign = -1 if criterion.startswith("max") else 1
    for layer in {u.layer for u in s}:
        us = [u for u in s if u.layer == layer]
        k_plain = sum(u not in plain for u in us)
        k_round = sum(u not in rounded for u in us)
        assert k_round % 16 == 0 and abs(k_round - k_plain) <= 8
        # Only boundary units change side: what both keep or both prune agrees with the plain
        # selection, and the rounding moves units in the criterion's order.
        moved_in = [u for u in us if u in plain and u not in rounded]  # un-pruned by rounding
        moved_out = [u for u in us if u not in plain and u in rounded]
        assert not (moved_in and moved_out)
        if criterion != "random":
            for u in moved_in:
                assert all(sign * s[u] >= sign * s[v] for v in us if v in rounded and v in plain)
            for u in moved_out:
                assert all(sign * s[u] <= sign * s[v] for v in us if v not in rounded)
    small = ssl.prune(m, g, rounded)
    for spec in small.config.forward_blocks:
        assert len(spec.in_idx) % 16 == 0 and spec.mid % 16 == 0 and len(spec.out_idx) % 16 == 0


def test_aligned_and_l1norm_with_channel_multiple() -> None:
    torch.manual_seed(1)
    m = BasicVSR(BasicVSRConfig(num_feat=64, num_block=2, bidirectional=False)).eval()
    g = ssl.Gammas(m)
    s = ssl.unit_scores(m, g)
    for pr in (ssl.select_aligned(s, 0.45, multiple=16), ssl.select_l1norm(s, 0.45, multiple=16)):
        for layer in {u.layer for u in s}:
            assert sum(u.layer == layer and u not in pr for u in s) % 16 == 0


def test_presets_let_the_gammas_travel_as_far_as_the_papers() -> None:
    """Adam moves a scaling factor about lr per step, so lr x regularisation steps bounds how far a
    gamma can fall. The paper's schedule allows 2e-4 x 8,375 = 1.7; the shortened presets raise the
    gammas' lr to keep that reach, and every preset has a training recipe."""
    from slimvsr.compression.ssl.pipeline import SSL_PRESETS, SSL_RECIPE_PRESET, SSLConfig

    assert set(SSL_PRESETS) == set(SSL_RECIPE_PRESET)
    from slimvsr.compression.cli import build_parser

    for name in SSL_PRESETS:  # the command line offers every preset
        assert build_parser().parse_args(["ssl", "--teacher", "x", "--preset", name]).preset == name
    paper = SSLConfig(**SSL_PRESETS["paper"])
    paper_steps = round(paper.tau / paper.delta) * paper.t1 + paper.t2
    assert paper_steps == 8375
    for name, fields in SSL_PRESETS.items():
        sc = SSLConfig(**fields)
        steps = round(sc.tau / sc.delta) * sc.t1 + sc.t2
        reach = (sc.gamma_lr or 2e-4) * steps
        assert reach >= 0.95 * 2e-4 * paper_steps, name
        assert sc.tau == paper.tau, name


def test_report_scores_rows_of_two_validation_splits_on_the_clips_they_share() -> None:
    """benchmarks/report_ssl.py --clips: wave 1 scored on two validation clips, round 2 on five; a
    row's score on a subset is the mean of its per-clip scores (every clip has the same frames),
    so over all its clips it is the recorded split score, and a clip the row lacks is refused."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "benchmarks"))
    from report_ssl import scores

    v2 = json.loads((root / "artifacts/ssl-uni-r058-v2/config.json").read_text())
    w1 = json.loads((root / "artifacts/ssl-tables/basicvsr-uni-lite/config.json").read_text())
    every = list(v2["metrics"]["per_item"])
    assert len(every) == 5 and scores(v2, every)["psnr_y"] == pytest.approx(
        v2["metrics"]["val"]["psnr_y"], abs=1e-9
    )
    assert scores(v2, None) == v2["metrics"]["val"]
    shared = sorted(w1["metrics"]["per_item"])
    assert shared == ["bigbuckbunny-01", "bikes-04"]
    assert scores(w1, shared)["psnr_y"] == pytest.approx(w1["metrics"]["val"]["psnr_y"], abs=1e-9)
    two = scores(v2, shared)
    assert two["psnr_y"] != pytest.approx(v2["metrics"]["val"]["psnr_y"], abs=0.05)
    with pytest.raises(SystemExit, match="cityCC0-00"):
        scores(w1, ["bikes-04", "cityCC0-00"])
