"""Figure job: draw one figure (ffmodels.figures) from a table's CSV or an analysis's JSON files."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ffmodels.figures import PLOTS, save
from ffmodels.jobs.common import read_json


def figure_job(spec: dict, title: str, preset: str, out: str, table_paths: list[str] = (),
               analysis_paths: list[str] = ()) -> None:
    """table_paths: the figure's table CSV, then those of the tables it also reads, as one
    long table (every table has the same columns)."""
    inputs = {"table": pd.concat([pd.read_csv(p) for p in table_paths], ignore_index=True) if table_paths else None,
              "analysis": [read_json(p) for p in analysis_paths]}
    fig = PLOTS[spec["plot"]](inputs, title, preset, spec)
    save(fig, out)
    plt.close(fig)
