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

job() {  # job NAME COMMAND...: run unless the run's model folder exists (here or committed)
  local name=$1; shift
  if [ -f "artifacts/$name/config.json" ]; then echo "$(date -Is) skip $name (committed)"; return; fi
  for m in model distil-model scratch-model; do
    if [ -f "$R/$name/$m/config.json" ]; then echo "$(date -Is) skip $name (done)"; return; fi
  done
  echo "$(date -Is) start $name: $*"
  "$@" --out "$R/$name" --data "$D" 2>&1 | tee -a "$R/$name.log"
  echo "$(date -Is) done $name"
}

# 1-2. The image minis taught by SPAN (converted from its ncnn files, Apache-2.0), the published
#    edsrmini size, the cpu preset's 3,000 distillation steps: against the project's own teachers.
for s in 2 4; do
  [ -f "$I/span-x$s/config.json" ] || vsr-compress peer-export span --scale $s --out "$I/span-x$s"
  job "edsrmini-x$s-span" vsr-compress distill --teacher "$I/span-x$s" --student edsrmini \
    --preset cpu --name edsrmini-span
done

# 3. Flow that aligns: SPyNet scored by its warping error on real video (half at the LR scale),
#    exact synthetic flow, DIS as a weak prior; from the first CPU SPyNet.
job spynet-cpu-long vsr-compress train --model spynet --preset cpu-long --init "$I/spynet-cpu"

# 4. SSL with a time budget against ssl-uni's unit budget: the same teacher, preset and seed;
#    0.8 of the modelled time runs about as fast as ssl-uni (0.7 of the units) with 1.5x its MACs
#    (docs/performance.md, "SSL's cost model"; the cost model measured there, on a quiet machine).
#    Its PSNR against ssl-uni's decides the budget of the re-compression from the new teachers.
job ssl-uni-time-r08 vsr-compress ssl --teacher basicvsr-uni --preset cpu --budget time --ratio 0.8 \
  --cost-model docs/bench-ssl-cost-model.json --name ssl-uni-time-r08
