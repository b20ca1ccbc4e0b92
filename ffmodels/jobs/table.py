"""Table job: read the metrics a table needs, summarise them by the table's kind, write CSV and
Markdown."""

from __future__ import annotations

import dataclasses

from ffmodels.jobs.common import read_json
from ffmodels.jobs.spec import JobSpec
from ffmodels.tables import KINDS, write_table

COMMON_NOTES = [
    "p: paired test by seed (Welch's t where no seeds pair; one-sample t against a claimed value where the "
    "reference is a number), Holm-Bonferroni within the table; d: Cohen's d_z of the paired differences "
    "(pooled-sd d for Welch); CI: 95 % t-interval of the mean.",
    "Test split used once per run, for its final number; every selection on the validation split.",
]


@dataclasses.dataclass(frozen=True)
class TableSpec(JobSpec):
    table: str
    definition: dict  # config tables.<table>
    ctx: dict  # preset, stats settings, each variant's random init (workflow table_context)
    code: dict
    inputs: dict  # {stage: [metrics files]} as the table's kind asked for them (runs_of)
    csv: str
    md: str
    log: str
    threads: int = 1


def table_job(spec: TableSpec) -> None:
    records = {stage: [read_json(p) for p in files] for stage, files in spec.inputs.items()}
    table, notes = KINDS[spec.definition["kind"]].build(spec.definition, records, spec.ctx)
    write_table(
        table, spec.table, spec.definition["title"], spec.ctx["preset"], notes + COMMON_NOTES, spec.csv, spec.md
    )
