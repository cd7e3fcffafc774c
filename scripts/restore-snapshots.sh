#!/usr/bin/env bash
# A new machine: start each background run from its committed milestone snapshot
# (artifacts/checkpoints/NAME), unless the run folder already holds state of its own.
#
# A snapshot is the run folder's resumable files as they stood, either inside a training stage
# (ckpt.pt and log.jsonl; in the stage's subfolder for staged runs, e.g. distil/ckpt.pt beside
# sizing.json) or at a stage boundary (a stage's saved model folder, e.g. an SSL run's pruned/
# with its selection.json and the regularisation logs: the next stage starts from it). A run
# folder that has any ckpt.pt or saved model (*/config.json) of its own is left alone: it is at
# or past its snapshot. Run by scripts/resume-training.sh before the queue starts.
#
#   bash scripts/restore-snapshots.sh [RUNS_DIR]   # default $SLIMVSR_HOME/runs
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-${SLIMVSR_HOME:-$HOME/.cache/slimvsr}/runs}
has_state() {  # has_state DIR: a checkpoint anywhere in DIR, or a stage's saved model in it
  [ -n "$(find "$1" -name ckpt.pt 2>/dev/null)" ] || compgen -G "$1/*/config.json" > /dev/null
}
for snap in artifacts/checkpoints/*/; do
  snap=${snap%/}
  has_state "$snap" || continue
  run=$RUNS/$(basename "$snap")
  if ! has_state "$run"; then
    mkdir -p "$run" && cp -r "$snap/." "$run/"
    echo "restored $(basename "$snap") from its committed snapshot"
  fi
done
