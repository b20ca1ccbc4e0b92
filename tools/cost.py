"""What a preset costs on this machine, per rule and in all, before it runs.

    python -m tools.cost [--configfile presets/quick.yaml ...] [--benchmarks DIR_OR_TSV ...]
                            [--steps 20] [--cores 2] [--out cost.md]
    python -m tools.cost --against cost.md --benchmarks DIR_OR_TSV   (actual against estimate)
    python -m tools.cost --stages "rq4_collab rq3_root_cause+rq3_over_training" --estimate cost.md
                            [--benchmarks DIR_OR_TSV ...] [--finished RUN/benchmarks]
                            (what each stage of `make full-run` adds, and when its tables land)

Every job of the preset's DAG that has a benchmark (Snakemake's own job list: a dry run of the
workflow under the same config overlays, planned_jobs) gets a cost in core-seconds (each job
runs on one thread):

- measured: the mean CPU time (Snakemake's benchmark `cpu_time`, else its wall time `s`) of
  finished jobs of the same rule and run (any seed) in the benchmark files given (a run's
  `benchmarks/` folder, or a published `benchmarks.tsv` / `timing.txt`), which must come from
  the same preset;
- training jobs without a measurement (pretrain, ceiling, fine-tuning): estimated now from a
  timed short run of the variant's own `train_step` at its batch size on one thread (after
  warm-up; process CPU time, so other load on the machine does not inflate it; with the config's
  keep_freed_memory, as the job runs; a family that trains in lockstep timed in lockstep, its
  chunk of seeds at once), scaled to its epochs and images, plus its per-epoch evaluation (timed
  the same way) and a measured job start-up;
- probe jobs (transfer, sensitivity) without a measurement: the mean of the measured probes of
  the same rule and family; else the network's own passes, timed on one evaluation batch (over
  the target images, once per input a sensitivity job shows it; a calibrated init also over the
  source images), plus the linear probes' fit: the measured probes' time less their own timed
  passes (CwC-FF's CNN pass is ~150x an MLP's);
- analysis jobs without a measurement: the mean of the measured jobs of the same metric and
  family, else of the metric, scaled by nothing, and said so.

The wall time at --cores N is at least the total over N (the DAG may not keep every core busy).
"""

from __future__ import annotations

import argparse
import functools
import math
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from ffmodels.config import enabled_tables, load_config, settings_for, table_runs, variant_hparams
from ffmodels.errors import ConfigError
from ffmodels.jobs.pretrain import seed_chunks
from ffmodels.names import is_calibrated, is_control

TRAINING = ("pretrain", "ceiling", "finetune")
PROBES = ("transfer", "sensitivity")
# Snakemake's benchmark columns, in its order (a published listing puts the job path first).
BENCHMARK_FIELDS = [
    "s",
    "h:m:s",
    "max_rss",
    "max_vms",
    "max_uss",
    "max_pss",
    "io_in",
    "io_out",
    "mean_load",
    "cpu_time",
]
START_UP_S = 6.0  # a job's Python, torch and data loading before its first step (quick-preset benchmarks)
# A training job continued from its resume file after a stop logs this (ffmodels/train.py); Snakemake's
# benchmark of it then covers its last stretch only. A published benchmarks.tsv keeps the epoch in RESUMED_COLUMN.
RESUMED = re.compile(r"resuming after epoch (\d+)")
RESUMED_COLUMN = "resumed_after_epoch"
REPO = Path(__file__).resolve().parent.parent  # the workflow: Snakefile, config.yaml


def seeds_in(benchmark: str) -> int:
    """How many seeds a job trained, from its benchmark's name: a chunk of seeds in lockstep
    (`seeds0-4.tsv`, `seeds0_2_4.tsv`; ffmodels.jobs.pretrain.chunk_tag) or one (`seed3.tsv`)."""
    name = Path(benchmark).stem
    if not name.startswith("seeds"):
        return 1
    first, dash, last = name[len("seeds") :].partition("-")
    return int(last) - int(first) + 1 if dash else len(name[len("seeds") :].split("_"))


def job_key(benchmark: str) -> tuple[str, str, str | None]:
    """(rule, run, metric) of a job from its benchmark path (`benchmarks/<rule>/<run>/seed<N>.tsv`,
    or `benchmarks/analysis/<metric>/<run>/seed<N>.tsv`), as the workflow's rules name it."""
    parts = benchmark.removeprefix("benchmarks/").removesuffix(".tsv").split("/")
    return (parts[0], parts[2], parts[1]) if parts[0] == "analysis" and len(parts) == 4 else (parts[0], parts[1], None)


def planned_jobs(
    configfiles: list | tuple = (), targets: list | tuple = (), workdir: Path = REPO
) -> list[tuple[str, str, str | None]]:
    """(rule, run, metric) of every job of the workflow's DAG that has a benchmark (training, probe
    and analysis jobs; not data, tables, figures or the ledger), one per seed (a training job of a
    chunk of seeds counts once per seed): Snakemake's own job
    list, from a dry run of every job (--forceall) the targets need (default: everything) under
    the config overlays."""
    return list(_dry_run(tuple(str(Path(c).resolve()) for c in configfiles), tuple(targets), str(workdir)))


@functools.lru_cache(maxsize=None)
def _dry_run(configfiles: tuple[str, ...], targets: tuple[str, ...], workdir: str) -> tuple:
    """planned_jobs' dry run, once per process for the same arguments (a stage plan asks for
    each stage's tables)."""
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--dry-run",
        "--forceall",
        "--nolock",
        "--cores",
        "1",
        "--directory",
        workdir,
        "--snakefile",
        str(REPO / "Snakefile"),
        *(["--configfile", *configfiles] if configfiles else []),
        *(["--", *targets] if targets else []),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir)
    if out.returncode != 0:
        raise ConfigError(f"snakemake --dry-run failed:\n{(out.stderr or out.stdout)[-2000:]}")
    paths = re.findall(r"^\s+benchmark: (\S+)$", out.stdout, flags=re.M)
    return tuple(sorted(job_key(path) for path in paths for _ in range(seeds_in(path))))


def resumed_after(log: Path) -> str:
    """The epoch (as text) after which a training job's last attempt resumed, from its log (each
    attempt rewrites it), or '' for a job that ran in one go or whose log is gone."""
    found = RESUMED.search(log.read_text(errors="replace")) if log.is_file() else None
    return found.group(1) if found else ""


def read_benchmarks(
    paths: list[Path], wall: bool = False, whole: bool = False
) -> dict[tuple[str, str, str | None], list[float]]:
    """{(rule, run, metric): [CPU seconds]} of finished jobs, from benchmark folders (one TSV per
    job, Snakemake's `benchmark:`) or files listing `<job path>.tsv` and that TSV's fields per
    line (the published benchmarks.tsv / timing.txt). CPU time (the last field, `cpu_time`)
    where present: a job's wall time grows with other load on the machine, its CPU time hardly.
    wall: the wall time (`s`) instead, for GPU jobs, whose CPU time is not what they cost.
    whole: only the jobs measured whole, leaving out those resumed after a stop (a benchmark
    folder's job whose log in the run's logs/ says so, a listing's row with RESUMED_COLUMN set)."""
    found: dict[tuple[str, str, str | None], list[float]] = defaultdict(list)

    def cpu_or_wall(header: list[str], values: list[str]) -> tuple[str]:
        row = dict(zip(header, values))
        value = "" if wall else row.get("cpu_time", "")
        return (value if re.fullmatch(r"[\d.]+", value) and float(value) > 0 else row["s"],)

    def add(job: str, seconds: str):
        # a chunk of k seeds counts as k jobs of a k-th of its time each: the tables stay per seed
        k = seeds_in(job)
        found[job_key(job)].extend([float(seconds) / k] * k)

    for path in paths:
        if path.is_dir():
            for tsv in sorted(path.rglob("*.tsv")):
                lines = tsv.read_text().splitlines()
                job = tsv.relative_to(path)
                if len(lines) >= 2 and not (whole and resumed_after(path.parent / "logs" / job.with_suffix(".log"))):
                    add(str(job), *cpu_or_wall(lines[0].split("\t"), lines[1].split("\t")))
            continue
        resumed = None  # the column of RESUMED_COLUMN, from the listing's header
        for line in path.read_text().splitlines():
            fields = line.split("\t")
            if fields[0] == "job" and RESUMED_COLUMN in fields:
                resumed = fields.index(RESUMED_COLUMN)
            if (
                len(fields) > 1
                and fields[0].endswith(".tsv")
                and re.fullmatch(r"[\d.]+", fields[1])
                and not (whole and resumed is not None and fields[resumed])
            ):
                add(fields[0], *cpu_or_wall(BENCHMARK_FIELDS[: len(fields) - 1], fields[1:]))
    return dict(found)


def run_cpu_seconds(paths: list[Path]) -> tuple[float, int]:
    """(CPU seconds, jobs estimated) of a run's finished jobs (read_benchmarks' paths). A job resumed
    after a stop was measured over its last stretch only: it counts at the median of the same job
    kind's runs measured whole (its own stretch, a floor, where none was); jobs estimated: how many
    were so counted."""
    every, whole = read_benchmarks(paths), read_benchmarks(paths, whole=True)
    total, estimated = 0.0, 0
    for key, seconds in every.items():
        measured = whole.get(key, [])
        resumed = len(seconds) - len(measured)
        if resumed and measured:
            total += sum(measured) + resumed * statistics.median(measured)
            estimated += resumed
        else:
            total += sum(seconds)
    return total, estimated


def time_training(
    hp: dict, n_train: int, n_eval: int, steps: int, test_every_epoch: bool, seeds: int = 1, keep_freed: bool = False
) -> dict:
    """Seconds per epoch and seed of a variant's training on one thread: `steps` train_steps at its
    batch size timed in CPU time by the benchmark's timer (tools.bench.time_steps; after two
    untimed), scaled to n_train images, and its evaluation on n_eval images. seeds > 1: the job
    trains that many seeds in lockstep (ffmodels.lockstep), so its step is timed so, per seed: on a
    CPU a full-batch step in lockstep can cost more than the seeds one after another. keep_freed:
    this process keeps the memory it frees, as a job does under config keep_freed_memory."""
    from types import SimpleNamespace

    import torch

    from ffmodels.families import build
    from ffmodels.lockstep import Lockstep
    from ffmodels.runtime import keep_freed_memory
    from tools.bench import time_steps

    if keep_freed:
        keep_freed_memory()
    torch.set_num_threads(1)
    models = []
    for seed in range(seeds):
        torch.manual_seed(seed)
        models.append(build(hp, in_dim=784, n_classes=10))
    model = models[0]
    gen = torch.Generator().manual_seed(0)
    batch = hp["batch_size"]
    x, y = torch.rand(batch, 784, generator=gen), torch.randint(0, 10, (batch,), generator=gen)
    for m in models:
        m.train()
        m.on_epoch_start(1)
    if seeds == 1:
        stepper, batches, gens = model, [(x, y)], gen
    else:  # the chunk under time_steps' interface: one train_step steps every seed
        stepper = SimpleNamespace(train_step=Lockstep(models).step)
        batches = [(x.expand(seeds, -1, -1).contiguous(), y.expand(seeds, -1).contiguous())]
        gens = [torch.Generator().manual_seed(s) for s in range(seeds)]
    time_steps(stepper, batches, gens, 2)  # warm-up
    step_s = time_steps(stepper, batches, gens, steps, clock=time.process_time) / steps / seeds
    model.eval()
    eval_s = 0.0
    if model.has_classifier:
        xe = torch.rand(500, 784, generator=gen)
        start = time.process_time()
        with torch.no_grad():
            model.predict(xe)
        eval_s = (time.process_time() - start) / 500 * n_eval * (3 if test_every_epoch else 1)  # + 10 000 test images
    return {"train_s": math.ceil(n_train / batch) * step_s, "eval_s": eval_s}


def lockstep_seeds(config: dict, hp: dict) -> int:
    """How many seeds a training job of this variant trains in lockstep: its chunk of the
    config's seeds (pretrain.seed_chunk; the largest chunk), 1 for a family that trains alone."""
    from ffmodels.families import FAMILIES

    if not FAMILIES[hp["family"]].lockstep:
        return 1
    return max(len(c) for c in seed_chunks(config["seeds"], config["pretrain"]["seed_chunk"]))


def probe_inputs(uses_label_input: bool, tcfg: dict, settings: dict | None) -> int:
    """How many inputs a probe job passes through its network: one, or for a sensitivity job
    (`settings`) of a model that reads the label from its input, one per label fill its settings
    show it (ffmodels.jobs.sensitivity.probe_features)."""
    from ffmodels.overlay import merge

    if not (settings and uses_label_input):
        return 1
    return len({(c["label_fill"], c["neutral_value"]) for c in (merge(tcfg, o) for o in settings.values())})


def time_feature_pass(
    hp: dict, tcfg: dict, settings: dict | None, n_images: int, batch: int, calibration_images: int = 0
) -> float:
    """CPU seconds a probe job spends in its network on one thread: a pass over n_images per
    input (probe_inputs), plus a calibrated random init's pass over the source images; timed on
    one batch of random images after a warm-up."""
    import torch

    from ffmodels.families import build
    from ffmodels.transfer import extract_layer_features

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build(hp, in_dim=784, n_classes=10)
    x = torch.rand(batch, 784, generator=torch.Generator().manual_seed(0))
    extract_layer_features(model, x[:50], tcfg, 50)
    start = time.process_time()
    extract_layer_features(model, x, tcfg, batch)
    per_image = (time.process_time() - start) / batch
    return per_image * (n_images * probe_inputs(model.uses_label_input, tcfg, settings) + calibration_images)


def family_name(config: dict, run: str) -> str | None:
    """The family of a variant or random init; None for a run this config does not have (a
    benchmark of another configuration)."""
    try:
        return variant_hparams(config, run)["family"]
    except ConfigError:
        return None


def estimate(
    config: dict, jobs: list[tuple[str, str, str | None]], benchmarks: dict, steps: int, log=print
) -> list[dict]:
    """One row per (rule, run, metric) of `jobs` (planned_jobs: the workflow's own job list under
    the same config): jobs, seconds per job, and where the number comes from."""
    count = defaultdict(int)
    for job in jobs:
        count[job] += 1
    n_train = config["pretrain"]["train_subset"] or 60000 - config["data"]["val_size"]
    n_val = config["data"]["val_size"]
    by_rule, by_family = defaultdict(list), defaultdict(list)
    for (rule, run, metric), seconds in benchmarks.items():
        by_rule[(rule, metric)].extend(seconds)
        by_family[(rule, metric, family_name(config, run))].extend(seconds)
    rows, timed = [], {}
    n_probe = (config["transfer"]["train_subset"] or 60000 - n_val) + n_val + 10000  # the target's splits
    passes: dict[tuple[str, str], float] = {}
    runs = table_runs(config)  # which tables read each run: the settings its sensitivity job computes

    def pass_s(rule: str, run: str) -> float:
        if (rule, run) not in passes and is_control(run):
            passes[(rule, run)] = 0.0  # no network: the probe's fit only
        if (rule, run) not in passes:
            settings = settings_for(config, run, runs) if rule == "sensitivity" else None
            passes[(rule, run)] = time_feature_pass(
                variant_hparams(config, run),
                config["transfer"],
                settings,
                n_probe,
                config["pretrain"]["eval_batch_size"],
                n_train if is_calibrated(run) else 0,
            )
        return passes[(rule, run)]

    fit_s: dict[str, list[float]] = {}  # per probe rule, filled on first use

    def probe_fits(rule: str) -> tuple[list[float], str]:
        """Measured probe jobs of this config's runs less their network's pass: the linear probes'
        fit and the job's start-up; a sensitivity job fits one probe per setting."""
        if not fit_s:
            fit_s.update({r: [] for r in PROBES})
            for (r, run, _), seconds in sorted(benchmarks.items()):
                if r in PROBES and family_name(config, run):
                    fit_s[r] += [s - pass_s(r, run) for s in seconds]
        if fit_s[rule] or rule == "transfer":
            return fit_s[rule], f"{len(fit_s[rule])} measured {rule} jobs"
        settings = len(config["sensitivity"])
        whose = f"{settings} x that of {len(fit_s['transfer'])} measured transfer jobs"
        return [settings * f for f in fit_s["transfer"]], whose

    for (rule, run, metric), n in sorted(count.items()):
        measured = benchmarks.get((rule, run, metric))
        if measured:
            rows.append(
                {
                    "rule": rule,
                    "run": run,
                    "metric": metric,
                    "jobs": n,
                    "s_per_job": statistics.mean(measured),
                    "source": f"measured ({len(measured)} job{'s' if len(measured) > 1 else ''})",
                }
            )
            continue
        if rule in TRAINING:
            task = config["data"]["source"] if rule == "pretrain" else config["data"]["target"]
            hp = variant_hparams(config, run, task)
            together = lockstep_seeds(config, hp)
            key = (run, task)
            if key not in timed:
                diag = run in config["pretrain"]["test_every_epoch"]
                timed[key] = time_training(hp, n_train, n_val, steps, diag, together, config["keep_freed_memory"])
                log(
                    f"timed {run} on {task}: {timed[key]['train_s']:.1f} s training + {timed[key]['eval_s']:.1f} s "
                    f"evaluation per epoch and seed" + (f" ({together} seeds in lockstep)" if together > 1 else "")
                )
            per_epoch = timed[key]["train_s"] + timed[key]["eval_s"]
            rows.append(
                {
                    "rule": rule,
                    "run": run,
                    "metric": metric,
                    "jobs": n,
                    "s_per_job": START_UP_S + hp["epochs"] * per_epoch,
                    "source": f"estimated: {steps} timed steps x {hp['epochs']} epochs"
                    + (f", {together} seeds in lockstep" if together > 1 else ""),
                }
            )
            continue
        family = family_name(config, run)
        kin = by_family.get((rule, metric, family))
        like = by_rule.get((rule, metric)) if rule not in PROBES else None
        fits, whose_fits = probe_fits(rule) if rule in PROBES and not kin else ([], "")
        if kin or like:
            # a job costs what its network's forward passes cost: a family's own jobs say it
            # better than the others'
            seconds, whose = (kin, f"{family} ") if kin else (like, "")
            rows.append(
                {
                    "rule": rule,
                    "run": run,
                    "metric": metric,
                    "jobs": n,
                    "s_per_job": statistics.mean(seconds),
                    "source": f"estimated: mean of {len(seconds)} measured {whose}{rule} jobs"
                    + (f" ({metric})" if metric else ""),
                }
            )
        elif fits:
            # a probe is its network's pass over the target images (CwC-FF's CNN ~150x an MLP's)
            # and the linear probes' fit, which depends on the feature width, not the network
            rows.append(
                {
                    "rule": rule,
                    "run": run,
                    "metric": metric,
                    "jobs": n,
                    "s_per_job": pass_s(rule, run) + statistics.mean(fits),
                    "source": f"estimated: its network's timed pass over {n_probe} images "
                    f"+ the probes' fit of {whose_fits}",
                }
            )
        else:
            rows.append(
                {
                    "rule": rule,
                    "run": run,
                    "metric": metric,
                    "jobs": n,
                    "s_per_job": math.nan,
                    "source": "no measurement",
                }
            )
    return rows


def summary(rows: list[dict], cores: int) -> str:
    """Markdown: per rule, jobs, core-hours and how much of it is measured; the total."""
    per_rule = defaultdict(lambda: {"jobs": 0, "s": 0.0, "measured_s": 0.0, "unknown": 0})
    for r in rows:
        cell = per_rule[r["rule"]]
        cell["jobs"] += r["jobs"]
        if math.isnan(r["s_per_job"]):
            cell["unknown"] += r["jobs"]
            continue
        cell["s"] += r["jobs"] * r["s_per_job"]
        if r["source"].startswith("measured"):
            cell["measured_s"] += r["jobs"] * r["s_per_job"]
    lines = ["| rule | jobs | core-hours | measured share |", "|---|---|---|---|"]
    total = measured = 0.0
    for rule, c in sorted(per_rule.items(), key=lambda kv: -kv[1]["s"]):
        share = f"{100 * c['measured_s'] / c['s']:.0f} %" if c["s"] else "–"
        lines.append(
            f"| {rule} | {c['jobs']} | {c['s'] / 3600:.1f} | {share} |"
            + (f" ({c['unknown']} jobs without any measurement)" if c["unknown"] else "")
        )
        total += c["s"]
        measured += c["measured_s"]
    lines.append(
        f"| **all** | {sum(c['jobs'] for c in per_rule.values())} | **{total / 3600:.1f}** | "
        f"{100 * measured / total:.0f} % |"
    )
    lines += ["", f"At --cores {cores}: at least {total / cores / 3600:.1f} h of wall time."]
    return "\n".join(lines) + "\n"


def detail(rows: list[dict]) -> str:
    """Markdown: every job kind's cost and where it comes from (read back by read_estimate)."""
    lines = ["| rule | run | metric | jobs | s per job | source |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {r['rule']} | {r['run']} | {r['metric'] or ''} | {r['jobs']} | {r['s_per_job']:.0f} | {r['source']} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def read_summary(path: Path) -> str:
    """The per-rule summary (summary's markdown) of a cost table written by --out."""
    return path.read_text().split("\n\n", 1)[1].split("\n| rule | run |")[0].rstrip() + "\n"


def read_estimate(path: Path) -> dict[tuple[str, str, str | None], float]:
    """{(rule, run, metric): estimated seconds per job} from a cost table written by --out
    (detail's rows)."""
    rows = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 6 and re.fullmatch(r"[\d.]+|nan", cells[4]) and cells[3].isdigit():
            rows[(cells[0], cells[1], cells[2] or None)] = float(cells[4])
    return rows


def against_benchmarks(estimate: dict, paths: list[Path]) -> str:
    """against_estimate of the jobs measured whole in the benchmark files or folders, naming the
    resumed ones it leaves out."""
    whole, every = read_benchmarks(paths, whole=True), read_benchmarks(paths)
    resumed = defaultdict(int)
    for key, seconds in every.items():
        if key in estimate and not math.isnan(estimate[key]):
            resumed[key[0]] += len(seconds) - len(whole.get(key, []))
    return against_estimate(estimate, whole, {rule: n for rule, n in resumed.items() if n})


def against_estimate(estimate: dict, actual: dict, resumed: dict[str, int] | None = None) -> str:
    """Markdown: per rule, the finished jobs' CPU time against what the cost table said for them;
    resumed: {rule: jobs} left out because they were resumed after a stop (Snakemake's benchmark
    restarts with each attempt, so it holds their last stretch only)."""
    per_rule = defaultdict(lambda: [0, 0.0, 0.0])
    for key, seconds in actual.items():
        if key in estimate and not math.isnan(estimate[key]):
            cell = per_rule[key[0]]
            cell[0] += len(seconds)
            cell[1] += estimate[key] * len(seconds)
            cell[2] += sum(seconds)
    lines = [
        "| rule | finished jobs | estimated core-hours | actual core-hours | actual / estimated |",
        "|---|---|---|---|---|",
    ]
    for rule, (n, est, act) in sorted(per_rule.items(), key=lambda kv: -kv[1][2]):
        lines.append(f"| {rule} | {n} | {est / 3600:.2f} | {act / 3600:.2f} | {act / est:.2f} |")
    if per_rule:
        n, est, act = (sum(c[i] for c in per_rule.values()) for i in range(3))
        lines.append(f"| **all** | {n} | {est / 3600:.2f} | {act / 3600:.2f} | {act / est:.2f} |")
    if resumed:
        n = sum(resumed.values())
        per_rule = ", ".join(f"{rule} {count}" for rule, count in sorted(resumed.items()))
        lines += [
            "",
            f"Left out: {n} job{'s' * (n != 1)} resumed after a stop, whose benchmark holds "
            f"{'their' if n != 1 else 'its'} last stretch only ({per_rule}).",
        ]
    return "\n".join(lines) + "\n"


def stage_costs(
    config: dict, estimate: dict, stages: list[list[str]], finished: dict | None = None, configfiles: list | tuple = ()
) -> list[dict]:
    """Per stage of a run order (each a list of tables; `make full-run` asks Snakemake for one
    stage after the other, then for everything): the jobs its tables need that no earlier stage
    ran and that have not finished (`finished`: {(rule, run, metric): seeds done}), and their
    core-seconds by `estimate` ({(rule, run, metric): s per job}, read_estimate; a job without
    a row counts as unknown). The last stage, `everything`, is every table left. Each stage's jobs
    are Snakemake's (planned_jobs for its tables under `configfiles`, the overlays `config` was
    loaded from)."""
    tables = enabled_tables(config)
    unknown = sorted({t for stage in stages for t in stage} - set(tables))
    if unknown:
        raise ConfigError(f"run order: {unknown} not tables of this config; tables: {sorted(tables)}")
    done, out = set(), []
    for stage in [*stages, [t for t in tables if all(t not in s for s in stages)]]:
        jobs = set(planned_jobs(configfiles, [f"results/tables/{t}.csv" for t in stage]) if stage else []) - done
        done |= jobs
        left = {job: max(len(config["seeds"]) - (finished or {}).get(job, 0), 0) for job in jobs}
        out.append(
            {
                "stage": "+".join(stage) if len(out) < len(stages) else "everything",
                "jobs": sum(left.values()),
                "s": sum(n * estimate[job] for job, n in left.items() if not math.isnan(estimate.get(job, math.nan))),
                "unknown": sum(n for job, n in left.items() if math.isnan(estimate.get(job, math.nan))),
            }
        )
    return out


def stage_summary(stages: list[dict], cores: int) -> str:
    """Markdown: each stage's new jobs and core-hours, and the wall time at which its tables can
    land at --cores N (all earlier stages' core-hours over N: a lower bound)."""
    lines = ["| stage | new jobs | core-hours | lands after (h at --cores %d) |" % cores, "|---|---|---|---|"]
    total = 0.0
    for s in stages:
        total += s["s"]
        unknown = f" ({s['unknown']} jobs without an estimate)" if s["unknown"] else ""
        lines.append(f"| {s['stage']} | {s['jobs']} | {s['s'] / 3600:.1f}{unknown} | {total / cores / 3600:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", nargs="*", default=[], help="overlays on config.yaml, as for snakemake")
    parser.add_argument(
        "--benchmarks",
        nargs="*",
        default=[],
        type=Path,
        help="benchmark folders or files of finished jobs of the same preset",
    )
    parser.add_argument("--steps", type=int, default=20, help="timed training steps per variant")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, help="also write the per-job rows and the summary here (markdown)")
    parser.add_argument(
        "--against",
        type=Path,
        metavar="COST_MD",
        help="instead: the --benchmarks' jobs against the cost table COST_MD written before the run",
    )
    parser.add_argument(
        "--stages",
        metavar="ORDER",
        help="instead: what each stage of this run order adds (tables joined by +, stages by spaces, "
        "as make full-run's FULL_RUN_ORDER), with the costs of --estimate, "
        "or of --benchmarks where measured",
    )
    parser.add_argument(
        "--estimate", type=Path, metavar="COST_MD", help="the cost table --stages reads (written by --out)"
    )
    parser.add_argument(
        "--finished",
        type=Path,
        metavar="BENCHMARKS",
        help="with --stages: the benchmarks/ folder of the run being continued; its finished jobs are not counted",
    )
    args = parser.parse_args(argv)
    if args.stages is not None:
        if not args.estimate:
            parser.error("--stages needs --estimate COST_MD (a cost table written by --out)")
        stages = [stage.split("+") for stage in args.stages.split()]
        folder = [args.finished] if args.finished and args.finished.is_dir() else []
        finished = read_benchmarks(folder)
        # jobs measured since the table was written (--benchmarks, --finished) cost what they took, where measured whole
        measured = {**read_benchmarks(args.benchmarks, whole=True), **read_benchmarks(folder, whole=True)}
        costs = {**read_estimate(args.estimate), **{job: statistics.mean(s) for job, s in measured.items()}}
        try:
            print(
                stage_summary(
                    stage_costs(
                        load_config(*args.configfile),
                        costs,
                        stages,
                        {job: len(s) for job, s in finished.items()},
                        args.configfile,
                    ),
                    args.cores,
                )
            )
        except ConfigError as err:
            raise SystemExit(f"tools.cost: {err}") from None
        return []
    if args.against:
        print(against_benchmarks(read_estimate(args.against), args.benchmarks))
        return []
    config = load_config(*args.configfile)
    rows = estimate(config, planned_jobs(args.configfile), read_benchmarks(args.benchmarks), args.steps)
    text = summary(rows, args.cores)
    print(text)
    if args.out:
        args.out.write_text(f"preset {config['preset']}\n\n{text}\n" + detail(rows))
    return rows


if __name__ == "__main__":
    main()
