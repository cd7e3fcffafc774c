"""The package's layering holds: no import runs back up (scripts/layers.py is the one check)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_imports_follow_the_layers() -> None:
    r = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "layers.py")], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert "app          -> engine" in r.stdout and "compression  ->" in r.stdout


def test_no_family_is_recognised_by_class_outside_models() -> None:
    """Behaviour that depends on a model family asks its Family spec (models/_family.py)."""
    import re

    pattern = re.compile(r"isinstance\(.*\b(BasicVSR|EDSR|SwinIR)\b")
    files = [
        *(ROOT / "src").rglob("*.py"),
        *(ROOT / "benchmarks").rglob("*.py"),
        *(ROOT / "tests").rglob("*.py"),
    ]
    models = ROOT / "src" / "slimvsr" / "models"
    hits = [
        f"{f.relative_to(ROOT)}:{n}"
        for f in files
        if not f.is_relative_to(models) and f.name != "test_layers.py"
        for n, line in enumerate(f.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert len(files) > 50 and not hits, hits
