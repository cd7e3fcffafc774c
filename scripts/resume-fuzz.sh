#!/usr/bin/env bash
# Start (or report) issue #21's long fuzz run in the background; run it at the start of every
# session, next to scripts/resume-training.sh (whose venv it uses). The run keeps its seeds and
# finished cases in $SLIMVSR_HOME/fuzz-long (benchmarks/fuzz.py --state) and resumes where it
# stopped. It tests one version of the code: the checkout at its first start is installed into
# fuzz-long/pkg and kept (its commit in fuzz-long/commit) until the run is done or --fresh.
#
#   bash scripts/resume-fuzz.sh            # start the run unless it is running or done
#   bash scripts/resume-fuzz.sh --status   # progress, and the findings so far
#   bash scripts/resume-fuzz.sh --stop     # stop it (the case in flight is run again on resume)
#   bash scripts/resume-fuzz.sh --fresh    # throw the run away and start it on this checkout
#   kill -STOP / -CONT "-$(cat ~/.cache/slimvsr/fuzz.pid)"   # pause it for a benchmark
# When it has finished, the record is fuzz-long/fuzz-long.json (copy it to docs/). A fix to the
# fuzzer itself (not to the code under test) is copied into fuzz-long/code by hand, only if it keeps
# the random draws, and noted in fuzz-long/harness.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
HOME_DIR=${SLIMVSR_HOME:-$HOME/.cache/slimvsr}
F=$HOME_DIR/fuzz-long
PIDF=$HOME_DIR/fuzz.pid
ARGS=(--cases 18000 --cli 2000 --seed 1 --limit 120)
running() { [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; }

case "${1:-}" in
  --status)
    if running; then echo "fuzz running (pid $(cat "$PIDF"))"; else echo "fuzz not running"; fi
    [ -f "$F/cases.jsonl" ] && echo "$(wc -l < "$F/cases.jsonl") of 20000 cases done (commit $(cat "$F/commit"))"
    [ -f "$F/harness.txt" ] && sed 's/^/harness: /' "$F/harness.txt"
    [ -f "$F/fuzz-long.json" ] && echo "finished: $F/fuzz-long.json"
    grep -E "^case [0-9]+: " "$F/log" 2>/dev/null | tail -n 5 || true
    exit 0 ;;
  --stop)
    if running; then kill -- -"$(cat "$PIDF")" 2>/dev/null || kill "$(cat "$PIDF")"; echo stopped; fi
    exit 0 ;;
  --fresh)
    if running; then echo "stop it first: $0 --stop" >&2; exit 2; fi
    rm -rf "$F" ;;
esac

if running; then echo "fuzz already running (pid $(cat "$PIDF")); log: $F/log"; exit 0; fi
if [ -f "$F/fuzz-long.json" ]; then echo "fuzz finished: $F/fuzz-long.json"; exit 0; fi
PY=$HOME_DIR/venv/bin/python
[ -x "$PY" ] || { echo "no venv yet: run scripts/resume-training.sh first" >&2; exit 2; }
if [ ! -d "$F/pkg/slimvsr" ]; then  # the version under test, pinned for the whole run
  mkdir -p "$F/code/benchmarks" "$F/code/tests"
  "$HOME_DIR/venv/bin/pip" install -q --disable-pip-version-check --no-deps --target "$F/pkg" . \
    2> >(grep -v "^WARNING: Location" >&2)
  cp benchmarks/fuzz.py "$F/code/benchmarks/"
  cp tests/tiny.py "$F/code/tests/"
  git rev-parse HEAD > "$F/commit"
fi
# The record goes to fuzz-long.json only when the whole run is done (fuzz.py writes it at the end).
PYTHONPATH=$F/pkg setsid nohup "$PY" "$F/code/benchmarks/fuzz.py" "${ARGS[@]}" --state "$F" \
  --out "$F/fuzz-long.json" >> "$F/log" 2>&1 < /dev/null &
echo $! > "$PIDF"
echo "fuzz started (pid $!, commit $(cat "$F/commit")); log: $F/log"
