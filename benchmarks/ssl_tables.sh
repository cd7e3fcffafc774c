#!/bin/bash
# The SSL paper's Tables 1-3 at this machine's scale (docs/reproduction-ssl.md), one row a run:
#
#     bash benchmarks/ssl_tables.sh [ROW ...]      # no ROW: every row, the timing run, the report
#     bash benchmarks/ssl_tables.sh --report       # the report again from the records and timing file
#     bash benchmarks/ssl_tables.sh --time         # time the recorded rows, then the report
#
# Environment: TEACHER (registry name or model folder; basicvsr-uni), DATA (data/corpus), TABLES
# (the set's name: its records go to artifacts/TABLES, its timing to docs/bench-models-TABLES.json,
# its report to docs/TABLES.md; ssl-tables), SSL_TABLES_OUT (the run folders; runs/tables),
# PRECISION (of the timing; bf16), FRAMES (a timed clip's frames; 16). The round-2 rows (issue
# #18: the same rows from the long-trained teacher) are run by scripts/train-queue.sh and
# recorded, timed and reported with
#     TABLES=ssl-tables-v2 TEACHER=artifacts/basicvsr-uni-x4-cpu-long DATA=~/.cache/slimvsr/corpus \
#       SSL_TABLES_OUT=~/.cache/slimvsr/runs/ssl-tables-v2 PRECISION=fp32 FRAMES=8 \
#       bash benchmarks/ssl_tables.sh --time
# (a row that has run but has no record yet is recorded by naming it: ... ssl_tables.sh ROW).
#
# Every pruned row is `vsr-compress ssl --teacher basicvsr-uni --preset cpu-short` plus the row's
# flags, into runs/tables/NAME; the -lite row trains the width-32 network from scratch for the same
# total steps. A finished row's record (config.json with its settings and metrics, gammas.jsonl,
# the console log as run.log) goes to artifacts/ssl-tables/NAME, which the report reads (its
# timing uses the recorded architectures, so the weights need not be kept). A row with a record is
# skipped (remove the record to run it again) and an interrupted one resumes (the pipelines'
# stages resume from their results and checkpoints), so the script can be stopped and started.
# On the project's 2-core CPU a pruned row takes 11-19 minutes and the lite row 31 with one torch
# thread while another row runs on the other core; two rows side by side that way get through the
# table sooner than one row at a time with both threads (artifacts/ssl-bi-cpu/run.log: ssl-bi's
# regularisation ran at 0.38-0.41 steps/s with two threads alone, 0.29-0.31 with one thread beside
# a row; docs/training.md). E.g.:
#     OMP_NUM_THREADS=1 bash benchmarks/ssl_tables.sh ssl-uni-maxg     # and, beside it, another row
set -euo pipefail
cd "$(dirname "$0")/.."
V=${VENV:-.venv}/bin
T=${TEACHER:-basicvsr-uni}  # a registry name or a model folder
SET=${TABLES:-ssl-tables}   # names the records (artifacts/SET), the timing file and the report
OUT=${SSL_TABLES_OUT:-runs/tables}
PRECISION=${PRECISION:-bf16}  # of the timing run: fp32 on a CPU without bf16 units
FRAMES=${FRAMES:-16}  # a timed clip's frames (8 halve an fp32 timing run, which has no bf16 speed-up)
DATA=${DATA:-data/corpus}
REC=artifacts/$SET
TIMING=docs/bench-models-$SET.json
if [[ -d $T ]]; then TDIR=$T; else TDIR=src/slimvsr/models/weights/$T-x4; fi

declare -A ROWS=(
  [ssl-uni-short]=""
  [ssl-uni-l1norm]="--method l1norm --finetune-steps 600"
  [ssl-uni-aligned]="--method aligned"
  [ssl-uni-rsc]="--keep-upsampler --no-tf"
  [ssl-uni-notf]="--no-tf"
  [ssl-uni-maxg]="--criterion max-global"
  [ssl-uni-minl]="--criterion min-local"
  [ssl-uni-maxl]="--criterion max-local"
  [ssl-uni-random]="--criterion random"
  # SSL again with other seeds (batches): how far run-to-run noise moves a row
  [ssl-uni-seed1]="--seed 1"
  [ssl-uni-seed2]="--seed 2"
  # SSL at the -lite row's size: ratio 0.5 keeps 0.838M parameters (the global criterion spares the
  # upsampler), 0.58 keeps 0.639M against the lite's 0.650M (selection on the teacher)
  [ssl-uni-r058]="--ratio 0.58"
)
ORDER=(ssl-uni-short ssl-uni-l1norm ssl-uni-aligned ssl-uni-rsc ssl-uni-notf ssl-uni-maxg ssl-uni-minl
  ssl-uni-maxl ssl-uni-random ssl-uni-seed1 ssl-uni-seed2 ssl-uni-r058 basicvsr-uni-lite)

record() {
  local name=$1
  mkdir -p "$REC/$name.tmp"
  cp "$OUT/$name/model/config.json" "$REC/$name.tmp/"
  if [[ -f $OUT/$name/regularise/gammas.jsonl ]]; then cp "$OUT/$name/regularise/gammas.jsonl" "$REC/$name.tmp/"; fi
  sed "s#$HOME/#~/#g" "$OUT/$name.log" >"$REC/$name.tmp/run.log"  # the home folder as ~
  rm -rf "$REC/$name" && mv "$REC/$name.tmp" "$REC/$name"
  # the teacher's config.json (its metrics and architecture) once: a registry name's weights change
  # when a model is re-bundled (wave 1's teacher is the bundled basicvsr-uni of its time)
  if [[ ! -f $REC/teacher/config.json ]]; then
    mkdir -p "$REC/teacher" && cp "$TDIR/config.json" "$REC/teacher/"
  fi
}

run_row() {
  local name=$1
  if [[ -f $REC/$name/config.json ]]; then
    echo "$name: done ($REC/$name)"
    return
  fi
  if [[ ! -f $OUT/$name/model/config.json ]]; then
    mkdir -p "$OUT"
    echo "$name: running (log $OUT/$name.log)"
    if [[ $name == basicvsr-uni-lite ]]; then
      # 1,800 teacher steps + 200 regularisation + 400 fine-tuning: the pruned rows' total
      $V/vsr-compress train --model basicvsr-uni-lite --preset cpu --steps 2400 \
        --init artifacts/spynet-cpu --data "$DATA" --out "$OUT/$name" >>"$OUT/$name.log" 2>&1
    else
      # shellcheck disable=SC2086  # the row's flags are words
      $V/vsr-compress ssl --teacher "$T" --preset cpu-short ${ROWS[$name]} --name "$name" \
        --data "$DATA" --out "$OUT/$name" >>"$OUT/$name.log" 2>&1
    fi
  fi
  record "$name"
}

labels() {  # the teacher as recorded with the set and every row with a record, in table order
  labels=("teacher=$REC/teacher")
  for name in "${ORDER[@]}"; do
    if [[ -f $REC/$name/config.json ]]; then labels+=("$name=$REC/$name"); fi
  done
}

timing() {
  labels
  $V/python benchmarks/bench_models.py "${labels[@]}" --scale 4 --size 180x320 --frames "$FRAMES" \
    --precision "$PRECISION" --repeats 3 --out "$TIMING"
}

report() {  # the table from the records and the timing file, written whole or not at all
  labels
  local how="bash benchmarks/ssl_tables.sh"
  if [[ $SET != ssl-tables ]]; then how="TABLES=$SET TEACHER=$T PRECISION=$PRECISION FRAMES=$FRAMES $how"; fi
  {
    echo "# SSL Tables 1-3 (uni): every row"
    echo
    echo "Written by \`$how\` (docs/reproduction-ssl.md explains the rows and the"
    echo "results). PSNR/SSIM-Y: fp32, the video validation split of docs/data.md, from each row's"
    echo "$REC/NAME/config.json. Times: $TIMING. Machine:"
    echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, torch $($V/python -c 'import torch; print(torch.__version__)')."
    echo
    $V/python benchmarks/report_ssl.py "${labels[@]}" --runtime "$TIMING" --precision "$PRECISION" \
      --plots "docs/$SET"
  } >"docs/$SET.md.tmp"
  mv "docs/$SET.md.tmp" "docs/$SET.md"
  cat "docs/$SET.md"
}

case ${1-} in
  --report) report; exit 0 ;;  # rewrite the report only: no training, no timing
  --time) timing; report; exit 0 ;;  # time the recorded rows, then the report
  --flags)  # a row's flags (for a queue that runs the row itself: scripts/train-queue.sh)
    [[ -v ROWS[${2-}] ]] || { echo "unknown row ${2-}" >&2; exit 2; }
    echo "${ROWS[$2]}"; exit 0 ;;
esac
if (($#)); then
  for name in "$@"; do
    [[ -v ROWS[$name] || $name == basicvsr-uni-lite ]] || { echo "unknown row $name (${ORDER[*]})" >&2; exit 2; }
    run_row "$name"
  done
  exit 0
fi
for name in "${ORDER[@]}"; do run_row "$name"; done
timing
report
