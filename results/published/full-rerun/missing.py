"""The result files the given tables read that this workflow folder lacks, one line per run:
'run path path ...', runs in the order the tables list them (this checkout's own ffmodels: run
from the run folder). The same files as main's `python -m tools.publish missing`, grouped by run."""

import sys
from pathlib import Path

from ffmodels.config import load_config, table_runs
from ffmodels.names import stage_file

config = load_config()
runs = table_runs(config)
by_run: dict[str, list[str]] = {}
for table in sys.argv[1:]:
    for stage, names in runs[table].items():
        for run in names:
            for seed in config["seeds"]:
                path = stage_file(stage, run, seed)
                if not Path(path).exists() and path not in by_run.get(run, []):
                    by_run.setdefault(run, []).append(path)
for run, paths in by_run.items():
    print(run, *paths)
