"""A published table rebuilt from the published per-seed results alone (issue 42): a run's
metrics.tar.gz holds every job's result JSON at its workflow path (tools/publish.py
merge_results), so the table job's own code, given the run's preset, must write the published
CSV and Markdown again byte for byte. A failure means the table code or the preset changed since
that run was published: publish the run again (the quick preset), or say why it changed."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from ffmodels.config import load_config, table_context, table_input_files, table_runs
from ffmodels.jobs.table import TableSpec, table_job
from tests.conftest import REPO

PUBLISHED = REPO / "results" / "published"
RESULTS = "metrics.tar.gz"  # tools.publish.RESULTS (tools/ is not imported by tests of ffmodels)
PRESETS = {"quick": [REPO / "presets" / "quick.yaml"], "full-rerun": []}  # full: config.yaml as it ships


@pytest.fixture(scope="module")
def published_results(tmp_path_factory):
    """{run: the folder where its result files are unpacked at their workflow paths}, on demand."""
    roots = {}

    def unpack(run: str) -> Path:
        if run not in roots:
            roots[run] = tmp_path_factory.mktemp(run)
            with tarfile.open(PUBLISHED / run / RESULTS) as tar:
                members = [m for m in tar.getmembers() if m.isfile() and m.name.startswith("results/")]
                tar.extractall(roots[run], members=members, filter="data")
        return roots[run]

    return unpack


# The quick run's transfer table (kind compare, with the raw-pixel control) and root-cause table
# (kind root_cause, one-sample tests Holm-corrected with their readings); the hypothesis test
# across models (kind hypothesis, seed-bootstrap rho); the full rerun's first table (kind compare,
# 5 seeds).
@pytest.mark.parametrize(
    "run, table",
    [
        ("quick", "rq2_transfer"),
        ("quick", "rq3_root_cause"),
        ("quick", "root_cause_hypothesis"),
        ("full-rerun", "rq1_negative_strategies"),
    ],
)
def test_table_rebuilt_byte_for_byte_from_published_results(run, table, published_results, tmp_path):
    config = load_config(*PRESETS[run])
    root = published_results(run)
    runs = table_runs(config)[table]
    inputs = {stage: [str(root / f) for f in files] for stage, files in table_input_files(config, runs).items()}
    missing = [p for files in inputs.values() for p in files if not Path(p).exists()]
    assert not missing, f"not in {run}/{RESULTS}: {missing[:3]}"
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
        rebuilt, published = (
            (tmp_path / f"{table}.{ext}").read_bytes(),
            (PUBLISHED / run / f"{table}.{ext}").read_bytes(),
        )
        assert rebuilt == published, f"{table}.{ext} differs from the published {run} run's"
