#!/bin/bash
# The R1 ladder (FF on MNIST, 94.5) at 781b077 in /work/runs/upstream (a clone of 781b077),
# resumable: run again after any stop. On a new machine (a new clone), what the run published is
# restored first and not trained again: the rungs shared with FF transfer's ladder and any R1 rung
# seed published before; only the missing result files are targets.
cd /work/runs/upstream || exit 1
export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=68719476736
SM=(.venv/bin/snakemake --cores 2 --rerun-incomplete --keep-going --configfile presets/upstream_r2.yaml presets/upstream_r1.yaml --config local_mirror=/work/shared/data preset=upstream 'tables={root_cause_hypothesis: {enabled: false}}' 'pretrain={seed_chunk: 1}' --rerun-triggers mtime input)
echo "started $(date -u '+%F %T')" >> full-run.log
.venv/bin/snakemake --unlock >/dev/null 2>&1
PUB=/work/main/results/published/upstream/metrics.tar.gz
tar xzf $PUB --skip-old-files $(tar tzf $PUB | grep -E "pretrain/(random_wrong_label|u2_ff_(zscore|eps|label|once|greedy)|u1_ff[a-z0-9_]*)/")
missing=$(for v in u1_ff u1_ff_nol2 u1_ff_ln u1_ff_last; do for s in 0 1 2; do
  f=results/pretrain/$v/seed$s/metrics.json; [ -f $f ] || echo $f; done; done)
status=0
# The long u1_ff seeds (2000 full-batch epochs each) at once, the short rungs in a fourth slot:
# 4 one-thread jobs share the 2 cores, so no core idles at the end while one seed finishes
# (each job's arithmetic is its own: the same weights as alone).
long=$(echo "$missing" | grep "u1_ff/")
[ -z "$missing" ] || "${SM[@]}" --cores 4 ${long:+--prioritize $long} -- $missing || status=1
# The table and figure from the result files (--allowed-rules: the restored rungs' models went
# with an earlier machine, and a table reads result files, not models).
"${SM[@]}" --allowed-rules table figure -- results/tables/ladder_ff_mnist.csv results/figures/ladder_ff_mnist.png || status=1
echo "exited $status $(date -u '+%F %T')" >> full-run.log
