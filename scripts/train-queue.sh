#!/usr/bin/env bash
# The long training runs of issue #18, in order. Each job resumes from its checkpoint and is
# skipped once its model folder exists, so the queue can be restarted at any time
# (scripts/resume-training.sh runs a copy of this file in the background).
set -euo pipefail
H=${SLIMVSR_HOME:-$HOME/.cache/slimvsr}
R=$H/runs
D=$H/corpus
I=$H/init  # starting points copied out of the work tree (it is laid anew each session)
mkdir -p "$I"
[ -d "$I/spynet-cpu" ] || cp -r artifacts/spynet-cpu "$I/spynet-cpu"

job() {  # job NAME COMMAND...: run unless $R/NAME/model exists
  local name=$1; shift
  if [ -f "$R/$name/model/config.json" ]; then echo "$(date -Is) skip $name (done)"; return; fi
  echo "$(date -Is) start $name: $*"
  "$@" --out "$R/$name" --data "$D" 2>&1 | tee -a "$R/$name.log"
  echo "$(date -Is) done $name"
}

# 1. Flow that aligns: SPyNet scored by its warping error on real video (half at the LR scale),
#    exact synthetic flow, DIS as a weak prior; from the first CPU SPyNet.
job spynet-cpu-long vsr-compress train --model spynet --preset cpu-long --init "$I/spynet-cpu"
