"""The command lines explain themselves: every option has help, defaults are shown, recipes named."""

from __future__ import annotations

import argparse

import pytest

from slimvsr.app.cli import build_parser as upscale_parser
from slimvsr.compression.cli import build_parser as compress_parser


def _parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    out = [("vsr-upscale", upscale_parser())]
    p = compress_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    out += [(f"vsr-compress {n}", sp) for n, sp in sub.choices.items()]
    return out


@pytest.mark.parametrize(("name", "parser"), _parsers(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_option_has_help(name, parser) -> None:
    bare = [a.option_strings for a in parser._actions if a.option_strings and not a.help]
    assert not bare, f"{name}: options without help: {bare}"


def test_help_shows_defaults_and_recipes(capsys) -> None:
    text = upscale_parser().format_help()
    assert "(default: 18)" in text and "(default: 8)" in text and "HEVC Main10" in text
    assert not text.startswith("``")  # no raw RST in the description
    assert "(default: None)" not in text
    p = compress_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    train = sub.choices["train"].format_help()
    assert "recipes (--model/--preset):" in train and "spynet/cpu-long" in train


@pytest.mark.parametrize("module", ["slimvsr.app.cli", "slimvsr.app.gui"])
@pytest.mark.parametrize(("user", "spin"), [(None, "0"), ("ACTIVE", "30000000000")])
def test_apps_share_the_cpu_unless_the_user_says_otherwise(module, user, spin) -> None:
    """Both apps load torch with OpenMP threads that sleep when they wait (libgomp's spin count 0)
    rather than libgomp's default 300,000 spins, which cost 2-6x on a CPU shared with another
    program (benchmarks/threads.py); a user's own OMP_WAIT_POLICY wins. libgomp reads it once,
    when torch loads it, and reports the spin count it uses under OMP_DISPLAY_ENV=VERBOSE."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    env |= {"OMP_DISPLAY_ENV": "VERBOSE", "QT_QPA_PLATFORM": "offscreen"}
    if user:
        env["OMP_WAIT_POLICY"] = user
    code = f"import {module}, torch; torch.ones(8).sum()"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"GOMP_SPINCOUNT = '{spin}'" in r.stderr
