"""A quick fixed-seed run of the fuzzer (benchmarks/fuzz.py): damaged media of every kind the
engine claims, through the engine in this process and through the CLI. Every case must end as a
valid, correctly scaled output or one clean line: no crash, hang, partial output, stray temporary
or modified input. The long run (>= 20,000 cases) is a command; docs/reliability.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from fuzz import GOOD, _done, _wait, fuzz, summary


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


def test_a_stopped_long_run_resumes_as_the_same_run(tmp_path) -> None:
    """The long run takes hours and outlives sessions: a stretch that was killed (a half-written
    last line, a half-done case folder) resumes with the same cases it would have drawn unbroken,
    runs only the missing ones, and keeps the seeds it made first."""
    state, record = tmp_path / "state", tmp_path / "state" / "cases.jsonl"
    first = fuzz(3, 0, 5, state, limit=120.0, log=lambda *a: None, record=record)
    seeds = {p.name: p.read_bytes() for p in (state / "seeds").iterdir()}
    with record.open("a") as f:
        f.write('{"i": 3, "seed": "h26')  # killed while writing case 3
    (state / "case4").mkdir()  # and a case folder left behind
    resumed = fuzz(6, 0, 5, state, limit=120.0, log=lambda *a: None, record=record)
    assert resumed[:3] == first  # taken from the record, not run again
    assert sorted(_done(record)) == list(range(6))
    assert {p.name: p.read_bytes() for p in (state / "seeds").iterdir()} == seeds
    assert not list(state.glob("case[0-9]*"))
    unbroken = fuzz(6, 0, 5, tmp_path / "fresh", limit=120.0, log=lambda *a: None)
    draw = lambda cs: [(c.seed, c.mutation, c.ext, c.via) for c in cs]  # noqa: E731
    assert draw(resumed) == draw(unbroken)


def test_a_paused_run_is_not_a_hang() -> None:
    """The long run is paused (SIGSTOP) while benchmarks run: a poll that returns long after the
    second it asked for is a stop, not the case's time, so the case is not called a hang; a case
    that never ends within the limit is one."""
    import time

    calls = []

    def stopped_once(s: float) -> bool:
        calls.append(s)
        if len(calls) == 1:
            time.sleep(5.5)  # as long as a stopped process sees its poll take
            return False
        return len(calls) > 2

    over, ran = _wait(stopped_once, limit=3.0)
    assert over and ran < 3.0
    over, ran = _wait(lambda s: (time.sleep(s), False)[1], limit=2.0)
    assert not over and ran >= 2.0
