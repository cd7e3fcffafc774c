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
  local name=$1 m; shift  # m local too: the chains' own m must survive a job
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
#    Shortened from 20,000 to 10,500 steps at step ~9,100 (session 16): the real LR warping error
#    had stopped falling at this lr (2.42, 2.42, 2.45 at steps 7,000-9,000; DIS 2.64), so the
#    cosine schedule is cut short (lr 1.2e-4 -> 1e-5 at the restart, then to 0 at 10,500) and the
#    CPU goes to the teachers, which fine-tune the flow network with the SR loss anyway.
job spynet-cpu-long vsr-compress train --model spynet --preset cpu-long --init "$I/spynet-cpu" --steps 10500

# 4-8. Two chains side by side, a thread each, so neither core waits for the other chain:
#    uni: the teacher's long run (4), SSL from it (6), then SSL with a time budget (8);
#    bi:  the teacher's long run (5), SSL from it (7).
#    4-5: each teacher from its cpu-preset teacher with the new SPyNet (a thread each: about 1.5x
#    the work of one two-thread run, docs/training.md).
#    6-7: SSL again from the long-run teachers with the bundled models' recipe (the cpu preset,
#    ratio 0.7 of the units).
#    8: SSL with a time budget against the unit budget of job 6: the same teacher, preset and seed;
#    0.8 of the modelled time runs about as fast as ssl-uni (0.7 of the units) with 1.5x its MACs
#    (docs/performance.md, "SSL's cost model"; the cost model measured there, on a quiet machine).
#    Its PSNR against job 6's decides the budget of the bundled ssl-uni.
#    9-10: swinirmini taught by SPAN (below).
F=$R/spynet-cpu-long/model
export OMP_NUM_THREADS=1
eval_temporal() {  # eval_temporal RUN: RUN/model's temporal ablation into RUN/eval-temporal.json, once
  local r=$1
  if [ -f "$r/model/config.json" ] && [ ! -f "$r/eval-temporal.json" ]; then
    vsr-compress eval "$r/model" --data "$D" --temporal full per-frame no-flow --json > "$r/eval-temporal.json.part" \
      && mv "$r/eval-temporal.json.part" "$r/eval-temporal.json"
    echo "$(date -Is) wrote $r/eval-temporal.json"
  fi
}
# SSL's Tables 2 and 3 again from the long-trained uni teacher (issue #18: "re-run the SSL Tables
# 1-3 analogues on the new teachers"): each row as in wave 1 (benchmarks/ssl_tables.sh, which holds
# the rows' flags and records, times and reports them: docs/reproduction-ssl.md), the cpu-short
# preset, into $R/ssl-tables-v2/ROW. Table 1 is the cpu-preset pair above (ssl-uni-r058-v2 and the
# lite from scratch). About 1.6 h a row on one thread beside two other runs (200 regularisation
# steps at ~0.07 it/s, 400 fine-tuning at ~0.13, from ssl-uni-r058-v2's log).
ssl_table_row() {  # ssl_table_row ROW
  local row=$1 flags
  flags=$(bash benchmarks/ssl_tables.sh --flags "$row")
  mkdir -p "$R/ssl-tables-v2"
  # shellcheck disable=SC2086  # the row's flags are words
  job "ssl-tables-v2/$row" vsr-compress ssl --teacher artifacts/basicvsr-uni-x4-cpu-long \
    --preset cpu-short $flags --name "$row"
}
chain() {  # chain TEACHER_MODEL STUDENT
  local m=$1 student=$2 T=$R/$1-x4-cpu-long/model s
  [ -f "$I/$m-x4/config.json" ] || cp -r "src/slimvsr/models/weights/$m-x4" "$I/$m-x4"
  job "$m-x4-cpu-long" vsr-compress train --model "$m" --preset cpu-long --init "$I/$m-x4" \
    --flow-init "$F" --threads 1
  # A teacher committed as a snapshot (artifacts/) on a machine that lost its run: bring it back.
  if [ ! -f "$T/config.json" ] && [ -f "artifacts/$m-x4-cpu-long/config.json" ]; then
    mkdir -p "$T" && cp "artifacts/$m-x4-cpu-long/config.json" "artifacts/$m-x4-cpu-long/model.safetensors" "$T/"
    # ... with the evaluations already committed for it (not recomputed on the new machine)
    if [ -f "docs/eval-temporal-$m-cpu-long.json" ]; then
      cp "docs/eval-temporal-$m-cpu-long.json" "$R/$m-x4-cpu-long/eval-temporal.json"
    fi
    if [ "$m" = basicvsr-uni ] && [ -f docs/bench-flow-levels.json ]; then
      cp docs/bench-flow-levels.json "$R/$m-x4-cpu-long/flow-levels.json"
    fi
  fi
  # The finished teacher's temporal ablation (does it use the other frames?) and, for uni (the
  # default model's teacher), its PSNR with SPyNet's finest level(s) skipped; written once.
  eval_temporal "$R/$m-x4-cpu-long"
  local L=$R/$m-x4-cpu-long/flow-levels.json
  if [ "$m" = basicvsr-uni ] && [ -f "$T/config.json" ] && [ ! -f "$L" ]; then
    python benchmarks/flow_levels.py --spynet "$F" --models "$T" --data "$D" --skip 0 1 2 --rounds 1 \
      --out "$L.part" && mv "$L.part" "$L"
    echo "$(date -Is) wrote $L"
  fi
  if [ "$student" = ssl-bi ]; then
    # ssl-bi with the recipe of the bundled ssl-uni (session 25): a time budget, 0.8 of the
    # modelled time, from the uni twin's cost model (its trunk timings serve the backward blocks,
    # whose convs have the same shapes). The unit budget (ratio 0.7) from the long-trained uni
    # teacher ended 0.08 dB below the time budget at 1.29x its time (docs/bench-models-ssl-uni-r08.json),
    # so the bi chain runs the time budget only; ssl-bi-v2 (the unit budget) was stopped at its start.
    job ssl-bi-time-r08 vsr-compress ssl --teacher "$T" --preset cpu --budget time --ratio 0.8 \
      --cost-model docs/bench-ssl-cost-model.json --name ssl-bi-time-r08
    eval_temporal "$R/ssl-bi-time-r08"
    # Table 3 (the pruning criteria) on this thread, Table 2 on the uni one (session 26); its
    # random row moved to the photo chain in session 30 (three rows a thread would not finish
    # before the issue closes).
    for row in ssl-uni-maxg ssl-uni-minl ssl-uni-maxl; do ssl_table_row "$row"; done
  else
    job "$student-v2" vsr-compress ssl --teacher "$T" --preset cpu --ratio 0.7 --name "$student"
  fi
  if [ "$student" = ssl-uni ]; then
    # ssl-uni-v2 (ratio 0.7 of the units) keeps more of the new teacher's costly convs than the
    # bundled ssl-uni kept of the old one: +0.20 dB but 1.34x its time (docs/training.md, session
    # 20). SSL with a time budget from the same teacher is therefore next: 0.8 of the modelled
    # time runs about as fast as the bundled ssl-uni (docs/performance.md, "SSL's cost model").
    job ssl-uni-time-r08 vsr-compress ssl --teacher "$T" --preset cpu \
      --budget time --ratio 0.8 --cost-model docs/bench-ssl-cost-model.json --name ssl-uni-time-r08
    # SPAN as a second target for the uni teacher (FrameTeacherTask, training/sr.py): every SSL
    # model is bounded by its teacher, and the teacher gains ~0.17 dB per doubling of its steps
    # (docs/quality.md), too slowly to pass SPAN on this CPU. 1,000 steps from the finished
    # teacher at half its lr with SPAN's output on each LR frame as a second target (weight 1
    # falling to 0), then ablated. (Its control, the same 1,000 steps without SPAN, was dropped in
    # session 23: with SPAN's target the teacher stayed within -0.02/+0.03 dB of its start at steps
    # 250-750 (30.54-30.59 from 30.56; 30.60 at 1,000), a difference a control would cost five
    # hours of the uni thread to resolve; the clip and patch runs below buy more.)
    job basicvsr-uni-x4-spankd vsr-compress train --model basicvsr-uni --preset cpu-long --init "$T" \
      --steps 1000 --lr 1e-4 --val-every 250 --teacher "$I/span-x4" --threads 1
    eval_temporal "$R/basicvsr-uni-x4-spankd"
    # SSL's Table 1 again with the long-trained teacher (the wave-1 runs found the width-32 lite
    # from scratch at or above SSL at equal size, and put it down to short-trained teachers): SSL at
    # the lite's size (ratio 0.58) from this teacher, and the lite from scratch for as many steps
    # as that model has seen in all (teacher 1,800 + 3,000, SSL 400 + 1,200).
    job ssl-uni-r058-v2 vsr-compress ssl --teacher "$T" --preset cpu --ratio 0.58 --name ssl-uni-r058
    # Table 1's other half: the lite from scratch, as many steps in all (before the clip and patch
    # runs since session 25: the paper's claim first, the ablations after).
    job basicvsr-uni-lite-x4-cpu-long vsr-compress train --model basicvsr-uni-lite --preset cpu-long \
      --init "$F" --threads 1
    # Table 2 (the components: SSL4 = ssl-uni-short, SSL3 no TF, SSL2 no PS pruning, SSL1 aligned)
    # from the long-trained teacher, before the clip and patch runs (session 26: what the issue
    # names first).
    for row in ssl-uni-short ssl-uni-notf ssl-uni-rsc ssl-uni-aligned; do ssl_table_row "$row"; done
    # Does the recurrence learn to use the past on longer clips? The finished uni teacher takes
    # +0.08 dB from the other frames after 10-frame clips (docs/training.md): 1,000 more steps on
    # 30-frame clips (1 x 30 x 32: 1.5x a cpu-long step's pixels) at half the lr, then the same
    # temporal ablation; a clear gain makes long clips the recipe of the next teachers.
    job basicvsr-uni-x4-clips30 vsr-compress train --model basicvsr-uni --preset cpu-long --init "$T" \
      --steps 1000 --batch 1 --frames 30 --lr 1e-4 --threads 1
    eval_temporal "$R/basicvsr-uni-x4-clips30"
    # ... or does it need more room? 32x32 LR patches lose content to motion within a few frames
    # (the paper trains on 64x64): 1,000 steps of 1 x 10 x 64x64 (2x the pixels of a cpu-long step,
    # at about the same LR pixels per second, docs/bench-train-rate.json), the same lr and ablation.
    job basicvsr-uni-x4-patch64 vsr-compress train --model basicvsr-uni --preset cpu-long --init "$T" \
      --steps 1000 --batch 1 --frames 10 --patch 64 --lr 1e-4 --threads 1
    eval_temporal "$R/basicvsr-uni-x4-patch64"
  fi
}
# 11. A third chain (session 22), the photo students (session 23: the photo distillations moved
#    here from the uni chain, which keeps the video runs; what the issue asks for first). SPAN
#    pruned to 32 features and distilled from itself
#    (span-s32: its channels of largest L1 norm, the family's channel groups; 2.3x (x4) and 3.1x
#    (x2) SPAN's speed in fp32, docs/bench-student-sizes-span-xS.json), x4 then x2; then the same student
#    from a random start (the paper's prune-then-distil students start from scratch): does the
#    teacher's own channels as the start matter?
#    Cut at once, SPAN's channels lose most of what they compute (10-15 dB PSNR against SPAN's own
#    output before any training), so the cut is also run after SSL's regularisation: 400 steps of a
#    gated full-width copy distilled from SPAN with the dropped channels' gammas pushed to 0
#    (--regularise-steps; SSL's cpu ramp and gamma lr; the weights at 5e-5, as a trained SPAN does
#    not take larger steps, docs/sweep-span-lr.json), then the cut and the distillation at 1e-4.
#    (The dropped gammas ended at 0.26, not 0: the cut model scored 15.0 dB against 13.5 for the
#    cut at once, docs/bench-span-cut-x4.json; its lr differs from the cut at once's too.)
photo_students() {
  local s
  # What the issue asks first: edsrmini from scratch (the distillation claim) and swinirmini taught
  # by SPAN (both minis from the strongest teacher, side by side with their own teachers'); then
  # the students beyond the paper's sizes.
  # span-s32 x4 cut at once: paused at step ~1,360 in session 22, finished first in session 23.
  job span-s32-x4 vsr-compress distill --teacher "$I/span-x4" --student span-s32 \
    --student-init teacher --preset cpu --name span-s32
  # Distillation against training from scratch, with the strongest teacher there is (SPAN): the
  # published edsrmini size trained on the ground truth alone, edsrmini-xS-span's recipe and steps
  # (the paper's second claim, re-tested; about an hour each).
  for s in 2 4; do
    job "edsrmini-x$s-scratch" vsr-compress distill --teacher "$I/span-x$s" --student edsrmini \
      --from-scratch --preset cpu --name edsrmini-scratch
  done
  # swinirmini taught by SPAN, as edsrmini was, and the image teachers again (session 24: "every
  # teacher clearly above its earlier version"; the bundled edsr-baseline saw 4,000 steps on the
  # first 37 training photos (wave 1); 2,000 more from it on the grown corpus (215), at half the
  # cpu preset's lr (a trained network continued, as swinir-lw x4 was)). Session 28: both
  # swinirmini first (a bundled model may improve), then the teachers: at 0.06 it/s beside two
  # video runs, edsr-baseline x4's 2,000 steps take ~9 h, not the ~2 h session 26 estimated.
  for s in 4 2; do
    job "swinirmini-x$s-span" vsr-compress distill --teacher "$I/span-x$s" --student swinirmini \
      --preset cpu --name swinirmini-span
  done
  # Session 29: the wider EDSR students first (about 1.2 h and 3.5 h on a core, against 5-9 h for
  # each teacher continued below): they test what would close the missed edsrmini target.
  # edsrmini is capacity-bound (docs/training.md): the widest EDSR student still ~3x faster than
  # SPAN (docs/bench-student-sizes-x2.json: 32 features x 8 blocks, 2.85x at x2; at x4 with SPAN's
  # one-conv upsampler, 3.65x: docs/bench-student-sizes-x4-direct.json), taught by SPAN with
  # edsrmini-xS-span's recipe. The x2 one (edsr-s32-x2-span, done) still rose at its 3,000th
  # step: three times the steps.
  job edsr-s32d-x4-span vsr-compress distill --teacher "$I/span-x4" --student edsr-s32d \
    --preset cpu --name edsrmini-s32d
  # Session 30: Table 3's random row here (from the bi chain), before the 9k-step x2 student,
  # which could not finish before the issue closes (about 5 h beside two runs).
  ssl_table_row ssl-uni-random
  job edsr-s32-x2-span-9k vsr-compress distill --teacher "$I/span-x2" --student edsr-s32 \
    --preset cpu --distill-steps 9000 --name edsrmini-s32
  for s in 4 2; do
    [ -f "$I/edsr-baseline-x$s/config.json" ] || cp -r "src/slimvsr/models/weights/edsr-baseline-x$s" "$I/edsr-baseline-x$s"
    job "edsr-baseline-x$s-more" vsr-compress train --model edsr-baseline --scale $s --preset cpu \
      --init "$I/edsr-baseline-x$s" --steps 2000 --lr 2e-4 --threads 1
  done
  job span-s32-x4-reg2 vsr-compress distill --teacher "$I/span-x4" --student span-s32 \
    --student-init teacher --regularise-steps 400 --distill-lr 1e-4 --preset cpu --name span-s32
  job span-s32-x2 vsr-compress distill --teacher "$I/span-x2" --student span-s32 \
    --student-init teacher --preset cpu --name span-s32
  job span-s32-x4-random vsr-compress distill --teacher "$I/span-x4" --student span-s32 \
    --preset cpu --name span-s32
}
chain basicvsr-uni ssl-uni &
chain basicvsr ssl-bi &
photo_students &
wait
