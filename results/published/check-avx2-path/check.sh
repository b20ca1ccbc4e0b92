#!/bin/bash
# Does an AVX512 CPU give an AVX2 CPU's bits with ATEN_CPU_CAPABILITY=avx2? Two quick-preset
# training jobs (backprop seed 0; standard FF seeds 0-2 in lockstep) trained here natively and with
# ATEN_CPU_CAPABILITY=avx2, each seed's training history compared with the published quick run's
# (results/published/quick, commit 99bf4cc, an AVX2 AMD EPYC). Usage: bash check.sh <a clone of
# the commit> <data mirror>; the clone's code must be the quick run's (only tools/ and docs differ).
set -e
clone=$1 mirror=$2
pub=$(mktemp -d)
tar xzf "$(dirname "$0")/../quick/metrics.tar.gz" -C "$pub" results/pretrain/bp results/pretrain/random_wrong_label
for kernels in native avx2; do
  rm -rf "$clone/results/pretrain/bp" "$clone/results/pretrain/random_wrong_label"
  (cd "$clone" && env $([ $kernels = avx2 ] && echo ATEN_CPU_CAPABILITY=avx2) .venv/bin/snakemake --cores 1 \
    --configfile presets/quick.yaml --config local_mirror="$mirror" -- \
    results/pretrain/bp/seed0/metrics.json results/pretrain/random_wrong_label/seed0/metrics.json >/dev/null 2>&1)
  for job in bp/seed0 random_wrong_label/seed0 random_wrong_label/seed1 random_wrong_label/seed2; do
    python3 -c "import json,sys; a,b=(json.load(open(p))['history'] for p in sys.argv[1:]); print('$kernels', '$job', 'same history, every epoch' if a==b else 'differs: ' + str([(k, x[k], y[k]) for x, y in zip(a, b) for k in x if x[k] != y[k]][:2]))" \
      "$clone/results/pretrain/$job/metrics.json" "$pub/results/pretrain/$job/metrics.json"
  done
done
