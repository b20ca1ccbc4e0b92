"""The cost table (tools/cost.py): its job list is Snakemake's dry run, measured jobs are used as
measured, and a training job without one is estimated from its own timed steps."""

import math
import re
import subprocess
import sys

import pytest

from ffmodels.config import load_config, variant_hparams
from tests.conftest import REPO, copy_workflow
from tools import cost

OVERLAYS = ("presets/quick.yaml", ".test/config.yaml")
COUNTED = ("pretrain", "ceiling", "finetune", "transfer", "sensitivity", "analysis")


def test_the_planned_jobs_are_the_ones_snakemake_plans(tmp_path):
    wf = copy_workflow(tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", *OVERLAYS],
        cwd=wf,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    stats = out.stdout[out.stdout.index("Job stats:") :]
    stats = stats[: stats.index("\ntotal")]  # the first table (a dry run prints it twice)
    # a chunk rule (pretrain_seeds0-1: seeds 0 and 1 of a variant in one job) counts once per seed
    planned = {}
    for m in re.finditer(r"^(\w+?)(?:_(seeds[\d_-]+))?\s+(\d+)$", stats, re.M):
        if m[1] in COUNTED:
            planned[m[1]] = planned.get(m[1], 0) + int(m[3]) * cost.seeds_in(f"{m[2] or 'seed'}.tsv")
    ours = {}
    for rule, _, _ in cost.planned_jobs([REPO / o for o in OVERLAYS]):
        ours[rule] = ours.get(rule, 0) + 1
    assert ours == planned and set(planned) == set(COUNTED)


def test_benchmarks_are_read_from_a_run_folder_and_from_a_published_listing(tmp_path):
    run = tmp_path / "benchmarks"
    (run / "pretrain" / "bp").mkdir(parents=True)
    (run / "analysis" / "gradient_share" / "bp").mkdir(parents=True)
    head = "s\th:m:s\tmax_rss\tcpu_time\n"
    (run / "pretrain" / "bp" / "seed0.tsv").write_text(head + "100.5\t0:01:40\t900\t90.5\n")
    (run / "pretrain" / "bp" / "seed1.tsv").write_text(head + "110.5\t0:01:50\t900\t0.00\n")
    (run / "pretrain" / "ff").mkdir()
    (run / "pretrain" / "ff" / "seeds0-1.tsv").write_text(head + "200.0\t0:03:20\t900\t180.0\n")
    (run / "analysis" / "gradient_share" / "bp" / "seed0.tsv").write_text(head + "7.0\t0:00:07\t900\n")
    listing = tmp_path / "timing.txt"
    listing.write_text(
        "# a comment\nbenchmarks/transfer/random_init_bp/seed3.tsv\t55.25\t0:00:55\n"
        "transfer/bp/seed0.tsv\t64.85\t0:01:04\t1792.44\t4792.36\t1444.99\t1566.83\t11.32\t0.01\t67.23\t44.07\n"
    )
    got = cost.read_benchmarks([run, listing])
    # CPU time where the benchmark has it (0 = not measured), else the wall time
    assert got == {
        ("pretrain", "bp", None): [90.5, 110.5],
        ("pretrain", "ff", None): [90.0, 90.0],  # a chunk of two seeds: half its time each
        ("analysis", "bp", "gradient_share"): [7.0],
        ("transfer", "random_init_bp", None): [55.25],
        ("transfer", "bp", None): [44.07],
    }


def test_a_job_resumed_after_a_stop_is_left_out_of_what_jobs_cost(tmp_path):
    """Snakemake's benchmark restarts with each attempt: a resumed training job's holds its last
    stretch only, so costs and the estimate check use the jobs measured whole and name the others."""
    run = tmp_path / "run"
    for seed, cpu, log in (
        (0, 5000.0, "epoch 1: ...\nepoch 20: ...\n"),
        (1, 400.0, "cwc seed 1 on cpu: ...\nresuming after epoch 18 from resume/ceiling/cwc/seed1.pt\n"),
    ):
        (run / "benchmarks" / "ceiling" / "cwc").mkdir(parents=True, exist_ok=True)
        (run / "benchmarks" / "ceiling" / "cwc" / f"seed{seed}.tsv").write_text(f"s\tcpu_time\n{cpu + 9}\t{cpu}\n")
        (run / "logs" / "ceiling" / "cwc").mkdir(parents=True, exist_ok=True)
        (run / "logs" / "ceiling" / "cwc" / f"seed{seed}.log").write_text(log)
    assert cost.resumed_after(run / "logs" / "ceiling" / "cwc" / "seed1.log") == "18"
    assert cost.read_benchmarks([run / "benchmarks"]) == {("ceiling", "cwc", None): [5000.0, 400.0]}  # finished: both
    assert cost.read_benchmarks([run / "benchmarks"], whole=True) == {("ceiling", "cwc", None): [5000.0]}
    listing = tmp_path / "benchmarks.tsv"  # as published: the resumed epoch in its own column
    listing.write_text(
        f"job\t{chr(9).join(cost.BENCHMARK_FIELDS)}\tfolder\t{cost.RESUMED_COLUMN}\n"
        "ceiling/cwc/seed0.tsv\t5009\t0\t0\t0\t0\t0\t0\t0\t0\t5000\tf1\t\n"
        "ceiling/cwc/seed1.tsv\t409\t0\t0\t0\t0\t0\t0\t0\t0\t400\tf1\t18\n"
    )
    assert cost.read_benchmarks([listing], whole=True) == {("ceiling", "cwc", None): [5000.0]}
    text = cost.against_benchmarks({("ceiling", "cwc", None): 4000.0}, [listing])
    assert "| ceiling | 1 | 1.11 | 1.39 | 1.25 |" in text
    assert "Left out: 1 job resumed after a stop, whose benchmark holds its last stretch only (ceiling 1)." in text


def test_measured_jobs_are_used_and_others_estimated_from_timed_steps(monkeypatch):
    config = load_config(*(REPO / o for o in OVERLAYS))
    timed = []

    together = {}

    def fake_time(hp, n_train, n_eval, steps, diag, seeds=1, keep_freed=False):
        timed.append(hp["family"])
        together[hp["family"]] = seeds
        return {"train_s": 2.0, "eval_s": 0.5}

    monkeypatch.setattr(cost, "time_training", fake_time)
    # a CNN's pass over the probe's images is dearer than an MLP's; a label-input model (FF) is passed
    # once per label fill its sensitivity settings show it
    monkeypatch.setattr(
        cost,
        "time_feature_pass",
        lambda hp, tcfg, settings, n, batch, calibration=0: (
            (200.0 if hp["family"] == "cwc" else 1.0) * (2 if settings and hp["family"] == "ff" else 1)
            + calibration / 1000
        ),
    )
    benchmarks = {
        ("pretrain", "bp", None): [30.0, 50.0],
        ("transfer", "bp", None): [8.0],
        ("transfer", "random_init_bp", None): [4.0],
        ("transfer", "random_init_cwc", None): [240.0],
        ("transfer", "not_in_this_config", None): [1.0],
    }
    jobs = cost.planned_jobs([REPO / o for o in OVERLAYS])
    rows = {
        (r["rule"], r["run"], r["metric"]): r
        for r in cost.estimate(config, jobs, benchmarks, steps=3, log=lambda *_: None)
    }
    bp = rows[("pretrain", "bp", None)]
    assert bp["s_per_job"] == 40.0 and bp["source"].startswith("measured")
    ff = rows[("pretrain", "random_wrong_label", None)]
    epochs = config["families"]["ff"]["epochs"]
    assert ff["s_per_job"] == pytest.approx(cost.START_UP_S + epochs * 2.5) and "estimated" in ff["source"]
    # a lockstep family is timed as its job trains: its chunk of the seeds at once; CwC-FF alone
    chunk = min(config["pretrain"]["seed_chunk"], len(config["seeds"]))
    assert together["ff"] == chunk > 1 and together["cwc"] == 1
    assert ff["source"].endswith(f", {chunk} seeds in lockstep")
    # a probe without its own measurement costs what its family's probes cost (CwC-FF's CNN), else
    # its network's pass plus the measured probes' fit (their time less their pass; a run of
    # another config, whose network is unknown, is left out); a sensitivity job fits one probe per setting
    cwc = rows[("transfer", "cwc", None)]
    assert cwc["s_per_job"] == 240.0 and "cwc transfer" in cwc["source"]
    fit = ((8 - 1) + (4 - 1) + (240 - 200)) / 3
    assert rows[("transfer", "hard", None)]["s_per_job"] == pytest.approx(1 + fit)
    assert "timed pass" in rows[("transfer", "hard", None)]["source"]
    settings = len(config["sensitivity"])
    assert rows[("sensitivity", "random_wrong_label", None)]["s_per_job"] == pytest.approx(2 + settings * fit)
    # a calibrated init also passes the source images once; here its family's measured probe says it
    assert rows[("transfer", "random_init_cwc_calibrated", None)]["s_per_job"] == 240.0
    assert ff["jobs"] == len(config["seeds"])
    assert "estimated" in rows[("ceiling", "bp", None)]["source"]  # measured on MNIST, not on Fashion-MNIST
    assert timed.count("cwc") == 2  # once per task: its MNIST and Fashion-MNIST recipes differ
    assert math.isnan(rows[("analysis", "random_wrong_label", "gradient_share")]["s_per_job"])  # nothing measured
    text = cost.summary(list(rows.values()), cores=2)
    assert "| pretrain |" in text and "without any measurement" in text
    # without any CwC-FF probe measured, it is the CNN's pass over the target and the source images
    alone = {
        (r["rule"], r["run"]): r["s_per_job"]
        for r in cost.estimate(config, jobs, {("transfer", "bp", None): [8.0]}, steps=3, log=lambda *_: None)
    }
    n_train = config["pretrain"]["train_subset"] or 60000 - config["data"]["val_size"]
    assert alone[("transfer", "random_init_cwc_calibrated")] == pytest.approx(200 + n_train / 1000 + (8 - 1))


def test_a_probes_network_pass_is_timed_for_its_own_network_and_each_input_it_sees():
    config = load_config()  # the full preset's networks
    tcfg = config["transfer"]
    ff, cwc = (
        cost.time_feature_pass(cost.variant_hparams(config, run), tcfg, None, 1000, 200)
        for run in ("random_wrong_label", "cwc")
    )
    assert 0 < ff and cwc > 10 * ff  # a 4-block CNN against an MLP, one thread (~150x here)
    # a model that reads the label from its input (FF) sees zero, neutral and image fills in the
    # sensitivity settings; CwC-FF one input whatever the fill; a transfer job one
    assert cost.probe_inputs(True, tcfg, config["sensitivity"]) == 3
    assert cost.probe_inputs(False, tcfg, config["sensitivity"]) == 1
    assert cost.probe_inputs(True, tcfg, None) == 1
    two_fills = {"a": {"label_fill": "neutral", "neutral_value": 0.2}, "b": {"label_fill": "neutral"}}
    assert cost.probe_inputs(True, tcfg, two_fills) == 2


def test_finished_jobs_are_set_against_the_cost_table_written_before_the_run(tmp_path):
    rows = [
        {"rule": "pretrain", "run": "bp", "metric": None, "jobs": 5, "s_per_job": 300.0, "source": "estimated"},
        {"rule": "analysis", "run": "bp", "metric": "dead_units", "jobs": 5, "s_per_job": 7.0, "source": "measured"},
        {"rule": "ceiling", "run": "cwc", "metric": None, "jobs": 5, "s_per_job": math.nan, "source": "none"},
    ]
    table = tmp_path / "cost.md"
    table.write_text("preset full\n\n" + cost.summary(rows, 2) + "\n" + cost.detail(rows))
    assert cost.read_summary(table) == cost.summary(rows, 2)
    estimate = cost.read_estimate(table)
    assert estimate[("pretrain", "bp", None)] == 300.0 and estimate[("analysis", "bp", "dead_units")] == 7.0
    assert math.isnan(estimate[("ceiling", "cwc", None)]) and len(estimate) == 3  # the summary rows are not jobs
    actual = {
        ("pretrain", "bp", None): [330.0, 390.0],
        ("analysis", "bp", "dead_units"): [7.0],
        ("ceiling", "cwc", None): [4000.0],
    }  # no estimate to compare with: left out
    text = cost.against_estimate(estimate, actual)
    assert "| pretrain | 2 | 0.17 | 0.20 | 1.20 |" in text
    assert "| analysis | 1 | 0.00 | 0.00 | 1.00 |" in text
    assert "ceiling" not in text and "| **all** | 3 |" in text


def test_the_full_run_stages_name_tables_of_the_full_preset_in_the_order_the_study_is_answered():
    """`make full-run` asks for one stage at a time (Makefile FULL_RUN_ORDER); a renamed table
    would otherwise only fail hours into the run."""
    makefile = (REPO / "Makefile").read_text()
    order = re.search(r"^FULL_RUN_ORDER := ((?:.*\\\n)*.*)$", makefile, flags=re.M).group(1)
    stages = [s.split("+") for s in order.replace("\\\n", " ").split()]
    tables = load_config()["tables"]
    assert all(t in tables for stage in stages for t in stage), stages
    assert [s[0] for s in stages[:3]] == ["rq1_negative_strategies", "rq2_transfer", "rq_cwc"]  # the headline first


def test_each_stage_of_a_run_order_costs_the_jobs_no_earlier_stage_ran():
    overlays = [REPO / o for o in OVERLAYS]
    config = load_config(*overlays)
    every = cost.planned_jobs(overlays)
    jobs = set(every)
    estimate = {job: 10.0 for job in jobs if job[1] != "cwc"}  # CwC-FF's jobs have no row
    stages = cost.stage_costs(
        config, estimate, [["rq4_pcl_postmortem"], ["rq1_negative_strategies", "rq4_overview"]], configfiles=overlays
    )
    assert [s["stage"] for s in stages] == ["rq4_pcl_postmortem", "rq1_negative_strategies+rq4_overview", "everything"]
    n = len(config["seeds"])
    alone = {
        t: set(cost.planned_jobs(overlays, [f"results/tables/{t}.csv"]))
        for t in ("rq4_pcl_postmortem", "rq1_negative_strategies", "rq4_overview")
    }
    assert stages[0]["jobs"] == n * len(alone["rq4_pcl_postmortem"]) and stages[0]["s"] == 10.0 * stages[0]["jobs"]
    # the second stage does not count again the standard-FF runs the first one ran
    second = (alone["rq1_negative_strategies"] | alone["rq4_overview"]) - alone["rq4_pcl_postmortem"]
    assert stages[1]["jobs"] == n * len(second) < n * len(alone["rq1_negative_strategies"] | alone["rq4_overview"])
    # everything: every job left, each counted once over the three stages
    assert sum(s["jobs"] for s in stages) == n * len(jobs) == len(every)
    assert sum(s["unknown"] for s in stages) == n * len({j for j in jobs if j[1] == "cwc"}) > 0
    text = cost.stage_summary(stages, cores=2)
    first = stages[0]
    assert f"| rq4_pcl_postmortem | {first['jobs']} | {first['s'] / 3600:.1f} | {first['s'] / 7200:.1f} |" in text
    assert "jobs without an estimate" in text
    # a continued run: finished seeds (its benchmarks) are not counted again
    one = sorted(alone["rq4_pcl_postmortem"])[0]
    for seeds_done, fewer in ((1, 1), (n, n), (n + 3, n)):  # a job kind is done at most once per seed
        again = cost.stage_costs(
            config, estimate, [["rq4_pcl_postmortem"]], finished={one: seeds_done}, configfiles=overlays
        )
        assert again[0]["jobs"] == stages[0]["jobs"] - fewer and again[0]["s"] == stages[0]["s"] - 10.0 * fewer
    with pytest.raises(cost.ConfigError, match=r"\['rq4_colab'\] not tables of this config"):
        cost.stage_costs(config, estimate, [["rq4_colab"]], configfiles=overlays)


def test_the_stage_plan_costs_a_measured_job_at_what_it_took(tmp_path, capsys):
    overlays = [REPO / o for o in OVERLAYS]
    rows = [
        {"rule": rule, "run": run, "metric": metric, "jobs": 1, "s_per_job": 36.0, "source": "estimated"}
        for rule, run, metric in sorted(set(cost.planned_jobs(overlays)))
    ]
    table = tmp_path / "cost.md"
    table.write_text("preset test\n\n" + cost.summary(rows, 2) + "\n" + cost.detail(rows))
    argv = [
        "--configfile",
        *(str(REPO / o) for o in OVERLAYS),
        "--stages",
        "rq4_pcl_postmortem",
        "--estimate",
        str(table),
        "--cores",
        "1",
    ]
    jobs = len(set(cost.planned_jobs(overlays, ["results/tables/rq4_pcl_postmortem.csv"])))
    n = len(load_config(*overlays)["seeds"])
    cost.main(argv)
    assert f"| rq4_pcl_postmortem | {n * jobs} | {n * jobs * 36 / 3600:.1f} |" in capsys.readouterr().out
    bench = tmp_path / "benchmarks" / "pretrain" / "pcl"
    bench.mkdir(parents=True)
    (bench / "seed0.tsv").write_text("s\th:m:s\tcpu_time\n4000\t1:06:40\t3636.0\n")  # one pcl seed took 3636 s
    cost.main([*argv, "--benchmarks", str(tmp_path / "benchmarks")])
    hours = (n * (jobs - 1) * 36 + n * 3636) / 3600
    assert f"| rq4_pcl_postmortem | {n * jobs} | {hours:.1f} |" in capsys.readouterr().out
    # the same benchmarks as the continued run's own: that seed is done, the other seeds cost what it took
    cost.main([*argv, "--finished", str(tmp_path / "benchmarks")])
    hours = (n * (jobs - 1) * 36 + (n - 1) * 3636) / 3600
    assert f"| rq4_pcl_postmortem | {n * jobs - 1} | {hours:.1f} |" in capsys.readouterr().out
    cost.main([*argv, "--finished", str(tmp_path / "no-such-run")])  # a run not started yet: nothing finished
    assert f"| rq4_pcl_postmortem | {n * jobs} | {n * jobs * 36 / 3600:.1f} |" in capsys.readouterr().out


def test_a_lockstep_family_is_timed_in_lockstep_per_seed(monkeypatch):
    """seeds > 1: the chunk's own lockstep step (ffmodels.lockstep) is what is timed, on all the
    seeds' batches at once, and its time is divided by the steps and the seeds."""
    from ffmodels.lockstep import Lockstep

    shapes = []
    step = Lockstep.step
    monkeypatch.setattr(
        Lockstep, "step", lambda self, xs, ys, gens: shapes.append(tuple(xs.shape)) or step(self, xs, ys, gens)
    )
    clock = iter(range(0, 1000, 9))  # 9 CPU-seconds between two readings
    monkeypatch.setattr(cost.time, "process_time", lambda: float(next(clock)))
    hp = {**variant_hparams(load_config(), "random_wrong_label"), "hidden": [32, 32], "batch_size": 64}
    timed = cost.time_training(hp, n_train=640, n_eval=0, steps=3, test_every_epoch=False, seeds=3)
    assert shapes == [(3, 64, 784)] * 5  # two warm-up steps, three timed
    assert timed["train_s"] == pytest.approx(10 * 9 / 3 / 3)  # 10 batches an epoch
