"""Table job: read the metrics a table needs, summarise them by the table's kind, write CSV and
Markdown."""

from __future__ import annotations

from ffmodels.jobs.common import read_json
from ffmodels.tables import KINDS, write_table

COMMON_NOTES = [
    "p: paired test by seed (Welch's t where no seeds pair; one-sample t against a claimed value where the "
    "reference is a number), Holm-Bonferroni within the table; d: Cohen's d_z of the paired differences "
    "(pooled-sd d for Welch); CI: 95 % t-interval of the mean.",
    "Test split used once per run, for its final number; every selection on the validation split.",
]


def table_job(name: str, spec: dict, ctx: dict, paths: dict[str, list[str]], csv_out: str, md_out: str) -> None:
    """paths: {stage: [metrics files]} as the table's kind asked for them (runs_of)."""
    records = {stage: [read_json(p) for p in files] for stage, files in paths.items()}
    table, notes = KINDS[spec["kind"]].build(spec, records, ctx)
    write_table(table, name, spec["title"], ctx["preset"], notes + COMMON_NOTES, csv_out, md_out)
