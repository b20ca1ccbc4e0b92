#!/bin/bash
# Usage: bash cwc_isa.sh <a workflow folder: a clone of the repository with its .venv> <data mirror>
# Does oneDNN's own ISA dispatch explain why CwC-FF's bits differ under ATEN_CPU_CAPABILITY=avx2?
# Retrains the quick preset's three CwC-FF seeds (13 s each) in that folder under each setting and
# compares each seed's history with the published quick run's (results/published/quick, an AVX2 CPU).
here=$(cd "$(dirname "$0")" && pwd)
published=$(mktemp -d) && tar xzf "$here/../quick/metrics.tar.gz" -C "$published" || exit 1
cd "$1" || exit 1
T="results/pretrain/cwc/seed0/metrics.json results/pretrain/cwc/seed1/metrics.json results/pretrain/cwc/seed2/metrics.json"
for setting in "ATEN_CPU_CAPABILITY=avx2" "ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2"; do
  rm -rf results/pretrain/cwc resume/pretrain/cwc
  env $setting .venv/bin/snakemake --cores 2 --configfile presets/quick.yaml --config local_mirror="$2" -- $T > /dev/null 2>&1 || echo "snakemake failed under $setting"
  for s in 0 1 2; do
    .venv/bin/python - "$setting" $s "$published" <<'PY'
import json, sys
setting, s, published = sys.argv[1:]
ours = json.load(open(f"results/pretrain/cwc/seed{s}/metrics.json"))
pub = json.load(open(f"{published}/results/pretrain/cwc/seed{s}/metrics.json"))
same = ours["history"] == pub["history"] and ours["test_acc"] == pub["test_acc"]
print(f"{setting:50s} seed {s}: test {ours['test_acc']:.4f} (published {pub['test_acc']:.4f}) history {'identical' if same else 'differs'}")
PY
  done
done
