"""Inputs a hostile or unlucky user hands over: each ends in one clear line or a correct output,
the same way for every model (media made in the test)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from media import write_clip
from slimvsr.app.cli import main as upscale_main
from slimvsr.models import EDSR, BasicVSR, save_pretrained
from tiny import tiny_config


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("hostile-models")
    save_pretrained(EDSR(tiny_config("edsr", 0, scale=2)), root / "edsr", {"name": "edsr"})
    save_pretrained(BasicVSR(tiny_config("basicvsr", 0)), root / "uni", {"name": "uni"})
    return {"edsr": root / "edsr", "uni": root / "uni"}


def _one_line(capsys) -> str:
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("vsr-upscale: error:"), err
    assert "Traceback" not in err[0] and ".partial" not in err[0]
    return err[0]


def _ts(path: Path, size: tuple[int, int], n: int, t0: int) -> bytes:
    with av.open(str(path), "w", format="mpegts") as o:
        v = o.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = size[1], size[0], "yuv420p"
        v.time_base = Fraction(1, 90000)
        for i in range(n):
            f = av.VideoFrame.from_ndarray(np.full((*size, 3), 40 * i % 255, np.uint8), format="rgb24")
            f.pts, f.time_base = (t0 + i) * 9000, Fraction(1, 90000)
            o.mux(v.encode(f))
        o.mux(v.encode(None))
    return path.read_bytes()


@pytest.mark.parametrize(("model", "chunk"), [("uni", "1"), ("uni", "8"), ("edsr", "3")])
def test_resolution_change_mid_stream_is_refused_naming_the_frame(
    models, tmp_path, capsys, model, chunk
) -> None:
    data = _ts(tmp_path / "a.ts", (48, 64), 6, 0) + _ts(tmp_path / "b.ts", (24, 32), 6, 6)
    src = tmp_path / "changing.ts"
    src.write_bytes(data)
    out = tmp_path / "o.mkv"
    code = upscale_main(
        [str(src), "-m", str(models[model]), "-o", str(out), "--chunk", chunk, "--device", "cpu", "-q"]
    )
    line = _one_line(capsys)
    assert code == 2 and "changes size from 64x48 to 32x24" in line and "frame 7" in line
    assert not out.exists() and not list(tmp_path.glob(".*partial*"))


def test_metadata_that_is_not_utf8_is_read_not_fatal(models, tmp_path, capsys) -> None:
    src = write_clip(tmp_path / "t.mkv", n=3, size=(16, 16), audio=False)
    with av.open(str(src)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    tagged = tmp_path / "tagged.mkv"
    with av.open(str(tagged), "w") as o:
        o.metadata["title"] = "ÄÄÄÄÄÄ"
        v = o.add_stream("libx264", rate=10)
        v.width, v.height, v.pix_fmt = 16, 16, "yuv420p"
        for i, a in enumerate(frames):
            f = av.VideoFrame.from_ndarray(a, format="rgb24")
            f.pts = i
            o.mux(v.encode(f))
        o.mux(v.encode(None))
    raw = tagged.read_bytes()
    assert b"\xc3\x84" * 6 in raw
    tagged.write_bytes(raw.replace(b"\xc3\x84" * 6, b"\xff\xfe" * 6))  # a byte-flipped header tag
    assert upscale_main([str(tagged), "-m", str(models["edsr"]), "-o", str(tmp_path / "o.mkv"), "-q"]) == 0
    with av.open(str(tmp_path / "o.mkv")) as c:
        assert c.streams.video[0].frames in (0, 3) and "�" in c.metadata.get("title", "")


def test_decompression_bombs_are_refused_at_once_with_the_flag_to_allow(models, tmp_path, capsys) -> None:
    big = tmp_path / "bomb.png"
    Image.new("RGB", (5000, 4000)).save(big)  # 20 MP that compresses to a few KB
    assert big.stat().st_size < 200_000
    assert upscale_main([str(big), "-m", str(models["edsr"])]) == 2
    assert "--max-pixels 20000000" in _one_line(capsys)
    thin = tmp_path / "thin.png"
    Image.new("RGB", (2000, 20)).save(thin)
    assert upscale_main([str(thin), "-m", str(models["edsr"])]) == 2
    assert "--max-aspect 100" in _one_line(capsys)
    assert upscale_main([str(thin), "-m", str(models["edsr"]), "--max-aspect", "100", "-q"]) == 0
    assert Image.open(tmp_path / "thin.edsr-x2.png").size == (4000, 40)


def test_several_frames_under_an_image_name_are_a_video_decided_by_content(models, tmp_path) -> None:
    clip = write_clip(tmp_path / "c.mp4", n=5, size=(16, 16), audio=False)
    disguised = tmp_path / "holiday.png"
    disguised.write_bytes(clip.read_bytes())
    assert upscale_main([str(disguised), "-m", str(models["edsr"]), "-q"]) == 0
    with av.open(str(tmp_path / "holiday.edsr-x2.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 5
    anim = tmp_path / "anim.png"  # an APNG
    frames = [Image.new("RGB", (16, 16), (40 * i, 0, 0)) for i in range(4)]
    frames[0].save(anim, save_all=True, append_images=frames[1:], duration=100)
    assert upscale_main([str(anim), "-m", str(models["edsr"]), "-q"]) == 0
    with av.open(str(tmp_path / "anim.edsr-x2.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 4


def test_paths_dash_names_and_dangling_links(models, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Image.new("RGB", (16, 12)).save(tmp_path / "-dash.png")
    with pytest.raises(SystemExit) as e:
        upscale_main(["-dash.png", "-m", str(models["edsr"])])
    assert e.value.code == 2
    line = _one_line(capsys)
    assert "./-name" in line
    assert upscale_main(["-m", str(models["edsr"]), "-q", "--", "-dash.png"]) == 0
    link = tmp_path / "out.png"
    os.symlink(tmp_path / "nowhere.png", link)  # dangling
    assert upscale_main(["./-dash.png", "-m", str(models["edsr"]), "-o", str(link)]) == 2
    assert "already exists" in _one_line(capsys) and link.is_symlink()


def test_frames_dropped_for_a_damaged_first_timestamp_are_reported(models, tmp_path, capsys) -> None:
    """A first frame stamped far in the future (here a 1-frame segment at 1,000 s before the
    real stream at 0 s): no decoded frame is silently lost, and what does not add up is said."""
    data = _ts(tmp_path / "a.ts", (16, 16), 1, 10_000) + _ts(tmp_path / "b.ts", (16, 16), 8, 0)
    src = tmp_path / "stamp.ts"
    src.write_bytes(data)
    code = upscale_main([str(src), "-m", str(models["edsr"]), "-o", str(tmp_path / "o.mkv"), "-q"])
    err = capsys.readouterr().err
    with av.open(str(tmp_path / "o.mkv")) as c:
        written = sum(1 for _ in c.decode(video=0))
    assert code == 0 and written == 9  # every decoded frame is in the output
    assert "the container declares" in err or "timestamps before the first frame's" in err


def test_decoder_counts_the_frames_it_leaves_out(tmp_path) -> None:
    from slimvsr.engine import decode_frames, probe

    clip = write_clip(tmp_path / "c.mp4", n=12, size=(16, 16), audio=False)
    stats: dict[str, int] = {}
    kept = list(decode_frames(probe(clip), 0.5, None, stats))
    assert len(kept) == 7 and stats["before_start"] == 5  # from the keyframe at 0 up to 0.5 s


def test_wrapped_errors_name_the_users_files_not_the_temporary(tmp_path) -> None:
    import errno

    from slimvsr.engine._pipeline import _tmp_name, _wrap

    out = tmp_path / "film.mkv"
    tmp = _tmp_name(out)
    e = _wrap(OSError(errno.EINVAL, "Invalid argument", str(tmp)), tmp_path / "in.mp4", out)
    msg = str(e)
    assert ".partial" not in msg and str(out) in msg and "22" not in msg and "Invalid argument" in msg
    msg = str(_wrap(RuntimeError(f"muxing '{tmp}' returned -22"), tmp_path / "in.mp4", out))
    assert ".partial" not in msg and "returned" not in msg and msg.endswith("film.mkv was not written")


def test_a_full_disk_is_one_line_and_leaves_nothing(models, tmp_path) -> None:
    """The output's file system fills up mid-write (a file-size limit stands in for a full disk):
    one clear line, nothing under the final name, no temporary, the input untouched."""
    import hashlib
    import resource
    import signal
    import subprocess
    import sys

    clip = write_clip(tmp_path / "c.mp4", n=30, size=(32, 48), audio=False)
    digest = hashlib.sha256(clip.read_bytes()).hexdigest()
    out = tmp_path / "out" / "big.mkv"
    out.parent.mkdir()

    def limit() -> None:  # in the child: writes past 64 KiB fail with EFBIG instead of SIGXFSZ
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    cmd = [sys.executable, "-m", "slimvsr.app.cli", str(clip), "-m", str(models["uni"]), "-o", str(out)]
    p = subprocess.run(
        [*cmd, "-q", "--codec", "ffv1"], capture_output=True, text=True, preexec_fn=limit, timeout=240
    )
    err = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode in (1, 2) and len(err) == 1, p.stderr
    assert "size limit" in err[0] or "no space" in err[0]
    assert list(out.parent.iterdir()) == [] and hashlib.sha256(clip.read_bytes()).hexdigest() == digest


def _wait_for_handlers(pid: int, timeout: float = 60.0) -> None:
    """Until the process catches SIGTERM (its /proc status SigCgt mask): slimvsr installs its
    SIGINT handler, then its SIGTERM one, as its first lines run."""
    import signal
    import time

    bit = 1 << (signal.SIGTERM - 1)
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return  # already gone
        cgt = next(ln for ln in status.splitlines() if ln.startswith("SigCgt:"))
        if int(cgt.split()[1], 16) & bit:
            return
        time.sleep(0.005)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_interrupts_at_many_points_never_leave_a_partial_output(models, tmp_path, sig) -> None:
    """SIGINT and SIGTERM sent at spread-out moments of real runs (start-up and imports, probing,
    decoding, the model, encoding, around the rename): each run either finished whole (exit 0, a
    valid output) or stopped clean (exit 130/143, one line, nothing under the final name); never
    a temporary left, never the input changed."""
    import hashlib
    import random
    import signal
    import subprocess
    import sys
    import time

    from slimvsr.engine import probe

    src = write_clip(tmp_path / "c.mp4", n=24, size=(32, 48), audio=False)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    rng = random.Random(sig)
    # Counted from the moment slimvsr's handlers are installed (its first lines, before the heavy
    # imports); a signal before that, while the interpreter itself starts, ends it the default way
    # with nothing written yet (checked separately below).
    delays = [0.0, 0.3, 1.0] + [rng.uniform(1.0, 8.0) for _ in range(3)]
    outcomes = set()
    for i, delay in enumerate(delays):
        out = tmp_path / f"o{i}" / "out.mkv"
        out.parent.mkdir()
        cmd = [sys.executable, "-m", "slimvsr.app.cli", str(src), "-m", str(models["uni"]), "-o", str(out)]
        proc = subprocess.Popen([*cmd, "-q", "--chunk", "2"], stderr=subprocess.PIPE, text=True)
        _wait_for_handlers(proc.pid)
        time.sleep(delay)
        proc.send_signal(getattr(signal, sig))
        _, err = proc.communicate(timeout=180)
        left = sorted(p.name for p in out.parent.iterdir())
        if proc.returncode == 0:
            assert left == ["out.mkv"] and probe(out).width == 4 * 48, err
            outcomes.add("finished")
        else:
            assert proc.returncode == {"SIGINT": 130, "SIGTERM": 143}[sig], err
            assert "Traceback" not in err, err
            # Nothing, or (a signal between the final rename and the exit) the whole output.
            assert left == [] or (left == ["out.mkv"] and probe(out).width == 4 * 48), (left, err)
            outcomes.add("stopped")
        assert hashlib.sha256(src.read_bytes()).hexdigest() == digest
    assert "stopped" in outcomes
    out = tmp_path / "early" / "out.mkv"
    out.parent.mkdir()
    cmd = [sys.executable, "-m", "slimvsr.app.cli", str(src), "-m", str(models["uni"]), "-o", str(out)]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    proc.send_signal(getattr(signal, sig))  # at once: before the interpreter has loaded slimvsr
    proc.communicate(timeout=60)
    assert proc.returncode in (-getattr(signal, sig), 130, 143) and list(out.parent.iterdir()) == []


def test_a_signal_during_shutdown_does_not_turn_a_finished_run_into_a_killed_one() -> None:
    """CPython puts the default SIGINT/SIGTERM actions back while it shuts down; a signal landing
    then (a finished run, the output already renamed) would end the process by that signal. The
    program blocks both once its work is done, so it exits with its own code."""
    import subprocess
    import sys

    code = (
        "import atexit, os, signal, time\n"
        "import slimvsr.app.cli as cli\n"
        "def late():\n"  # the shutdown's state, and a signal arriving in it
        "    signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(0.3)\n"
        "atexit.register(late)\n"
        "cli.main = lambda argv=None: 0\n"
        "cli.entry()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_a_late_signal_with_other_threads_alive_does_not_kill_a_finished_run() -> None:
    """The same late signal, with a second thread alive (as PyTorch's and PyAV's are): blocking it
    in the main thread is not enough, the kernel hands it to the other thread. The hook below does
    what CPython's finalization does (the default action back for each handled signal, an ignored
    one left ignored) and then signals the process."""
    import subprocess
    import sys

    code = (
        "import atexit, os, signal, threading, time\n"
        "import slimvsr.app.cli as cli\n"
        "threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"
        "def late():\n"
        "    for s in (signal.SIGINT, signal.SIGTERM):\n"
        "        if signal.getsignal(s) not in (signal.SIG_IGN, signal.SIG_DFL):\n"
        "            signal.signal(s, signal.SIG_DFL)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(0.3)\n"
        "atexit.register(late)\n"
        "cli.main = lambda argv=None: 0\n"
        "cli.entry()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)
