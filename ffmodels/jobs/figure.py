"""Figure job: draw one figure (ffmodels.figures) from a table's CSV or an analysis's JSON files."""

from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import pandas as pd

from ffmodels.figures import PLOTS, save
from ffmodels.jobs.common import read_json
from ffmodels.jobs.spec import JobSpec


@dataclasses.dataclass(frozen=True)
class FigureSpec(JobSpec):
    figure: str
    definition: dict  # the figure's spec (ffmodels.figures.figure_specs)
    title: str
    preset: str
    code: dict
    # {"tables": [the figure's table CSV, then those of the tables it also reads]} or
    # {"analysis": [an analysis's JSON files]}
    inputs: dict
    png: str
    log: str
    threads: int = 1


def figure_job(spec: FigureSpec) -> None:
    tables = spec.inputs.get("tables", [])
    inputs = {
        "table": pd.concat([pd.read_csv(p) for p in tables], ignore_index=True) if tables else None,
        "analysis": [read_json(p) for p in spec.inputs.get("analysis", [])],
    }  # one long table: same columns
    fig = PLOTS[spec.definition["plot"]](inputs, spec.title, spec.preset, spec.definition)
    save(fig, spec.png)
    plt.close(fig)
