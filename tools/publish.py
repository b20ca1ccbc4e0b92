"""Publish a run's results and write the results pages from what is published.

    python -m tools.publish run NAME --command "snakemake ..." [--wall "3 h 12 min"] [--note TEXT]
                                    [--machine TEXT]  (wall time by default from the folder's
                                    full-run.log; machine by default this one)
    python -m tools.publish docs          (each published run's page; the README's blocks: python -m tools.readme)
    python -m tools.publish compare FIRST SECOND [--tables | --jobs | --report FILE]   (claims and
                                    conclusions whose verdict differs; --tables: shared table rows,
                                    Welch from their summaries, Holm within each table; --jobs: shared
                                    jobs, seed by seed; --report: all of it as Markdown, with where
                                    each run ran: a replication check of one run by another)

`run` copies what a workflow folder has finished (results/tables: every table and, once the
workflow has built it, the claims ledger; results/figures: the PNGs; benchmarks/: one TSV of
every job's time and memory; every job's result JSON, per seed, in metrics.tar.gz) into
results/published/NAME/ with RUN.md (command, preset, commit, date, machine, wall time), so a
long run can be published as it lands and its numbers stay traceable. It copies, it builds
nothing: the tables, figures and ledger are the workflow's. RUN.md is written here and read
here (run_fields). Tables an earlier run published under NAME that this run has not built yet
stay, each with its run's commit in tables.tsv and RUN.md (a run restarted in a new folder);
folders.tsv keeps each folder's running time, so RUN.md also says what all of them ran. `docs`
writes each published run's page, results/published/<run>/README.md (its RUN.md, the per-epoch
record of any training run published as <name>.metrics.json, its claims ledger first, then its
tables); `python -m tools.readme` writes the README's generated blocks from the same folders.
No number in the pages is typed by hand.
"""

from __future__ import annotations

import argparse
import datetime
import filecmp
import json
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

PUBLISHED = Path("results/published")
# Page order: the answer first, then the headline tables, then the rest in name order.
LEDGER = ("claims_ledger", "conclusions")  # the ledger job's CSVs: not tables
FIRST = ["claims_ledger", "rq1_negative_strategies", "rq2_transfer", "rq_cwc", "rq3_root_cause", "rq4_overview"]


def _commit(folder: Path) -> str:
    out = subprocess.run(["git", "-C", str(folder), "describe", "--always", "--dirty"], capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def _preset(results: Path) -> str:
    """The preset the run's outputs carry: its ledger's, else any table's, else a metrics file's
    (a run that has finished no table yet)."""
    import csv

    for path in [results / "tables" / "claims_ledger.csv", *sorted((results / "tables").glob("*.csv"))]:
        if path.is_file():
            with open(path) as fh:
                row = next(csv.DictReader(fh), None)
            if row and row.get("preset"):
                return row["preset"]
    for path in sorted(results.glob("*/*/*/metrics.json")):
        return json.loads(path.read_text()).get("preset", "unknown")
    return "unknown"


def this_machine(job_kernels: list[str] | None = None) -> str:
    """With the CPU model and the kernels torch picks on it: the full run's folders, each on its own
    machine, agreed to the last digit on some jobs and differed in the second decimal on others, and
    nothing recorded which CPU each ran on. job_kernels: the kernels the run's jobs recorded
    (config cpu_kernels can hold them below what this process picks)."""
    import torch

    kernels = " and ".join(job_kernels) + " (recorded by its jobs)" if job_kernels else None
    return (
        f"{platform.machine()} ({cpu_model()}; torch {torch.__version__}, CPU kernels "
        f"{kernels or torch.backends.cpu.get_cpu_capability()}), {os.cpu_count()} cores, {platform.system()}"
    )


def workflow_results(workdir: Path) -> dict[str, bytes]:
    """{path in the workflow folder: bytes} of every finished job's result JSON (results/<stage>/
    .../*.json: each seed's accuracies, training history and analyses), not the tables, the
    figures, nor the other runs a checkout holds (results/published)."""
    results = workdir / "results"
    return {
        str(p.relative_to(workdir)): p.read_bytes()
        for p in sorted(results.glob("*/**/*.json"))
        if p.relative_to(results).parts[0] not in ("published", "tables", "figures")
    }


def job_kernels(workdir: Path) -> list[str]:
    """The CPU kernels the run's job results record (provenance cpu_kernels; files of commits
    before it record none)."""
    found = set()
    for data in workflow_results(workdir).values():
        try:
            provenance = json.loads(data).get("provenance")
        except (ValueError, AttributeError):  # not a job's result (a list, a broken file)
            continue
        if isinstance(provenance, dict) and provenance.get("cpu_kernels"):
            found.add(provenance["cpu_kernels"])
    return sorted(found)


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")  # Linux; elsewhere platform.processor() says what it can
    for line in cpuinfo.read_text().splitlines() if cpuinfo.exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "CPU model unknown"


def publish_run(
    name: str, workdir: Path, command: str, wall: str | None, note: str | None, machine: str | None = None
) -> Path:
    """machine: where the run ran, when not here (results fetched from a GPU machine, say)."""
    tables, figures = workdir / "results" / "tables", workdir / "results" / "figures"
    out = PUBLISHED / name
    out.mkdir(parents=True, exist_ok=True)
    commit, now = _commit(workdir), f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    preset = _preset(workdir / "results")
    earlier = table_sources(out)
    kept = kept_tables(out, {p.stem for p in tables.glob("*.csv")}, preset, earlier)
    fresh, copied = {}, []
    for src in sorted(tables.glob("*.csv")) + sorted(tables.glob("*.md")) + sorted(figures.glob("*.png")):
        if src.suffix == ".csv" and src.stem not in LEDGER:
            # A table this commit published before, unchanged, keeps the date it was first published.
            same = (
                earlier.get(src.stem, ("",))[0] == commit
                and (out / src.name).is_file()
                and filecmp.cmp(src, out / src.name, shallow=False)
            )
            fresh[src.stem] = earlier[src.stem] if same else (commit, now)
        shutil.copy2(src, out / src.name)
        copied.append(src.name)
    sources = {**kept, **fresh}
    (out / TABLE_SOURCES).write_text(
        "table\tcommit\tpublished\n" + "".join(f"{t}\t{c}\t{p}\n" for t, (c, p) in sorted(sources.items()))
    )
    if "claims_ledger.csv" not in copied:  # an earlier folder's ledger does not speak for these tables
        for stale in ("claims_ledger.csv", "claims_ledger.md", "conclusions.csv"):
            (out / stale).unlink(missing_ok=True)
    n_tables = len(sources)
    n_figures = len(list(out.glob("*.png")))
    measured = None if wall else wall_seconds(workdir)
    folders = record_folder(out, commit, measured[2], measured[0], now) if measured else []
    folder = folder_key(measured[2]) if measured else commit
    n_jobs, n_here = merge_benchmarks(out, workdir, folder)
    n_results = merge_results(out, workdir, folder)
    all_folders = (
        [
            f"- wall time of all its folders: {_hours(sum(float(r['running_s']) for r in folders))} running in "
            f"{len(folders)} workflow folders ({FOLDERS}: a lost machine's folder counted to its last "
            "publication)"
        ]
        if len(folders) > 1
        else []
    )
    ledger = ", the claims ledger" if "claims_ledger.csv" in copied else ""
    earlier_jobs = f"; {n_here} from this folder, the others from earlier folders" if n_here < n_jobs else ""
    lines = [
        f"# Run `{name}`",
        "",
        f"- preset: {preset}",
        f"- command: `{command}`",
        f"- commit: `{commit}`",
        f"- published: {now}",
        f"- machine: {machine or this_machine(job_kernels(workdir))}",
        f"- wall time so far: {wall or _wall_words(measured) or 'not given'}",
        *all_folders,
        f"- contents: {n_tables} table{'s' * (n_tables != 1)}{ledger}, "
        f"{n_figures} figure{'s' * (n_figures != 1)}, {n_jobs} job benchmarks (benchmarks.tsv{earlier_jobs})"
        + (f", {n_results} job result files ({RESULTS}: each job's per-seed metrics)" if n_results else ""),
    ]
    if kept:
        by_run = {}
        for table, source in sorted(kept.items()):
            by_run.setdefault(source, []).append(table)
        lines.append(
            "- tables kept from an earlier run: "
            + "; ".join(f"{', '.join(ts)} (commit `{c}`, published {p})" for (c, p), ts in by_run.items())
            + f", until this run builds its own ({TABLE_SOURCES})"
        )
    if "claims_ledger.csv" not in copied and sources:
        lines.append("- claims ledger: not built yet (the workflow's ledger job builds it once every table is)")
    if n_jobs and (out / "cost-estimate.md").is_file():  # the cost table written before the run
        from tools import cost

        lines += [
            "",
            "Finished jobs' CPU time against the cost table written before the run "
            "(cost-estimate.md; `python -m tools.cost --against`):",
            "",
            cost.against_benchmarks(cost.read_estimate(out / "cost-estimate.md"), [out / "benchmarks.tsv"]).rstrip(),
        ]
    if note:
        lines += ["", note]
    (out / "RUN.md").write_text("\n".join(lines) + "\n")
    return out


def by_folder(earlier: dict[str, tuple], here: dict, folder: str) -> dict[str, tuple]:
    """{job: (what it published, the folder that ran it)} of a run published from several workflow
    folders: a job this folder has finished has this folder's entry; the jobs only earlier folders
    finished (lost machines) keep theirs; an entry this folder published before and no longer has
    is dropped (its job is running again). A file this folder holds with the very bytes an earlier
    folder published was restored from that publication (restore_results), not run here: it keeps
    that folder (a job run again writes its own wall time, so it never has the same bytes)."""
    kept = {job: entry for job, entry in earlier.items() if job not in here and entry[1] != folder}

    def ran(job, value):
        before = earlier.get(job)
        return before[1] if before is not None and before[0] == value and before[1] != folder else folder

    return {**kept, **{job: (value, ran(job, value)) for job, value in here.items()}}


def merge_benchmarks(out: Path, workdir: Path, folder: str) -> tuple[int, int]:
    """Write out/benchmarks.tsv: each job's benchmark fields, the workflow folder that ran it (its
    first start, as in FOLDERS) and, for a training job resumed after a stop, the epoch it resumed
    after (its benchmark holds that last stretch only; tools.cost leaves it out of costs),
    merged over the run's folders (by_folder), so the file says what the whole run took. Returns
    (rows, rows from this folder)."""
    from tools.cost import RESUMED_COLUMN, resumed_after

    here, header = {}, None
    for tsv in sorted((workdir / "benchmarks").rglob("*.tsv")):
        lines = tsv.read_text().splitlines()
        if len(lines) >= 2:
            header, job = lines[0], tsv.relative_to(workdir / "benchmarks")
            here[str(job)] = (lines[1], resumed_after(workdir / "logs" / job.with_suffix(".log")))
    path, earlier = out / "benchmarks.tsv", {}
    if path.is_file():
        lines = path.read_text().splitlines()
        columns = lines[0].split("\t")
        # files published before rows named their folder (unknown), or before they named resumed jobs (not known: '')
        extra = [c for c in ("folder", RESUMED_COLUMN) if c in columns]
        header = header or "\t".join(columns[1 : len(columns) - len(extra)])
        for line in lines[1:]:
            job, *values = line.split("\t")
            tail = dict(zip(extra, values[len(values) - len(extra) :]))
            fields = "\t".join(values[: len(values) - len(extra)])
            earlier[job] = ((fields, tail.get(RESUMED_COLUMN, "")), tail.get("folder", "unknown"))
    rows = by_folder(earlier, here, folder)
    if rows:
        path.write_text(
            f"job\t{header}\tfolder\t{RESUMED_COLUMN}\n"
            + "".join(f"{job}\t{fields}\t{ran}\t{resumed}\n" for job, ((fields, resumed), ran) in sorted(rows.items()))
        )
    else:
        path.unlink(missing_ok=True)
    return len(rows), len(here)


def restore_results(name: str, workdir: Path, pattern: str = "") -> list[str]:
    """Unpack the per-seed result files the run NAME published (RESULTS) into a workflow folder at
    their workflow paths, never over a file the folder has; pattern: only the paths it matches (a
    regular expression). A run restarted on a new machine then builds the tables whose jobs have
    all published from these files, with `snakemake --allowed-rules table figure ledger`, which
    keeps Snakemake from training those jobs again for the models that went with the old machine
    (a table's inputs are result files, not models). Returns the paths written."""
    import tarfile

    written = []
    with tarfile.open(PUBLISHED / name / RESULTS) as tar:
        for member in tar.getmembers():
            path = workdir / member.name
            inside = member.name.startswith("results/") and ".." not in Path(member.name).parts
            if member.isfile() and inside and re.search(pattern, member.name) and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(tar.extractfile(member).read())
                written.append(member.name)
    return written


def missing_results(workdir: Path, tables: list[str], configfiles: list[str]) -> list[str]:
    """The result files the tables read (their figures read the tables or the same files) that the
    workflow folder, run with these --configfile overlays, lacks: after restore_results, the
    Snakemake targets that finish the tables; with none left, the tables build with --allowed-rules
    table figure. A job whose results all published is not run again for these tables."""
    from ffmodels.config import load_config, table_input_files, table_runs

    config = load_config(*(workdir / f for f in configfiles), path=workdir / "config.yaml")
    runs = table_runs(config)
    unknown = [t for t in tables if t not in runs]
    if unknown:
        raise SystemExit(f"not a table this config builds: {', '.join(unknown)} (its tables: {', '.join(runs)})")
    wanted = [f for table in tables for files in table_input_files(config, runs[table]).values() for f in files]
    return [f for f in dict.fromkeys(wanted) if not (workdir / f).exists()]


def result_folder(member) -> str:
    """The workflow folder a published result file (a member of RESULTS) came from."""
    comment = member.pax_headers.get("comment", "")
    if comment.startswith(FOLDER_COMMENT):
        return comment.removeprefix(FOLDER_COMMENT)
    return member.pax_headers.get(OLD_FOLDER_HEADER, "unknown")


def merge_results(out: Path, workdir: Path, folder: str) -> int:
    """Write out/RESULTS: the result JSON of every finished job (results/<stage>/.../*.json: each
    seed's accuracies, training history and analyses, which the tables only summarise), merged over
    the run's folders as the benchmarks are (by_folder; each file names its folder in its pax comment).
    Byte-identical when nothing changed (sorted, no times). Returns the files."""
    import gzip
    import io
    import tarfile

    here = workflow_results(workdir)
    path, earlier = out / RESULTS, {}
    if path.is_file():
        with tarfile.open(path) as tar:
            earlier = {m.name: (tar.extractfile(m).read(), result_folder(m)) for m in tar.getmembers() if m.isfile()}
    files = by_folder(earlier, here, folder)
    if not files:
        path.unlink(missing_ok=True)
        return 0
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, (data, ran) in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.pax_headers = len(data), 0o644, {"comment": FOLDER_COMMENT + ran}
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(buffer.getvalue())
    return len(files)


# A published result file's workflow folder (its first start, as in FOLDERS), in the pax `comment`
# that tar ignores; files published before kept it under a keyword of its own, which GNU tar warns about.
FOLDER_COMMENT, OLD_FOLDER_HEADER = "ffrepro.folder=", "ffrepro.folder"
RESULTS = "metrics.tar.gz"  # in a published folder: every finished job's result JSON, per seed (merge_results)
TABLE_SOURCES = "tables.tsv"  # in a published folder: which run (commit, date) each table came from
FOLDERS = "folders.tsv"  # in a published folder: each workflow folder that ran for it, with its running time
RUN_LOG = "full-run.log"  # in a run folder: `make full-run` writes a line when it starts and when it exits
ACTIVITY = ("logs", "benchmarks", "resume", "results")  # what a running workflow writes to (job logs every epoch)


def wall_time(workdir: Path, now: datetime.datetime | None = None) -> str | None:
    """Wall time of a long run so far, as words, from its RUN_LOG (wall_seconds); None without a log."""
    return _wall_words(wall_seconds(workdir, now))


def _wall_words(measured: tuple[float, int, datetime.datetime, float] | None) -> str | None:
    if measured is None:
        return None
    running, stretches, first, now_s = measured
    return (
        f"{_hours(running)} running in {stretches} stretch{'es' * (stretches != 1)}, "
        f"{_hours(now_s - first.timestamp())} since the first start {first:%Y-%m-%d %H:%M} UTC"
    )


def _hours(seconds: float) -> str:
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


# A run log's line: what happened, then its UTC time, then why, if said (`exited 1 <time>`)
LOG_LINE = re.compile(
    r"(?P<kind>started|exited|stopped|paused|resumed)\b[^:]*?(?P<when>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)"
)


def wall_seconds(
    workdir: Path, now: datetime.datetime | None = None
) -> tuple[float, int, datetime.datetime, float] | None:
    """(seconds running, stretches, first start, now or its exit) of a long run so far, from its RUN_LOG: lines
    `started|exited N|stopped|paused|resumed YYYY-MM-DD HH:MM:SS` (UTC), each may go on with why
    (`stopped 2026-12-06 23:49:20 (to run one table first)`). A stretch with no end line
    was stopped from outside (a killed session, a lost lock); it ended with the run folder's last
    write before the next line (the job logs write every epoch), or, for the last stretch, before
    now. None without a log."""
    log = workdir / RUN_LOG
    if not log.is_file():
        return None
    events = []
    for line in log.read_text().splitlines():
        found = LOG_LINE.match(line)
        if found:
            when = datetime.datetime.strptime(found["when"], "%Y-%m-%d %H:%M:%S")
            events.append((found["kind"], when.replace(tzinfo=datetime.timezone.utc).timestamp()))
    if not events:
        return None
    writes = sorted(f.stat().st_mtime for d in ACTIVITY for f in (workdir / d).rglob("*") if f.is_file())
    now_s = (now or datetime.datetime.now(datetime.timezone.utc)).timestamp()
    running, stretches, since = 0.0, 0, None
    for i, (kind, t) in enumerate(events):
        if kind in ("started", "resumed"):
            if since is not None:  # the previous stretch was never ended: its last write ended it
                running += max([w for w in writes if since <= w <= t], default=since) - since
            since, stretches = t, stretches + (kind == "started")
        elif since is not None:
            running, since = running + t - since, None
    if since is not None:
        running += max([w for w in writes if since <= w <= now_s], default=since) - since
    end = events[-1][1] if events[-1][0] == "exited" else now_s  # a finished run's span ends at its exit
    return running, stretches, datetime.datetime.fromtimestamp(events[0][1], datetime.timezone.utc), end


def folder_key(first_start: datetime.datetime) -> str:
    """How FOLDERS and benchmarks.tsv name a workflow folder: by its first start."""
    return f"{first_start:%Y-%m-%d %H:%M} UTC"


def record_folder(
    out: Path, commit: str, first_start: datetime.datetime, running_s: float, published: str
) -> list[dict]:
    """Add or update this workflow folder's row in out/FOLDERS and return every row: a long run
    restarted in new folders (a lost machine) costs what all of them ran, each counted up to its
    last publication. A folder is known by its first start (RUN_LOG); its commit is the last one
    published from it."""
    import csv

    path, key = out / FOLDERS, folder_key(first_start)
    rows = []
    if path.is_file():
        with open(path) as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
    rows = [r for r in rows if r["first_start"] != key] + [
        {"first_start": key, "commit": commit, "running_s": f"{running_s:.0f}", "published": published}
    ]
    rows.sort(key=lambda r: r["first_start"])
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(
            fh, ["first_start", "commit", "running_s", "published"], delimiter="\t", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
    return rows


def table_sources(out: Path) -> dict[str, tuple[str, str]]:
    """{table: (commit, published)} from a published folder's tables.tsv; empty before its first."""
    import csv

    if not (out / TABLE_SOURCES).is_file():
        return {}
    with open(out / TABLE_SOURCES) as fh:
        return {r["table"]: (r["commit"], r["published"]) for r in csv.DictReader(fh, delimiter="\t")}


def kept_tables(
    out: Path, fresh: set[str], preset: str, sources: dict[str, tuple[str, str]]
) -> dict[str, tuple[str, str]]:
    """The tables an earlier run published in out that this run has not built (yet), each with
    the commit and date of the run that did: e.g. a long run restarted on a new machine, whose
    first folder's tables stay published until the new folder rebuilds them. Tables of another
    preset are not kept silently: that is an error naming them. sources: out's tables.tsv (table_sources)."""
    import csv

    earlier = {p.stem for p in out.glob("*.csv")} - set(LEDGER) - fresh
    if not earlier:
        return {}
    fields = run_fields(out)
    kept = {}
    for table in sorted(earlier):
        with open(out / f"{table}.csv") as fh:
            theirs = next(csv.DictReader(fh), {}).get("preset")
        if theirs != preset and preset != "unknown":  # unknown: this run has finished nothing yet
            raise SystemExit(
                f"{out / table}.csv is of preset {theirs!r}, this run of {preset!r}: publish under "
                f"another name, or remove the earlier run's files from {out} first"
            )
        kept[table] = sources.get(
            table, (fields.get("commit", "unknown").strip("`"), fields.get("published", "unknown"))
        )
    return kept


def run_fields(folder: Path) -> dict[str, str]:
    """The '- key: value' lines of a published run's RUN.md (preset, commit, published, ...), as
    publish_run writes them."""
    path = folder / "RUN.md"
    return dict(re.findall(r"^- ([a-z ]+): (.*)$", path.read_text(), flags=re.M)) if path.is_file() else {}


def _header(folder: Path) -> str:
    for name in ("RUN.md", "section.md"):
        if (folder / name).is_file():
            text = (folder / name).read_text()
            return text if name == "RUN.md" else text.replace("## ", "# ", 1)
    timing = folder / "timing.txt"
    lines = timing.read_text().splitlines()[:6] if timing.is_file() else []
    head = [line.lstrip("# ") for line in lines if line.startswith("#")]
    return f"# `{folder.name}`\n\n" + "".join(f"- {h}\n" for h in head)


def history_table(metrics: dict) -> str:
    """A published training run's per-epoch record (metrics.json "history") as a Markdown table:
    validation and, where recorded, test accuracy after every epoch, and which blocks trained."""
    history = metrics["history"]
    keys = [k for k in ("val_acc", "diagnostic_test_acc") if k in history[0]]
    names = {"val_acc": "validation accuracy (%)", "diagnostic_test_acc": "test accuracy (%, diagnostic)"}
    lines = [
        f"Per-epoch record of `{metrics['variant']}` seed {metrics['seed']} (preset {metrics['preset']}, "
        f"commit `{metrics['provenance'].get('git_commit', '?')}`, {metrics['train_images']} training images, "
        f"{metrics['provenance']['wall_time_s'] / 60:.0f} min): reported (last epoch) validation "
        f"{100 * metrics['val_acc']:.2f} %, test {100 * metrics['test_acc']:.2f} %.",
        "",
    ]
    if "diagnostic_test_acc" in keys:
        best = max(history, key=lambda e: e["diagnostic_test_acc"])
        lines += [
            f"Best test accuracy over epochs (what a test-selected number would report): "
            f"{100 * best['diagnostic_test_acc']:.2f} % at epoch {best['epoch']}, "
            f"{100 * (best['diagnostic_test_acc'] - metrics['test_acc']):+.2f} pp over the reported number.",
            "",
        ]
    extra = ["trained blocks"] if "trained_blocks" in history[0] else []
    lines += [
        "| epoch | " + " | ".join([names[k] for k in keys] + extra) + " |",
        "|---" * (1 + len(keys) + len(extra)) + "|",
    ]
    for e in history:
        cells = [f"{100 * e[k]:.2f}" for k in keys]
        cells += [", ".join(map(str, e["trained_blocks"])) or "none"] if extra else []
        lines.append(f"| {e['epoch']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


PAGE = "README.md"  # in a published folder: its page, written by `docs` (run_page)
REJUDGED = "rejudged.md"  # in a published folder: what tools/rejudge changed


def published_ladders(folders: list[Path], claims: list[dict]) -> dict[str, Path]:
    """{claim id: its gap ladder's CSV} for each claim (claims.yaml `ladder`) whose ladder one of the
    published runs `folders` holds: what the ledger's "explained by" and the README's gaps read.
    Ladder presets that cannot share a run (upstream_cwc sets every job's subsets) publish in folders
    of their own; a ladder found in two of them is refused, as it would say two things."""
    found: dict[str, Path] = {}
    for c in [c for c in claims if "ladder" in c]:
        held = [f / f"{c['ladder']}.csv" for f in folders if (f / f"{c['ladder']}.csv").is_file()]
        if len(held) > 1:
            raise SystemExit(f"gap ladder {c['ladder']} is published twice ({', '.join(map(str, held))}): keep one")
        if held:
            found[c["id"]] = held[0]
    return found


def run_page(folder: Path) -> str:
    """A published run's page: its RUN.md (or, for older folders, its section.md / timing.txt
    header), what tools/rejudge changed, the per-epoch record of each training run published as
    <name>.metrics.json, its conclusions and claims ledger, then its tables."""
    parts = [
        "<!-- written by `python -m tools.publish docs` from this folder; edits here are overwritten -->",
        "",
        _header(folder).rstrip(),
        "",
    ]
    if (folder / REJUDGED).is_file():  # tools/rejudge: today's rules applied to the run's summaries
        parts += [(folder / REJUDGED).read_text().replace("# ", "## ", 1).rstrip(), ""]
    for path in sorted(folder.glob("*.metrics.json")):  # published training runs: their epochs
        parts += [history_table(json.loads(path.read_text())), ""]
    tables = {p.stem: p for p in folder.glob("*.md") if p.name not in ("RUN.md", "section.md", PAGE, REJUDGED)}
    for stem in [s for s in FIRST if s in tables] + sorted(set(tables) - set(FIRST)):
        parts += [tables[stem].read_text().replace("### ", "## ", 1).rstrip(), ""]
    return "\n".join(parts).rstrip() + "\n"


def write_pages(published: Path = PUBLISHED) -> list[Path]:
    """Write every published run's page (run_page) into its folder."""
    pages = []
    for folder in sorted(p for p in published.iterdir() if p.is_dir()):
        (folder / PAGE).write_text(run_page(folder))
        pages.append(folder / PAGE)
    return pages


def verdict_changes(a: Path, b: Path, ledger: str = "claims_ledger") -> list[dict]:
    """The claims (ledger "conclusions": the deck's conclusions) whose verdict differs between two
    published runs (folders under results/published/), with both verdicts and what decided them
    (ours, or the conclusion's reason); one missing from either run is left out."""
    import csv

    def read(folder):
        path = folder / f"{ledger}.csv"
        if not path.is_file():
            return {}
        with open(path) as fh:
            return {r["id"]: r for r in csv.DictReader(fh)}

    detail = "ours" if ledger == "claims_ledger" else "because"
    first, second = read(a), read(b)
    return [
        {
            "id": cid,
            a.name: first[cid]["verdict"],
            f"{a.name} {detail}": first[cid][detail],
            b.name: second[cid]["verdict"],
            f"{b.name} {detail}": second[cid][detail],
        }
        for cid in first
        if cid in second and first[cid]["verdict"] != second[cid]["verdict"]
    ]


def provenance_lines(a: Path, b: Path) -> list[str]:
    """A comparison's title and where each run ran (RUN.md's preset, commit, machine, date)."""
    lines = [f"# `{a.name}` against `{b.name}`", ""]
    for folder in (a, b):
        fields = run_fields(folder)
        where = ", ".join(f"{k} {fields[k]}" for k in ("preset", "commit", "machine", "published") if k in fields)
        lines.append(f"- `{folder.name}`: {where or 'no RUN.md'}")
    return lines


def jobs_summary(results: tuple[dict, dict], names: tuple[str, str], alpha: float) -> tuple[list[dict], str]:
    """`job_changes` of two runs' job results, formatted, and a sentence counting what differs."""
    changes = job_changes(*results, names, alpha)
    summary = (
        f"{sum(c['differs'] for c in changes)} of the {len(changes)} jobs both runs finished differ "
        f"(paired by seed, t-test, Holm, alpha {alpha}); "
        f"{sum(c['same trajectory'] for c in changes)} of {sum(c['seeds'] for c in changes)} seeds ran "
        "the same trajectory bit for bit"
    )
    formatted = [
        {**c, "delta": f"{c['delta']:+.2f}", "p": f"{c['p']:.2g}", "p_holm": f"{c['p_holm']:.2g}"} for c in changes
    ]
    return formatted, summary


def jobs_report(a: Path, b: Path, results: tuple[dict, dict], alpha: float) -> str:
    """Markdown comparison of the jobs two published runs both finished, seed by seed: one commit on
    two machines (the same trajectories or not: the machine's rounding), or two commits on one
    machine (the code's)."""
    changes, summary = jobs_summary(results, (a.name, b.name), alpha)
    lines = provenance_lines(a, b) + ["", f"## Jobs: {summary}", ""]
    if changes:
        lines += ["| " + " | ".join(changes[0]) + " |", "|" + "---|" * len(changes[0])]
        lines += ["| " + " | ".join(str(v) for v in c.values()) + " |" for c in changes]
    return "\n".join(lines) + "\n"


def replication_report(a: Path, b: Path, alpha: float) -> str:
    """Markdown comparison of two published runs (a replication check): where each ran (RUN.md's
    commit, machine and preset), then per table the shared rows that differ (table_changes: Welch
    from the summaries, Holm within the table), then the claims and conclusions whose verdict
    changed. Whether a difference comes from the code or the machine is read from the two
    provenance lines: same commit on two machines, or two commits on one."""
    lines = provenance_lines(a, b)
    pairs = shared_rows(table_rows(a), table_rows(b))
    changes = table_changes(pairs, (a.name, b.name), alpha)
    lines += ["", f"## Table rows: {len(changes)} of the {len(pairs)} rows both runs hold differ", ""]
    lines.append(
        f"A row differs when Welch's t from the two rows' summaries (mean, sd, n) is significant at {alpha} "
        "after Holm over the rows its table shares, or when the row's test against its reference changes its "
        "significance or sign."
    )
    for table in sorted({c["row"].split(" / ")[0] for c in changes}):
        rows = [c for c in changes if c["row"].split(" / ")[0] == table]
        total = sum(1 for label, _, _ in pairs if label.split(" / ")[0] == table)
        lines += [
            "",
            f"### {table}: {len(rows)} of {total} rows",
            "",
            "| row | " + " | ".join(list(rows[0])[1:]) + " |",
        ]
        lines.append("|" + "---|" * len(rows[0]))
        lines += ["| " + " | ".join(str(v) for v in c.values()) + " |" for c in rows]
    for ledger, title in (("claims_ledger", "Claims"), ("conclusions", "Conclusions")):
        found = verdict_changes(a, b, ledger)
        lines += ["", f"## {title} whose verdict changed: {len(found)}", ""]
        if found:
            lines += ["| " + " | ".join(found[0]) + " |", "|" + "---|" * len(found[0])]
            lines += ["| " + " | ".join(str(v).replace("|", "/") for v in c.values()) + " |" for c in found]
    return "\n".join(lines) + "\n"


def published_rows(folder: Path) -> list[dict]:
    """Every row of every table a published run holds (not its ledger)."""
    import csv

    rows = []
    for path in sorted(folder.glob("*.csv")):
        if path.stem not in LEDGER:
            with open(path) as fh:
                rows += list(csv.DictReader(fh))
    return rows


def table_rows(folder: Path) -> dict[tuple[str, ...], dict[str, dict]]:
    """{row's place: {reference: row}} of every table a published run holds (not its ledger). The
    place is the table, variant and metric and, where the table has them, its setting and epoch
    (the ledger's cell keys); rq4_pcl_lambda tests one place against two references, so the
    reference ("" for none) keeps both rows."""
    from ffmodels.ledger import CELL_KEYS

    where = [k for k in CELL_KEYS if k not in ("variant", "metric", "reference")]  # setting, epoch
    rows = {}
    for r in published_rows(folder):
        place = (r["table"], r["variant"], r["metric"], *(f"{k} {r[k]}" for k in where if r.get(k)))
        rows.setdefault(place, {})[r.get("reference") or ""] = r
    return rows


def shared_rows(first: dict, second: dict) -> list[tuple[str, dict, dict]]:
    """(label, row, row) for each table row two runs' `table_rows` both hold: matched by place and
    reference, in table order of epochs (2 before 10). Where a place has no reference in common
    (a table of an older format tested it against another or none), its mean is still compared once."""

    def natural(place):
        return [(0, int(w), "") if w.isdigit() else (1, 0, w) for part in place for w in part.split(" ")]

    pairs = []
    for place in sorted(set(first) & set(second), key=natural):
        xs, ys = first[place], second[place]
        refs = sorted(set(xs) & set(ys))
        if refs:
            matched = [(ref, xs[ref], ys[ref]) for ref in refs]
        else:  # the mean is the same in each of a place's rows, so any one of each side will do
            matched = [("", next(iter(xs.values())), next(iter(ys.values())))]
        pairs += [(" / ".join(place) + (f" vs {ref}" if ref else ""), x, y) for ref, x, y in matched]
    return pairs


def summary_p(x: dict, y: dict) -> float:
    """Two-sided p of Welch's t between two table rows' means, from their summaries (n with the sd,
    or with the 95 % t-interval where a table has no sd); nan where a row lacks them. Two rows
    without spread: 0 when the means differ, else 1."""
    import math

    from scipy.stats import ttest_ind_from_stats

    from ffmodels import stats

    def num(r, key):
        try:
            return float(r.get(key))
        except (TypeError, ValueError):
            return math.nan

    ses = [stats.standard_error(num(r, "n"), num(r, "sd"), num(r, "ci_low"), num(r, "ci_high")) for r in (x, y)]
    if not all(math.isfinite(se) for se in ses):
        return math.nan
    diff = num(x, "mean") - num(y, "mean")
    if ses[0] == ses[1] == 0:
        return 0.0 if diff else 1.0
    n = [int(num(r, "n")) for r in (x, y)]
    sd = [se * math.sqrt(k) for se, k in zip(ses, n)]  # the sd behind each standard error
    return float(ttest_ind_from_stats(num(x, "mean"), sd[0], n[0], num(y, "mean"), sd[1], n[1], equal_var=False).pvalue)


def table_changes(pairs: list[tuple[str, dict, dict]], names: tuple[str, str], alpha: float = 0.05) -> list[dict]:
    """The rows two published runs share (their `shared_rows`, and the runs' names) where they
    disagree: the means differ by Welch's t from the rows' summaries (summary_p), Holm-adjusted
    over the rows each table shares, at alpha ("means differ"); or, for a row whose summary has no
    n (tables of an older format), the 95 % CIs do not overlap ("CIs apart"); or the paired test
    against the same reference differs in significance or in the sign of the difference ("test")."""

    def text(r):
        if not r["mean"]:
            return "undefined"
        delta = (
            f", Δ {float(r['delta_vs_ref']):+.2f} vs {r['reference']} (p_holm {float(r['p_holm']):.2g})"
            if r.get("delta_vs_ref") and r.get("p_holm")
            else ""
        )
        return f"{float(r['mean']):.2f} [{float(r['ci_low']):.2f}, {float(r['ci_high']):.2f}]{delta}"

    def verdict(r):
        return (r.get("significant") == "True", float(r["delta_vs_ref"]) > 0) if r.get("delta_vs_ref") else None

    from ffmodels import stats

    p = [summary_p(x, y) for _, x, y in pairs]
    p_holm = [float("nan")] * len(pairs)
    for table in {x["table"] for _, x, _ in pairs}:  # Holm within each table
        rows = [i for i, (_, x, _) in enumerate(pairs) if x["table"] == table]
        for i, adjusted in zip(rows, stats.holm([p[i] for i in rows])):
            p_holm[i] = adjusted
    out = []
    for (label, x, y), p_row in zip(pairs, p_holm):
        # a row without a value (e.g. a rank correlation over fewer than three models) differs
        # only where the other run has one
        only_one_defined = bool(x["mean"]) != bool(y["mean"])
        both = bool(x["mean"]) and bool(y["mean"])
        tested = p_row == p_row  # not nan
        differ = tested and p_row < alpha
        apart = both and not tested and bool(x["ci_high"]) and bool(y["ci_high"])
        apart = apart and (float(x["ci_high"]) < float(y["ci_low"]) or float(y["ci_high"]) < float(x["ci_low"]))
        test_differs = x.get("reference") == y.get("reference") and verdict(x) != verdict(y)
        if differ or apart or test_differs or only_one_defined:
            reasons = (
                (f"means differ (Welch, Holm in table: p {p_row:.2g})", differ),
                ("CIs apart", apart),
                ("test", test_differs),
                ("defined in one run only", only_one_defined),
            )
            out.append(
                {
                    "row": label,
                    names[0]: text(x),
                    names[1]: text(y),
                    "differs": ", ".join(w for w, c in reasons if c),
                }
            )
    return out


def job_results(folder: Path) -> dict[tuple[str, str], dict[int, dict]]:
    """{(stage, run): {seed: result}} of every training and probe job in a published run's RESULTS
    (the jobs whose result has a `test_acc`)."""
    import tarfile

    found: dict[tuple[str, str], dict[int, dict]] = {}
    if not (folder / RESULTS).is_file():
        return found
    with tarfile.open(folder / RESULTS) as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")  # results/<stage>/<run>/seed<N>/metrics.json
            if len(parts) == 5 and parts[0] == "results" and parts[3].startswith("seed") and parts[4] == "metrics.json":
                result = json.loads(tar.extractfile(member).read())
                if isinstance(result.get("test_acc"), (int, float)):
                    found.setdefault((parts[1], parts[2]), {})[int(parts[3][4:])] = result
    return found


def same_trajectory(a: dict, b: dict) -> bool:
    """Two results of one job and seed with the same test accuracy and, epoch by epoch, the same
    value of every number both histories log (a newer commit may log more): bit for bit the same
    run, as the same code on the same kind of machine gives."""
    ha, hb = a.get("history", []), b.get("history", [])
    return (
        a["test_acc"] == b["test_acc"]
        and len(ha) == len(hb)
        and all(x[k] == y[k] for x, y in zip(ha, hb) for k in x.keys() & y.keys())
    )


def job_changes(first: dict, second: dict, names: tuple[str, str], alpha: float) -> list[dict]:
    """Every job two runs both finished (`job_results`), its seeds paired: both means of the test
    accuracy (%), the mean difference with a paired t-test, Holm-adjusted over the jobs compared,
    whether it differs at alpha, and how many seeds ran the same trajectory bit for bit. Two runs
    of one preset on different machines (CPU and GPU, say) should not differ; the same commit on
    two CPUs whose kernels agree should run the same trajectories."""
    from ffmodels import stats

    def mean_sd(values):
        summary = stats.summarise(values)
        return f"{summary['mean']:.2f} ± {summary['sd']:.2f}"

    rows = []
    for job in sorted(set(first) & set(second)):
        seeds = sorted(set(first[job]) & set(second[job]))
        a, b = [100 * first[job][s]["test_acc"] for s in seeds], [100 * second[job][s]["test_acc"] for s in seeds]
        if seeds:
            test = stats.paired_test(a, b)  # p nan for one pair
            rows.append(
                {
                    "job": "/".join(job),
                    "seeds": len(seeds),
                    names[0]: mean_sd(a),
                    names[1]: mean_sd(b),
                    "delta": test["diff"],
                    "p": test["p"],
                    "same trajectory": sum(same_trajectory(first[job][s], second[job][s]) for s in seeds),
                }
            )
    for row, p_holm in zip(rows, stats.holm([r["p"] for r in rows])):
        row["p_holm"], row["differs"] = p_holm, p_holm < alpha
    return rows


def check_comparable(a: Path, b: Path, tables: bool, jobs: bool = False) -> tuple[dict, dict] | None:
    """Both runs published, with what the comparison reads: a misspelled run would otherwise
    compare as '0 rows differ', and a run published without a ledger as a traceback. With
    `tables`, returns both runs' `table_rows`, read once here for the comparison and its count;
    with `jobs`, their `job_results`."""
    runs = sorted(p.name for p in a.parent.iterdir() if p.is_dir()) if a.parent.is_dir() else []
    for folder in (a, b):
        if not folder.is_dir():
            raise SystemExit(
                f"no published run {folder.name!r} in {folder.parent}: published runs are {', '.join(runs)}"
            )
    if jobs:
        found = job_results(a), job_results(b)
        for folder, accuracies in zip((a, b), found):
            if not accuracies:
                raise SystemExit(f"{folder} has no per-job results ({RESULTS}) to compare")
        return found
    if not tables:
        for folder in (a, b):
            if not (folder / "claims_ledger.csv").is_file():
                raise SystemExit(
                    f"{folder} has no claims ledger (claims_ledger.csv): compare its tables instead (--tables)"
                )
        return None
    rows = table_rows(a), table_rows(b)
    for folder, found in zip((a, b), rows):
        if not found:
            raise SystemExit(f"{folder} holds no table rows to compare")
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    run = sub.add_parser("run", help="copy a workflow folder's finished results into results/published/NAME")
    run.add_argument("name")
    run.add_argument("--workdir", default=".", help="the workflow folder that ran (default: here)")
    run.add_argument("--command", required=True, help="the command that produced the run")
    run.add_argument("--wall", help=f"wall time of the run so far, as words (default: from the folder's {RUN_LOG})")
    run.add_argument("--note", help="a sentence for RUN.md")
    run.add_argument("--machine", help="where the run ran, when not on this machine (default: this one)")
    restore = sub.add_parser(
        "restore", help="unpack a published run's per-seed result files into a workflow folder (a lost machine)"
    )
    restore.add_argument("name")
    restore.add_argument("--workdir", default=".", help="the workflow folder to restore into (default: here)")
    restore.add_argument("--only", default="", help="a regular expression: restore only the paths it matches")
    missing = sub.add_parser(
        "missing", help="the result files some tables read that a workflow folder lacks (Snakemake targets)"
    )
    missing.add_argument("tables", nargs="+")
    missing.add_argument("--workdir", default=".", help="the workflow folder (default: here)")
    missing.add_argument("--configfile", nargs="*", default=[], help="the run's --configfile overlays")
    sub.add_parser("docs", help="write each published run's page, results/published/<run>/README.md")
    compare = sub.add_parser("compare", help="the claims whose verdict differs between two published runs")
    compare.add_argument("first")
    compare.add_argument("second")
    compare.add_argument(
        "--tables", action="store_true", help="compare the shared table rows instead (CIs apart, or the test differs)"
    )
    compare.add_argument(
        "--report",
        metavar="FILE",
        help="write the whole comparison as Markdown (provenance, table rows by table, claims and conclusions; "
        "with --jobs: provenance and the jobs)",
    )
    compare.add_argument(
        "--jobs",
        action="store_true",
        help=f"compare the jobs both finished instead, seed by seed ({RESULTS}: test accuracy, paired t, Holm)",
    )
    args = parser.parse_args(argv)
    if args.what == "compare":
        from ffmodels.config import load_config

        a, b = PUBLISHED / args.first, PUBLISHED / args.second
        rows = check_comparable(a, b, args.tables or (bool(args.report) and not args.jobs), args.jobs)
        alpha = load_config()["stats"]["alpha"]
        if args.report:
            report = jobs_report(a, b, rows, alpha) if args.jobs else replication_report(a, b, alpha)
            Path(args.report).write_text(report)
            print(args.report)
            return
        if args.jobs:
            changes, summary = jobs_summary(rows, (a.name, b.name), alpha)
            print(" | ".join(changes[0]) if changes else "")
        elif rows:
            pairs = shared_rows(*rows)
            changes = table_changes(pairs, (a.name, b.name))
            summary = f"{len(changes)} of the {len(pairs)} table rows both runs have differ"
        else:
            changes = verdict_changes(a, b) + verdict_changes(a, b, "conclusions")
            summary = f"{len(changes)} claims and conclusions differ"
        for c in changes:
            print(" | ".join(str(v) for v in c.values()))
        print(summary)
    elif args.what == "restore":
        written = restore_results(args.name, Path(args.workdir), args.only)
        print(f"{len(written)} result files of {args.name} restored into {args.workdir}")
    elif args.what == "missing":
        print("\n".join(missing_results(Path(args.workdir), args.tables, args.configfile)))
    elif args.what == "run":
        print(publish_run(args.name, Path(args.workdir), args.command, args.wall, args.note, args.machine))
    else:
        for page in write_pages():
            print(page)


if __name__ == "__main__":
    main()
