"""A published table rebuilt from the published per-seed results alone (issue 42): the quick run's
metrics.tar.gz holds every job's result JSON at its workflow path (tools/publish.py
merge_results), so the table job's own code, given the quick preset's config, must write the
published CSV and Markdown again byte for byte. A failure means the table code or the quick
preset changed since that run was published: publish the quick preset again."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from ffmodels.config import load_config, table_context, table_runs
from ffmodels.jobs.table import TableSpec, table_job
from ffmodels.names import stage_file
from tests.conftest import REPO

PUBLISHED = REPO / "results" / "published" / "quick"
RESULTS = PUBLISHED / "metrics.tar.gz"  # tools.publish.RESULTS (tools/ is not imported by tests of ffmodels)


@pytest.fixture(scope="module")
def published_results(tmp_path_factory):
    """The quick run's result files, unpacked at their workflow paths."""
    root = tmp_path_factory.mktemp("published")
    with tarfile.open(RESULTS) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith("results/")]
        tar.extractall(root, members=members, filter="data")
    return root


# The transfer table (kind compare, with the raw-pixel control) and the root-cause table (kind
# root_cause, one-sample tests Holm-corrected with their readings): the inputs of the
# root-cause hypothesis test.
@pytest.mark.parametrize("table", ["rq2_transfer", "rq3_root_cause"])
def test_table_rebuilt_byte_for_byte_from_published_results(table, published_results, tmp_path):
    config = load_config(REPO / "presets" / "quick.yaml")
    runs = table_runs(config)[table]
    inputs = {
        stage: [str(published_results / stage_file(stage, run, seed)) for run in stage_runs for seed in config["seeds"]]
        for stage, stage_runs in runs.items()
    }
    missing = [p for files in inputs.values() for p in files if not Path(p).exists()]
    assert not missing, f"not in {RESULTS.name}: {missing[:3]}"
    spec = TableSpec(
        table=table,
        definition=config["tables"][table],
        ctx=table_context(config, table, runs),
        code={},
        inputs=inputs,
        csv=str(tmp_path / f"{table}.csv"),
        md=str(tmp_path / f"{table}.md"),
        log=str(tmp_path / f"{table}.log"),
    )
    table_job(spec)
    for ext in ("csv", "md"):
        rebuilt, published = (tmp_path / f"{table}.{ext}").read_bytes(), (PUBLISHED / f"{table}.{ext}").read_bytes()
        assert rebuilt == published, f"{table}.{ext} differs from the published quick run's"
