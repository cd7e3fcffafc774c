#!/usr/bin/env bash
# Start (or report) the long background training queue. Run it at the start of every session.
#
# In-flight state lives outside the work tree, in $SLIMVSR_HOME (default ~/.cache/slimvsr): the
# training venv, the corpus, the run folders with their checkpoints, and the queue's log. The
# queue runs a snapshot of this checkout (installed into that venv, not editable), so editing the
# work tree never changes a running job; each (re)start takes the checkout as it is then.
#
#   bash scripts/resume-training.sh           # start the queue unless it is running
#   bash scripts/resume-training.sh --status  # what is running: each active run's last step and
#                                             # validation, the queue log's last lines
#   bash scripts/resume-training.sh --stop    # stop the queue; a job resumes from its last
#                                             # checkpoint (every ~10 minutes) when restarted
#   kill -STOP / -CONT "-$(cat ~/.cache/slimvsr/queue.pid)"   # pause it for a benchmark
set -euo pipefail
cd "$(dirname "$0")/.."
HOME_DIR=${SLIMVSR_HOME:-$HOME/.cache/slimvsr}
mkdir -p "$HOME_DIR/runs"
PIDF=$HOME_DIR/queue.pid
running() { [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; }

case "${1:-}" in
  --status)
    if running; then echo "queue running (pid $(cat "$PIDF"))"; else echo "queue not running"; fi
    # every run written to in the last hour: its last progress line and its last validation
    find "$HOME_DIR/runs" -name '*.log' -mmin -60 2>/dev/null | sort | while read -r log; do
      echo "${log#"$HOME_DIR"/runs/}:"
      grep ' step [0-9]*/' "$log" | tail -n 1 | sed 's/^/  /' || true
      grep 'validation' "$log" | tail -n 1 | sed 's/^/  /' || true
    done
    tail -n 3 "$HOME_DIR/queue.log" 2>/dev/null || true
    exit 0 ;;
  --stop)
    if running; then kill -- -"$(cat "$PIDF")" 2>/dev/null || kill "$(cat "$PIDF")"; echo stopped; fi
    exit 0 ;;
esac

if running; then
  echo "queue already running (pid $(cat "$PIDF")); log: $HOME_DIR/queue.log"
  exit 0
fi

VENV=$HOME_DIR/venv
pipq() {  # pip install, quiet (this machine's pip prints a warning per unused local index)
  "$VENV/bin/pip" install -q --disable-pip-version-check "$@" 2> >(grep -v "^WARNING: Location" >&2)
}
if [ ! -x "$VENV/bin/vsr-compress" ]; then
  python3 -m venv "$VENV"
  pipq torch==2.13.0
  pipq '.[train,bench]'
fi
# The snapshot: this checkout's package, replacing the previous one (dependencies unchanged).
pipq --no-deps --force-reinstall .
git rev-parse HEAD > "$HOME_DIR/queue.commit" 2>/dev/null || true
if [ ! -f "$HOME_DIR/corpus/manifest.json" ]; then
  "$VENV/bin/vsr-compress" data prepare --root "$HOME_DIR/corpus"
fi
# A new machine: each run starts from its committed milestone snapshot (artifacts/checkpoints/).
bash scripts/restore-snapshots.sh "$HOME_DIR/runs"
cp scripts/train-queue.sh "$HOME_DIR/queue.sh"  # bash reads a script as it runs: run a copy
PATH="$VENV/bin:$PATH" SLIMVSR_HOME=$HOME_DIR setsid nohup bash "$HOME_DIR/queue.sh" \
  >> "$HOME_DIR/queue.log" 2>&1 < /dev/null &
echo $! > "$PIDF"
echo "queue started (pid $!, commit $(cat "$HOME_DIR/queue.commit" 2>/dev/null)); log: $HOME_DIR/queue.log"
