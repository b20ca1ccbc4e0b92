"""The Snakemake workflow end to end, on the committed test data (.test/: a slice of the real
MNIST and Fashion-MNIST, the quick preset cut down): every table is produced, a changed
hyperparameter or an edited module reruns exactly what it touches, and bad input stops with a
message that names the problem without losing what was computed. The finished workflow is one
session fixture (tests/conftest.py) that no test changes: a test that reruns, breaks or adds
anything works on its own copy."""

import csv
import gzip
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
import yaml

from ffmodels.conclusions import CONCLUSION_VERDICTS
from ffmodels.config import enabled_tables, load_config, variant_hparams
from ffmodels.ledger import verdict_kind
from ffmodels.tables.hypothesis import SCOPES
from tests.conftest import OVERLAYS, REPO, TEST_CONFIG, TEST_DATA, copy_of, snakemake, snapshot
from tools import cost

CONFIG = load_config(REPO / OVERLAYS[0], REPO / OVERLAYS[1])  # what the test workflow runs, resolved
SEEDS = CONFIG["seeds"]
TABLES = list(enabled_tables(CONFIG))  # .test switches some off


def planned_outputs(dry_run_text: str) -> set[str]:
    """The output files of every job a dry run (-n) plans, from its job listing."""
    found = set()
    for line in dry_run_text.splitlines():
        if line.startswith("    output: "):
            found.update(line[len("    output: ") :].split(", "))
    return found


def read_csv(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def read_csv_tab(path):
    with open(path) as fh:
        return next(csv.DictReader(fh, delimiter="\t"))


def test_every_table_is_written_with_all_rows_and_seeds(workflow_dir):
    rq1 = read_csv(workflow_dir / "results/tables/rq1_negative_strategies.csv")
    assert [r["variant"] for r in rq1] == CONFIG["tables"]["rq1_negative_strategies"]["variants"]
    assert all(r["n"] == str(len(SEEDS)) and r["preset"] == "test" for r in rq1)
    rq2 = read_csv(workflow_dir / "results/tables/rq2_transfer.csv")
    rows = {r["variant"]: r for r in rq2}
    assert set(rows) == set(CONFIG["tables"]["rq2_transfer"]["variants"]) | {
        "random_init_ff",
        "random_init_bp",
        "random_init_cwc",
        "random_init_label_free_ff",
        "raw_pixels",
    }
    assert rows["random_wrong_label"]["reference"] == "random_init_ff"
    assert rows["bp"]["reference"] == "random_init_bp"
    assert all(0 < float(r["mean"]) <= 100 for r in rq2)
    for table in ("rq1_negative_strategies", "rq2_transfer"):
        md = (workflow_dir / f"results/tables/{table}.md").read_text()
        assert "TEST numbers" in md and "random_wrong_label" in md


def test_training_jobs_stay_under_4_gb(workflow_dir):
    for tsv in (workflow_dir / "benchmarks").rglob("*.tsv"):
        row = read_csv_tab(tsv)
        assert float(row["max_rss"]) < 4096, (tsv, row["max_rss"])


def test_every_job_records_the_cpu_kernels_config_cpu_kernels_names(workflow_dir):
    """The Snakefile exports config cpu_kernels (avx2) to every job: on an AVX512 CPU a job left to
    itself picks AVX512 (tests/test_cpu_kernels.py holds oneDNN's part)."""
    results = [json.loads(path.read_text()) for path in (workflow_dir / "results").rglob("*.json")]
    recorded = [r["provenance"]["cpu_kernels"] for r in results if isinstance(r, dict) and "provenance" in r]
    assert len(recorded) >= len(SEEDS) * 4, recorded  # training, probes, analyses: every job that records
    recorded = set(recorded)
    native = torch.backends.cpu.get_cpu_capability()  # this process: no cpu_kernels applied
    assert recorded == ({"AVX2"} if native in ("AVX2", "AVX512") else {native}), (recorded, native)


def plan_after_edit(workflow_dir, tmp_path, module, text):
    """Copy the finished workflow, add `text` to one ffmodels module: the outputs Snakemake then
    plans to remake (a dry run), and its report. The module's own digest changes, so exactly the
    jobs that run it, and what reads their results, are planned."""
    wf = copy_of(workflow_dir, tmp_path, "edited")
    path = wf / module
    path.write_text(path.read_text() + text)
    dry = snakemake(wf, "-n")
    return planned_outputs(dry.stdout), dry.stdout + dry.stderr


def test_no_edit_nothing_to_do(workflow_dir):
    out = snakemake(workflow_dir, "-n")
    assert "Nothing to be done" in out.stdout + out.stderr


def test_edit_of_the_bp_module_reruns_exactly_the_bp_jobs_and_their_tables(workflow_dir, tmp_path):
    planned, dry = plan_after_edit(workflow_dir, tmp_path, "ffmodels/families/bp.py", "\nEDITED = True\n")
    # -n gives the reason: the code digest param, with the edited file's digest before and now
    assert "Params have changed since last execution" in dry and "'ffmodels/families/bp.py'" in dry
    expected = {
        f"results/pretrain/bp/seed{s}/{f}" for s in SEEDS for f in ("model.pt", "checkpoints.pt", "metrics.json")
    }
    expected |= {f"results/transfer/{v}/seed{s}/metrics.json" for v in ("bp", "random_init_bp") for s in SEEDS}
    expected |= {
        f"results/analysis/{m}/bp/seed{s}.json" for m in ("transfer_over_training", "dead_units") for s in SEEDS
    }
    # the hypothesis test's analyses of bp and of its random init
    expected |= {f"results/analysis/representation/{v}/seed{s}.json" for v in ("bp", "random_init_bp") for s in SEEDS}
    expected |= {
        f"results/{stage}/bp/seed{s}/{f}"
        for stage in ("ceiling", "finetune")
        for s in SEEDS
        for f in ("model.pt", "metrics.json")
    }
    expected |= {f"results/sensitivity/{v}/seed{s}.json" for v in ("bp", "random_init_bp") for s in SEEDS}
    expected |= tables_and_figures(
        "rq1_negative_strategies",
        "rq2_transfer",
        "rq3_root_cause",
        "rq3_over_training",
        "rq_cwc",
        "rq2_finetune",
        "rq2_sensitivity",
        "root_cause_hypothesis",
    )
    expected |= {"results/figures/source_vs_transfer.png"}
    assert planned == expected


def test_edit_of_the_statistics_reruns_only_the_tables(workflow_dir, tmp_path):
    planned, _ = plan_after_edit(workflow_dir, tmp_path, "ffmodels/stats.py", "\nEDITED = True\n")
    # and the figure that reads several tables
    assert planned == tables_and_figures(*TABLES) | {"results/figures/source_vs_transfer.png"}


def test_comment_only_edit_reruns_nothing(workflow_dir, tmp_path):
    planned, dry = plan_after_edit(workflow_dir, tmp_path, "ffmodels/families/ff.py", "\n# a note\n\n")
    assert planned == set() and "Nothing to be done" in dry


def test_a_changed_ff_setting_reaches_every_family_that_extends_ff(workflow_dir):
    """--config on families.ff (as YAML: Snakemake takes only top-level keys as KEY=VALUE) changes
    the resolved lr of every FF-based variant, so all of them and only them are planned again, and
    the dry run says why (their params changed)."""
    dry = snakemake(workflow_dir, "-n", "--config", "families={ff: {lr: 0.01}}")
    planned = {p.split("/")[2] for p in planned_outputs(dry.stdout) if p.startswith("results/pretrain/")}
    written = yaml.safe_load((REPO / "config.yaml").read_text())["families"]
    extends_ff = {"ff"} | {f for f, block in written.items() if block.get("extends") == "ff"}
    pretrained = {p.parent.parent.name for p in (workflow_dir / "results/pretrain").glob("*/seed0/metrics.json")}
    ff_based = {v for v in pretrained if variant_hparams(CONFIG, v)["family"] in extends_ff}
    assert {"random_wrong_label", "prospective_t3", "pcl", "label_free_ff"} <= ff_based
    assert planned == ff_based
    assert "Params have changed since last execution" in dry.stdout
    assert "'lr': 0.01" in dry.stdout and "'lr': 0.03" in dry.stdout  # the resolved value, before and now


def test_a_changed_analysis_setting_reruns_only_the_metric_that_reads_it(workflow_dir):
    """Each analysis job gets only the keys of config `analysis` its metric declares: a new ridge
    grid plans the representation analyses and the table that reads them, not the label metrics."""
    dry = snakemake(workflow_dir, "-n", "--config", "analysis={ridge: [0.5]}")
    planned = planned_outputs(dry.stdout)
    representation = {
        str(p.relative_to(workflow_dir)) for p in workflow_dir.glob("results/analysis/representation/*/*.json")
    }
    assert len(representation) >= 2 * len(SEEDS)
    assert planned == representation | tables_and_figures("root_cause_hypothesis")
    assert "'ridge': [0.5]" in dry.stdout


def test_a_changed_probe_setting_reruns_the_probes_not_the_analyses_of_features(workflow_dir):
    """The representation and dead-unit analyses read the probe's features, not how it trains: a
    new probe learning rate plans the probes and the analysis that runs one over training, and the
    other analyses only of a model trained again (label-free FF: its pretraining job scores it
    with the probe)."""
    dry = snakemake(workflow_dir, "-n", "--config", "transfer={probe: {lr: 0.01}}")
    planned = planned_outputs(dry.stdout)
    retrained = {p.split("/")[2] for p in planned if p.startswith("results/pretrain/")}
    assert retrained == {"label_free_ff"}
    analyses = [p.split("/")[2:4] for p in planned if p.startswith("results/analysis/")]
    assert {metric for metric, _ in analyses} >= {"transfer_over_training", "representation"}
    assert all(metric == "transfer_over_training" or model in retrained for metric, model in analyses)
    assert (workflow_dir / "results/analysis/representation/random_wrong_label/seed0.json").is_file()
    assert any(p.startswith("results/transfer/") for p in planned)


def test_bad_value_stops_before_any_job_naming_key_value_and_domain(workflow_dir):
    out = snakemake(workflow_dir, "-n", "--config", "families={bp: {batch_size: 0}}", check=False)
    text = out.stdout + out.stderr
    assert out.returncode != 0 and "families.bp.batch_size: 0 is not allowed: must be >= 1" in text
    assert "Traceback" not in text


LONG_TARGET = "results/pretrain/random_wrong_label/seed0/metrics.json"
LONG_RESUME = "resume/pretrain/random_wrong_label/seeds0-1.pt"  # the chunk of seeds 0 and 1
LONG_LOG = "logs/pretrain/random_wrong_label/seeds0-1.log"
LONG_EPOCHS = 10  # about 0.4 s each here: the run is held (SIGSTOP) within an epoch of its first one


def long_copy(workflow_dir, tmp_path, name):
    wf = copy_of(workflow_dir, tmp_path, name)
    long = {"families": {"ff": {"epochs": LONG_EPOCHS}}, "pretrain": {"resume_every_s": 0}}  # saved every epoch
    (wf / "long.yaml").write_text(yaml.safe_dump(long))
    return wf


def start_long_pretraining(wf):
    """Snakemake retraining one FF run for LONG_EPOCHS epochs, in its own process group; returns once
    the job has finished its first epoch and saved its resume state."""
    cmd = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", *OVERLAYS, "long.yaml", "--", LONG_TARGET]
    log = wf / LONG_LOG
    log.unlink()  # the copied log of the earlier run already says "epoch 1:"
    with open(wf / "long-run.log", "w") as out:
        proc = subprocess.Popen(cmd, cwd=wf, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 300
    while not (log.is_file() and "epoch 1:" in log.read_text() and (wf / LONG_RESUME).is_file()):
        assert proc.poll() is None and time.monotonic() < deadline, (wf / "long-run.log").read_text()
        time.sleep(0.5)
    return proc


def test_killed_training_run_is_rerun_to_the_same_result(workflow_dir, tmp_path):
    """A second Snakemake on a folder where one runs is refused by the lock. kill -9 of Snakemake
    and its job mid-training (a node dying), then the documented recovery (--unlock, then a run
    with --rerun-incomplete, as the profiles set): the rerun continues from the last epoch the
    killed job saved (ffmodels.resume), completes, and its metrics equal those of a run that was
    never interrupted."""
    killed = long_copy(workflow_dir, tmp_path, "killed")
    proc = start_long_pretraining(killed)
    os.killpg(proc.pid, signal.SIGSTOP)  # held mid-run (it cannot finish) while a second run tries the folder
    out = snakemake(killed, "long.yaml", "--", LONG_TARGET, check=False)
    assert out.returncode != 0 and "Directory cannot be locked" in out.stdout + out.stderr  # the live run's lock
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(60)
    log = (killed / LONG_LOG).read_text()
    assert f"epoch {LONG_EPOCHS}:" not in log  # killed mid-run
    out = snakemake(killed, "long.yaml", "--", LONG_TARGET, check=False)
    assert out.returncode != 0 and "Directory cannot be locked" in out.stdout + out.stderr  # the dead run's lock
    snakemake(killed, "long.yaml", "--unlock")
    snakemake(killed, "long.yaml", "--rerun-incomplete", "--", LONG_TARGET)
    resumed = cost.resumed_after(killed / LONG_LOG)  # as the cost check reads it
    assert resumed and 1 <= int(resumed) < LONG_EPOCHS  # not from epoch 0
    job = ("pretrain", "random_wrong_label", None)  # its benchmark is the last stretch only: not a measured cost
    every, whole = (cost.read_benchmarks([killed / "benchmarks"], whole=w) for w in (False, True))
    assert len(every[job]) == len(SEEDS) + len(whole.get(job, []))  # the chunk counts once per seed
    assert not (killed / LONG_RESUME).exists()  # removed once the outputs were written

    clean = long_copy(workflow_dir, tmp_path, "clean")
    snakemake(clean, "long.yaml", "--", LONG_TARGET)
    a, b = (json.loads((wf / LONG_TARGET).read_text()) for wf in (killed, clean))
    assert a["hparams"]["epochs"] == LONG_EPOCHS and len(a["history"]) == LONG_EPOCHS
    assert (a["test_acc"], a["val_acc"], a["history"]) == (b["test_acc"], b["val_acc"], b["history"])


def test_changed_hyperparameter_reruns_only_that_variant_and_descendants(workflow_dir, tmp_path):
    wf = copy_of(workflow_dir, tmp_path, "changed")
    before = snapshot(wf)
    hard = {"family": "ff", "negatives": "hard", "hard_mode": "softmax"}
    (wf / "change.yaml").write_text(yaml.safe_dump({"variants": {"hard": hard}}))
    snakemake(wf, "change.yaml")
    after = snapshot(wf)
    rerun = {path for path in after if after[path] != before.get(path)}
    expected = {
        f"results/pretrain/hard/seed{s}/{f}" for s in SEEDS for f in ("model.pt", "checkpoints.pt", "metrics.json")
    }
    expected |= {f"results/transfer/hard/seed{s}/metrics.json" for s in SEEDS}
    expected |= tables_and_figures("rq1_negative_strategies", "rq2_transfer")
    expected |= {"results/figures/source_vs_transfer.png"}
    assert rerun == expected
    # Nothing is left to do once the change is in place.
    dry = snakemake(wf, "change.yaml", "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr


def tables_and_figures(*tables):
    """The files of these tables and their figures, and the claims ledger that reads them all."""
    return (
        {f"results/tables/{t}.{e}" for t in tables for e in ("csv", "md")}
        | {f"results/figures/{t}.png" for t in tables}
        | {f"results/tables/claims_ledger.{e}" for e in ("csv", "md", "rst")}
        | {"results/tables/conclusions.csv"}
    )


def test_the_raw_pixel_control_is_a_row_of_every_transfer_table_outside_holm(workflow_dir):
    """raw_pixels (config transfer_control): a probe job with no pretraining, a row without a test
    in each table reporting transfer accuracy, and every transfer mean shown against its mean."""
    for seed in SEEDS:
        m = json.loads((workflow_dir / f"results/transfer/raw_pixels/seed{seed}/metrics.json").read_text())
        assert m["model"] == "raw_pixels" and m["status"] == "ok" and m["feature_dim"] == 784
    assert not (workflow_dir / "results/pretrain/raw_pixels").exists()
    kinds = {"source_transfer"}
    transfer_tables = [
        t for t in TABLES if CONFIG["tables"][t]["kind"] in kinds or CONFIG["tables"][t].get("stage") == "transfer"
    ]
    assert {"rq2_transfer", "rq4_overview", "rq_cwc"} <= set(transfer_tables)
    for table in transfer_tables:
        rows = read_csv(workflow_dir / f"results/tables/{table}.csv")
        control = [r for r in rows if r["variant"] == "raw_pixels"]
        assert len(control) == 1 and control[0]["metric"] == "transfer_acc", table
        assert control[0]["p"] == "" and control[0]["p_holm"] == "" and control[0]["reference"] == "", table
        assert control[0]["n"] == str(len(SEEDS)) and 10 < float(control[0]["mean"]) <= 100
        level = float(control[0]["mean"])
        for r in rows:
            if r["metric"] == "transfer_acc":
                assert float(r["delta_vs_control"]) == pytest.approx(float(r["mean"]) - level), (table, r["variant"])
        assert "Δ vs control" in (workflow_dir / f"results/tables/{table}.md").read_text()
    assert all(
        "raw_pixels" not in {r["variant"] for r in read_csv(workflow_dir / f"results/tables/{t}.csv")}
        for t in TABLES
        if t not in transfer_tables
    )


def test_every_figure_is_drawn_for_the_report(workflow_dir):
    names = set(TABLES) | set(CONFIG["figures"])
    for name in names:
        png = workflow_dir / f"results/figures/{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000, name


def test_tables_of_rq3_and_rq4(workflow_dir):
    root = read_csv(workflow_dir / "results/tables/rq3_root_cause.csv")
    got = {(r["variant"], r["metric"]) for r in root}
    for metric in ("variance_ratio", "gradient_share", "spearman_rho", "label_dependency_l1", "dead_target_l1"):
        assert ("random_wrong_label", metric) in got, metric
    assert ("bp", "spearman_rho") in got and ("bp", "gradient_share") not in got  # BP has no label input
    claims = {r["metric"]: r for r in root if r["variant"] == "random_wrong_label"}
    assert claims["variance_ratio"]["reference"] == "> 1.0" and claims["variance_ratio"]["p"]
    over = read_csv(workflow_dir / "results/tables/rq3_over_training.csv")
    assert {r["epoch"] for r in over} == {"0", "1"}  # checkpoints cut to the test run's one epoch
    overview = read_csv(workflow_dir / "results/tables/rq4_overview.csv")
    assert {r["variant"] for r in overview} == {
        *CONFIG["tables"]["rq4_overview"]["variants"],
        "random_init_ff",
        "random_init_prospective_t3",
        "raw_pixels",
    }
    assert all(r["status"] for r in overview if r["reference"] and r["metric"] == "transfer_acc")
    trace = read_csv(workflow_dir / "results/tables/rq4_pcl_postmortem.csv")
    metrics = {r["metric"] for r in trace}
    assert {"val_acc", "dead_frac_l1", "saturated_frac_l1", "mean_abs_error_l1", "last_good_epoch"} <= metrics


def test_hypothesis_table_correlates_every_model_with_its_random_init(workflow_dir):
    spec = CONFIG["tables"]["root_cause_hypothesis"]
    rows = read_csv(workflow_dir / "results/tables/root_cause_hypothesis.csv")
    transfer = {r["variant"]: r for r in rows if r["metric"] == "transfer_acc"}
    assert set(transfer) == {*spec["variants"], "random_init_ff", "random_init_bp", "random_init_label_free_ff"}
    # a model whose every seed collapsed (FF after one epoch on 1 000 images predicts one class) is
    # counted and left out of the correlations
    models = {v for v, r in transfer.items() if r["n"] != "0"}
    assert all(r["n_collapsed"] == str(len(SEEDS)) for v, r in transfer.items() if v not in models)
    assert {"bp", "random_init_bp", "random_init_ff"} <= models
    for q in spec["metrics"]:
        assert {r["variant"] for r in rows if r["metric"] == q} == models, q
        every, ff = (next(r for r in rows if r["variant"] == s and r["metric"] == f"rho_{q}") for s in SCOPES)
        assert every["n"] == str(len(models)) and every["test"] == "seed bootstrap" and every["status"], q
        assert int(ff["n"]) <= 2 and ff["status"].startswith("not measured")  # under 3 FF variants: no ordering
    # a random init is analysed as its untrained network: one checkpoint, epoch 0
    untrained = json.loads((workflow_dir / "results/analysis/representation/random_init_bp/seed0.json").read_text())
    assert untrained["epochs"] == [0] and untrained["family"] == "bp"


def test_table_of_the_label_decoupled_models(workflow_dir):
    rows = read_csv(workflow_dir / "results/tables/rq_cwc.csv")
    got = {(r["variant"], r["metric"], r["reference"]) for r in rows}
    for v in ("cwc", "label_free_ff"):
        assert (v, "source_acc", "random_wrong_label") in got  # vs standard FF
        assert (v, "transfer_acc", "random_wrong_label") in got
        assert (v, "transfer_acc", f"random_init_{v}") in got  # vs its own random init
    ceilings = {r["variant"]: r for r in rows if r["metric"] == "ceiling_acc"}
    assert set(ceilings) == set(CONFIG["tables"]["rq_cwc"]["ceilings"]) == {"cwc", "bp"}
    assert all(r["n"] == str(len(SEEDS)) and 10 < float(r["mean"]) <= 100 for r in ceilings.values())
    ceiling = json.loads((workflow_dir / "results/ceiling/cwc/seed0/metrics.json").read_text())
    assert ceiling["task"] == "fashion-mnist" and ceiling["train_images"] == 1000
    rq2 = {r["variant"] for r in read_csv(workflow_dir / "results/tables/rq2_transfer.csv")}
    assert {"cwc", "random_init_cwc", "label_free_ff", "random_init_label_free_ff"} <= rq2
    # the calibrated random init: a second baseline of the family with BatchNorm, and only of it
    assert ("cwc", "transfer_acc", "random_init_cwc_calibrated") in got
    assert {r["variant"] for r in rows if r["variant"].endswith("_calibrated")} == {"random_init_cwc_calibrated"}
    calibrated = json.loads(
        (workflow_dir / "results/transfer/random_init_cwc_calibrated/seed0/metrics.json").read_text()
    )
    assert calibrated["model"] == "calibrated_random_init"
    # test-selection optimism where the per-epoch test accuracy was recorded (pretrain.test_every_epoch)
    best = {r["variant"]: r for r in rows if r["metric"] == "source_acc_best_test"}
    assert set(best) == {"cwc", "random_wrong_label", "bp"} & set(CONFIG["tables"]["rq_cwc"]["variants"])
    source = {r["variant"]: r for r in rows if r["metric"] == "source_acc" and r["reference"] != ""}
    source["random_wrong_label"] = next(
        r for r in rows if r["metric"] == "source_acc" and r["variant"] == "random_wrong_label"
    )
    for v, r in best.items():
        assert float(r["mean"]) >= float(source[v]["mean"]) - 1e-9 and r["n"] == str(len(SEEDS))


def test_the_fashion_recipe_reaches_the_ceiling_and_finetuning_of_cwc_and_no_other_job(workflow_dir, tmp_path):
    """families.cwc.tasks.fashion-mnist (the published Fashion-MNIST normalisation and schedule)
    holds where CwC-FF trains on Fashion-MNIST, and nowhere else: not its MNIST pretraining, not
    the probe of its random init (the network as built for MNIST), not another family's jobs."""

    def hp(stage, run):
        return json.loads((wf / f"results/{stage}/{run}/seed0/metrics.json").read_text())["hparams"]

    wf = copy_of(workflow_dir, tmp_path, "finetune")
    (wf / "cwc_finetune.yaml").write_text(yaml.safe_dump({"tables": {"rq2_finetune": {"variants": ["bp", "cwc"]}}}))
    snakemake(wf, "cwc_finetune.yaml", "--", "results/finetune/cwc/seed0/metrics.json")
    fashion = variant_hparams(CONFIG, "cwc", "fashion-mnist")
    assert (fashion["input_mean"], fashion["input_std"]) == (0.5, 0.5)
    assert hp("ceiling", "cwc") == hp("finetune", "cwc") == fashion
    assert hp("pretrain", "cwc") == variant_hparams(CONFIG, "cwc") and hp("pretrain", "cwc")["input_mean"] == 0.1307
    assert hp("transfer", "random_init_cwc")["input_mean"] == 0.1307
    assert hp("ceiling", "bp") == hp("pretrain", "bp") == variant_hparams(CONFIG, "bp")


def test_the_long_families_training_jobs_start_first(workflow_dir):
    """config start_first: a CwC-FF ceiling or fine-tuning job (hours at the published width) is
    scheduled before the others of its stage, so that no core idles beside it at the stage's end."""
    dry = snakemake(  # --forceall: the chunk rules (ceiling_seeds0-1, ...) are other rules than `ceiling`
        workflow_dir, "-n", "--forceall", "--", "results/tables/rq_cwc.csv", "results/tables/rq2_finetune.csv"
    ).stdout
    blocks = re.split(r"^\[", dry, flags=re.M)  # one per job, each opened by its time stamp
    jobs = [
        (
            re.search(r"^rule ([\w-]+?)(?:_seeds?[\d_-]+)?:", block, re.M),  # a chunk's rule: its stage
            re.search(r"variant=(\w+)", block),
            re.search(r"^ *priority: (\d+)", block, re.M),
        )
        for block in blocks
    ]
    priority = {
        (rule[1], variant[1]): int(p[1]) if p else 0
        for rule, variant, p in jobs
        if rule and variant and rule[1] in ("ceiling", "finetune")
    }
    assert {("ceiling", "cwc"), ("ceiling", "bp"), ("finetune", "bp")} <= set(priority)
    assert (
        {key for key, p in priority.items() if p}
        == {key for key in priority if variant_hparams(CONFIG, key[1])["family"] in CONFIG["start_first"]}
        == {("ceiling", "cwc")}
    )


def test_sensitivity_finetune_and_noise_tables(workflow_dir):
    sens = read_csv(workflow_dir / "results/tables/rq2_sensitivity.csv")
    settings = {r["setting"] for r in sens}
    assert settings == {"protocol", *CONFIG["sensitivity"]}
    # every model's gap to its random init under every setting that touches it; label fill leaves
    # backprop (no label input) and its random init as under the protocol: no repeated rows
    label_fill = {s for s, knob in CONFIG["sensitivity"].items() if set(knob) == {"label_fill"}}
    assert label_fill
    for setting in settings:
        got = {
            (r["variant"], r["reference"]) for r in sens if r["setting"] == setting and r["metric"] == "transfer_acc"
        }
        assert {("random_wrong_label", "random_init_ff"), ("random_init_ff", "")} <= got
        assert (("bp", "random_init_bp") in got) == (setting not in label_fill), setting
    shifts = [r for r in sens if r["metric"] == "gap_shift"]
    assert len(shifts) == 2 * len(CONFIG["sensitivity"]) - len(label_fill) and all(r["p"] for r in shifts)
    # the protocol rows are the transfer stage's own numbers
    rq2 = {(r["variant"], r["reference"]): r for r in read_csv(workflow_dir / "results/tables/rq2_transfer.csv")}
    protocol = {
        (r["variant"], r["reference"]): r for r in sens if r["setting"] == "protocol" and r["metric"] == "transfer_acc"
    }
    assert protocol[("bp", "random_init_bp")]["mean"] == rq2[("bp", "random_init_bp")]["mean"]
    tune = read_csv(workflow_dir / "results/tables/rq2_finetune.csv")
    assert {(r["variant"], r["metric"], r["reference"]) for r in tune} == {
        (v, m, ref)
        for v in ("random_wrong_label", "bp")
        for m, ref in (("scratch_acc", ""), ("finetune_acc", "scratch"))
    }
    tuned = json.loads((workflow_dir / "results/finetune/bp/seed0/metrics.json").read_text())
    assert tuned["init"] == "pretrained" and tuned["task"] == "fashion-mnist"


def test_the_claims_ledger_answers_every_claim(workflow_dir):
    claims = yaml.safe_load((workflow_dir / "claims.yaml").read_text())
    ledger = {r["id"]: r for r in read_csv(workflow_dir / "results/tables/claims_ledger.csv")}
    assert list(ledger) == [c["id"] for c in claims]
    assert all(r["preset"] == "test" for r in ledger.values())
    assert all(verdict_kind(r["verdict"]) for r in ledger.values())  # every verdict in the vocabulary
    assert not any(r["verdict"] == "not reproduced" for r in ledger.values())
    # experiments the test preset runs get a verdict; those it leaves out are "not run"
    assert ledger["rq2_random_init"]["verdict"] != "not run" and ledger["rq2_random_init"]["n"] == str(len(SEEDS))
    assert "upstream probe" in ledger["rq2_random_init"]["readings"]
    assert ledger["rq3_label_neuron_variance"]["robustness"] not in ("", "–", "single reading")  # readings were judged
    assert ledger["cwc_vs_random"]["verdict"] != "not run"
    assert ledger["rq4_collab_source_g03"]["verdict"] == "not run"  # gamma = 0.3 is not in the test preset
    md = (workflow_dir / "results/tables/claims_ledger.md").read_text()
    assert "TEST numbers" in md and all(c["claim"] in md for c in claims)
    # the conclusions lead it, each with a verdict of the vocabulary
    conclusions = read_csv(workflow_dir / "results/tables/conclusions.csv")
    declared = yaml.safe_load((workflow_dir / "conclusions.yaml").read_text())
    assert [r["id"] for r in conclusions] == [c["id"] for c in declared]
    assert all(any(r["verdict"].startswith(v) for v in CONCLUSION_VERDICTS) for r in conclusions)
    assert md.index("The deck's conclusions") < md.index("Claims ledger")


def test_misspelt_config_key_stops_before_any_job_naming_it(workflow_dir, tmp_path):
    out = snakemake(workflow_dir, "-n", "--config", "threadz=2", check=False)
    assert out.returncode != 0 and "'threadz' was unexpected" in out.stdout + out.stderr
    typo = tmp_path / "typo.yaml"
    typo.write_text(yaml.safe_dump({"families": {"ff": {"lrr": 0.1}}}))
    out = snakemake(workflow_dir, str(typo), "-n", check=False)
    assert out.returncode != 0 and "families.ff.lrr: unknown hyperparameter" in out.stdout + out.stderr


def test_corrupt_mirror_file_is_refused_and_results_are_kept(workflow_dir, tmp_path):
    wf = copy_of(workflow_dir, tmp_path, "corrupt")
    bad = tmp_path / "bad_mirror" / "mnist"
    bad.mkdir(parents=True)
    name = "train-labels-idx1-ubyte"
    content = bytearray(gzip.open(TEST_DATA / "mnist" / f"{name}.gz").read())
    content[100] ^= 0xFF  # one label byte changed
    with gzip.open(bad / f"{name}.gz", "wb") as fh:
        fh.write(bytes(content))
    md5 = yaml.safe_load(TEST_CONFIG.read_text())["data"]["md5"]["mnist"][name]
    target = f"resources/data/mnist/{name}"
    (wf / target).unlink()  # a fresh fetch, from the bad mirror
    before = snapshot(wf)
    out = snakemake(wf, "--config", f"local_mirror={bad.parent}", "--", target, check=False)
    assert out.returncode != 0
    log = (wf / f"logs/data/mnist/{name}.log").read_text()
    for text in (out.stderr + out.stdout, log):
        assert name in text and str(bad) in text and md5 in text
    assert not (wf / target).exists()
    assert snapshot(wf) == before  # every result computed before is still there, untouched


def browser():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def headless(exe, *args, cwd):
    out = subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=20000",
            *args,
        ],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


# Appended to a copy of report.html: the browser decodes every embedded PNG and says so.
DECODE_FIGURES = """<script>
window.addEventListener("load", () => {
  const out = document.createElement("pre"); out.id = "figure-check"; document.body.appendChild(out);
  for (const [path, r] of Object.entries(results)) {
    if (r.mime_type !== "image/png") continue;
    const img = new Image();
    img.onload = () => { out.textContent += `rendered ${path} ${img.naturalWidth}x${img.naturalHeight}\\n`; };
    img.onerror = () => { out.textContent += `failed ${path}\\n`; };
    img.src = r.data_uri;
  }
});
</script>"""


def test_report_html_opens_in_a_browser_with_the_ledger_first_and_every_figure(workflow_dir, tmp_path):
    """What a reader gets from `make report`: one self-contained page; its front page shows the
    claims ledger (every claim row), and every figure is embedded and decodes as an image."""
    exe = browser()
    if exe is None:
        pytest.skip("no Chromium here (Debian package chromium; `make test` installs it when run as root)")
    report = tmp_path / "report.html"
    snakemake(workflow_dir, "--report", str(report))
    shot = tmp_path / "report.png"
    headless(exe, f"--screenshot={shot}", "--window-size=1600,2400", report.as_uri(), cwd=tmp_path)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000  # a page, not a blank

    text = html.unescape(re.sub(r"<[^>]+>", " ", headless(exe, "--dump-dom", report.as_uri(), cwd=tmp_path)))
    text = " ".join(text.split())
    assert "Claims ledger" in text and "Verdicts:" in text and "The deck's conclusions" in text
    ledger = read_csv(workflow_dir / "results/tables/claims_ledger.csv")
    for row in ledger:  # every claim row, rendered on the front page with its verdict
        assert " ".join(row["claim"].split()) in text, row["id"]
    assert text.count("not run") >= sum(r["verdict"] == "not run" for r in ledger)

    harness = tmp_path / "figures.html"
    harness.write_text(report.read_text().replace("</body>", DECODE_FIGURES + "</body>"))
    dom = headless(exe, "--dump-dom", harness.as_uri(), cwd=tmp_path)
    rendered = dict(re.findall(r"rendered \S*?results/figures/(\w+)\.png (\d+)x\d+", dom))
    figures = set(TABLES) | set(CONFIG["figures"])
    assert set(rendered) == figures and all(int(w) > 300 for w in rendered.values()), rendered
    assert not re.findall(r"failed \S*results/figures/", dom)


def test_snakemake_report_holds_the_tables(workflow_dir, tmp_path):
    snakemake(workflow_dir, "--report", str(tmp_path / "report.zip"))
    import zipfile

    names = zipfile.ZipFile(tmp_path / "report.zip").namelist()
    assert any(n.endswith("rq1_negative_strategies.md") for n in names)
    assert any(n.endswith("rq2_transfer.csv") for n in names)
    assert any(n.endswith("rq3_over_training.png") for n in names) and any(n.endswith("rq3_weights.png") for n in names)
