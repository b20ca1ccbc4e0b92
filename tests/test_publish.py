"""Publishing a run in progress (ffmodels/publish.py): its finished tables, and a claims ledger
over them in which the claims on tables not yet built read 'not run'."""

import csv
import shutil

from ffmodels import publish
from tests.conftest import REPO

QUICK = REPO / "results" / "published" / "quick"


def test_a_run_in_progress_is_published_with_a_ledger_over_its_finished_tables(tmp_path, monkeypatch):
    run = tmp_path / "run"
    (run / "results" / "tables").mkdir(parents=True)
    for name in ("config.yaml", "claims.yaml"):
        shutil.copy(REPO / name, run / name)
    for table in ("rq1_negative_strategies", "rq2_transfer"):  # two tables of a published quick run
        shutil.copy(QUICK / f"{table}.csv", run / "results" / "tables")
    monkeypatch.setattr(publish, "PUBLISHED", tmp_path / "published")
    out = publish.publish_run("partial", run, "make full-run", "1 h", None)
    ledger = {r["id"]: r for r in csv.DictReader(open(out / "claims_ledger.csv"))}
    whole = {r["id"]: r for r in csv.DictReader(open(QUICK / "claims_ledger.csv"))}
    assert ledger["rq1_bp"]["verdict"] == whole["rq1_bp"]["verdict"] != "not run"  # as the run's own ledger says
    assert ledger["rq2_ff_below_random"]["verdict"] == whole["rq2_ff_below_random"]["verdict"]
    assert ledger["cwc_source"]["verdict"] == "not run" != whole["cwc_source"]["verdict"]  # rq_cwc not finished
    assert all(r["preset"] == "quick" for r in ledger.values())
    assert "from the 2 tables finished so far" in (out / "RUN.md").read_text()


def test_verdicts_that_differ_between_two_published_ledgers(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, verdicts in ((a, ["reproduced", "not run", "inconclusive"]), (b, ["reproduced", "contradicted", "not reproduced"])):
        folder.mkdir()
        with open(folder / "claims_ledger.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, ["id", "verdict", "ours"])
            w.writeheader()
            w.writerows({"id": f"c{i}", "verdict": v, "ours": f"{i}.0"} for i, v in enumerate(verdicts))
    changes = publish.verdict_changes(a, b)
    assert [c["id"] for c in changes] == ["c1", "c2"]
    assert changes[1] == {"id": "c2", "a": "inconclusive", "a ours": "2.0", "b": "not reproduced", "b ours": "2.0"}
