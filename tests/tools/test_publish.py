"""Publishing a run (tools/publish.py): it copies what the workflow built, tables, figures and
ledger, and builds none of them; each published run's page and the README's generated blocks
(tools/readme.py) are what results/published/ says."""

import csv
import datetime
import io
import json
import os
import re
import shutil
import subprocess
import tarfile

import pytest
import torch
import yaml

from tests.conftest import REPO
from tools import cost, publish

QUICK = REPO / "results" / "published" / "quick"


def workflow_folder(run, tables):
    """A workflow folder with this repository's config and the given tables of the published quick run."""
    (run / "results" / "tables").mkdir(parents=True)
    for name in ("config.yaml", "claims.yaml"):
        shutil.copy(REPO / name, run / name)
    for table in tables:
        shutil.copy(QUICK / f"{table}.csv", run / "results" / "tables")
    return run


def test_a_run_in_progress_is_published_as_built_without_a_ledger_of_its_own_making(tmp_path, monkeypatch):
    """Publishing copies; the ledger and the figures are the workflow's. A folder whose ledger job
    has not run yet is published without one (and an earlier folder's ledger, which does not
    speak for these tables, is not left behind)."""
    run = workflow_folder(tmp_path / "run", ["rq1_negative_strategies", "rq2_transfer"])  # two of a published quick run
    monkeypatch.setattr(publish, "PUBLISHED", tmp_path / "published")
    (tmp_path / "published" / "partial").mkdir(parents=True)
    shutil.copy(QUICK / "claims_ledger.csv", tmp_path / "published" / "partial")  # an earlier folder's
    out = publish.publish_run("partial", run, "make full-run", "1 h", None)
    assert sorted(p.name for p in out.glob("*.csv")) == ["rq1_negative_strategies.csv", "rq2_transfer.csv"]
    assert not list(out.glob("*.png"))  # no figure drawn here
    text = (out / "RUN.md").read_text()
    assert "- preset: quick" in text and "- claims ledger: not built yet" in text
    (run / "results" / "figures").mkdir()
    shutil.copy(QUICK / "rq2_transfer.png", run / "results" / "figures")  # what the workflow built is copied
    for name in ("claims_ledger.csv", "claims_ledger.md"):
        shutil.copy(QUICK / name, run / "results" / "tables")
    out = publish.publish_run("partial", run, "make full-run", "2 h", None)
    assert (out / "claims_ledger.csv").read_bytes() == (QUICK / "claims_ledger.csv").read_bytes()
    assert (out / "rq2_transfer.png").read_bytes() == (QUICK / "rq2_transfer.png").read_bytes()
    assert "claims ledger: not built yet" not in (out / "RUN.md").read_text()


def test_a_restarted_run_keeps_the_earlier_runs_tables_until_it_builds_its_own(tmp_path, monkeypatch):
    monkeypatch.setattr(publish, "PUBLISHED", tmp_path / "published")
    monkeypatch.setattr(publish, "_commit", lambda folder: folder.name)  # each folder its own "commit"
    (tmp_path / "published" / "long").mkdir(parents=True)
    (tmp_path / "published" / "long" / "benchmarks.tsv").write_text("job\ts\n")  # of a run before these
    for folder, tables in (
        ("first", ["rq1_negative_strategies", "rq2_transfer"]),
        ("second", ["rq_cwc"]),
        ("third", ["rq1_negative_strategies", "rq_cwc"]),
    ):
        run = workflow_folder(tmp_path / folder, tables)
        out = publish.publish_run("long", run, "make full-run", None, None)
        sources = {r["table"]: r["commit"] for r in csv.DictReader(open(out / "tables.tsv"), delimiter="\t")}
        assert not (out / "benchmarks.tsv").exists()  # no folder here has finished jobs: no earlier run's file left
        if folder == "second":  # the first folder's tables kept beside the second's, the ledger over all three
            assert sources == {"rq1_negative_strategies": "first", "rq2_transfer": "first", "rq_cwc": "second"}
            assert (
                "- tables kept from an earlier run: rq1_negative_strategies, rq2_transfer (commit `first`"
                in (out / "RUN.md").read_text()
            )
            assert not (out / "claims_ledger.csv").exists()  # the workflow's to build, over all its tables
    # the third rebuilt rq1 and rq_cwc; rq2 is still the first folder's
    assert sources == {"rq1_negative_strategies": "third", "rq2_transfer": "first", "rq_cwc": "third"}
    (out / "rq2_transfer.csv").write_text((out / "rq2_transfer.csv").read_text().replace("\nquick,", "\nfull,"))
    with pytest.raises(SystemExit, match="rq2_transfer.csv is of preset 'full', this run of 'quick'"):
        publish.publish_run("long", tmp_path / "third", "make full-run", None, None)


def test_a_table_published_again_unchanged_keeps_the_date_it_was_first_published(tmp_path, monkeypatch):
    monkeypatch.setattr(publish, "PUBLISHED", tmp_path / "published")
    monkeypatch.setattr(publish, "_commit", lambda folder: "abc1234")
    run = workflow_folder(tmp_path / "run", ["rq1_negative_strategies", "rq2_transfer"])
    out = publish.publish_run("again", run, "make full-run", "1 h", None)
    first = "2000-01-01 00:00 UTC"  # stands for an earlier publication's time
    (out / "tables.tsv").write_text(
        "table\tcommit\tpublished\n"
        + "".join(f"{t}\tabc1234\t{first}\n" for t in ("rq1_negative_strategies", "rq2_transfer"))
    )
    changed = run / "results" / "tables" / "rq1_negative_strategies.csv"
    changed.write_text(changed.read_text() + "\n")
    publish.publish_run("again", run, "make full-run", "2 h", None)
    published = {r["table"]: r["published"] for r in csv.DictReader(open(out / "tables.tsv"), delimiter="\t")}
    assert published["rq2_transfer"] == first  # unchanged: its first date stays
    assert published["rq1_negative_strategies"] != first  # its file changed: published now


def test_a_run_with_no_table_yet_names_its_preset_and_sets_its_jobs_against_the_cost_table(tmp_path, monkeypatch):
    run = tmp_path / "run"
    (run / "results" / "pretrain" / "bp" / "seed0").mkdir(parents=True)
    (run / "results" / "pretrain" / "bp" / "seed0" / "metrics.json").write_text('{"preset": "full"}')
    (run / "benchmarks" / "pretrain" / "bp").mkdir(parents=True)
    (run / "benchmarks" / "pretrain" / "bp" / "seed0.tsv").write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        "400\t0:06:40\t900\t900\t900\t900\t0\t0\t98\t360\n"
    )
    monkeypatch.setattr(publish, "PUBLISHED", tmp_path / "published")
    (tmp_path / "published" / "early").mkdir(parents=True)  # the cost table published before the run
    (tmp_path / "published" / "early" / "cost-estimate.md").write_text(
        "| rule | run | metric | jobs | s per job | source |\n|---|---|---|---|---|---|\n"
        "| pretrain | bp |  | 5 | 300 | estimated |\n"
    )
    out = publish.publish_run("early", run, "make full-run", None, None)
    text = (out / "RUN.md").read_text()
    assert "- preset: full" in text and not (out / "claims_ledger.csv").exists()
    assert "| pretrain | 1 | 0.08 | 0.10 | 1.20 |" in text  # its CPU time (360 s) against the estimate (300 s)
    assert f"- machine: {publish.this_machine()}" in text
    assert f"CPU kernels {torch.backends.cpu.get_cpu_capability()}" in text  # what tells two CPU runs apart
    elsewhere = publish.publish_run("early", run, "bash gpu/check.sh", "9 min", None, machine="one NVIDIA H200")
    assert "- machine: one NVIDIA H200" in (elsewhere / "RUN.md").read_text()
    (run / "results" / "pretrain" / "bp" / "seed0" / "metrics.json").write_text(
        '{"preset": "full", "provenance": {"cpu_kernels": "AVX2"}}'
    )
    (run / "results" / "published" / "other").mkdir(parents=True)  # another run's files, as a checkout holds them
    (run / "results" / "published" / "other" / "metrics.json").write_text('{"provenance": {"cpu_kernels": "AVX512"}}')
    held = publish.publish_run("early", run, "make full-run", None, None)
    assert "CPU kernels AVX2 (recorded by its jobs)" in (held / "RUN.md").read_text()  # config cpu_kernels


def test_verdicts_that_differ_between_two_published_ledgers(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, verdicts in (
        (a, ["reproduced", "not run", "inconclusive"]),
        (b, ["reproduced", "contradicted", "not reproduced"]),
    ):
        folder.mkdir()
        with open(folder / "claims_ledger.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, ["id", "verdict", "ours"])
            w.writeheader()
            w.writerows({"id": f"c{i}", "verdict": v, "ours": f"{i}.0"} for i, v in enumerate(verdicts))
    changes = publish.verdict_changes(a, b)
    assert [c["id"] for c in changes] == ["c1", "c2"]
    assert changes[1] == {"id": "c2", "a": "inconclusive", "a ours": "2.0", "b": "not reproduced", "b ours": "2.0"}


def test_the_readme_results_and_each_runs_page_are_what_the_published_runs_say(monkeypatch):
    """Both are generated from results/published/ (`make docs`): no number typed by hand."""
    from tools import readme as readme_results

    monkeypatch.chdir(REPO)
    readme = (REPO / "README.md").read_text()
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert readme_results.generated(readme, readme_results.Path("results/published"), config) == readme, (
        "run make docs (python -m tools.readme)"
    )
    folders = sorted(p for p in (REPO / "results" / "published").iterdir() if p.is_dir())
    assert folders
    for folder in folders:
        page = folder / publish.PAGE
        assert page.is_file() and page.read_text() == publish.run_page(folder), (
            "run make docs (python -m tools.publish docs)"
        )
    assert not (REPO / "docs" / "results.md").exists()  # docs/ holds no generated results


def test_the_readme_answer_is_the_full_runs_conclusions_with_their_deciding_numbers(tmp_path):
    """Each conclusion with its verdict, and ours (the slides') for each claim that decides it and
    ran; a conclusion that depends on readings shows those readings' numbers too."""
    from tools import readme as readme_results

    full = REPO / "results" / "published" / readme_results.LEAD
    lead = tmp_path / readme_results.LEAD
    lead.mkdir()
    assert readme_results.answer_section(tmp_path, {}) == "The full run has no conclusions yet.\n"
    for name in ("conclusions.csv", "claims_ledger.csv"):
        shutil.copy(full / name, lead)
    section = readme_results.answer_section(tmp_path, {})
    conclusions = list(csv.DictReader(open(full / "conclusions.csv")))
    claims = {r["id"]: r for r in csv.DictReader(open(full / "claims_ledger.csv"))}
    assert f"Of the deck's {len(conclusions)} conclusions" in section
    for r in conclusions:
        line = next(x for x in section.splitlines() if x.startswith(f"| {r['conclusion']} |"))
        assert f"**{r['verdict']}**" in line
        ran = [c for c in r["decided_by"].split(", ") if claims[c]["verdict"] != "not run"]
        assert all(claims[c]["ours"] in line and claims[c]["slide_value"] in line for c in ran)
    # a deciding claim whose table the run does not have (the hypothesis test, before a run with it) shows no number
    root = next(x for x in section.splitlines() if x.startswith("| Label embedding is the root cause"))
    assert "pred_variance_orders_transfer" in claims and "– (" not in root
    cwc = next(x for x in section.splitlines() if x.startswith("| CwC-FF fixes transfer"))
    assert "depends on no standardisation" in cwc and "no standardisation: Δ 10.81 [7.01, 14.62]" in cwc


def test_shared_table_rows_of_two_runs_are_compared_by_their_intervals_and_tests(tmp_path):
    head = [
        "table",
        "variant",
        "metric",
        "mean",
        "ci_low",
        "ci_high",
        "reference",
        "delta_vs_ref",
        "p_holm",
        "significant",
    ]
    runs = {
        "a": [
            ["t", "ff", "acc", 50, 48, 52, "bp", -30, 0.001, True],
            ["t", "ff", "acc", 50, 48, 52, "init", -5, 0.01, True],
            ["t", "bp", "acc", 80, 79, 81, "init", 1, 0.2, False],
            ["t", "init", "acc", 55, 54, 56, "", "", "", False],
            ["u", "ff", "acc", 1, 0, 2, "", "", "", False],
            ["t", "old", "acc", 10, 9, 11, "init", -45, 0.001, True],
        ],
        "b": [
            ["t", "ff", "acc", 51, 49, 53, "bp", 2, 0.04, True],
            ["t", "ff", "acc", 51, 49, 53, "init", -4, 0.02, True],
            ["t", "bp", "acc", 80.5, 79, 82, "init", 2, 0.01, True],
            ["t", "init", "acc", 60, 59, 61, "", "", "", False],
            ["t", "old", "acc", 20, 19, 21, "", "", "", False],
        ],
    }
    per_epoch = {
        "a": [["e", "ff", "acc", 50, 48, 52, 2], ["e", "ff", "acc", 70, 69, 71, 10]],
        "b": [["e", "ff", "acc", 60, 59, 61, 2], ["e", "ff", "acc", 70, 69, 71, 10]],
    }
    for name in runs:
        (tmp_path / name).mkdir()
        for table, columns, rows in (("t", head, runs[name]), ("e", head[:6] + ["epoch"], per_epoch[name])):
            with open(tmp_path / name / f"{table}.csv", "w", newline="") as fh:
                csv.writer(fh).writerows([columns, *rows])
    pairs = publish.shared_rows(publish.table_rows(tmp_path / "a"), publish.table_rows(tmp_path / "b"))
    changes = publish.table_changes(pairs, ("a", "b"))
    # A row is matched by its place (table, variant, metric, epoch) and its reference, so a differing
    # row is found though another row of its variant and metric comes after it: ff at epoch 2, and ff
    # against bp before ff against init. "old" is tested in one run only (an older table format), so
    # only its means are compared.
    assert [(c["row"], c["differs"]) for c in changes] == [
        ("e / ff / acc / epoch 2", "CIs apart"),
        ("t / bp / acc vs init", "test"),
        ("t / ff / acc vs bp", "test"),
        ("t / init / acc", "CIs apart"),
        ("t / old / acc", "CIs apart"),
    ]
    assert len(pairs) == 7  # u is in one run only
    assert changes[1]["b"] == "80.50 [79.00, 82.00], Δ +2.00 vs init (p_holm 0.01)"


def test_each_presets_cost_line_comes_from_its_published_run(tmp_path):
    from tools import readme as readme_results

    assert "not published yet" in readme_results.preset_cost(tmp_path, "quick")
    quick = tmp_path / "quick"
    quick.mkdir()
    (quick / "RUN.md").write_text("# Run\n\n- wall time so far: 14 min 30 s of Snakemake (174 jobs)\n")
    assert readme_results.preset_cost(tmp_path, "quick").startswith("14 min 30 s of Snakemake on 2 CPU cores")
    full = tmp_path / "full"
    full.mkdir()
    # the published listing (tools.publish): each job's benchmark fields, its folder, the epoch it resumed after
    header = "\t".join(["job", *cost.BENCHMARK_FIELDS, "folder", cost.RESUMED_COLUMN])
    row = "{}\t9000\t" + "\t".join(["0"] * (len(cost.BENCHMARK_FIELDS) - 2)) + "\t{}\t2026-12-01\t{}"

    def listing(*rows):
        (full / "benchmarks.tsv").write_text("\n".join([header, *(row.format(*r) for r in rows)]) + "\n")

    listing(("pretrain/bp/seed0.tsv", 7200, ""), ("pretrain/bp/seed1.tsv", 3600, ""))
    assert readme_results.preset_cost(tmp_path, "full").startswith("3 core-hours of CPU jobs on a 2-core machine (")
    # a job resumed after a stop was measured over its last stretch: it counts at the median of its
    # kind's whole runs (7 200 s, not 100 s); a kind with no whole run counts as measured
    listing(
        ("pretrain/bp/seed0.tsv", 7200, ""),
        ("pretrain/bp/seed1.tsv", 7200, ""),
        ("pretrain/bp/seed2.tsv", 100, "9"),
        ("pretrain/cwc/seed0.tsv", 3600, "4"),
    )
    assert cost.run_cpu_seconds([full / "benchmarks.tsv"]) == (3 * 7200 + 3600, 1)
    assert readme_results.preset_cost(tmp_path, "full").startswith(
        "7 core-hours of CPU jobs on a 2-core machine, 1 job resumed after a stop counted at the median of "
        "its kind's whole runs ("
    )


def _utc(text):
    return datetime.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=datetime.timezone.utc)


def test_the_wall_time_so_far_is_read_from_the_run_log_and_a_stop_from_outside_ends_at_the_last_write(tmp_path):
    assert publish.wall_time(tmp_path) is None  # no log: RUN.md says "not given" unless --wall
    (tmp_path / "full-run.log").write_text(
        "started 2026-12-02 10:00:00\n"  # killed: no end line; last job log write 11:30
        "started 2026-12-02 12:00:00\npaused 2026-12-02 12:30:00\nresumed 2026-12-02 12:40:00\n"
        "exited 1 2026-12-02 13:00:00\n"
        "stopped 2026-12-02 13:30:00 (to run one table first: a reason may follow the time)\n"
        "started 2026-12-02 14:00:00\n"
    )  # still running: last write 14:45, now 14:50
    for path, when in (
        ("logs/pretrain/a/seed0.log", "2026-12-02 11:30"),
        ("results/pretrain/a/seed0/metrics.json", "2026-12-02 11:10"),
        ("resume/ceiling/b/seed0.pt", "2026-12-02 14:45"),
        ("benchmarks/pretrain/a/seed1.tsv", "2026-12-02 12:20"),
    ):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
        os.utime(tmp_path / path, (_utc(when).timestamp(),) * 2)
    # 1 h 30 + 30 min + 20 min + 45 min
    assert publish.wall_time(tmp_path, now=_utc("2026-12-02 14:50")) == (
        "3 h 5 min running in 3 stretches, 4 h 50 min since the first start 2026-12-02 10:00 UTC"
    )
    with open(tmp_path / "full-run.log", "a") as log:
        log.write("exited 0 2026-12-02 14:46:00\n")  # finished: its span ends there, whenever published
    assert publish.wall_time(tmp_path, now=_utc("2026-12-03 09:00")) == (
        "3 h 6 min running in 3 stretches, 4 h 46 min since the first start 2026-12-02 10:00 UTC"
    )


def test_make_full_run_logs_its_start_and_its_exit_status(tmp_path):
    """The Makefile's full-run writes the lines wall_time reads: a fake venv whose snakemake
    fails on the second stage stands in for the real one."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    calls = tmp_path / "calls"
    (venv / "bin" / "python").write_text("#!/bin/sh\nexit 0\n")
    (venv / "bin" / "snakemake").write_text(f'#!/bin/sh\necho "$*" >> {calls}\n[ $(wc -l < {calls}) -lt 2 ]\n')
    for script in (venv / "bin").iterdir():
        script.chmod(0o755)
    shutil.copy(REPO / "requirements.txt", tmp_path)
    stamp = subprocess.run(
        ["make", "-s", "-f", str(REPO / "Makefile"), "-p", "-n", f"VENV={venv}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    ).stdout
    (venv / re.search(r"^STAMP := \S+/(\.installed-\d+)$", stamp, re.M)[1]).touch()  # the venv counts as built
    out = subprocess.run(
        ["make", "-s", "-f", str(REPO / "Makefile"), "full-run", f"VENV={venv}", "FULL_RUN_ORDER=rq4_collab rq_cwc"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and len(calls.read_text().splitlines()) == 2  # stopped at the failed stage
    lines = (tmp_path / "full-run.log").read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("started 20") and lines[1].startswith("exited 1 20")
    assert publish.wall_time(tmp_path).startswith("0 h 0 min running in 1 stretch,")


def test_compare_names_a_run_it_cannot_compare_instead_of_finding_nothing(tmp_path, monkeypatch):
    (tmp_path / "with_tables").mkdir()
    (tmp_path / "with_tables" / "t.csv").write_text("table,variant,metric\n")
    monkeypatch.setattr(publish, "PUBLISHED", tmp_path)
    with pytest.raises(SystemExit, match="no published run 'misspelled'.*published runs are with_tables"):
        publish.main(["compare", "with_tables", "misspelled", "--tables"])
    with pytest.raises(SystemExit, match="has no claims ledger.*--tables"):
        publish.main(["compare", "with_tables", "with_tables"])
    with pytest.raises(SystemExit, match="holds no table rows to compare"):  # a header and nothing under it
        publish.main(["compare", "with_tables", "with_tables", "--tables"])


def test_a_run_restarted_in_new_folders_reports_what_all_of_them_ran(tmp_path, monkeypatch):
    """A lost machine's folder stays counted with what it ran by its last publication; publishing
    the same folder again updates its row instead of adding one."""

    monkeypatch.setattr(publish, "PUBLISHED", tmp_path / "published")
    monkeypatch.setattr(publish, "_commit", lambda folder: folder.name)
    for folder, log, last_write, jobs in (
        ("first", "started 2026-12-01 10:00:00\nexited 0 2026-12-01 12:30:00\n", None, {"seed0": 100, "seed1": 110}),
        ("second", "started 2026-12-02 08:00:00\n", "2026-12-02 08:40", {"seed1": 120}),
        ("second", "started 2026-12-02 08:00:00\n", "2026-12-02 09:15", {"seed1": 120, "seed2": 130}),
    ):
        run = tmp_path / folder
        (run / "results" / "tables").mkdir(parents=True, exist_ok=True)
        (run / "full-run.log").write_text(log)
        (run / "benchmarks" / "pretrain" / "bp").mkdir(parents=True, exist_ok=True)
        for seed, cpu in jobs.items():
            (run / "results" / "pretrain" / "bp" / seed).mkdir(parents=True, exist_ok=True)
            (run / "results" / "pretrain" / "bp" / seed / "metrics.json").write_text(
                f'{{"test_acc": {cpu}, "folder": "{folder}"}}'
            )
            (run / "benchmarks" / "pretrain" / "bp" / f"{seed}.tsv").write_text(
                "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
                f"{cpu + 5}\t0\t0\t0\t0\t0\t0\t0\t0\t{cpu}\n"
            )
            for written in (
                run / "benchmarks" / "pretrain" / "bp" / f"{seed}.tsv",
                run / "results" / "pretrain" / "bp" / seed / "metrics.json",
            ):
                os.utime(written, (_utc(log[8:24]).timestamp(),) * 2)  # at its start
        if "seed2" in jobs:  # seed2 was stopped and resumed in the second folder: its benchmark is its last stretch
            (run / "logs" / "pretrain" / "bp").mkdir(parents=True, exist_ok=True)
            (run / "logs" / "pretrain" / "bp" / "seed2.log").write_text(
                "resuming after epoch 3 from resume/pretrain/bp/seed2.pt"
            )
            os.utime(run / "logs" / "pretrain" / "bp" / "seed2.log", (_utc(log[8:24]).timestamp(),) * 2)
        if last_write:  # still running: it has run until its last write
            (run / "logs").mkdir(exist_ok=True)
            (run / "logs" / "job.log").write_text("epoch")
            os.utime(run / "logs" / "job.log", (_utc(last_write).timestamp(),) * 2)
        out = publish.publish_run("long", run, "make full-run", None, None)
        text = (out / "RUN.md").read_text()
        if folder == "first":
            assert "all its folders" not in text  # one folder: its own wall time says it all
    rows = list(csv.DictReader(open(out / publish.FOLDERS), delimiter="\t"))
    assert [(r["first_start"], r["commit"], r["running_s"]) for r in rows] == [
        ("2026-12-01 10:00 UTC", "first", "9000"),
        ("2026-12-02 08:00 UTC", "second", "4500"),
    ]
    assert "- wall time so far: 1 h 15 min running in 1 stretch," in text  # this folder's own
    assert "- wall time of all its folders: 3 h 45 min running in 2 workflow folders" in text
    # every job the run finished, each with the folder that ran it last: seed1 ran again in the second
    bench = {
        r["job"]: (r["cpu_time"], r["folder"], r["resumed_after_epoch"])
        for r in csv.DictReader(open(out / "benchmarks.tsv"), delimiter="\t")
    }
    assert bench == {
        "pretrain/bp/seed0.tsv": ("100", "2026-12-01 10:00 UTC", ""),
        "pretrain/bp/seed1.tsv": ("120", "2026-12-02 08:00 UTC", ""),
        "pretrain/bp/seed2.tsv": ("130", "2026-12-02 08:00 UTC", "3"),
    }
    assert "3 job benchmarks (benchmarks.tsv; 2 from this folder, the others from earlier folders)" in text
    from tools import cost

    assert cost.read_benchmarks([out / "benchmarks.tsv"]) == {("pretrain", "bp", None): [100.0, 120.0, 130.0]}
    assert cost.read_benchmarks([out / "benchmarks.tsv"], whole=True) == {("pretrain", "bp", None): [100.0, 120.0]}
    # every job's result file, merged the same way (tables and figures are published beside it)
    with tarfile.open(out / publish.RESULTS) as tar:
        files = {m.name: json.loads(tar.extractfile(m).read()) for m in tar.getmembers()}
    assert files == {
        "results/pretrain/bp/seed0/metrics.json": {"test_acc": 100, "folder": "first"},
        "results/pretrain/bp/seed1/metrics.json": {"test_acc": 120, "folder": "second"},
        "results/pretrain/bp/seed2/metrics.json": {"test_acc": 130, "folder": "second"},
    }
    assert "3 job result files (metrics.tar.gz: each job's per-seed metrics)" in text
    with tarfile.open(out / publish.RESULTS) as tar:  # each file names the folder that ran it, in a comment tar ignores
        assert {m.name.split("/")[3]: publish.result_folder(m) for m in tar.getmembers()} == {
            "seed0": "2026-12-01 10:00 UTC",
            "seed1": "2026-12-02 08:00 UTC",
            "seed2": "2026-12-02 08:00 UTC",
        }
    if shutil.which("tar"):  # GNU tar warned once per file about the keyword the folder was first kept under
        unpacked = subprocess.run(
            ["tar", "-xzf", out / publish.RESULTS, "-C", tmp_path], capture_output=True, text=True
        )
        assert unpacked.returncode == 0 and unpacked.stderr == ""
    archive = (out / publish.RESULTS).read_bytes()
    publish.publish_run("long", run, "make full-run", None, None)
    assert (out / publish.RESULTS).read_bytes() == archive  # published again unchanged: the same bytes for git
    (run / "results" / "pretrain" / "bp" / "seed2" / "metrics.json").unlink()  # seed2 running again in this folder
    publish.publish_run("long", run, "make full-run", None, None)
    with tarfile.open(out / publish.RESULTS) as tar:
        assert sorted(m.name for m in tar.getmembers()) == [
            "results/pretrain/bp/seed0/metrics.json",
            "results/pretrain/bp/seed1/metrics.json",
        ]


def test_two_runs_jobs_are_compared_seed_by_seed_from_their_result_files(tmp_path, monkeypatch, capsys):
    """compare --jobs: the jobs two published runs both finished (a CPU and a GPU run of one
    preset, say), paired by seed; a job one run lacks, or a seed, is left out."""
    monkeypatch.setattr(publish, "PUBLISHED", tmp_path / "published")
    accuracies = {
        "cpu": {
            ("pretrain", "bp"): [0.971, 0.98, 0.975],
            ("transfer", "cwc"): [0.85, 0.86, 0.84],
            ("ceiling", "cwc"): [0.91],
        },
        "gpu": {("pretrain", "bp"): [0.971, 0.979, 0.976, 0.99], ("transfer", "cwc"): [0.90, 0.905, 0.89]},
    }
    for name, jobs in accuracies.items():
        run = tmp_path / name
        for (stage, variant), values in jobs.items():
            for seed, acc in enumerate(values):
                (run / "results" / stage / variant / f"seed{seed}").mkdir(parents=True)
                result = run / "results" / stage / variant / f"seed{seed}" / "metrics.json"
                # one epoch logged; the gpu run logs a number more, and its seed 1 differs in the loss
                history = [{"epoch": 1, "train_loss": 0.5 + 0.1 * (name == "gpu" and seed == 1)}]
                history[0].update({"val_top_class_share": 0.1} if name == "gpu" else {})
                result.write_text(json.dumps({"test_acc": acc, "history": history}))
        (tmp_path / "published" / name).mkdir(parents=True)
        publish.merge_results(tmp_path / "published" / name, run, name)
    publish.main(["compare", "cpu", "gpu", "--jobs"])
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == (
        "1 of the 2 jobs both runs finished differ (paired by seed, t-test, Holm, alpha 0.05); "
        "1 of 6 seeds ran the same trajectory bit for bit"
    )
    rows = {line.split(" | ")[0]: line.split(" | ") for line in out[1:-1]}
    assert out[0] == "job | seeds | cpu | gpu | delta | p | same trajectory | p_holm | differs"
    # bp seed 0: the same accuracy and the same loss (the extra number is not compared); seed 1
    # differs in its loss, seed 2 in its accuracy
    assert rows["pretrain/bp"][1:5] == ["3", "97.53 ± 0.45", "97.53 ± 0.40", "+0.00"]
    assert rows["pretrain/bp"][6] == "1" and rows["transfer/cwc"][6] == "0"
    publish.main(["compare", "cpu", "gpu", "--jobs", "--report", str(tmp_path / "jobs.md")])
    report = (tmp_path / "jobs.md").read_text().splitlines()
    assert report[0] == "# `cpu` against `gpu`" and report[2] == "- `cpu`: no RUN.md"
    assert f"## Jobs: {out[-1]}" in report and "| " + out[0] + " |" in report
    assert "| " + " | ".join(rows["pretrain/bp"]) + " |" in report
    assert rows["pretrain/bp"][-1] == "False"
    assert rows["transfer/cwc"][4] == "-4.83" and rows["transfer/cwc"][-1] == "True"
    (tmp_path / "published" / "tables_only").mkdir()  # a run published before its result files were
    with pytest.raises(SystemExit, match="tables_only has no per-job results"):
        publish.main(["compare", "cpu", "tables_only", "--jobs"])


def test_rows_with_summaries_differ_by_welch_holm_within_their_table(tmp_path):
    """With n and sd, a row differs when Welch's t between the two runs' rows is significant after
    Holm over the rows its table shares: a 2-sd shift of 5 seeds is found, noise is not, and a
    shift that one test finds in a table of one row is lost among many in a larger table."""
    head = ["table", "variant", "metric", "n", "mean", "sd", "ci_low", "ci_high"]

    def row(table, variant, mean, sd=0.5):
        half = 2.776 * sd / 5**0.5
        return [table, variant, "acc", 5, mean, sd, mean - half, mean + half]

    # a row without a value (a rank correlation over too few models): the same when neither run
    # has one, a difference when only one has
    undefined = ["u", "rho", "acc", 2, "", "", "", ""]
    runs = {
        "a": [row("t", "ff", 50), row("t", "bp", 80), row("big", "x", 10), undefined, ["u", "x", *undefined[2:]]]
        + [row("big", f"n{i}", 20) for i in range(30)],
        "b": [row("t", "ff", 51.2), row("t", "bp", 80.1), row("big", "x", 11.2), undefined, row("u", "x", 0.5)]
        + [row("big", f"n{i}", 20) for i in range(30)],
    }
    for name, rows in runs.items():
        (tmp_path / name).mkdir()
        with open(tmp_path / name / "t.csv", "w", newline="") as fh:
            csv.writer(fh).writerows([head, *rows])
    pairs = publish.shared_rows(publish.table_rows(tmp_path / "a"), publish.table_rows(tmp_path / "b"))
    changes = publish.table_changes(pairs, ("a", "b"), alpha=0.05)
    # big / x: the same shift, 31 tests in its table
    assert [c["row"] for c in changes] == ["t / ff / acc", "u / x / acc"]
    assert changes[0]["differs"].startswith("means differ (Welch, Holm in table")
    assert changes[1]["differs"] == "defined in one run only" and changes[1]["a"] == "undefined"
    assert publish.summary_p({"n": 5, "mean": 1, "sd": 0}, {"n": 5, "mean": 1, "sd": 0}) == 1.0
    assert publish.summary_p({"n": 5, "mean": 1, "sd": 0}, {"n": 5, "mean": 2, "sd": 0}) == 0.0


def test_replication_report_lists_changed_rows_claims_and_conclusions_with_both_runs_provenance(tmp_path):
    for name, verdict, machine in (("first", "holds", "AVX512"), ("second", "contradicted", "AVX2")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "RUN.md").write_text(f"# Run\n\n- preset: full\n- commit: `abc`\n- machine: CPU kernels {machine}\n")
        with open(folder / "conclusions.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, ["id", "verdict", "because"])
            w.writeheader()
            w.writerow({"id": "root_cause", "verdict": verdict, "because": f"{name} reason"})
            w.writerow({"id": "same", "verdict": "holds", "because": "x"})
        with open(folder / "claims_ledger.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, ["id", "verdict", "ours"])
            w.writeheader()
            w.writerow({"id": "c", "verdict": "as claimed", "ours": "1"})
        with open(folder / "t.csv", "w", newline="") as fh:
            mean = 50 if name == "first" else 60
            csv.writer(fh).writerows(
                [
                    ["table", "variant", "metric", "n", "mean", "sd", "ci_low", "ci_high"],
                    ["t", "ff", "acc", 5, mean, 1, 0, 0],
                ]
            )
    report = publish.replication_report(tmp_path / "first", tmp_path / "second", 0.05)
    assert "- `first`: preset full, commit `abc`, machine CPU kernels AVX512" in report
    assert "## Table rows: 1 of the 1 rows both runs hold differ" in report and "### t: 1 of 1 rows" in report
    assert "## Claims whose verdict changed: 0" in report
    assert "## Conclusions whose verdict changed: 1" in report
    assert "| root_cause | holds | first reason | contradicted | second reason |" in report


def test_the_readme_gaps_show_each_published_ladder_and_the_answer_links_it(tmp_path, monkeypatch):
    """Each slides' number with a gap ladder: ours, upstream's recipe as rerun here and what explains
    the gap (the ledger's words), 'not run yet' until its ladder is published; the conclusion it
    decides links the ladder."""
    from ffmodels.tables import KINDS
    from ffmodels.tables.ladder import explained_by
    from tests.test_ladder import CTX, RECORDS, SPEC
    from tools import readme as readme_results

    monkeypatch.chdir(REPO)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    lead, ladders = tmp_path / readme_results.LEAD, tmp_path / readme_results.LADDERS[0]
    lead.mkdir()
    ladders.mkdir()
    for name in ("conclusions.csv", "claims_ledger.csv"):
        shutil.copy(REPO / "results" / "published" / readme_results.LEAD / name, lead)
    assert readme_results.gaps_section(tmp_path, config).count("| not run yet |") == 5
    ladder, _ = KINDS["gap_ladder"].build({**SPEC, "slides": 72.0}, RECORDS, CTX)
    ladder.to_csv(ladders / "ladder_random_init.csv", index=False)
    gaps = readme_results.gaps_section(tmp_path, config).splitlines()
    row = next(line for line in gaps if "Random initialization transfer accuracy" in line)
    ours = next(r["ours"] for r in csv.DictReader(open(lead / "claims_ledger.csv")) if r["id"] == "rq2_random_init")
    link = f"{ladders}/ladder_random_init.md"
    assert row == (
        f"| [Random initialization transfer accuracy]({link}): 72.0 % | {ours} "
        f"| 54.17 [51.58, 56.75] (n = 3) | {explained_by(ladder)} |"
    )
    assert sum("| not run yet |" in line for line in gaps) == 4
    answer = readme_results.answer_section(tmp_path, config).splitlines()
    linked = [line for line in answer if link in line]
    assert [line.split(" | ")[0] for line in linked] == [
        f"| FF features transfer worse than a random init (gap ladder: [72.0 %]({link}))"
    ]


def test_the_readme_labels_a_recipe_number_picked_on_test(tmp_path, monkeypatch):
    """A ladder whose last rung's probe picked its epoch on the test split (upstream's RCwC) shows
    its number in the gaps block as test-selected, from the CwC-FF ladder's own folder."""
    from ffmodels.tables import KINDS
    from tests.test_ladder import CTX, RECORDS, SPEC
    from tools import readme as readme_results

    monkeypatch.chdir(REPO)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    lead, cwc = tmp_path / readme_results.LEAD, tmp_path / "upstream-cwc"
    lead.mkdir()
    cwc.mkdir()
    shutil.copy(REPO / "results" / "published" / readme_results.LEAD / "claims_ledger.csv", lead)
    on_test = {
        "transfer": RECORDS["transfer"],
        "sensitivity": [
            {**m, "settings": {k: {**r, "selected_on": "test"} for k, r in m["settings"].items()}}
            for m in RECORDS["sensitivity"]
        ],
    }
    ladder, _ = KINDS["gap_ladder"].build({**SPEC, "slides": 89.0}, on_test, CTX)
    ladder.to_csv(cwc / "ladder_cwc_transfer.csv", index=False)
    row = next(line for line in readme_results.gaps_section(tmp_path, config).splitlines() if "CwC-FF" in line)
    assert "| 54.17 [51.58, 56.75] (n = 3, test-selected) |" in row


def test_the_readme_says_what_orders_transfer_from_the_full_runs_hypothesis_table(tmp_path):
    """Per quantity its rho over all models and within the FF variants as the table holds them, and
    the quantities named as ordering transfer are exactly those whose status says so; the table is
    read from the lead run where it has one, else from the newest other full-preset run."""
    import pandas as pd

    from ffmodels.tables import hypothesis
    from tools import readme as readme_results

    quick = REPO / "results" / "published" / "quick" / "root_cause_hypothesis.csv"
    lead, rerun, other = (tmp_path / name for name in (readme_results.LEAD, "rerun", "quick-like"))
    for folder, preset in ((lead, "full"), (rerun, "full"), (other, "quick")):
        folder.mkdir()
        (folder / "RUN.md").write_text(f"# Run\n\n- preset: {preset}\n- published: 2026-12-07 03:00 UTC\n")
    shutil.copy(quick, other)
    assert readme_results.hypothesis_section(tmp_path, {}).startswith("No published run of the full preset")
    shutil.copy(quick, rerun)
    section = readme_results.hypothesis_section(tmp_path, {})
    assert section.startswith(f"From run [`rerun`]({rerun}/RUN.md)")
    table = pd.read_csv(quick)
    rho = table[table.variant.isin(list(hypothesis.SCOPES))]
    lines = section.splitlines()
    for name in dict.fromkeys(m[len(hypothesis.RHO_PREFIX) :] for m in rho.metric):
        row = next(line for line in lines if line.startswith(f"| {hypothesis.QUANTITIES[name].words} ("))
        for scope in hypothesis.SCOPES:
            r = rho[(rho.variant == scope) & (rho.metric == hypothesis.RHO_PREFIX + name)].iloc[0]
            if not pd.isna(r["mean"]):
                assert f"{r['mean']:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]" in row
            assert readme_results.ORDERS[r.status] in row
    ordering = lines[0].split("over all ")[1].split(". Within")[0].split(": ", 1)[1].split("; ")
    expected = rho[(rho.variant == "all_models") & (rho.status == hypothesis.AS_PREDICTED)].metric
    assert ordering == [hypothesis.QUANTITIES[m[len(hypothesis.RHO_PREFIX) :]].words for m in expected]
    assert "(3 models)" in next(line for line in lines if line.startswith("| label columns' gradient share"))
    shutil.copy(quick, lead)  # the lead run's own table comes first
    assert readme_results.hypothesis_section(tmp_path, {}).startswith(f"From run [`{lead.name}`]")


def test_a_run_restarted_on_a_new_machine_builds_on_the_result_files_it_published(tmp_path, monkeypatch):
    """restore unpacks the published per-seed files into the new folder (never over one it has);
    published again, a restored file still names the folder that ran it, a file run here this one."""
    monkeypatch.setattr(publish, "PUBLISHED", tmp_path / "published")
    monkeypatch.setattr(publish, "_commit", lambda folder: "abc1234")

    def folder(name, start, seeds):
        run = tmp_path / name
        (run / "results" / "tables").mkdir(parents=True)
        (run / "full-run.log").write_text(f"started {start}\n")
        for seed in seeds:
            path = run / "results" / "pretrain" / "bp" / f"seed{seed}" / "metrics.json"
            path.parent.mkdir(parents=True)
            path.write_text(f'{{"test_acc": {seed}, "wall_time_s": "{name}"}}')
            os.utime(path, (_utc(start[:16]).timestamp(),) * 2)
        return run

    publish.publish_run("long", folder("lost", "2026-12-01 10:00:00", [0, 1]), "make full-run", None, None)
    new = folder("new", "2026-12-02 08:00:00", [1])  # seed 1 trained again here, before the restore
    written = publish.restore_results("long", new, r"pretrain/bp/")
    assert written == ["results/pretrain/bp/seed0/metrics.json"]  # seed 1's own file is not overwritten
    assert json.loads((new / written[0]).read_text()) == {"test_acc": 0, "wall_time_s": "lost"}
    assert publish.restore_results("long", new, "nothing matches") == []
    with tarfile.open(tmp_path / "stray.tar.gz", "w:gz") as tar:  # members named outside results/ are skipped
        for name in ("../outside.json", "results/../../outside.json", "config.yaml"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tar.addfile(info, io.BytesIO(b"{}"))
    (tmp_path / "published" / "stray").mkdir()
    shutil.move(tmp_path / "stray.tar.gz", tmp_path / "published" / "stray" / publish.RESULTS)
    assert publish.restore_results("stray", new) == []
    assert not (tmp_path / "outside.json").exists()
    publish.publish_run("long", new, "make full-run", None, None)
    with tarfile.open(tmp_path / "published" / "long" / publish.RESULTS) as tar:
        ran = {m.name.split("/")[3]: publish.result_folder(m) for m in tar.getmembers()}
    assert ran == {"seed0": "2026-12-01 10:00 UTC", "seed1": "2026-12-02 08:00 UTC"}


def test_the_result_files_a_table_still_needs_are_the_ones_the_folder_lacks(tmp_path):
    """After a restore, the targets that finish a table are its inputs the folder lacks: the
    workflow's own input list (tests/test_rebuild_published.py builds the table from the same)."""
    from ffmodels.config import load_config, table_runs
    from ffmodels.names import stage_file

    (tmp_path / "presets").mkdir()
    shutil.copy(REPO / "config.yaml", tmp_path)
    shutil.copy(REPO / "presets" / "quick.yaml", tmp_path / "presets")
    config = load_config(REPO / "presets" / "quick.yaml")
    reads = [
        stage_file(stage, run, seed)
        for stage, runs in table_runs(config)["rq2_transfer"].items()
        for run in runs
        for seed in config["seeds"]
    ]
    for have in reads[::2]:
        (tmp_path / have).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / have).write_text("{}")
    assert publish.missing_results(tmp_path, ["rq2_transfer"], ["presets/quick.yaml"]) == reads[1::2]
    with pytest.raises(SystemExit, match="not a table this config builds: ladder_ff_mnist"):
        publish.missing_results(tmp_path, ["ladder_ff_mnist"], ["presets/quick.yaml"])
