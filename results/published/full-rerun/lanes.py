"""Split one stage's missing result files (missing.py's lines, 'run file file ...') into lines
that two snakemake calls can run at once in one folder (--nolock): a line per run, and a line per
seed for a run whose family trains one seed per job (CwC-FF); then any two lines whose dry runs
plan a common output (a job both need) are merged, so that no job can be planned by both calls;
the lines that train nothing come first.
usage (from the run folder): python lanes.py missing.txt queue.txt -- SNAKEMAKE_COMMAND..."""

import re
import subprocess
import sys

src, dst, sep, *snakemake = sys.argv[1:]
assert sep == "--"
lines = []
for raw in open(src):
    run, *files = raw.split()
    seeds = sorted({m.group(1) for f in files for m in [re.search(r"/seed(\d+)[/.]", f)] if m})
    per_seed = run == "cwc" or run.startswith("cwc_")  # CwC-FF: one training job per seed
    if per_seed and len(seeds) > 1:
        for s in seeds:
            lines.append((run, [f for f in files if re.search(rf"/seed{s}[/.]", f)]))
    else:
        lines.append((run, files))


def plan(files):
    out = subprocess.run([*snakemake, "-n", "--", *files], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"dry run failed for {files[:2]}...: {out.stderr[-2000:]}")
    planned = set()
    for line in out.stdout.splitlines():
        if line.startswith("    output: "):
            planned.update(line[len("    output: ") :].split(", "))
    if not planned:  # missing files plan at least their own jobs: else the dry run's format changed
        sys.exit(f"no job read from the dry run of {files[:2]}...: its format changed?")
    return planned


groups = [(run, files, plan(files)) for run, files in lines]
merged = True
while merged:
    merged = False
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            if groups[i][2] & groups[j][2]:
                a, b = groups[i], groups[j]
                groups[i] = (f"{a[0]}+{b[0]}", a[1] + b[1], a[2] | b[2])
                del groups[j]
                merged = True
                break
        if merged:
            break
# Lines that train nothing first (their models exist: only probes and analyses are left), so
# that what is nearly done lands first; then the rest in the tables' order (a stable sort).
TRAINING = re.compile(r"^results/(pretrain|ceiling|finetune)/")
groups.sort(key=lambda g: any(TRAINING.match(f) for f in g[2]))
with open(dst, "w") as fh:
    for run, files, _ in groups:
        fh.write(" ".join([run, *files]) + "\n")
print(
    f"{len(lines)} lines, {len(groups)} after merging those that plan a common job",
    file=sys.stderr,
)
