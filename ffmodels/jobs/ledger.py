"""Ledger job: the slides' claims (claims.yaml) against the result tables (ffmodels.ledger)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import yaml

from ffmodels.jobs.common import get_logger
from ffmodels.jobs.spec import JobSpec
from ffmodels.ledger import write_ledger


@dataclasses.dataclass(frozen=True)
class LedgerSpec(JobSpec):
    alpha: float
    tolerance: dict  # config stats.tolerance: {unit: {tolerance, metrics}}, the ledger's tolerance per metric
    preset: str
    code: dict
    tables: list[str]  # the CSVs of the tables this preset builds; a claim on any other is 'not run'
    claims: str  # claims.yaml
    csv: str
    md: str
    rst: str  # the ledger as reStructuredText, for the front page of the Snakemake report
    log: str | None = None
    threads: int = 1


def ledger_job(spec: LedgerSpec) -> None:
    log = get_logger(spec.log)
    claims = yaml.safe_load(Path(spec.claims).read_text())
    tables = {Path(p).stem: pd.read_csv(p) for p in spec.tables}
    ledger = write_ledger(tables, claims, spec.alpha, spec.tolerance, spec.preset, spec.csv, spec.md, spec.rst)
    log.info(ledger.verdict.value_counts().to_string())
