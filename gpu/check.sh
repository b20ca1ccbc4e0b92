#!/usr/bin/env bash
# The prepared GPU check: on a bare GPU machine whose python3 (3.12) has PyTorch but not this
# project's pins and no internet, install Snakemake from carried wheels, run the throughput
# benchmark (python -m tools.bench), then the full preset under the GPU workstation profile
# (profiles/gpu) until the time limit, and write timings and tables to $OUT.
#
# Here first:   make gpu-bundle      (gpu/wheels: ~10 MB of wheels; gpu/data: the 41 MB mirror)
# Device call:  run(command="bash gpu/check.sh", carry=["gpu/wheels", "gpu/data"], timeout_s=600)
# More than one call: call again while the machine is still warm (it stays so for 30 s): its
# workflow folder is kept, so the same command resumes the run (the profile's --rerun-incomplete;
# a training job from its last epoch). Give the last call a TOTAL_LIMIT that fits the device time
# left. results/published/full-gpu-h200/RUN.md: two calls, 578 s then 275 s.
#
# Settings (environment):
#   TOTAL_LIMIT  seconds for the whole script, default 560 (the call's timeout_s is <= 600)
#   BENCH_LIMIT  seconds for the benchmark, default 150 (SIGINT, then it is skipped); 0 skips it
#   BENCH_ARGS   default "--threads 1 --batch 100,1000"
#   GPU_SLOTS    training jobs sharing the GPU at once (default: the profile's gpu_slots)
#   PRESET_ARGS  e.g. "--configfile presets/quick.yaml"; default none = the full preset
#   PRIORITIZE   outputs whose jobs go first (Snakemake --prioritize), the rest fill the free
#                slots; e.g. "results/tables/rq_cwc.csv" when a device call cannot finish it all
#   PYTHON       default python3;  OUT  default ./gpu-out
#   SKIP_INSTALL=1  use the Snakemake already importable (a rehearsal on a CPU machine)
# What comes back in $OUT (the device returns at most 8 files): check.log (everything printed,
# the environment first), bench.csv, gpu_util.csv (nvidia-smi every 5 s), snakemake.log,
# timing.tsv (time and memory of every finished job), summary.md (plan, jobs done, time per
# rule, a rough estimate for the whole preset, the tables if they were reached),
# results.tar.gz (tables, metrics.json files, benchmarks).
set -uo pipefail

T0=$(date +%s)
TOTAL_LIMIT=${TOTAL_LIMIT:-560}
BENCH_LIMIT=${BENCH_LIMIT:-150}
BENCH_ARGS=${BENCH_ARGS:---threads 1 --batch 100,1000}
GPU_SLOTS=${GPU_SLOTS:-}
PRESET_ARGS=${PRESET_ARGS:-}
PRIORITIZE=${PRIORITIZE:-}
PY=${PYTHON:-python3}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$REPO/gpu-out}
SITE=${SITE:-/tmp/ffrepro-site}
MIRROR=$REPO/gpu/data
mkdir -p "$OUT"
cd "$REPO" || exit 1

left() { echo $((T0 + TOTAL_LIMIT - $(date +%s))); }
stamp() { echo "== [$(($(date +%s) - T0)) s] $*"; }

main() {
    stamp "environment"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
    nproc; free -g | head -2
    "$PY" - <<'EOF'
import importlib, sys
print("python", sys.version.split()[0], sys.executable)
for name in ("torch", "torchvision", "numpy", "scipy", "pandas", "matplotlib", "yaml", "packaging", "typing_extensions"):
    try:
        print(name, importlib.import_module(name).__version__)
    except Exception as err:  # noqa: BLE001
        print(name, "MISSING", err)
import torch
print("cuda available:", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
EOF

    stamp "install carried wheels into $SITE"
    ls gpu/wheels/*.whl >/dev/null 2>&1 || { echo "no wheels in gpu/wheels: run 'make gpu-bundle' here and carry gpu/wheels"; return 1; }
    [[ -d $MIRROR/mnist && -d $MIRROR/fashion-mnist ]] || { echo "no data in $MIRROR: run 'make gpu-bundle' and carry gpu/data"; return 1; }
    if [[ ${SKIP_INSTALL:-0} == 1 ]]; then
        export PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}
    else
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
            gpu/wheels/*.whl || return 1
        export PYTHONPATH=$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}
    fi
    export PYTHONUNBUFFERED=1
    "$PY" -m snakemake --version || return 1
    "$PY" -c "import ffmodels.config, ffmodels.families; print('ffmodels imports')" || return 1

    if ((BENCH_LIMIT > 0)); then  # timeout 0 would mean no limit at all
        stamp "benchmark: python -m tools.bench $BENCH_ARGS (limit ${BENCH_LIMIT} s)"
        # shellcheck disable=SC2086
        timeout -s INT -k 10 "$BENCH_LIMIT" "$PY" -m tools.bench $BENCH_ARGS --out "$OUT/bench.csv"
        echo "bench exit $?"
        [[ -f $OUT/bench.csv ]] && { column -s, -t <"$OUT/bench.csv" 2>/dev/null || cat "$OUT/bench.csv"; } | head -60
    else
        stamp "benchmark skipped (BENCH_LIMIT=0)"
    fi

    # Packing: the rules' gpu_slots resource (profiles/gpu); rules that do not declare it yet
    # are packed through their gpu=1 instead (same effect on a one-GPU machine).
    local slots=()
    if grep -q gpu_slots workflow/rules/pretrain.smk; then
        [[ -n $GPU_SLOTS ]] && slots=(--resources "gpu_slots=$GPU_SLOTS")
    else
        echo "note: the rules declare no gpu_slots; packing with --resources gpu=${GPU_SLOTS:-4}"
        slots=(--resources "gpu=${GPU_SLOTS:-4}")
    fi
    # shellcheck disable=SC2206
    local sm=("$PY" -m snakemake --cores all --workflow-profile profiles/gpu --scheduler greedy "${slots[@]}"
        $PRESET_ARGS --config "local_mirror=$MIRROR")
    # shellcheck disable=SC2206
    [[ -n $PRIORITIZE ]] && sm+=(--prioritize $PRIORITIZE)

    stamp "plan: ${sm[*]} -n"
    "${sm[@]}" -n --quiet rules >"$OUT/plan.txt" 2>&1
    sed -n '/^Job stats:/,/^total/{p;/^total/q}' "$OUT/plan.txt"

    local limit=$(($(left) - 45))
    if ((limit < 60)); then
        echo "only $limit s left for the workflow: skipped"
    else
        stamp "workflow, SIGINT after $limit s"
        nvidia-smi --query-gpu=timestamp,utilization.gpu,utilization.memory,memory.used --format=csv -l 5 \
            >"$OUT/gpu_util.csv" 2>/dev/null &
        local gpumon=$!
        timeout -s INT -k 30 "$limit" "${sm[@]}" >"$OUT/snakemake.log" 2>&1
        echo "snakemake exit $? (124: stopped at the time limit)"
        kill "$gpumon" 2>/dev/null
        wait "$gpumon" 2>/dev/null
        grep -E "steps \(|Error in rule" "$OUT/snakemake.log" | tail -5
    fi

    stamp "collect"
    "$PY" - "$OUT" <<'EOF'
import csv, statistics, sys
from collections import defaultdict
from pathlib import Path

out = Path(sys.argv[1])
plan = {}
text = (out / "plan.txt").read_text() if (out / "plan.txt").exists() else ""
if "Job stats:" in text:
    for line in text.split("Job stats:")[1].splitlines()[3:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        plan[parts[0]] = int(parts[1])

rows = []
for tsv in sorted(Path("benchmarks").rglob("*.tsv")):
    with open(tsv) as fh:
        row = next(csv.DictReader(fh, delimiter="\t"), None)
    if row:
        rule = tsv.relative_to("benchmarks").parts[0]
        rows.append({"rule": rule, "job": str(tsv.relative_to("benchmarks").with_suffix("")),
                     "s": float(row["s"]), "max_rss_mb": row.get("max_rss", "")})
with open(out / "timing.tsv", "w") as fh:
    w = csv.DictWriter(fh, ["rule", "job", "s", "max_rss_mb"], delimiter="\t")
    w.writeheader()
    w.writerows(rows)

by_rule = defaultdict(list)
for r in rows:
    by_rule[r["rule"]].append(r["s"])
util = []
if (out / "gpu_util.csv").exists():
    for line in (out / "gpu_util.csv").read_text().splitlines()[1:]:
        try:
            util.append(float(line.split(",")[1].strip().rstrip(" %")))
        except (IndexError, ValueError):
            pass
log = (out / "snakemake.log").read_text() if (out / "snakemake.log").exists() else ""
done = log.count("Finished jobid")

lines = ["# GPU check", "", f"jobs planned (dry run): {sum(plan.values())} {dict(plan)}",
         f"jobs finished in the time limit: {done}", ""]
if util:
    lines.append(f"GPU utilisation while the workflow ran: mean {statistics.mean(util):.0f} %, max {max(util):.0f} % ({len(util)} samples)")
lines += ["", "| rule | jobs timed | mean s | median s | planned | serial estimate (min) |", "|---|---|---|---|---|---|"]
serial = 0.0
for rule, times in sorted(by_rule.items()):
    est = plan.get(rule, 0) * statistics.mean(times) / 60
    serial += est
    lines.append(f"| {rule} | {len(times)} | {statistics.mean(times):.1f} | {statistics.median(times):.1f} | {plan.get(rule, '?')} | {est:.1f} |")
lines += ["", f"Planned jobs x mean time of the finished ones, one after another: {serial:.0f} min; divide by "
          "the jobs that ran side by side (gpu_slots) for a rough wall time. Rules with no finished job "
          "are not counted."]
for md in sorted(Path("results/tables").glob("*.md")):
    lines += ["", f"## {md.name}", "", md.read_text()]
(out / "summary.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines[:40]))
EOF
    # Every stage's metrics (pretrain, ceiling, transfer, finetune, sensitivity, analysis), the
    # tables, figures and benchmarks: enough to publish the run (python -m tools.publish run).
    { find results/tables results/figures benchmarks -type f -print0 2>/dev/null
      find results -name '*.json' -not -path 'results/published/*' -print0 2>/dev/null; } |
        tar -czf "$OUT/results.tar.gz" --null -T -
    ls -la "$OUT"
    stamp "done"
}

main 2>&1 | tee "$OUT/check.log"
exit "${PIPESTATUS[0]}"
