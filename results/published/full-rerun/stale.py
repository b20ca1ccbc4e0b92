"""Remove the result files of one analysis that an earlier commit of this run computed (run from
the run folder): after the run moved to a commit that changes only that analysis's code, its
results are made again, while every other job's code, and so its results, stay the same.
usage: python stale.py ANALYSIS COMMIT   (keeps the files whose provenance names COMMIT)"""

import json
import sys
from pathlib import Path

analysis, commit = sys.argv[1:]
removed = 0
for path in Path("results/analysis", analysis).glob("*/seed*.json"):
    if not json.loads(path.read_text())["provenance"]["git_commit"].startswith(commit):
        path.unlink()
        removed += 1
print(f"{analysis}: {removed} result files of an earlier commit removed", file=sys.stderr)
