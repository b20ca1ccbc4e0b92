#!/bin/bash
# Usage: bash speed.sh <a checkout with its .venv>
# What config cpu_kernels: avx2 costs in speed on this CPU: the same training steps (steps.py: one
# thread, random MNIST-shaped data, the config's batch size) timed as whole processes, natively
# and with the AVX2 environment the Snakefile exports, in turn (A B A B ...: a drift of the
# machine's speed hits both), after one warm-up pair; prints each pair's wall ratio and the medians.
here=$(cd "$(dirname "$0")" && pwd)
cd "$1" || exit 1
export PYTHONPATH=.
avx2="ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2"
for work in "cwc 8" "random_wrong_label 300" "bp 600"; do
  native=() held=()
  for i in 0 1 2 3 4 5; do
    a=$( { /usr/bin/time -f %e .venv/bin/python "$here/steps.py" $work > /dev/null; } 2>&1 | tail -1)
    b=$( { env $avx2 /usr/bin/time -f %e .venv/bin/python "$here/steps.py" $work > /dev/null; } 2>&1 | tail -1)
    [ $i -gt 0 ] && native+=($a) && held+=($b)  # the first pair warms the caches
  done
  python3 - "$work" "${native[*]}" "${held[*]}" <<'PY'
import statistics, sys
work, a, b = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
ratios = [x / y for x, y in zip(a, b)]
print(f"{work:24s} native {statistics.median(a):.2f} s, avx2 {statistics.median(b):.2f} s (medians of {len(a)}); "
      f"native/avx2 per pair {', '.join(f'{r:.3f}' for r in ratios)}, median {statistics.median(ratios):.3f}")
PY
done
