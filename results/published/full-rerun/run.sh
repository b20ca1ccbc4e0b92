#!/bin/bash
# The full rerun at 781b077 in a new folder (the first went with a lost machine), resumable: run
# again after any stop. What the run published is restored and not run again; each stage's
# missing result files are made two runs (variants) at a time, so that each model's probes and
# analyses follow its training and land before a stop; then the stage's tables build from the
# files. Usage: rerun.sh [idle]   (idle: SCHED_IDLE, below the ladder run)
cd /work/runs/full-rerun || exit 1
[ "$1" = idle ] && chrt -i -p 0 $$
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736
# torch's own CPU kernels on the AVX2 path whatever the CPU: the first folder ran on an AVX2 CPU,
# and on an AVX512 one this gives its bits (docs/usage.md, Determinism).
export ATEN_CPU_CAPABILITY=avx2
# and oneDNN's (CwC-FF's convolutions), which ATEN_CPU_CAPABILITY does not reach (check-quick-avx2-here).
export ONEDNN_MAX_CPU_ISA=AVX2
SM=(.venv/bin/snakemake --cores 2 --rerun-incomplete --keep-going --config local_mirror=/work/shared/data)
echo "started $(date -u '+%F %T')" >> full-run.log
.venv/bin/snakemake --unlock >/dev/null 2>&1
(cd /work/main && .venv/bin/python -m tools.publish restore full-rerun --workdir /work/runs/full-rerun)
status=0
for stage in root_cause_hypothesis rq_cwc rq2_finetune rq3_root_cause+rq3_over_training; do
  tables=$(echo $stage | tr + ' ')
  PYTHONPATH=. .venv/bin/python /work/runs/missing.py $tables > missing.txt || { status=1; break; }
  while read -r run1 files1 && { read -r run2 files2 || true; }; do
    echo "$(date -u '+%F %T') $stage: $run1 $run2" >> rerun-progress.log
    "${SM[@]}" -- $files1 $files2 < /dev/null || status=1
  done < missing.txt
  "${SM[@]}" --allowed-rules table figure -- $(for t in $tables; do echo results/tables/$t.csv results/figures/$t.png; done) || status=1
done
echo "exited $status $(date -u '+%F %T')" >> full-run.log
