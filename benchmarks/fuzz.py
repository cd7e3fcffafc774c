"""Fuzz the upscaler with damaged media: every outcome classified, nothing lost.

    python benchmarks/fuzz.py --cases 18000 --cli 2000 --seed 1 --limit 120 \
        --state ~/.cache/slimvsr/fuzz-long --out docs/fuzz-long.json          # the long run
    (tests/test_fuzz.py runs a fixed-seed few hundred through the engine and a few through the CLI)

Seeds are made here: every container and codec the engine claims (mp4/h264, mkv/hevc 10-bit,
mov/prores, webm/vp9, mkv/ffv1, MPEG-TS/h264 with a resolution change), with AAC audio, odd
sizes, images of every listed format (PNG, RGBA PNG, JPEG with EXIF orientation, WebP, TIFF,
BMP, an APNG). Mutators: truncation, byte flips, chunk duplication and deletion,
PNG chunk rewrites with valid CRCs, an extension swap. Each case runs ``engine.Job`` in this
process (or ``vsr-upscale`` in a subprocess) with tiny models, and is classified:

    ok          finished; the output probes and is the input's size times the scale
    error       a SlimVSRError (CLI: exit 1 or 2) with one line that names no temporary
    crash       anything else (a traceback; CLI: another exit code or a traceback on stderr)
    hang        no end within the time limit
    partial     an output file under the final name after a failure
    stray       a ``.partial`` temporary left in the output folder
    modified    the input file changed
    bad-output  "ok", but the output does not probe or has the wrong size

The run fails (exit 1) when any case is in a class other than ok / error. With ``--state`` a long
run survives stops: the same command resumes it where it stopped (scripts/resume-fuzz.sh runs it
in the background and restarts it each session).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

GOOD = ("ok", "error")


# -- seeds ------------------------------------------------------------------------------------
def _video(path: Path, codec: str, pix: str, size: tuple[int, int], n: int, fmt: str | None = None,
           audio: bool = False, t0: int = 0) -> Path:  # fmt: skip
    rng = np.random.default_rng(len(path.name))
    with av.open(str(path), "w", format=fmt) as o:
        v = o.add_stream(codec, rate=10)
        v.width, v.height, v.pix_fmt = size[1], size[0], pix
        if codec == "libx265":
            v.codec_context.options = {"x265-params": "log-level=error"}
        a = None
        if audio:
            a = o.add_stream("aac", rate=48000)
        for i in range(n):
            f = av.VideoFrame.from_ndarray((rng.random((*size, 3)) * 255).astype(np.uint8), format="rgb24")
            f = f.reformat(format=pix)
            f.pts, f.time_base = t0 + i, Fraction(1, 10)
            o.mux(v.encode(f))
        o.mux(v.encode(None))
        if a is not None:
            for i in range(n * 4):
                fr = av.AudioFrame.from_ndarray(np.zeros((1, 1200), np.float32), format="fltp", layout="mono")
                fr.sample_rate, fr.pts = 48000, i * 1200
                o.mux(a.encode(fr))
            o.mux(a.encode(None))
    return path


def make_seeds(folder: Path) -> list[Path]:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    seeds = [
        _video(folder / "h264.mp4", "libx264", "yuv420p", (18, 22), 5, audio=True),
        _video(folder / "hevc10.mkv", "libx265", "yuv420p10le", (16, 24), 4),
        _video(folder / "prores.mov", "prores_ks", "yuv422p10le", (16, 16), 3),
        _video(folder / "vp9.webm", "libvpx-vp9", "yuv420p", (16, 16), 3),
        _video(folder / "ffv1.mkv", "ffv1", "yuv444p", (17, 13), 3),
    ]
    ts = folder / "change.ts"
    a = _video(folder / "_a.ts", "libx264", "yuv420p", (24, 32), 3, fmt="mpegts")
    b = _video(folder / "_b.ts", "libx264", "yuv420p", (12, 16), 3, fmt="mpegts", t0=3)
    ts.write_bytes(a.read_bytes() + b.read_bytes())
    a.unlink()
    b.unlink()
    seeds.append(ts)
    rng = np.random.default_rng(0)
    rgb = (rng.random((14, 18, 3)) * 255).astype(np.uint8)
    im = Image.fromarray(rgb)
    for ext in ("png", "webp", "tif", "bmp"):
        im.save(folder / f"photo.{ext}")
        seeds.append(folder / f"photo.{ext}")
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(folder / "phone.jpg", quality=90, exif=exif.tobytes())
    Image.fromarray(np.dstack([rgb, rgb[..., 0]]), "RGBA").save(folder / "alpha.png")
    frames = [Image.fromarray(np.roll(rgb, i, axis=1)) for i in range(3)]
    frames[0].save(folder / "anim.png", save_all=True, append_images=frames[1:], duration=100)
    seeds += [folder / "phone.jpg", folder / "alpha.png", folder / "anim.png"]
    return seeds


# -- mutators -----------------------------------------------------------------------------------
def _png_rechunk(data: bytes, rng: random.Random) -> bytes:
    """Rewrite one PNG chunk's payload (flip a byte) and fix its CRC: a 'valid' damaged file."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        chunks.append((pos, n))
        pos += 12 + n
    if not chunks:
        return data
    at, n = rng.choice(chunks)
    if n == 0:
        return data
    body = bytearray(data[at + 8 : at + 8 + n])
    body[rng.randrange(n)] ^= 1 << rng.randrange(8)
    kind = data[at + 4 : at + 8]
    crc = struct.pack(">I", zlib.crc32(kind + bytes(body)) & 0xFFFFFFFF)
    return data[: at + 8] + bytes(body) + crc + data[at + 12 + n :]


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    kind = rng.choice(["truncate", "flip", "flips", "dup", "delete", "png-chunk", "none"])
    b = bytearray(data)
    if kind == "truncate":
        return bytes(b[: rng.randrange(1, len(b))]), kind
    if kind == "flip":
        i = rng.randrange(min(len(b), 4096))  # headers are where parsers break
        b[i] ^= 1 << rng.randrange(8)
    elif kind == "flips":
        for _ in range(rng.randrange(2, 40)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind in ("dup", "delete"):
        i = rng.randrange(len(b))
        j = min(len(b), i + rng.randrange(1, 512))
        b = b[:j] + b[i:j] + b[j:] if kind == "dup" else b[:i] + b[j:]
    elif kind == "png-chunk":
        return _png_rechunk(data, rng), kind
    return bytes(b), kind


# -- running ------------------------------------------------------------------------------------
@dataclass
class Case:
    seed: str
    mutation: str
    ext: str
    via: str
    outcome: str = ""
    detail: str = ""
    seconds: float = 0.0


def _tiny_models(folder: Path) -> dict[str, Path]:
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from slimvsr.models import EDSR, BasicVSR, save_pretrained
    from tiny import tiny_config

    torch.manual_seed(0)
    out = {"video": folder / "uni", "image": folder / "edsr"}
    if not (out["video"] / "config.json").is_file():
        save_pretrained(BasicVSR(tiny_config("basicvsr", 0)), out["video"], {"name": "uni"})
        save_pretrained(EDSR(tiny_config("edsr", 0, scale=2)), out["image"], {"name": "edsr"})
    return out


def _check_after(case: Case, inp: Path, digest: str, outdir: Path, finished: bool) -> None:
    if hashlib.sha256(inp.read_bytes()).hexdigest() != digest:
        case.outcome = "modified"
    elif list(outdir.glob(".*partial*")):
        case.outcome = "stray"
    elif not finished and [p for p in outdir.iterdir() if not p.name.startswith(".")]:
        case.outcome = "partial"


def _verify_output(case: Case, inp: Path, out: Path, scale: int) -> None:
    from slimvsr.engine import probe
    from slimvsr.engine._photo import read_photo_meta

    try:
        i, o = probe(inp), probe(out)
        want = (i.width * scale, i.height * scale)
        if i.is_image and read_photo_meta(inp).orientation >= 5:  # shown turned a quarter: applied
            want = want[::-1]
        if (o.width, o.height) != want:
            case.outcome, case.detail = "bad-output", f"{o.width}x{o.height} from {i.width}x{i.height}"
    except Exception as e:
        case.outcome, case.detail = "bad-output", f"{type(e).__name__}: {e}"


def _kind(inp: Path) -> str:
    """Which tiny model a case gets: the image one for what probes as an image, else the video one."""
    from slimvsr.engine import probe

    try:
        return "image" if probe(inp).is_image else "video"
    except Exception:  # a file that does not probe: the run itself reports it
        return "video"


def _wait(done, limit: float) -> tuple[bool, float]:
    """Poll ``done(seconds)`` until it reports the case over, for at most ``limit`` seconds of time
    in which this process ran. A poll that took far longer than asked means the process was
    stopped (the long run is paused with SIGSTOP while benchmarks time something else) and counts
    as one second: a paused run is not a hang. Returns (over, seconds counted)."""
    ran = 0.0
    while ran < limit:
        t = time.monotonic()
        if done(1.0):
            return True, ran + min(time.monotonic() - t, 1.0)
        dt = time.monotonic() - t
        ran += dt if dt < 5.0 else 1.0
    return False, ran


def run_engine(case: Case, inp: Path, outdir: Path, models: dict[str, Path], limit: float) -> None:
    from slimvsr.engine import Finished, Job, UpscaleOptions
    from slimvsr.errors import SlimVSRError

    digest = hashlib.sha256(inp.read_bytes()).hexdigest()
    kind = _kind(inp)
    scale = 2 if kind == "image" else 4
    opts = UpscaleOptions(model=str(models[kind]), device="cpu", precision="fp32", chunk=2)
    job = Job(inp, None if kind == "video" else outdir / f"out{inp.suffix or '.png'}", opts)
    if kind == "video":
        job.out = outdir / "out.mkv"
    result: dict = {}

    def go() -> None:
        try:
            evs = list(job.run())
            result["finished"] = evs and isinstance(evs[-1], Finished)
            result["out"] = evs[-1].output if result["finished"] else None
        except SlimVSRError as e:
            result["error"] = str(e)
        except BaseException as e:  # a crash: recorded, not raised
            result["crash"] = f"{type(e).__name__}: {e}"

    th = threading.Thread(target=go, daemon=True)
    th.start()
    over, case.seconds = _wait(lambda s: (th.join(s), not th.is_alive())[1], limit)
    if not over:
        job.cancel()
        th.join(10)
        case.outcome, case.detail = "hang", f"no end within {limit:.0f} s"
        return
    if "crash" in result:
        case.outcome, case.detail = "crash", result["crash"][:300]
    elif "error" in result:
        msg = result["error"]
        bad = "\n" in msg or ".partial" in msg
        case.outcome, case.detail = ("crash" if bad else "error"), msg[:300]
    else:
        case.outcome = "ok"
        _verify_output(case, inp, result["out"], scale)
    _check_after(case, inp, digest, outdir, case.outcome in ("ok", "bad-output"))


def run_cli(case: Case, inp: Path, outdir: Path, models: dict[str, Path], limit: float) -> None:
    digest = hashlib.sha256(inp.read_bytes()).hexdigest()
    kind = _kind(inp)
    out = outdir / ("out.mkv" if kind == "video" else f"out{inp.suffix or '.png'}")
    cmd = [sys.executable, "-m", "slimvsr.app.cli", str(inp), "-m", str(models[kind]), "-o", str(out)]
    cmd += ["-q", "--device", "cpu", "--precision", "fp32"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got: list[str] = []

    def done(s: float) -> bool:
        try:
            got[:] = p.communicate(timeout=s)
        except subprocess.TimeoutExpired:
            return False
        return True

    over, case.seconds = _wait(done, limit)
    if not over:
        p.kill()
        p.communicate()
        case.outcome, case.detail = "hang", f"no exit within {limit:.0f} s"
        return
    err = [ln for ln in got[1].splitlines() if ln.strip() and not ln.startswith("vsr-upscale: note:")]
    if p.returncode == 0:
        case.outcome = "ok"
        _verify_output(case, inp, out, 2 if kind == "image" else 4)
    elif p.returncode in (1, 2) and len(err) == 1 and err[0].startswith("vsr-upscale: error:"):
        case.outcome, case.detail = ("crash" if ".partial" in err[0] else "error"), err[0][:300]
    else:
        case.outcome, case.detail = "crash", f"exit {p.returncode}: " + " | ".join(err)[-300:]
    _check_after(case, inp, digest, outdir, p.returncode == 0)


def _seed_files(folder: Path) -> list[Path]:
    """The seeds, made once per work folder: a resumed run mutates the very same bytes."""
    manifest = folder / "manifest.txt"
    if manifest.is_file():
        return [folder / n for n in manifest.read_text().split()]
    seeds = make_seeds(folder)
    manifest.write_text("\n".join(s.name for s in seeds) + "\n")
    return seeds


def _done(record: Path | None) -> dict[int, Case]:
    """Cases already finished in an earlier stretch of a resumable run (one JSON line each)."""
    done: dict[int, Case] = {}
    if record is not None and record.is_file():
        for line in record.read_text().splitlines():
            try:
                d = json.loads(line)
            except json.JSONDecodeError:  # the last line of a killed stretch
                continue
            i = d.pop("i")
            done[i] = Case(**d)
    return done


def fuzz(cases: int, cli: int, seed: int, work: Path, limit: float = 60.0, log=print,
         record: Path | None = None) -> list[Case]:  # fmt: skip
    """Run cases 0 .. cases+cli-1 (the last ``cli`` of them through the CLI). With ``record`` (a
    JSON-lines file) each finished case is appended there and cases already in it are not run
    again: the random draws are replayed, so a resumed run is the same run as one without a stop."""
    rng = random.Random(seed)
    seeds = _seed_files(work / "seeds")
    models = _tiny_models(work / "models")
    if record is not None and record.is_file():  # drop the half line a killed stretch wrote
        text = record.read_bytes()
        if text and not text.endswith(b"\n"):
            record.write_bytes(text[: text.rfind(b"\n") + 1])
    done = _done(record)
    out: list[Case] = []
    exts = [".mp4", ".mkv", ".png", ".jpg", ".webm", ".ts", ".tif"]
    for i in range(cases + cli):
        src = rng.choice(seeds)
        data, how = mutate(src.read_bytes(), rng)
        ext = src.suffix
        if rng.random() < 0.1:  # an extension swap: content, not names, must decide
            ext = rng.choice(exts)
            how += "+ext"
        if i in done:
            out.append(done[i])
            continue
        via = "cli" if i >= cases else "engine"
        case = Case(src.name, how, ext, via)
        d = work / f"case{i}"
        shutil.rmtree(d, ignore_errors=True)  # a case a killed stretch left half done
        d.mkdir()
        inp = d / f"in{ext}"
        inp.write_bytes(data)
        outdir = d / "out"
        outdir.mkdir()
        (run_cli if via == "cli" else run_engine)(case, inp, outdir, models, limit)
        out.append(case)
        if case.outcome not in GOOD:
            keep = work / "findings" / f"case{i}{ext}"
            keep.parent.mkdir(exist_ok=True)
            shutil.copyfile(inp, keep)
            log(f"case {i}: {case.outcome}: {case.seed} {case.mutation} {case.ext}: {case.detail}")
        shutil.rmtree(d, ignore_errors=True)
        if record is not None:
            with record.open("a") as f:
                f.write(json.dumps({"i": i, **asdict(case)}) + "\n")
        if (i + 1) % 100 == 0:
            log(f"{time.strftime('%H:%M:%S')} case {i + 1} of {cases + cli}")
    return out


def summary(results: list[Case]) -> dict:
    by: dict[str, dict[str, int]] = {}
    for c in results:
        by.setdefault(c.via, {}).setdefault(c.outcome, 0)
        by[c.via][c.outcome] += 1
    return by


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=300, help="cases through the engine, in this process")
    p.add_argument("--cli", type=int, default=20, help="cases through vsr-upscale, one process each")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=float, default=60.0, help="seconds before a case counts as a hang")
    p.add_argument("--out", type=Path, default=None, help="write the record (JSON)")
    p.add_argument("--state", type=Path, default=None,
                   help="a folder that keeps a long run's seeds and finished cases: run the same "
                   "command again to resume it after a stop")  # fmt: skip
    a = p.parse_args()
    from slimvsr.engine import cpu_name

    t = time.monotonic()
    command = f"python benchmarks/fuzz.py --cases {a.cases} --cli {a.cli} --seed {a.seed} --limit {a.limit:g}"
    machine = f"{platform.machine()} {cpu_name()}, {os.cpu_count()} cores"
    with tempfile.TemporaryDirectory(prefix="slimvsr-fuzz-") as tmp:
        work, record = Path(tmp), None
        if a.state is not None:
            work, record = a.state, a.state / "cases.jsonl"
            work.mkdir(parents=True, exist_ok=True)
            meta = {"command": command}
            known = work / "run.json"
            if known.is_file() and json.loads(known.read_text())["command"] != command:
                print(f"fuzz.py: {a.state} holds another run ({json.loads(known.read_text())['command']})")
                return 2
            known.write_text(json.dumps(meta) + "\n")
        before = len(_done(record))
        results = fuzz(a.cases, a.cli, a.seed, work, a.limit, record=record)
        findings = work / "findings"
        if findings.is_dir() and a.out:
            shutil.copytree(findings, a.out.with_suffix(".findings"), dirs_exist_ok=True)
    stretches = []
    if a.state is not None:
        with (a.state / "stretches.jsonl").open("a") as f:
            f.write(json.dumps({"machine": machine, "cases": len(results) - before,
                                "seconds": round(time.monotonic() - t)}) + "\n")  # fmt: skip
        stretches = [json.loads(x) for x in (a.state / "stretches.jsonl").read_text().splitlines()]
    rec = {
        "command": command,
        "machine": machine,
        "seconds": sum(x["seconds"] for x in stretches) if stretches else round(time.monotonic() - t),
        "stretches": stretches,  # a resumed run: each stretch's machine, cases and wall time
        "case_seconds": round(sum(c.seconds for c in results)),
        "summary": summary(results),
        "not_ok": [asdict(c) for c in results if c.outcome not in GOOD],
    }
    print(json.dumps(rec["summary"], indent=2))
    if a.out:
        a.out.write_text(json.dumps(rec, indent=2) + "\n")
    return 0 if not rec["not_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
