#!/bin/bash
# The SSL paper's Tables 1-3 at this machine's scale (docs/reproduction-ssl.md), one row a run:
#
#     bash benchmarks/ssl_tables.sh [ROW ...]      # no ROW: every row, the timing run, the report
#     bash benchmarks/ssl_tables.sh --report       # the report again from the records and timing file
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
T=${TEACHER:-basicvsr-uni}
OUT=runs/tables
REC=artifacts/ssl-tables
mkdir -p "$OUT" "$REC"

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
  cp "$OUT/$name.log" "$REC/$name.tmp/run.log"
  rm -rf "$REC/$name" && mv "$REC/$name.tmp" "$REC/$name"
}

run_row() {
  local name=$1
  if [[ -f $REC/$name/config.json ]]; then
    echo "$name: done ($REC/$name)"
    return
  fi
  if [[ ! -f $OUT/$name/model/config.json ]]; then
    echo "$name: running (log $OUT/$name.log)"
    if [[ $name == basicvsr-uni-lite ]]; then
      # 1,800 teacher steps + 200 regularisation + 400 fine-tuning: the pruned rows' total
      $V/vsr-compress train --model basicvsr-uni-lite --preset cpu --steps 2400 \
        --init artifacts/spynet-cpu --out "$OUT/$name" >>"$OUT/$name.log" 2>&1
    else
      # shellcheck disable=SC2086  # the row's flags are words
      $V/vsr-compress ssl --teacher "$T" --preset cpu-short ${ROWS[$name]} --name "$name" \
        --out "$OUT/$name" >>"$OUT/$name.log" 2>&1
    fi
  fi
  record "$name"
}

labels=(teacher=src/slimvsr/models/weights/basicvsr-uni-x4)
for name in "${ORDER[@]}"; do labels+=("$name=$REC/$name"); done

report() {  # the table from the records and the timing file, written whole or not at all
  {
    echo "# SSL Tables 1-3 (uni): every row"
    echo
    echo "Written by \`bash benchmarks/ssl_tables.sh\` (docs/reproduction-ssl.md explains the rows and the"
    echo "results). PSNR/SSIM-Y: fp32, the video validation split of docs/data.md, from each row's"
    echo "$REC/NAME/config.json. Times: docs/bench-models-ssl-tables.json. Machine:"
    echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, torch $($V/python -c 'import torch; print(torch.__version__)')."
    echo
    $V/python benchmarks/report_ssl.py "${labels[@]}" --runtime docs/bench-models-ssl-tables.json \
      --plots docs/ssl-tables
  } >docs/ssl-tables.md.tmp
  mv docs/ssl-tables.md.tmp docs/ssl-tables.md
  cat docs/ssl-tables.md
}

if [[ ${1-} == --report ]]; then  # rewrite the report only: no training, no timing
  report
  exit 0
fi
if (($#)); then
  for name in "$@"; do
    [[ -v ROWS[$name] || $name == basicvsr-uni-lite ]] || { echo "unknown row $name (${ORDER[*]})" >&2; exit 2; }
    run_row "$name"
  done
  exit 0
fi
for name in "${ORDER[@]}"; do run_row "$name"; done
$V/python benchmarks/bench_models.py "${labels[@]}" --scale 4 --size 180x320 --frames 16 \
  --precision bf16 --repeats 3 --out docs/bench-models-ssl-tables.json
report
