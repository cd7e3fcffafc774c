from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from media import make_corpus
from slimvsr.compression.training.loop import TrainConfig, lr_at, train
from slimvsr.errors import CompressionError
from slimvsr.models import load_pretrained


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


def _cfg(out: Path, corpus: Path, **kw) -> TrainConfig:
    base = dict(
        recipe="image",
        model="edsrmini",
        out=str(out),
        data=str(corpus),
        scale=2,
        steps=6,
        batch=4,
        patch=12,
        lr=1e-3,
        precision="fp32",
        val_every=3,
        log_every=1,
        ckpt_every_s=0.0,
        model_overrides=(("num_feat", 8), ("num_block", 1)),
    )
    base.update(kw)
    return TrainConfig(**base)


def test_lr_groups_take_their_parameters() -> None:
    from torch import nn

    from slimvsr.compression.training.loop import _param_groups

    m = nn.ModuleDict({"gammas": nn.Linear(2, 2), "spynet": nn.Linear(2, 2), "body": nn.Linear(2, 2)})
    cfg = TrainConfig(
        recipe="vsr", model="basicvsr-uni", out="x", lr=1.0, lr_flow=0.5, lr_groups=(("gammas.", 9.0),)
    )
    groups = {g["base_lr"]: {id(p) for p in g["params"]} for g in _param_groups(m, cfg)}
    assert groups == {
        1.0: {id(p) for p in m["body"].parameters()},
        0.5: {id(p) for p in m["spynet"].parameters()},
        9.0: {id(p) for p in m["gammas"].parameters()},
    }


def test_cosine_schedule_is_pure() -> None:
    cfg = TrainConfig(recipe="image", model="edsrmini", out="x", steps=100, lr=1.0, min_lr=0.0, warmup=10)
    assert lr_at(0, cfg, 1.0) == pytest.approx(0.1)
    assert lr_at(10, cfg, 1.0) == pytest.approx(1.0)
    assert lr_at(55, cfg, 1.0) == pytest.approx(0.5)
    assert lr_at(100, cfg, 1.0) == pytest.approx(0.0)


@pytest.mark.parametrize(
    "recipe,model", [("image", "edsrmini"), ("vsr", "basicvsr-uni"), ("spynet", "spynet")]
)
def test_smoke_each_recipe(recipe, model, corpus, tmp_path) -> None:
    over = {
        "spynet": (),
        "image": (("num_feat", 8), ("num_block", 1)),
        "vsr": (("num_feat", 8), ("num_block", 1)),
    }[recipe]
    cfg = _cfg(
        tmp_path / recipe,
        corpus,
        recipe=recipe,
        model=model,
        steps=2,
        val_every=2,
        scale=4 if recipe == "vsr" else 2,
        frames=3,
        patch={"vsr": 8, "image": 16, "spynet": 32}[recipe],
        batch=2,
        model_overrides=over,
    )
    train(cfg)
    log = (tmp_path / recipe / "log.jsonl").read_text()
    assert '"val"' in log and '"loss"' in log


class _Crash:
    """Wraps a task and raises at step ``at``, like a killed process."""

    def __init__(self, task, at: int) -> None:
        self.task, self.at = task, at

    def batch(self, step, rank, world):
        if step == self.at:
            raise KeyboardInterrupt
        return self.task.batch(step, rank, world)

    def __getattr__(self, name):
        return getattr(self.task, name)


def test_resume_is_exact(corpus, tmp_path) -> None:
    from slimvsr.compression.training.task import make_task

    straight = train(_cfg(tmp_path / "a", corpus))
    cfg = _cfg(tmp_path / "b", corpus)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, task=_Crash(make_task(cfg), at=4))
    # a stop after a log line but before its checkpoint, and a line cut short by the stop
    with open(tmp_path / "b" / "log.jsonl", "a") as f:
        f.write('{"step": 5, "loss": 9.0}\n{"step": 6, "lo')
    resumed = train(cfg)
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=False):
        assert torch.equal(a, b), k

    def records(run: str) -> list[tuple]:
        lines = (tmp_path / run / "log.jsonl").read_text().splitlines()
        return [(r["step"], r.get("loss"), json.dumps(r.get("val"))) for r in map(json.loads, lines)]

    assert records("b") == records("a")  # the log reads as one uninterrupted run


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bf16_only_on_native_bf16(native, monkeypatch) -> None:
    """Emulated bf16 trains ~12x slower than fp32 (docs/training.md), so "auto" takes bf16 only
    where the CPU has bf16 units, and the config (which the run records) holds the resolved one."""
    import slimvsr.engine

    monkeypatch.setattr(slimvsr.engine, "cpu_has_bf16", lambda: native)
    cfg = TrainConfig(recipe="image", model="edsrmini", out="x")
    assert cfg.precision == ("bf16" if native else "fp32")
    assert TrainConfig(recipe="image", model="edsrmini", out="x", precision="bf16").precision == "bf16"


def test_bf16_training_step_runs(corpus, tmp_path) -> None:
    model = train(_cfg(tmp_path / "bf", corpus, precision="bf16", steps=2))
    assert all(torch.isfinite(p).all() for p in model.parameters())


DDP_SCRIPT = """
import sys, torch
from slimvsr.compression.training.loop import TrainConfig, train
cfg = TrainConfig(recipe="image", model="edsrmini", out=sys.argv[1], data=sys.argv[2], scale=2,
                  steps=4, batch=4, patch=12, lr=1e-3, precision="fp32", val_every=100,
                  log_every=1, ckpt_every_s=0.0, model_overrides=(("num_feat", 8), ("num_block", 1)),
                  threads=1)
model = train(cfg)
rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
torch.save(model.state_dict(), f"{sys.argv[1]}/final-rank{rank}.pt")
"""


@pytest.mark.slow
def test_ddp_two_processes_match_one(corpus, tmp_path) -> None:
    script = tmp_path / "ddp.py"
    script.write_text(DDP_SCRIPT)
    two, one = tmp_path / "two", tmp_path / "one"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29533",
            str(script),
            str(two),
            str(corpus),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    subprocess.run(
        [sys.executable, str(script), str(one), str(corpus)], check=True, capture_output=True, timeout=300
    )
    r0 = torch.load(two / "final-rank0.pt", weights_only=True)
    r1 = torch.load(two / "final-rank1.pt", weights_only=True)
    ref = torch.load(one / "final-rank0.pt", weights_only=True)
    for k in ref:
        assert torch.equal(r0[k], r1[k]), f"ranks out of sync at {k}"
        # Gradients are averaged across 2 half-batches instead of summed over one batch:
        # same maths, different float summation order.
        assert torch.allclose(r0[k], ref[k], atol=1e-5, rtol=1e-4), k


def test_export_writes_metadata(corpus, tmp_path) -> None:
    from slimvsr.compression.publish import export_run

    cfg = _cfg(tmp_path / "e", corpus, steps=3)
    model = train(cfg)
    folder = export_run(model, cfg, tmp_path / "e" / "model", command="vsr-compress train ...")
    m, meta = load_pretrained(folder)
    assert meta["training"]["steps"] == 3
    assert meta["validation"]["last"]["psnr_y"] > 0
    assert meta["params"] == sum(p.numel() for p in m.parameters())
    assert np.isfinite(meta["validation"]["last"]["ssim_y"])


@pytest.mark.parametrize("arch", ["swinir", "edsr"])
def test_init_from_another_scale_carries_the_body(arch: str) -> None:
    """x4 from a trained x2 (EDSR's and SwinIR's practice): every tensor of matching name and
    shape is copied, only the scale-specific upsampler stays as initialised."""
    from slimvsr.compression.training.loop import load_matching
    from slimvsr.models import build_model
    from tiny import tiny_config

    torch.manual_seed(0)
    x2 = build_model(arch, tiny_config(arch, seed=1, scale=2))
    x4 = build_model(arch, tiny_config(arch, seed=1, scale=4))
    before = {k: v.clone() for k, v in x4.state_dict().items()}
    fresh = load_matching(x4, x2.state_dict())
    assert fresh and all(k.startswith(("upsample", "conv_last")) for k in fresh), fresh
    src = x2.state_dict()
    for k, v in x4.state_dict().items():
        assert torch.equal(v, before[k] if k in fresh else src[k]), k
    other = build_model("basicvsr", tiny_config("basicvsr"))
    with pytest.raises(CompressionError, match="same architecture"):
        load_matching(x4, other.state_dict())


def test_photometric_flow_recipe_trains_and_reports_real_warp_error(corpus, tmp_path) -> None:
    cfg = _cfg(
        tmp_path / "flow",
        corpus,
        recipe="spynet",
        model="spynet",
        steps=2,
        val_every=2,
        patch=32,
        lr_patch=32,
        batch=6,
        flow_loss="photometric",
        model_overrides=(),
    )
    train(cfg)
    recs = [json.loads(line) for line in (tmp_path / "flow" / "log.jsonl").read_text().splitlines()]
    val = next(r["val"] for r in recs if "val" in r)
    assert val["warp_error_real_lr"] > 0 and val["warp_error_none"] > 0


def test_photometric_error_is_the_warping_error() -> None:
    """A frame shifted by (dx, dy) = (3, -2): the true flow warps it back exactly (error 0 inside
    the border), no motion compensation does not; the Charbonnier form is within eps of |d|."""
    from slimvsr.compression.losses import photometric_error, smoothness

    g = torch.Generator().manual_seed(0)
    base = torch.rand(1, 3, 40, 48, generator=g)
    ref = base[..., 2:34, 3:43]  # ref(y, x) = base(y + 2, x + 3)
    supp = base[..., 0:32, 6:46]  # supp(y, x) = base(y, x + 6): ref(y, x) = supp(y + 2, x - 3)
    flow = torch.zeros(1, 2, 32, 40)
    flow[:, 0], flow[:, 1] = -3.0, 2.0
    exact = photometric_error(ref, supp, flow, charbonnier=False)
    none = photometric_error(ref, supp, torch.zeros_like(flow), charbonnier=False)
    assert float(exact) < 1e-3 < float(none)
    charb = photometric_error(ref, supp, torch.zeros_like(flow))
    assert float(none) - 1.0 <= float(charb) <= float(none)
    assert float(smoothness(flow, ref)) == 0.0


def test_flow_init_replaces_the_inits_flow_network(tmp_path) -> None:
    """--init a trained teacher and --flow-init a better SPyNet: the trunk and upsampler come from
    the teacher, the flow network from the SPyNet folder; a model without one is refused."""
    import dataclasses

    from slimvsr.compression.training.loop import build_for_training
    from slimvsr.errors import ConfigError
    from slimvsr.models import build_model, named_config, save_pretrained

    torch.manual_seed(0)
    overrides = (("num_feat", 8), ("num_block", 1))
    small = dataclasses.replace(named_config("basicvsr-uni").config(4), **dict(overrides))
    teacher = build_model("basicvsr", small)
    flow = build_model("spynet", named_config("spynet").config(None))
    save_pretrained(teacher, tmp_path / "teacher")
    save_pretrained(flow, tmp_path / "flow")
    common = dict(out=str(tmp_path / "run"), flow_init=str(tmp_path / "flow"))
    init = str(tmp_path / "teacher")
    cfg = TrainConfig(recipe="vsr", model="basicvsr-uni", model_overrides=overrides, init=init, **common)
    model = build_for_training(cfg)
    for k, v in model.state_dict().items():
        src = flow.state_dict()[k[len("spynet.") :]] if k.startswith("spynet.") else teacher.state_dict()[k]
        assert torch.equal(v, src), k
    with pytest.raises(ConfigError, match="flow network"):
        build_for_training(TrainConfig(recipe="image", model="edsrmini", **common))


def test_time_limit_stops_with_a_checkpoint_and_the_same_run_resumes_exactly(corpus, tmp_path) -> None:
    """Past ``stop_at`` the loop checkpoints after the step it is on and raises TrainingStopped;
    run again without a limit, it ends where an uninterrupted run ends, bit for bit."""
    import time

    from slimvsr.errors import TrainingStopped

    straight = train(_cfg(tmp_path / "a", corpus))
    with pytest.raises(TrainingStopped, match="stopped at step 1 of 6"):
        train(_cfg(tmp_path / "b", corpus, stop_at=time.time() - 1.0))
    assert torch.load(tmp_path / "b" / "ckpt.pt", weights_only=True)["step"] == 1
    resumed = train(_cfg(tmp_path / "b", corpus))
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_a_resumed_run_needs_its_checkpoint_not_its_starting_point(corpus, tmp_path) -> None:
    """A run started from --init resumes from its checkpoint alone: with the init folder gone (a
    new machine restores a run's committed checkpoint, not always what it started from) it still
    ends bit for bit where the uninterrupted run ends."""
    import shutil
    import time

    from slimvsr.compression.training.loop import build_for_training
    from slimvsr.errors import TrainingStopped
    from slimvsr.models import save_pretrained

    torch.manual_seed(1)
    start = tmp_path / "start"
    save_pretrained(build_for_training(_cfg(tmp_path / "x", corpus)), start)
    straight = train(_cfg(tmp_path / "a", corpus, init=str(start)))
    with pytest.raises(TrainingStopped):
        train(_cfg(tmp_path / "b", corpus, init=str(start), stop_at=time.time() - 1.0))
    shutil.rmtree(start)
    resumed = train(_cfg(tmp_path / "b", corpus, init=str(start)))
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b), k


def test_training_device_is_checked_and_auto_is_what_torch_sees() -> None:
    from slimvsr.errors import DeviceError

    auto = TrainConfig(recipe="image", model="edsrmini", out="x")
    assert auto.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert TrainConfig(recipe="image", model="edsrmini", out="x", device="cpu").device == "cpu"
    for bad, msg in (("cuda:7", "CUDA devices"), ("mps", "CPU or CUDA"), ("gpu", "unknown")):
        if bad == "cuda:7" and torch.cuda.device_count() > 7:
            continue
        with pytest.raises(DeviceError, match=msg):
            TrainConfig(recipe="image", model="edsrmini", out="x", device=bad)


def test_tasks_move_their_teachers_to_the_training_device(corpus) -> None:
    """The loop calls ``task.to(device)``: a distillation or Temporal-Finetuning teacher then runs
    beside the student (checked with PyTorch's meta device, which any torch build has)."""
    from slimvsr.compression.distill.pipeline import DistillTask
    from slimvsr.compression.ssl.pipeline import TFTask
    from slimvsr.compression.training.sr import ImageSRTask, VideoSRTask
    from slimvsr.models import build_model
    from tiny import tiny_config

    cfg = _cfg(Path("x"), corpus)
    edsr = build_model("edsr", tiny_config("edsr", scale=2))
    task = DistillTask(ImageSRTask(cfg), edsr, alpha=1.0)
    task.to(torch.device("meta"))
    assert all(p.is_meta for p in edsr.parameters())
    vsr = build_model("basicvsr", tiny_config("basicvsr"))
    TFTask(VideoSRTask(_cfg(Path("x"), corpus, recipe="vsr", model="basicvsr-uni", scale=4)), vsr).to(
        torch.device("meta")
    )
    assert all(p.is_meta for p in vsr.parameters())


def test_cli_time_limit_exits_75_and_leaves_no_model_until_the_run_is_done(tmp_path, capsys) -> None:
    from slimvsr.compression.cli import main

    corpus = make_corpus(tmp_path / "corpus")
    (corpus / "manifest.json").write_text("{}")  # the prepared layout, which finish() scores on
    out = tmp_path / "run"
    args = ["train", "--model", "edsr-baseline", "--scale", "2", "--data", str(corpus), "--out", str(out)]
    args += ["--steps", "3", "--batch", "2", "--patch", "12", "--precision", "fp32", "--threads", "1"]
    assert main([*args, "--time-limit", "1e-6", "--device", "cpu"]) == 75
    err = capsys.readouterr().err
    assert "stopped at step 1 of 3" in err and "error" not in err
    assert (out / "ckpt.pt").exists() and not (out / "model").exists()
    assert main(args) == 0
    meta = json.loads((out / "model" / "config.json").read_text())
    assert meta["training"]["recipe"]["device"] == "cpu" and "stop_at" not in meta["training"]["recipe"]
    assert main([*args, "--time-limit", "0"]) == 2


def test_frame_teacher_adds_its_target_with_a_falling_weight(corpus, tmp_path) -> None:
    """loss = Charbonnier(out, HR) + w(step) * Charbonnier(out, teacher(LR)), w linear from
    teacher_weight to 0: a teacher that is the model itself adds only Charbonnier's floor; a
    video model is taught frame by frame; the run records its teacher by name and sha256."""
    import copy
    import dataclasses

    from slimvsr.compression.losses import charbonnier
    from slimvsr.compression.training.loop import build_for_training
    from slimvsr.compression.training.sr import FrameTeacherTask, ImageSRTask, VideoSRTask
    from slimvsr.errors import ConfigError
    from slimvsr.models import build_model, save_pretrained
    from tiny import tiny_config

    torch.manual_seed(0)
    cfg = _cfg(tmp_path / "img", corpus, steps=4)
    student = build_for_training(cfg).eval()
    task = FrameTeacherTask(ImageSRTask(cfg), copy.deepcopy(student), cfg)
    assert [task.weight_at(s) for s in (0, 2, 4)] == [1.0, 0.5, 0.0]
    b = task.batch(2, 0, 1)
    with torch.no_grad():
        out = student(b["lr"])
        floor = float(charbonnier(out, out))
        assert float(task.loss(student, b)) == pytest.approx(float(charbonnier(out, b["hr"])) + 0.5 * floor)

    teacher = build_model("edsr", tiny_config("edsr", scale=4))
    save_pretrained(teacher, tmp_path / "teacher")
    vcfg = _cfg(
        tmp_path / "vid",
        corpus,
        recipe="vsr",
        model="basicvsr-uni",
        scale=4,
        frames=3,
        patch=8,
        batch=2,
        steps=2,
        val_every=2,
        teacher=str(tmp_path / "teacher"),
        teacher_weight=2.0,
    )
    vt = FrameTeacherTask(VideoSRTask(vcfg), teacher, vcfg)
    b = vt.batch(0, 0, 1)
    model = build_for_training(vcfg)
    with torch.no_grad():
        out = model(b["lr"])
        t = teacher(b["lr"].flatten(0, 1)).clamp(0, 1).reshape(out.shape)
        want = charbonnier(out, b["hr"]) + 2.0 * charbonnier(out, t)
        assert float(vt.loss(model, b)) == pytest.approx(float(want), rel=1e-6)

    from slimvsr.compression.publish import export_run

    trained = train(vcfg)
    folder = export_run(trained, vcfg, tmp_path / "vid" / "model", command="x")
    meta = json.loads((folder / "config.json").read_text())
    assert set(meta["training"]["recipe"]["teacher"]) >= {"name", "sha256", "scale"}
    with pytest.raises(ConfigError, match="x2 image model"):
        wrong_scale = dataclasses.replace(cfg, teacher=str(tmp_path / "teacher"))
        FrameTeacherTask.from_folder(ImageSRTask(cfg), wrong_scale)
    with pytest.raises(ConfigError, match="weight > 0"):
        _cfg(tmp_path / "w", corpus, teacher=str(tmp_path / "teacher"), teacher_weight=0.0)
