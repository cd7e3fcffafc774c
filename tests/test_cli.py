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
