"""Apply today's table and ledger rules to a run published before them, where its summaries allow
it exactly, and rebuild its ledger and conclusions; say what changed and what could not be done.

    python -m tools.rejudge results/published/full

A published run keeps its tables (one row per variant and metric: mean, sd, n, the test's raw p),
but not always each job's per-seed result. What the rules of docs/protocol.md section 8 need
that the summaries hold:

- Holm families without repeats: rows of a sensitivity setting that leave a model (and its
  random init) exactly as under the protocol (same mean and sd) are dropped, and Holm's
  correction is rerun over the raw p of the rows that stay.
- Collapse by behaviour: the at-chance part of the rule from each source-accuracy row's mean,
  sd and n (ffmodels.collapse.collapsed_from_summary, exact where it decides); a variant found
  collapsed is marked on every row of its model in every table. The one-class part needs
  predictions the summaries do not hold.
- The transfer control: the raw-pixel probe's per-seed results, published beside the tables
  (raw_pixels/seed<N>.metrics.json), become the control row of every transfer table.

- The gap ladders (`--ladders results/published/upstream results/published/upstream-cwc`): the
  ladder tables the published ladder runs hold (docs/protocol.md section 11) join the run's
  tables in its ledger, so each claim whose slides' number has a ladder (claims.yaml `ladder`)
  gets its "explained by". The ladders run in folders of their own (their presets train other
  models), and the study's ledger reads them from there.

    python -m tools.rejudge results/published/full --ladders results/published/upstream

The tables' figures are drawn again by the workflow's figure job, the ledger and conclusions by
the ledger job, each over the rewritten tables. `rejudged.md` records the command, commit, date
and every change, a later re-judging below the earlier; running it again on its own output
changes nothing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
from pathlib import Path

import pandas as pd
import yaml

from ffmodels import collapse, stats
from ffmodels.config import enabled_tables, load_config, table_runs
from ffmodels.figures import figure_specs
from ffmodels.jobs.figure import FigureSpec, figure_job
from ffmodels.jobs.ledger import LedgerSpec, ledger_job
from ffmodels.ledger import EXPLAINED
from ffmodels.names import is_random_init
from ffmodels.variants import random_init_of as random_init_of_variant
from ffmodels.variants import variant_names
from tools.publish import REJUDGED, published_ladders
from ffmodels.tables import COLUMNS, CONTROL_COLUMN, KINDS, add_control_delta, collapse_note, control_row, to_markdown
from ffmodels.tables.compare import accuracy_records, status_of
from ffmodels.tables.sensitivity import PROTOCOL

NOT_A_MODEL = ("ceiling_acc", "scratch_acc")  # rows of another training run than the variant's own model
N_CLASSES = 10  # MNIST, the source task every source_acc row is measured on


def drop_repeats(table: pd.DataFrame, random_init_of: dict, alpha: float) -> tuple[pd.DataFrame, list[str]]:
    """A sensitivity table without the rows a setting leaves unchanged, Holm's correction rerun."""
    key = ["mean", "sd", "n"]
    protocol = table[(table.setting == PROTOCOL) & (table.metric == "transfer_acc")].drop_duplicates("variant")
    base = {r.variant: tuple(getattr(r, k) for k in key) for r in protocol.itertuples()}

    def unchanged(run, setting):
        rows = table[(table.setting == setting) & (table.variant == run) & (table.metric == "transfer_acc")]
        return len(rows) and tuple(rows.iloc[0][k] for k in key) == base.get(run)

    drop = []
    for setting in table.setting.unique():
        if setting == PROTOCOL:
            continue
        here = table[table.setting == setting]
        models = {
            v
            for v in here.variant.unique()
            if not is_random_init(v) and unchanged(v, setting) and unchanged(random_init_of.get(v), setting)
        }
        needed = {random_init_of.get(v) for v in here.variant.unique() if not is_random_init(v) and v not in models}
        inits = {r for r in here.variant.unique() if is_random_init(r) and r not in needed and unchanged(r, setting)}
        drop += list(here.index[here.variant.isin(models | inits)])
    if not drop:
        return table, []
    gone = table.loc[drop]
    kept = table.drop(index=drop).copy()
    kept["p_holm"] = stats.holm(kept.p)
    kept["significant"] = kept.p_holm < alpha
    pairs = sorted({f"{r.variant} under {r.setting}" for r in gone.itertuples() if not is_random_init(r.variant)})
    return kept, [
        f"dropped {len(drop)} rows that repeat the protocol's ({', '.join(pairs)}; their random inits "
        f"too), Holm rerun over the {int(kept.p.notna().sum())} tests that stay"
    ]


def collapsed_variants(tables: dict[str, pd.DataFrame], rule: dict) -> dict[str, int]:
    """{variant: seeds at chance} from every source-accuracy row whose summary decides it."""
    found: dict[str, int] = {}
    for table in tables.values():
        for r in table[table.metric == "source_acc"].drop_duplicates("variant").itertuples():
            k = collapse.collapsed_from_summary(r.mean, r.sd, int(r.n), N_CLASSES, rule)
            if k:
                found[r.variant] = max(found.get(r.variant, 0), k)
    return found


def mark_collapsed(table: pd.DataFrame, found: dict[str, int]) -> list[str]:
    """Set n_collapsed (and the status words) on every row of a collapsed variant's own model."""
    rows = table.variant.isin(list(found)) & ~table.metric.isin(NOT_A_MODEL)
    new = table.loc[rows, "variant"].map(found)
    changed = rows & (table.n_collapsed.fillna(0) < table.variant.map(found).fillna(0))
    if not changed.any():
        return []
    table.loc[rows, "n_collapsed"] = new.combine(table.loc[rows, "n_collapsed"], max)
    if "status" in table:
        tested = table.reference.notna() | (table.n_collapsed > 0)
        table.loc[tested, "status"] = [status_of(r) for r in table[tested].to_dict("records")]
    return [f"marked collapsed: {', '.join(sorted(set(table.loc[changed, 'variant'])))}"]


def add_control(table: pd.DataFrame, control: str, records: pd.DataFrame) -> list[str]:
    if (table.variant == control).any():
        return []
    row = {**control_row(records, control), "preset": table.preset.iloc[0], "table": table.table.iloc[0]}
    table.loc[len(table)] = pd.Series({c: row.get(c) for c in table.columns}, dtype=object)
    return [f"added the control row {control} (n = {int(row['n'])})"]


def notes_of(md: str) -> list[str]:
    """The notes under a published table's Markdown (its '- ' lines after the table)."""
    return [line[2:] for line in md.split("\n\n")[-1].splitlines() if line.startswith("- ")]


def ladder_files(ladders: list[Path], claims: list[dict]) -> dict[str, Path]:
    """{claim id: its ladder's CSV} in the ladder runs `ladders` (publish.published_ladders), refused
    by name where a folder is missing or holds none of the ladders claims.yaml names."""
    named = sorted({c["ladder"] for c in claims if "ladder" in c})
    for folder in ladders:
        if not folder.is_dir():
            raise SystemExit(f"--ladders {folder}: no such folder (a published ladder run: results/published/upstream)")
        if not published_ladders([folder], claims):
            raise SystemExit(f"--ladders {folder}: none of the ladders claims.yaml names is there ({', '.join(named)})")
    return published_ladders(ladders, claims)


def explained_column(ledger_csv: Path) -> dict[str, str]:
    """{claim id: its "explained by"} of a ledger CSV, for the claims that have one."""
    if not ledger_csv.is_file():
        return {}
    ledger = pd.read_csv(ledger_csv, dtype=str)
    if EXPLAINED not in ledger:
        return {}
    return {r.id: getattr(r, EXPLAINED) for r in ledger.itertuples() if isinstance(getattr(r, EXPLAINED), str)}


def rejudge(folder: Path, config: dict, ladders: list[Path] = ()) -> list[str]:
    claims = yaml.safe_load(Path(config["claims"]).read_text())
    ladder_csvs = ladder_files(ladders, claims)
    explained_before = explained_column(folder / "claims_ledger.csv")
    tables_cfg = enabled_tables(config)
    tables = {p.stem: pd.read_csv(p) for p in sorted(folder.glob("*.csv")) if p.stem in tables_cfg}
    random_init_of = {v: random_init_of_variant(config, v) for v in variant_names(config)}
    control = config.get("transfer_control")
    control_files = sorted((folder / control).glob("seed*.metrics.json")) if control else []
    records = accuracy_records([json.loads(p.read_text()) for p in control_files]) if control_files else None
    found = collapsed_variants(tables, config["stats"]["collapse"])
    reads = table_runs(config)  # {table: {stage: runs}}: the tables whose transfer runs hold the control
    log, changed = [], set()
    for name, table in tables.items():
        spec, changes = tables_cfg[name], []
        if spec["kind"] == "sensitivity":
            table, changes = drop_repeats(table, random_init_of, config["stats"]["alpha"])
        changes += mark_collapsed(table, found)
        control_notes = []
        if records is not None and control in reads[name].get("transfer", []):
            changes += add_control(table, control, records)
            if CONTROL_COLUMN not in table or table[CONTROL_COLUMN].isna().all():
                control_notes = add_control_delta(table, control)
        if not changes:
            continue
        md = folder / f"{name}.md"
        notes = [n for n in notes_of(md.read_text()) if not n.startswith(("collapsed runs", "Δ vs control"))]
        notes += collapse_note(table, "source_acc") + control_notes
        table = table[COLUMNS + [c for c in table.columns if c not in COLUMNS]]
        table.to_csv(folder / f"{name}.csv", index=False)
        md.write_text(to_markdown(table, spec.get("title", name), table.preset.iloc[0], notes))
        tables[name] = table
        changed.add(name)
        log += [f"{name}: {c}" for c in changes]
    for fig, definition in figure_specs(config, tables_cfg, KINDS).items():
        sources = [definition["table"], *definition.get("tables", [])]
        if "analysis" in definition or not all((folder / f"{t}.csv").is_file() for t in sources):
            continue
        if changed & set(sources):
            figure_job(
                FigureSpec(
                    figure=fig,
                    definition=definition,
                    preset=config["preset"],
                    code={},
                    title=definition.get("title") or tables_cfg[definition["table"]].get("title", fig),
                    inputs={"tables": [str(folder / f"{t}.csv") for t in sources]},
                    png=str(folder / f"{fig}.png"),
                    log=str(folder / ".rejudge.log"),
                )
            )
    ledger_job(
        LedgerSpec(
            alpha=config["stats"]["alpha"],
            tolerance=config["stats"]["tolerance"],
            preset=config["preset"],
            code={},
            tables=[str(folder / f"{t}.csv") for t in tables] + sorted({str(p) for p in ladder_csvs.values()}),
            claims=config["claims"],
            conclusions=config["conclusions"],
            conclusions_csv=str(folder / "conclusions.csv"),
            csv=str(folder / "claims_ledger.csv"),
            md=str(folder / "claims_ledger.md"),
            rst=str(folder / ".claims_ledger.rst"),
            log=str(folder / ".rejudge.log"),
        )
    )
    for scratch in (".rejudge.log", ".claims_ledger.rst"):
        (folder / scratch).unlink(missing_ok=True)
    explained = explained_column(folder / "claims_ledger.csv")
    log += [
        f"claims_ledger: {cid} explained by ({ladder_csvs[cid]}): {text}"
        for cid, text in explained.items()
        if explained_before.get(cid) != text
    ]
    log += [
        f"claims_ledger: {cid} lost its explained by (its ladder was not given: --ladders)"
        for cid in explained_before
        if cid not in explained
    ]
    return log


def record(folder: Path, log: list[str], command: str) -> None:
    """Write the re-judging's record; a later one goes below the earlier, which stays."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    earlier = (folder / REJUDGED).read_text() if (folder / REJUDGED).is_file() else ""
    lines = [
        f"### Re-judged again, {now}" if earlier else f"# Re-judged `{folder.name}` by today's rules",
        "",
        f"- command: `{command}`",
        f"- commit: `{commit}`",
        f"- date: {now}",
        "- what: the tables' summaries under the rules of docs/protocol.md section 8, then the "
        "ledger and the conclusions rebuilt from them (tools/rejudge.py says what can and cannot be re-derived "
        "from summaries)",
        "",
        "Changes:",
        "",
    ] + [f"- {line}" for line in log]
    (folder / REJUDGED).write_text(earlier + ("\n" if earlier else "") + "\n".join(lines) + "\n")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--configfile", nargs="*", default=[], help="the config overlays of the run's preset")
    parser.add_argument(
        "--ladders", type=Path, nargs="+", default=[], help="published ladder runs whose gap ladders the ledger reads"
    )
    args = parser.parse_args(argv)
    config = load_config(*args.configfile)
    log = rejudge(args.folder, config, args.ladders)
    if log:  # a second run over its own output changes nothing and keeps the earlier records
        words = [args.folder, *(["--configfile", *args.configfile] if args.configfile else [])]
        words += ["--ladders", *args.ladders] if args.ladders else []
        record(args.folder, log, "python -m tools.rejudge " + " ".join(map(str, words)))
    print("\n".join(log) or "nothing to change")


if __name__ == "__main__":
    main()
