"""Ledger job: the slides' claims (claims.yaml) against the result tables (ffmodels.ledger)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from ffmodels.jobs.common import get_logger
from ffmodels.ledger import build_ledger, to_markdown, to_rst


def ledger_job(claims_path: str, table_paths: list[str], alpha: float, preset: str, csv_out: str, md_out: str,
               rst_out: str, log_path: str | None = None) -> None:
    """table_paths: the CSVs of the tables this preset builds; a claim on any other is 'not run'.
    rst_out: the ledger as reStructuredText, for the front page of the Snakemake report."""
    log = get_logger(log_path)
    claims = yaml.safe_load(Path(claims_path).read_text())
    tables = {Path(p).stem: pd.read_csv(p) for p in table_paths}
    ledger = build_ledger(tables, claims, alpha)
    ledger.insert(0, "preset", preset)
    Path(csv_out).parent.mkdir(parents=True, exist_ok=True)
    ledger.to_csv(csv_out, index=False)
    Path(md_out).write_text(to_markdown(ledger, preset))
    Path(rst_out).write_text(to_rst(ledger, preset))
    log.info(ledger.verdict.value_counts().to_string())
