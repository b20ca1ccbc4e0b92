"""Figure job: draw one figure (ffmodels.figures) from a table's CSV or an analysis's JSON files."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from ffmodels.figures import PLOTS, save
from ffmodels.jobs.common import read_json


def figure_job(spec: dict, title: str, preset: str, out: str, table_path: str | None = None,
               analysis_paths: list[str] = ()) -> None:
    inputs = {"table": pd.read_csv(table_path) if table_path else None,
              "analysis": [read_json(p) for p in analysis_paths]}
    fig = PLOTS[spec["plot"]](inputs, title, preset, spec)
    save(fig, out)
    plt.close(fig)
