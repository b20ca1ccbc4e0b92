#!/bin/bash
# The full rerun at 781b077 (from 2026-12-07 18:01 UTC 212c839, below) in a new folder (the first went with a lost machine), resumable: run
# again after any stop. What the run published is restored and not run again. Each stage's
# missing result files are split into lines (lanes.py: one per run, one per seed for CwC-FF,
# merged where two would plan a common job) that two lanes take in turn, each line one
# `snakemake --cores 1 --nolock` call: both cores stay busy, and each model's probes and analyses
# follow its training, so they land before a stop. Then the stage's tables build from the files.
# (Until 2026-12-07 15:14 UTC: two runs per call, which left a core idle whenever one trained
# longer; until 16:20 UTC: one call per stage, whose scheduler started new trainings before the
# analyses of trained models.) Usage: rerun.sh [idle]   (idle: SCHED_IDLE, below another run)
cd /work/runs/full-rerun || exit 1
[ "$1" = idle ] && chrt -i -p 0 $$
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736
# torch's own CPU kernels on the AVX2 path whatever the CPU: the first folder ran on an AVX2 CPU,
# and on an AVX512 one this gives its bits (docs/usage.md, Determinism).
export ATEN_CPU_CAPABILITY=avx2
# and oneDNN's (CwC-FF's convolutions), which ATEN_CPU_CAPABILITY does not reach (check-quick-avx2-here).
export ONEDNN_MAX_CPU_ISA=AVX2
SM=(.venv/bin/snakemake --nolock --rerun-incomplete --keep-going --config local_mirror=/work/shared/data)
echo "started $(date -u '+%F %T')" >> full-run.log
.venv/bin/snakemake --unlock >/dev/null 2>&1
(cd /work/main && .venv/bin/python -m tools.publish restore full-rerun --workdir /work/runs/full-rerun)
# From 2026-12-07 18:01 UTC at 212c839: 781b077 plus a fix to the representation analysis's pixel
# R^2, the one job whose code it changes; its results of 781b077 (published ones restored above
# too) are made again, every other result stands (the same code).
git -c advice.detachedHead=false checkout -q 212c839 || exit 1
.venv/bin/python /work/runs/stale.py representation 212c839 2>> rerun-progress.log

lane() {  # $1: its name. Runs the queue's lines one at a time on one core until none is left.
  local line status=0
  while line=$(flock queue.lock .venv/bin/python /work/runs/take.py queue.txt) && [ -n "$line" ]; do
    echo "$(date -u '+%F %T') lane $1: ${line%% *}" >> rerun-progress.log
    "${SM[@]}" --cores 1 -- ${line#* } < /dev/null || status=1
  done
  return $status
}

status=0
for stage in root_cause_hypothesis rq_cwc rq2_finetune rq3_root_cause+rq3_over_training; do
  tables=$(echo $stage | tr + ' ')
  PYTHONPATH=. .venv/bin/python /work/runs/missing.py $tables > missing.txt || { status=1; break; }
  if [ -s missing.txt ]; then
    .venv/bin/python /work/runs/lanes.py missing.txt queue.txt -- "${SM[@]}" --cores 1 2>> rerun-progress.log || { status=1; break; }
    echo "$(date -u '+%F %T') $stage: $(cut -d' ' -f1 queue.txt | tr '\n' ' ')" >> rerun-progress.log
    lane A & a=$!
    lane B & b=$!
    wait $a || status=1
    wait $b || status=1
  fi
  "${SM[@]}" --cores 2 --allowed-rules table figure -- $(for t in $tables; do echo results/tables/$t.csv results/figures/$t.png; done) || status=1
done
echo "exited $status $(date -u '+%F %T')" >> full-run.log
