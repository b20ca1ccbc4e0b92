"""Ledger job: the slides' claims (claims.yaml) against the result tables (ffmodels.ledger), led by
the deck's conclusions judged from them (conclusions.yaml, ffmodels.conclusions)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import yaml

from ffmodels import conclusions as concl
from ffmodels.jobs.common import get_logger
from ffmodels.jobs.spec import JobSpec
from ffmodels.ledger import to_rst, write_ledger


@dataclasses.dataclass(frozen=True)
class LedgerSpec(JobSpec):
    alpha: float
    tolerance: dict  # config stats.tolerance: {unit: {tolerance, metrics}}, the ledger's tolerance per metric
    preset: str
    code: dict
    tables: list[str]  # the CSVs of the tables this preset builds; a claim on any other is 'not run'
    claims: str  # claims.yaml
    conclusions: str  # conclusions.yaml
    conclusions_csv: str  # their verdicts
    csv: str
    md: str  # the conclusions, then the claims
    rst: str  # the same, as reStructuredText, for the front page of the Snakemake report
    log: str | None = None
    threads: int = 1


def ledger_job(spec: LedgerSpec) -> None:
    log = get_logger(spec.log)
    claims = yaml.safe_load(Path(spec.claims).read_text())
    tables = {Path(p).stem: pd.read_csv(p) for p in spec.tables}
    ledger = write_ledger(tables, claims, spec.alpha, spec.tolerance, spec.preset, spec.csv, spec.md)
    conclusions = concl.judge_all(yaml.safe_load(Path(spec.conclusions).read_text()), claims, ledger, spec.preset)
    conclusions.to_csv(spec.conclusions_csv, index=False)
    Path(spec.md).write_text(concl.to_markdown(conclusions, spec.preset) + "\n" + Path(spec.md).read_text())
    Path(spec.rst).write_text(concl.to_rst(conclusions, spec.preset) + "\n" + to_rst(ledger, spec.preset))
    log.info(conclusions.verdict.value_counts().to_string())
    log.info(ledger.verdict.value_counts().to_string())
