"""The Snakemake workflow end to end, on a small slice of the real data from the local mirror:
every table is produced, a changed hyperparameter reruns exactly what it touches, and bad
input stops with a message that names the problem without losing what was computed."""

import csv
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.conftest import MIRROR, REPO, needs_mirror

pytestmark = needs_mirror

# The quick preset, cut further so the whole DAG (every table and figure of the quick preset
# over 2 seeds: pretraining, transfers, random inits, analyses) runs in a few minutes.
TINY = {
    "seeds": [0, 1],
    "families": {f: {"epochs": 1} for f in ("ff", "bp", "three_factor", "prospective_t3", "pcl", "collab")},
    "pretrain": {"train_subset": 1000},
    "transfer": {"train_subset": 1000, "probe": {"max_epochs": 3, "patience": 2}},
    "analysis": {"subset": 100, "gradient_batch": 100},
}


def snakemake(wf, *args, check=True):
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "presets/quick.yaml", "tiny.yaml",
           *args]
    out = subprocess.run(cmd, cwd=wf, capture_output=True, text=True, timeout=900)
    if check and out.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}")
    return out


def snapshot(wf):
    return {str(p.relative_to(wf)): p.stat().st_mtime_ns for p in (wf / "results").rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def workflow_dir(tmp_path_factory):
    wf = tmp_path_factory.mktemp("wf")
    for name in ("Snakefile", "config.yaml", "workflow", "ffmodels", "presets", "envs"):
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, wf / name)
    (wf / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    snakemake(wf, "--config", f"local_mirror={MIRROR}")
    return wf


def read_csv(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def read_csv_tab(path):
    with open(path) as fh:
        return next(csv.DictReader(fh, delimiter="\t"))


def test_every_table_is_written_with_all_rows_and_seeds(workflow_dir):
    quick = yaml.safe_load((workflow_dir / "presets" / "quick.yaml").read_text())
    rq1 = read_csv(workflow_dir / "results/tables/rq1_negative_strategies.csv")
    assert [r["variant"] for r in rq1] == quick["tables"]["rq1_negative_strategies"]["variants"]
    assert all(r["n"] == "2" and r["preset"] == "quick" for r in rq1)
    rq2 = read_csv(workflow_dir / "results/tables/rq2_transfer.csv")
    rows = {r["variant"]: r for r in rq2}
    assert set(rows) == set(quick["tables"]["rq2_transfer"]["variants"]) | {"random_init_ff", "random_init_bp"}
    assert rows["random_wrong_label"]["reference"] == "random_init_ff"
    assert rows["bp"]["reference"] == "random_init_bp"
    assert all(0 < float(r["mean"]) <= 100 for r in rq2)
    for table in ("rq1_negative_strategies", "rq2_transfer"):
        md = (workflow_dir / f"results/tables/{table}.md").read_text()
        assert "QUICK numbers" in md and "random_wrong_label" in md


def test_training_jobs_stay_under_4_gb(workflow_dir):
    for tsv in (workflow_dir / "benchmarks").rglob("*.tsv"):
        row = read_csv_tab(tsv)
        assert float(row["max_rss"]) < 4096, (tsv, row["max_rss"])


def rerun_after_edit(workflow_dir, tmp_path, module, text):
    """Copy the finished workflow, add `text` to one ffmodels module, run it again: the files
    rewritten. The module's own digest changes, so exactly the jobs that run it rerun."""
    wf = tmp_path / "edited"
    shutil.copytree(workflow_dir, wf, symlinks=True)  # copy2 keeps the timestamps
    path = wf / module
    path.write_text(path.read_text() + text)
    dry = snakemake(wf, "-n", "--config", f"local_mirror={MIRROR}")
    before = snapshot(wf)
    snakemake(wf, "--config", f"local_mirror={MIRROR}")
    after = snapshot(wf)
    again = snakemake(wf, "-n", "--config", f"local_mirror={MIRROR}")
    assert "Nothing to be done" in again.stdout + again.stderr
    return {p for p in after if after[p] != before.get(p)}, dry.stdout + dry.stderr


def test_no_edit_nothing_to_do(workflow_dir):
    out = snakemake(workflow_dir, "-n", "--config", f"local_mirror={MIRROR}")
    assert "Nothing to be done" in out.stdout + out.stderr


def test_edit_of_the_bp_module_reruns_exactly_the_bp_jobs_and_their_tables(workflow_dir, tmp_path):
    rerun, dry = rerun_after_edit(workflow_dir, tmp_path, "ffmodels/families/bp.py", "\nEDITED = True\n")
    # -n gives the reason: the code digest param, with the edited file's digest before and now
    assert "Params have changed since last execution" in dry and "'ffmodels/families/bp.py'" in dry
    seeds = (0, 1)
    expected = {f"results/pretrain/bp/seed{s}/{f}" for s in seeds for f in ("model.pt", "checkpoints.pt", "metrics.json")}
    expected |= {f"results/transfer/{v}/seed{s}/metrics.json" for v in ("bp", "random_init_bp") for s in seeds}
    expected |= {f"results/analysis/{m}/bp/seed{s}.json" for m in ("transfer_over_training", "dead_units") for s in seeds}
    expected |= tables_and_figures("rq1_negative_strategies", "rq2_transfer", "rq3_root_cause", "rq3_over_training")
    assert rerun == expected


def test_edit_of_the_statistics_reruns_only_the_tables(workflow_dir, tmp_path):
    rerun, _ = rerun_after_edit(workflow_dir, tmp_path, "ffmodels/stats.py", "\nEDITED = True\n")
    config = yaml.safe_load((workflow_dir / "config.yaml").read_text())
    assert rerun == tables_and_figures(*config["tables"])


def test_comment_only_edit_reruns_nothing(workflow_dir, tmp_path):
    rerun, _ = rerun_after_edit(workflow_dir, tmp_path, "ffmodels/families/ff.py", "\n# a note\n\n")
    assert rerun == set()


def copy_of(workflow_dir, tmp_path, name):
    wf = tmp_path / name
    shutil.copytree(workflow_dir, wf, symlinks=True)  # copy2 keeps the timestamps
    (wf / "long.yaml").write_text(yaml.safe_dump({"families": {"ff": {"epochs": 20}}}))
    return wf


LONG_TARGET = "results/pretrain/random_wrong_label/seed0/metrics.json"


def start_long_pretraining(wf):
    """Snakemake retraining one FF run for 20 epochs, in its own process group; returns once
    the job has finished its first epoch."""
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "presets/quick.yaml", "tiny.yaml",
           "long.yaml", "--config", f"local_mirror={MIRROR}", "--", LONG_TARGET]
    log = wf / "logs/pretrain/random_wrong_label/seed0.log"
    log.unlink()  # the copied log of the earlier run already says "epoch 1:"
    with open(wf / "long-run.log", "w") as out:
        proc = subprocess.Popen(cmd, cwd=wf, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 300
    while not (log.is_file() and "epoch 1:" in log.read_text()):
        assert proc.poll() is None and time.monotonic() < deadline, (wf / "long-run.log").read_text()
        time.sleep(0.5)
    return proc


def test_second_snakemake_on_the_same_folder_is_refused_by_the_lock(workflow_dir, tmp_path):
    wf = copy_of(workflow_dir, tmp_path, "locked")
    proc = start_long_pretraining(wf)
    try:
        out = snakemake(wf, "long.yaml", "--config", f"local_mirror={MIRROR}", "--", LONG_TARGET, check=False)
        assert out.returncode != 0 and "Directory cannot be locked" in out.stdout + out.stderr
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Snakemake stops its job and removes the partial output
        proc.wait(120)


def test_killed_training_run_is_rerun_to_the_same_result(workflow_dir, tmp_path):
    """kill -9 of Snakemake and its job mid-training (a node dying), then the documented
    recovery (--unlock, then a run with --rerun-incomplete, as the profiles set): the rerun
    completes and its metrics equal those of a run that was never interrupted."""
    killed = copy_of(workflow_dir, tmp_path, "killed")
    proc = start_long_pretraining(killed)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(60)
    assert "epoch 20:" not in (killed / "logs/pretrain/random_wrong_label/seed0.log").read_text()  # killed mid-run
    out = snakemake(killed, "long.yaml", "--config", f"local_mirror={MIRROR}", "--", LONG_TARGET, check=False)
    assert out.returncode != 0 and "Directory cannot be locked" in out.stdout + out.stderr  # the dead run's lock
    snakemake(killed, "long.yaml", "--unlock")
    snakemake(killed, "long.yaml", "--rerun-incomplete", "--config", f"local_mirror={MIRROR}", "--", LONG_TARGET)

    clean = copy_of(workflow_dir, tmp_path, "clean")
    snakemake(clean, "long.yaml", "--config", f"local_mirror={MIRROR}", "--", LONG_TARGET)
    a, b = (json.loads((wf / LONG_TARGET).read_text()) for wf in (killed, clean))
    assert a["hparams"]["epochs"] == 20 and len(a["history"]) == 20
    assert (a["test_acc"], a["val_acc"], a["history"]) == (b["test_acc"], b["val_acc"], b["history"])


def test_changed_hyperparameter_reruns_only_that_variant_and_descendants(workflow_dir):
    before = snapshot(workflow_dir)
    (workflow_dir / "change.yaml").write_text(yaml.safe_dump({"variants": {"hard": {"family": "ff", "negatives": "hard", "hard_mode": "softmax"}}}))
    snakemake(workflow_dir, "change.yaml", "--config", f"local_mirror={MIRROR}")
    after = snapshot(workflow_dir)
    rerun = {path for path in after if after[path] != before.get(path)}
    expected = {f"results/pretrain/hard/seed{s}/{f}" for s in (0, 1) for f in ("model.pt", "checkpoints.pt", "metrics.json")}
    expected |= {f"results/transfer/hard/seed{s}/metrics.json" for s in (0, 1)}
    expected |= tables_and_figures("rq1_negative_strategies", "rq2_transfer")
    assert rerun == expected
    # Nothing is left to do once the change is in place.
    dry = snakemake(workflow_dir, "change.yaml", "-n", "--config", f"local_mirror={MIRROR}")
    assert "Nothing to be done" in dry.stdout + dry.stderr


def tables_and_figures(*tables):
    return ({f"results/tables/{t}.{e}" for t in tables for e in ("csv", "md")}
            | {f"results/figures/{t}.png" for t in tables})


def test_every_figure_is_drawn_for_the_report(workflow_dir):
    config = yaml.safe_load((workflow_dir / "config.yaml").read_text())
    names = set(config["tables"]) | set(config["figures"])
    for name in names:
        png = workflow_dir / f"results/figures/{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000, name


def test_quick_tables_of_rq3_and_rq4(workflow_dir):
    root = read_csv(workflow_dir / "results/tables/rq3_root_cause.csv")
    got = {(r["variant"], r["metric"]) for r in root}
    for metric in ("variance_ratio", "gradient_share", "spearman_rho", "label_dependency_l1", "dead_target_l1"):
        assert ("random_wrong_label", metric) in got, metric
    assert ("bp", "spearman_rho") in got and ("bp", "gradient_share") not in got  # BP has no label input
    claims = {r["metric"]: r for r in root if r["variant"] == "random_wrong_label"}
    assert claims["variance_ratio"]["reference"] == "> 1.0" and claims["variance_ratio"]["p"]
    over = read_csv(workflow_dir / "results/tables/rq3_over_training.csv")
    assert {r["epoch"] for r in over} == {"0", "1"}  # quick checkpoints cut to the tiny run's one epoch
    overview = read_csv(workflow_dir / "results/tables/rq4_overview.csv")
    assert {r["variant"] for r in overview} >= {"three_factor_bidirectional", "prospective_t3", "pcl", "collab_g05",
                                               "random_init_ff", "random_init_prospective_t3"}
    assert all(r["status"] for r in overview if r["reference"] and r["metric"] == "transfer_acc")
    trace = read_csv(workflow_dir / "results/tables/rq4_pcl_postmortem.csv")
    assert {"val_acc", "dead_frac_l1", "saturated_frac_l1", "mean_abs_error_l1", "last_good_epoch"} <= {r["metric"] for r in trace}


def test_misspelt_config_key_stops_before_any_job_naming_it(workflow_dir):
    out = snakemake(workflow_dir, "-n", "--config", "threadz=2", check=False)
    assert out.returncode != 0 and "'threadz' was unexpected" in out.stdout + out.stderr
    (workflow_dir / "typo.yaml").write_text(yaml.safe_dump({"families": {"ff": {"lrr": 0.1}}}))
    out = snakemake(workflow_dir, "typo.yaml", "-n", check=False)
    assert out.returncode != 0 and "families.ff.lrr: unknown hyperparameter" in out.stdout + out.stderr


def test_corrupt_mirror_file_is_refused_and_results_are_kept(workflow_dir, tmp_path):
    bad = tmp_path / "bad_mirror" / "mnist"
    bad.mkdir(parents=True)
    name = "train-labels-idx1-ubyte"
    content = bytearray(gzip.open(MIRROR / "mnist" / f"{name}.gz").read())
    content[100] ^= 0xFF  # one label byte changed
    with gzip.open(bad / f"{name}.gz", "wb") as fh:
        fh.write(bytes(content))
    md5 = yaml.safe_load((workflow_dir / "config.yaml").read_text())["data"]["md5"]["mnist"][name]
    target = f"resources/data/mnist/{name}"
    (workflow_dir / target).unlink()  # a fresh fetch, from the bad mirror
    before = snapshot(workflow_dir)
    out = snakemake(workflow_dir, "--config", f"local_mirror={bad.parent}", "--", target, check=False)
    assert out.returncode != 0
    log = (workflow_dir / f"logs/data/mnist/{name}.log").read_text()
    for text in (out.stderr + out.stdout, log):
        assert name in text and str(bad) in text and md5 in text
    assert not (workflow_dir / target).exists()
    assert snapshot(workflow_dir) == before  # every result computed before is still there, untouched


def test_snakemake_report_holds_the_tables(workflow_dir):
    snakemake(workflow_dir, "--report", "report.zip")
    import zipfile

    names = zipfile.ZipFile(workflow_dir / "report.zip").namelist()
    assert any(n.endswith("rq1_negative_strategies.md") for n in names)
    assert any(n.endswith("rq2_transfer.csv") for n in names)
    assert any(n.endswith("rq3_over_training.png") for n in names) and any(n.endswith("rq3_weights.png") for n in names)

