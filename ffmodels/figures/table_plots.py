"""Plots of a long-format table: bars (one value per variant) and curves (values over epochs).
Means over seeds with their 95 % t-interval, as in the table."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd

from ffmodels.figures import plot
from ffmodels.variants import is_random_init


def _grid(n: int, width: float, height: float = 3.6, cols: int = 3):
    cols = min(cols, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _claim_level(reference) -> float | None:
    """A one-sample claim's value from the reference column ("> 1.0"), else None."""
    if isinstance(reference, str) and reference[:1] in "<>≠":
        return float(reference[1:])
    return None


def _suptitle(fig, title: str, preset: str, table: pd.DataFrame) -> None:
    n = int(table["n"].max()) if len(table) else 0
    fig.suptitle(f"{title}\npreset {preset}; up to n = {n} seeds; error bars / bands: 95 % CI", fontsize=9)


@plot("bars")
def bars(inputs: dict, title: str, preset: str, spec: dict):
    """Per metric a panel, per variant a bar (mean, 95 % CI); random-init rows in grey; a
    dashed line at a tested claim's value; 'collapsed' above runs whose every seed diverged."""
    table = inputs["table"].drop_duplicates(["variant", "metric"])  # a row per (variant, metric)
    metrics = spec.get("metrics") or list(dict.fromkeys(table.metric))
    width = max(3.2, 0.45 * table.variant.nunique() + 1.2)
    fig, axes = _grid(len(metrics), width)
    for ax, name in zip(axes, metrics):
        rows = table[table.metric == name].reset_index(drop=True)
        lo = (rows["mean"] - rows.ci_low).fillna(0).clip(lower=0).to_numpy()
        hi = (rows.ci_high - rows["mean"]).fillna(0).clip(lower=0).to_numpy()
        colours = ["0.7" if is_random_init(v) else "C0" for v in rows.variant]
        ax.bar(range(len(rows)), rows["mean"].to_numpy(), yerr=[lo, hi], color=colours, capsize=3)
        for i, r in rows.iterrows():
            if r.n and r.n_collapsed == r.n:
                ax.annotate("collapsed", (i, 0), rotation=90, ha="center", va="bottom", fontsize=7, color="C3")
        levels = {_claim_level(r) for r in rows.reference} - {None}
        for level in levels:
            ax.axhline(level, ls="--", color="C3", lw=1, label=f"claim level {level:g}")
        if levels:
            ax.legend(fontsize=7)
        ax.set_xticks(range(len(rows)), rows.variant, rotation=45, ha="right", fontsize=7)
        ax.set_title(name, fontsize=9)
    _suptitle(fig, title, preset, table)
    return fig


@plot("curves")
def curves(inputs: dict, title: str, preset: str, spec: dict):
    """Per metric a panel, per variant a line over epochs with its 95 % band. Where epoch 0 is
    present (the untrained network) a dashed line marks its level; where a variant's runs
    collapsed (a last_good_epoch row with that status), a dotted line marks the mean epoch."""
    table = inputs["table"]
    trace = table[table.epoch.notna()]
    metrics = spec.get("metrics") or list(dict.fromkeys(trace.metric))
    fig, axes = _grid(len(metrics), 4.2)
    collapse = table[(table.metric == "last_good_epoch") & table.get("status", pd.Series("", index=table.index))
                     .fillna("").str.startswith("collapsed")]
    for ax, name in zip(axes, metrics):
        for i, (variant, rows) in enumerate(trace[trace.metric == name].groupby("variant", sort=False)):
            rows = rows.sort_values("epoch")
            colour = f"C{i % 10}"
            ax.plot(rows.epoch.to_numpy(), rows["mean"].to_numpy(), marker="o", ms=3, color=colour, label=variant)
            ax.fill_between(rows.epoch.to_numpy(), rows.ci_low.to_numpy(), rows.ci_high.to_numpy(), color=colour,
                            alpha=0.2, lw=0)
            start = rows[rows.epoch == 0]
            if len(start):
                ax.axhline(float(start["mean"].iloc[0]), ls="--", lw=0.8, color=colour)
            for _, c in collapse[collapse.variant == variant].iterrows():
                ax.axvline(float(c["mean"]), ls=":", color=colour, lw=1.2, label=f"{variant}: collapse")
        ax.set_xlabel("epoch", fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.legend(fontsize=6)
    _suptitle(fig, title, preset, trace)
    return fig
