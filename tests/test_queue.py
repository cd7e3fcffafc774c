"""The background training queue's jobs are valid vsr-compress command lines.

scripts/train-queue.sh runs for days, unattended; a misspelt option or a recipe that does not exist
would only show hours later, as a failed job in a background log. Every vsr-compress call in it is
parsed here by the real CLI parser (variables replaced by values of the right kind), each train
job's model and preset must name a recipe, and the files of the checkout it names must exist.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from slimvsr.compression.cli import build_parser
from slimvsr.compression.training.recipes import recipe

QUEUE = Path(__file__).resolve().parents[1] / "scripts" / "train-queue.sh"
# Shell variables of the queue, by the kind of value they hold there.
VALUES = {"s": "4", "m": "basicvsr-uni", "student": "ssl-uni", "flags": ""}  # flags: below
STOP = {">", ">>", "&&", "||", "|", ";", "&", ")"}


def queue_commands() -> list[list[str]]:
    text = QUEUE.read_text().replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        if line.lstrip().startswith("#") or "vsr-compress " not in line:
            continue
        rest = line.split("vsr-compress ", 1)[1]
        rest = re.sub(r"\$\{?(\w+)\}?", lambda m: VALUES.get(m.group(1), "/tmp/q"), rest)
        lex = shlex.shlex(rest, posix=True, punctuation_chars=True)
        lex.whitespace_split = True
        tokens = []
        for tok in lex:
            if tok in STOP or tok.startswith("#"):
                break
            tokens.append(tok)
        commands.append(tokens)
    return commands


def test_the_queue_has_its_jobs() -> None:
    subcommands = {c[0] for c in queue_commands()}
    assert {"train", "ssl", "distill", "eval", "peer-export"} <= subcommands
    assert len(queue_commands()) >= 12


@pytest.mark.parametrize("argv", queue_commands(), ids=lambda c: " ".join(c[:3]))
def test_every_queue_job_parses(argv: list[str]) -> None:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:  # argparse has printed why
        pytest.fail(f"scripts/train-queue.sh: vsr-compress {' '.join(argv)} does not parse")
    if argv[0] == "train":
        recipe(args.model, args.preset)  # raises for a model/preset pair with no recipe
    for path in (a for a in argv if a.startswith(("docs/", "artifacts/"))):  # files of the checkout
        assert (QUEUE.parents[1] / path).exists(), path


def test_every_ssl_table_row_the_queue_runs_parses() -> None:
    """The queue runs SSL's table rows with the flags benchmarks/ssl_tables.sh holds for them
    (``--flags ROW``); each row it names must be one, and its command must parse."""
    import subprocess

    text = QUEUE.read_text()
    rows = {r for line in re.findall(r"for row in ([^;]+);", text) for r in line.split()}
    rows |= set(re.findall(r"^\s*ssl_table_row (ssl-[\w-]+)", text, re.M))
    assert {"ssl-uni-short", "ssl-uni-maxg", "ssl-uni-random"} <= rows
    script = QUEUE.parents[1] / "benchmarks" / "ssl_tables.sh"
    for row in sorted(rows):
        out = subprocess.run(["bash", str(script), "--flags", row], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        argv = ["ssl", "--teacher", "t", "--preset", "cpu-short", *out.stdout.split(), "--name", row]
        build_parser().parse_args([*argv, "--out", "/tmp/q", "--data", "/tmp/q"])
    bad = subprocess.run(["bash", str(script), "--flags", "no-such-row"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown row no-such-row" in bad.stderr


def test_snapshots_restore_only_into_runs_without_state_of_their_own(tmp_path) -> None:
    """scripts/restore-snapshots.sh on a new machine: a snapshot inside a stage (ckpt.pt) or at a
    stage boundary (a stage's saved model, e.g. SSL's pruned/) fills a run folder that has none;
    a run with a checkpoint or a saved model of its own is at or past its snapshot and is left
    alone; a folder with neither is not a snapshot."""
    import shutil
    import subprocess

    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(QUEUE.parent / "restore-snapshots.sh", repo / "scripts")
    snaps = repo / "artifacts" / "checkpoints"
    files = {
        "lite/ckpt.pt": "snap",  # inside a stage
        "ssl/pruned/config.json": "snap",  # at a stage boundary
        "ssl/selection.json": "snap",
        "mine/distil/ckpt.pt": "snap",
        "done/ckpt.pt": "snap",
        "logonly/log.jsonl": "snap",
    }
    for rel, text in files.items():
        (snaps / rel).parent.mkdir(parents=True, exist_ok=True)
        (snaps / rel).write_text(text)
    runs = tmp_path / "runs"
    for rel in ("mine/distil/ckpt.pt", "done/model/config.json"):
        (runs / rel).parent.mkdir(parents=True)
        (runs / rel).write_text("own")

    out = subprocess.run(
        ["bash", str(repo / "scripts" / "restore-snapshots.sh"), str(runs)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert sorted(out.split("\n")[:-1]) == [
        "restored lite from its committed snapshot",
        "restored ssl from its committed snapshot",
    ]
    assert (runs / "lite/ckpt.pt").read_text() == "snap"
    assert (runs / "ssl/pruned/config.json").read_text() == "snap"
    assert (runs / "mine/distil/ckpt.pt").read_text() == "own"
    assert not (runs / "done/ckpt.pt").exists() and not (runs / "logonly").exists()
    rerun = subprocess.run(
        ["bash", str(repo / "scripts" / "restore-snapshots.sh"), str(runs)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert rerun.stdout == ""  # restored runs now have state of their own
