"""Figures: matplotlib PNGs drawn from result files, one mechanism for every table and analysis.

A figure is a plot (a function registered here with @plot, one module per group, imported
automatically) applied to its inputs: a long-format table (ffmodels.tables) or the JSON of an
analysis (ffmodels.analysis) over seeds. Every table gets a figure drawn by its kind's default
plot (the kind's `plot` attribute); config `figures` adds more (e.g. the RQ3 weight pictures).
A plot returns a matplotlib Figure; `save` writes it.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no screen on a cluster node

PLOTS: dict[str, object] = {}


def plot(name: str):
    def deco(fn):
        PLOTS[name] = fn
        return fn

    return deco


def figure_specs(config: dict, tables: dict[str, dict], kinds: dict[str, type]) -> dict[str, dict]:
    """{figure name: spec}: one figure per table (named as the table, drawn by its kind's plot),
    then the entries of config `figures` (which may also restyle a table's figure)."""
    specs = {name: {"plot": kinds[spec["kind"]].plot, "table": name} for name, spec in tables.items()}
    for name, spec in (config.get("figures") or {}).items():
        if spec["table"] in tables:  # a figure of a disabled table is not drawn
            specs[name] = spec
    return specs


def save(fig, out: str) -> None:
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")


for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")
