"""A quick fixed-seed run of the fuzzer (benchmarks/fuzz.py): damaged media of every kind the
engine claims, through the engine in this process and through the CLI. Every case must end as a
valid, correctly scaled output or one clean line: no crash, hang, partial output, stray temporary
or modified input. The long run (>= 20,000 cases) is a command; docs/reliability.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from fuzz import GOOD, fuzz, summary


@pytest.mark.parametrize(("seed", "engine", "cli"), [(1, 60, 1), (2, 60, 1), (3, 60, 1)])
def test_fuzz_quick(tmp_path, seed, engine, cli) -> None:
    results = fuzz(engine, cli, seed, tmp_path, limit=120.0, log=lambda *a: None)
    bad = [c for c in results if c.outcome not in GOOD]
    print(summary(results))
    assert not bad, "\n".join(
        f"{c.outcome}: {c.seed} {c.mutation} {c.ext} via {c.via}: {c.detail}" for c in bad
    )
    kinds = {c.outcome for c in results}
    assert kinds == {"ok", "error"}  # the mutations really reach both sides
