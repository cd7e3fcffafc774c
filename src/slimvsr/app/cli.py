"""vsr-upscale: upscale videos and photos with a small, fast model.

examples:
vsr-upscale in.mp4 -m ssl-uni            # -> in.ssl-uni-x4.mp4 next to the input
vsr-upscale photo.jpg -m edsrmini -s 2   # -> photo.edsrmini-x2.jpg
vsr-upscale a.mp4 b.mkv -o out/          # several inputs into a folder
vsr-upscale clip.mp4 photo.jpg           # no -m: each input gets its kind's default model
vsr-upscale pics/ -o big/ --skip-existing   # a folder; run again to resume
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path

from .. import __version__
from ..errors import SlimVSRError, UsageError

EXIT_USAGE = 2


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if v < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description as written, and each option's default in its help (unless the help
    already says it, or there is none to say)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or action.default in (None, False, [], argparse.SUPPRESS)
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line, like every other error (argparse prints its usage block)."""

    def error(self, message: str):  # type: ignore[override]
        hint = ""
        if "unrecognized arguments: -" in message or "expected one argument" in message:
            hint = " (a file whose name starts with '-': write ./-name or put it after --)"
        print(f"{self.prog}: error: {message}{hint}; see {self.prog} --help", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    from ..engine import CODECS
    from ..models import default_model

    p = _Parser(prog="vsr-upscale", description=__doc__, formatter_class=_HelpFormatter)
    p.add_argument("inputs", nargs="*", type=Path, help="video/image files or folders of them")
    p.add_argument(
        "-m",
        "--model",
        default=None,
        help="registered name (see --list-models), model folder, or Hub repo ORG/NAME[@REVISION] "
        f"(default: {default_model('video')} for videos, {default_model('image')} for images)",
    )
    p.add_argument("-s", "--scale", type=int, default=None, help="upscaling factor (model's own)")
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="output file (one input), or folder: a trailing slash or several inputs mean a folder, "
        "created if missing (default: next to each input)",
    )
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] | mps")
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "fp32", "fp16", "bf16"],
        help="auto: bf16 on CPUs with bf16 instructions, fp16 on CUDA, else fp32 (the reference)",
    )
    p.add_argument(
        "--backend",
        default="auto",
        choices=["auto", "torch", "openvino"],
        help="inference runtime; auto: OpenVINO (CPU, when installed) for the models and precisions "
        "it measured >= 1.3x faster end to end (see --list-models), torch otherwise",
    )
    p.add_argument(
        "--codec",
        default="auto",
        choices=["auto", *sorted(CODECS)],
        help="video codec of the output; auto: h264 for 8-bit input, HEVC Main10 for 10-bit input "
        "(plays on far more players than H.264 High 10), VP9 in .webm; audio/subtitles are copied",
    )
    p.add_argument(
        "--crf",
        type=int,
        default=18,
        help="video constant quality, lower is better (x264/x265 0-51, AV1/VP9 0-63)",
    )
    p.add_argument(
        "--quality",
        type=int,
        default=None,
        help="JPEG/WebP output quality 1-100 (default: the input JPEG's own, else 95); PNG/TIFF are lossless",
    )
    p.add_argument("--preset", default=None, help="encoder speed preset, e.g. medium, slow")
    p.add_argument("--pix-fmt", default=None, help="output pixel format (default: from codec/input)")
    p.add_argument("--start", type=_positive_float, default=0.0, help="start at SECONDS")
    p.add_argument("--duration", type=_positive_float, default=None, help="upscale SECONDS only")
    p.add_argument("--chunk", type=int, default=8, help="frames per inference call")
    p.add_argument("--tile", type=int, default=None, help="LR tile size for large frames")
    p.add_argument(
        "--sequence",
        action="store_true",
        help="read each input folder as one video made of its frames (sorted by name)",
    )
    p.add_argument("--fps", type=float, default=25.0, help="frame rate of --sequence inputs")
    p.add_argument(
        "--max-pixels",
        type=int,
        default=16_777_216,
        help="refuse inputs whose frames have more pixels (a decompression bomb guard)",
    )
    p.add_argument(
        "--max-aspect", type=float, default=32.0, help="refuse frames longer than this ratio of their sides"
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="skip inputs whose output exists (a batch run again resumes where it stopped)",
    )
    p.add_argument(
        "--list-models",
        action="store_true",
        help="list models, where each is (bundled, cached, ...), and exit",
    )
    p.add_argument(
        "--download",
        action="append",
        default=[],
        metavar="NAME",
        help="fetch a model (registered name, all its scales unless -s; or ORG/NAME[@REVISION]) into "
        "the Hugging Face cache for offline use, and exit; repeatable",
    )
    p.add_argument(
        "--download-all",
        action="store_true",
        help="fetch every published model not on this machine, and exit",
    )
    p.add_argument("--version", action="version", version=f"vsr-upscale (slimvsr) {__version__}")
    p.add_argument("--json", action="store_true", help="with --list-models: JSON output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return p


_WHERE = {
    "bundled": "bundled",
    "hub-cache": "cached",
    "partial": "partial download",
    "downloadable": "downloadable",
    "missing": "not published",
}


def list_models(as_json: bool) -> int:
    from ..engine import adopted_entries, cpu_has_bf16, openvino_installed
    from ..models import list_weights, measured_ms, measured_speeds, named_config

    speed = measured_speeds("bf16" if cpu_has_bf16() else "fp32")  # as auto runs here
    rows = []
    for w in list_weights():
        meta = w.meta
        val = (meta.get("metrics") or {}).get("val") or {}  # the final fp32 evaluation
        named = named_config(w.entry.config_name)
        rows.append(
            {
                "name": w.entry.name,
                "kind": w.entry.kind,
                "scale": w.scale,
                "scales": list(w.entry.scales),
                "params": meta.get("params"),
                "macs": meta.get("macs"),
                "psnr_y": val.get("psnr_y"),
                "ssim_y": val.get("ssim_y"),
                "present": w.present,
                "source": w.source,
                "where": _WHERE[w.source],
                "ms_per_720p_frame": measured_ms(speed, w),
                "repo_id": w.hub.repo_id if w.hub else None,
                "revision": w.hub.revision if w.hub else None,
                "default": w.entry.default,
                "description": w.entry.description,
                "architecture": named.arch,
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<14} {'kind':<6} {'x':<3} {'params':>9} {'GMACs':>8} {'fps':>6} {'PSNR-Y':>7} where")
    for r in rows:
        params = f"{r['params'] / 1e6:.3f}M" if r["params"] else "-"
        macs = f"{r['macs'] / 1e9:.1f}" if r["macs"] else "-"
        psnr = f"{r['psnr_y']:.2f}" if r["psnr_y"] else "-"
        fps = f"{1000 / r['ms_per_720p_frame']:.2f}" if r["ms_per_720p_frame"] else "-"
        star = "*" if r["default"] else " "
        where = r["where"] + (f" ({r['repo_id']})" if r["repo_id"] and not r["present"] else "")
        print(
            f"{r['name'] + star:<14} {r['kind']:<6} {r['scale']:<3} {params:>9} {macs:>8} {fps:>6} "
            f"{psnr:>7} {where}"
        )
    print("* default of its kind. GMACs and fps per 1280x720 output frame, for every model.")
    if speed:
        m = speed["machine"]
        print(
            f"fps: model only, {speed['precision']}, measured on {m['cpu']} ({m['threads']} threads, "
            f"torch {speed['torch']}) by {speed['command']}; end to end is slower (docs/performance.md)."
        )
    for e in adopted_entries():
        if openvino_installed():
            how = ""
        elif getattr(sys, "frozen", False):  # a desktop bundle: OpenVINO is not part of it
            how = " in a pip install with slimvsr[openvino] (not in this bundle)"
        else:
            how = " once installed (pip install 'slimvsr[openvino]')"
        print(
            f"--backend auto runs {e['model']} on OpenVINO when it computes in {e['precision']}{how}: "
            f"{e['speedup_e2e']:.2f}x torch's speed end to end, measured on {e['machine']}."
        )
    print("downloadable: fetched on first use, or now with --download NAME (--download-all for every one).")
    return 0


class _DownloadBar:
    """One tqdm bar per file a download fetches, fed by (file, bytes done, total) updates."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.label, self.quiet = label, quiet
        self.bars: dict = {}

    def __call__(self, file: str, done: int, total: int | None) -> None:
        from tqdm import tqdm

        if self.quiet:
            return
        bar = self.bars.get(file)
        if bar is None:
            bar = self.bars[file] = tqdm(
                total=total, unit="B", unit_scale=True, desc=f"{self.label}: {file}", file=sys.stderr
            )
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def download_models(names: list[str], every: bool, scale: int | None, quiet: bool) -> int:
    """``--download``/``--download-all``: fill the Hugging Face cache for offline use."""
    from ..models import WEIGHTS, fetch, list_weights, locate

    targets: list[tuple[str, int | None]] = []
    for n in names:
        scales: tuple[int | None, ...] = (scale,)
        if n in WEIGHTS and scale is None:  # every scale that is here or published, else all (errors)
            ws = [w for w in list_weights() if w.entry.name == n]
            scales = tuple(w.scale for w in ws if w.present or w.hub) or WEIGHTS[n].scales
        targets += [(n, s) for s in scales]
    if every:
        targets += [(w.entry.name, w.scale) for w in list_weights() if w.hub is not None]
        if not targets:
            print(
                "nothing to download: no model of this release is published on the Hub yet", file=sys.stderr
            )
    for name, s in targets:
        loc = locate(name, s)
        if not loc.needs_download:
            fetch(loc)  # a registered name that is not published raises here; a cached one is verified
            print(f"{loc.label}: already on this machine ({_WHERE.get(loc.source, loc.source)})")
            continue
        bar = _DownloadBar(loc.label, quiet)
        try:
            folder = fetch(loc, bar)
        finally:
            bar.close()
        print(f"{loc.label}: downloaded ({folder})")
    return 0


class _FrameBar:
    """The per-job progress bar (tqdm): frames done of the total, fps, ETA."""

    def __init__(self, ev, quiet: bool) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=ev.total_frames,
            unit="frame",
            desc=ev.input.name,
            file=sys.stderr,
            disable=quiet,
            dynamic_ncols=True,
            leave=False,
        )

    def update(self, done: int) -> None:
        self.bar.update(done - self.bar.n)

    def close(self, frames: int | None = None) -> None:
        if frames is not None and not self.bar.disable:
            self.bar.total = frames  # the container's count was an estimate: end at what was written
            self.bar.update(frames - self.bar.n)
        self.bar.close()


def _output_target(args: argparse.Namespace, n_inputs: int, folder_input: bool) -> Path | None:
    """-o as given: a folder (created) when it ends with a slash, is one already, or several
    inputs (or a folder of them) go into it; else the output file."""
    if args.output is None:
        return None
    text = str(args.output)
    out = Path(text)
    if text.endswith(("/", os.sep)) or out.is_dir() or n_inputs > 1 or folder_input:
        if out.exists() and not out.is_dir():
            raise UsageError(f"{out}: not a folder; several inputs need -o FOLDER/")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"{out}: cannot create the output folder ({e.strerror})") from None
    return out


def run(args: argparse.Namespace) -> int:
    from ..engine import (
        Downloading,
        EncodeSettings,
        Finished,
        Job,
        Progress,
        Started,
        UpscaleOptions,
        collect_inputs,
    )
    from ..errors import Skipped

    if not args.inputs:
        raise UsageError("no input given; run 'vsr-upscale --help'")
    found = collect_inputs([Path(p) for p in args.inputs], sequences=args.sequence)
    inputs = found.files
    if found.own_outputs and not args.quiet:
        print(
            f"skipping {len(found.own_outputs)} file(s) that are vsr-upscale's own outputs "
            f"(e.g. {found.own_outputs[0].name})",
            file=sys.stderr,
        )
    if not inputs:
        raise UsageError("nothing to upscale: the folder holds only vsr-upscale's own outputs")
    folder_input = any(Path(p).is_dir() for p in args.inputs) and not args.sequence
    output = _output_target(args, len(inputs), folder_input)
    opts = UpscaleOptions(
        model=args.model,
        scale=args.scale,
        device=args.device,
        precision=args.precision,
        backend=args.backend,
        encode=EncodeSettings(
            codec=args.codec, crf=args.crf, preset=args.preset, pix_fmt=args.pix_fmt, quality=args.quality
        ),
        start=args.start,
        duration=args.duration,
        chunk=args.chunk,
        tile=args.tile,
        overwrite=args.overwrite,
        skip_existing=args.skip_existing,
        max_pixels=args.max_pixels,
        max_aspect=args.max_aspect,
        sequence_fps=args.fps,
    )
    models: dict = {}  # each model is loaded once, whatever the number of inputs
    done, skipped, failed = 0, [], []
    for inp in inputs:
        job = Job(inp, output, opts, models)
        gen = job.run()
        bar: _DownloadBar | None = None
        frames: _FrameBar | None = None
        try:
            for ev in gen:
                if isinstance(ev, Downloading):
                    bar = bar or _DownloadBar(ev.model, args.quiet)
                    bar(ev.file, ev.done, ev.total)
                    continue
                if bar is not None:
                    bar.close()
                    bar = None
                if isinstance(ev, Started):
                    if not args.quiet:
                        print(
                            f"{ev.input} -> {ev.output} ({ev.model}, {ev.size[1]}x{ev.size[0]}"
                            f" -> {ev.out_size[1]}x{ev.out_size[0]}, {ev.device} {ev.precision},"
                            f" {ev.backend})",
                            file=sys.stderr,
                        )
                    frames = _FrameBar(ev, args.quiet)
                elif isinstance(ev, Progress) and frames is not None:
                    frames.update(ev.frames_done)
                elif isinstance(ev, Finished):
                    if frames is not None:
                        frames.close(ev.frames)
                        frames = None
                    if not args.quiet:
                        print(
                            f"wrote {ev.output} ({ev.frames} frames in {ev.elapsed_s:.1f} s)", file=sys.stderr
                        )
                if isinstance(ev, Finished):
                    done += 1
                    for note in ev.notes:
                        print(f"vsr-upscale: note: {note}", file=sys.stderr)
        except Skipped as e:
            skipped.append(str(e))
            if not args.quiet:
                print(f"vsr-upscale: {e}", file=sys.stderr)
        except SlimVSRError as e:
            if len(inputs) == 1:
                raise
            failed.append(e)  # a batch goes on with the rest and reports every failure at the end
            print(f"vsr-upscale: error: {e}", file=sys.stderr)
        finally:
            if bar is not None:
                bar.close()
            if frames is not None:
                frames.close()
            gen.close()
    if len(inputs) > 1:
        print(
            f"vsr-upscale: {done} done, {len(skipped)} skipped, {len(failed)} failed "
            f"(of {len(inputs)} inputs)",
            file=sys.stderr,
        )
        for e in failed:
            print(f"  failed: {e}", file=sys.stderr)
    return failed[0].exit_code if failed else 0


class Terminated(KeyboardInterrupt):
    """SIGTERM (a plain ``kill``, what desktop sessions and containers send), raised in the main
    thread like Ctrl-C so that the same cleanup runs: no partial output is left."""


def _on_sigterm(signum: int, frame: object) -> None:
    _signalled.append(143)
    raise Terminated


def _on_sigint(signum: int, frame: object) -> None:
    # Our own handler, not Python's default: with the default one, CPython ends the process by
    # SIGINT at exit even after the interrupt was handled, hiding the exit code 130.
    _signalled.append(130)
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    import signal

    # One signal policy: SIGINT and SIGTERM both stop the run and clean up, from the first line
    # (start-up imports included), with exit codes 130 and 143.
    if threading.current_thread() is threading.main_thread():  # tests call main() from threads too
        signal.signal(signal.SIGINT, _on_sigint)
        signal.signal(signal.SIGTERM, _on_sigterm)  # last: once SIGTERM is caught, both are
    try:
        words = sys.argv[1:] if argv is None else argv
        quiet = {"-q", "--quiet", "-h", "--help", "--version", "--json"} & set(words)
        # Start-up (PyTorch, PyAV) takes seconds on a cold disk: say so on a terminal.
        loading = sys.stderr.isatty() and not quiet
        if loading:
            print("vsr-upscale: starting (loading PyTorch)...", end="\r", file=sys.stderr, flush=True)
        parser = build_parser()
        if loading:
            print("\033[K", end="", file=sys.stderr, flush=True)
        args = parser.parse_args(argv)
        if args.list_models:
            return list_models(args.json)
        if args.download or args.download_all:
            return download_models(args.download, args.download_all, args.scale, args.quiet)
        return run(args)
    except Terminated:
        print("\nvsr-upscale: terminated; no partial output was left", file=sys.stderr)
        _stopped_by_signal.append(143)
        return 143
    except KeyboardInterrupt:
        print("\nvsr-upscale: interrupted; no partial output was left", file=sys.stderr)
        _stopped_by_signal.append(130)
        return 130
    except SlimVSRError as e:
        if os.environ.get("SLIMVSR_DEBUG") == "1":
            raise
        print(f"vsr-upscale: error: {e}", file=sys.stderr)
        return e.exit_code
    except Exception:
        # A signal that landed inside a C extension's import comes back as that import's own
        # error (numpy: "cannot load module more than once"): it is still the signal's stop.
        if not _signalled:
            raise
        code = _signalled[0]
        word = "terminated" if code == 143 else "interrupted"
        print(f"\nvsr-upscale: {word}; no partial output was left", file=sys.stderr)
        _stopped_by_signal.append(code)
        return code


_signalled: list[int] = []  # every SIGINT/SIGTERM our handlers received, in order
_stopped_by_signal: list[int] = []


def entry() -> None:
    """The ``vsr-upscale`` program. After a handled interrupt (the cleanup has run) it exits at
    once with 130/143: CPython remembers an interrupt that landed in a C extension's own code
    during the imports and would otherwise end the process by SIGINT, hiding the exit code."""
    import signal

    code = main()
    # The work is done (or cleaned up): from here a late SIGINT/SIGTERM must not end the process
    # by the default action while the interpreter shuts down, which would report a finished run
    # as killed. Blocking them covers the main thread only; a process-directed signal then goes
    # to another thread (PyTorch's OpenMP workers, PyAV's), and CPython's finalization puts the
    # default action back for every signal it handles. It leaves an ignored signal ignored, so
    # both are ignored process-wide as well.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if _stopped_by_signal:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    entry()
