"""Plots of a long-format table: bars (one value per variant) and curves (values over epochs).
Means over seeds with their 95 % t-interval, as in the table."""

from __future__ import annotations

import math

from ffmodels.figures import plot
from ffmodels.lazy import lazy_import
from ffmodels.names import is_control, is_random_init

plt = lazy_import("matplotlib.pyplot")
pd = lazy_import("pandas")


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
    collapse = table[
        (table.metric == "last_good_epoch")
        & table.get("status", pd.Series("", index=table.index)).fillna("").str.startswith("collapsed")
    ]
    for ax, name in zip(axes, metrics):
        for i, (variant, rows) in enumerate(trace[trace.metric == name].groupby("variant", sort=False)):
            rows = rows.sort_values("epoch")
            colour = f"C{i % 10}"
            ax.plot(rows.epoch.to_numpy(), rows["mean"].to_numpy(), marker="o", ms=3, color=colour, label=variant)
            ax.fill_between(
                rows.epoch.to_numpy(), rows.ci_low.to_numpy(), rows.ci_high.to_numpy(), color=colour, alpha=0.2, lw=0
            )
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


def _ci_bar(row) -> list[list[float]]:
    """[[below], [above]] the mean to the 95 % CI bounds, 0 where there is no interval (n = 1)."""
    return [
        [max(row["mean"] - row.ci_low, 0) if pd.notna(row.ci_low) else 0],
        [max(row.ci_high - row["mean"], 0) if pd.notna(row.ci_high) else 0],
    ]


@plot("source_vs_transfer")
def source_vs_transfer(inputs: dict, title: str, preset: str, spec: dict):
    """One point per variant with both a source and a transfer accuracy in the tables read:
    x = source, y = transfer, means with 95 % CI bars; each random init's transfer level as a
    dashed grey line (a model below its line transfers worse than its untrained network), the
    transfer control's (the same probe on raw pixels) as a dotted black line; where a ceiling
    was trained, a cross at the variant's target ceiling."""
    table = inputs["table"].drop_duplicates(["variant", "metric"]).set_index(["variant", "metric"])
    variants = [
        v
        for v in dict.fromkeys(table.index.get_level_values(0))
        if (v, "source_acc") in table.index and (v, "transfer_acc") in table.index
    ]
    fig, ax = plt.subplots(figsize=(8.4, 5.2), layout="constrained")
    for i, v in enumerate(variants):
        src, tr = table.loc[(v, "source_acc")], table.loc[(v, "transfer_acc")]
        colour, marker = f"C{i % 10}", "osD^v"[i // 10 % 5]  # distinct beyond ten variants
        ax.errorbar(
            [src["mean"]],
            [tr["mean"]],
            xerr=_ci_bar(src),
            yerr=_ci_bar(tr),
            fmt=marker,
            ms=5,
            capsize=3,
            color=colour,
            label=v,
        )
        if (v, "ceiling_acc") in table.index:
            ax.plot([src["mean"]], [table.loc[(v, "ceiling_acc")]["mean"]], "x", ms=8, color=colour)
    inits = [
        v
        for v in dict.fromkeys(table.index.get_level_values(0))
        if is_random_init(v) and (v, "transfer_acc") in table.index
    ]
    ax.set_xlim(0, 100)  # accuracies; a wide CI of few seeds runs off the panel
    ax.set_ylim(0, 100)
    for j, v in enumerate(inits):  # levels lie within a point or two: named in the legend, not on the lines
        level = table.loc[(v, "transfer_acc")]["mean"]
        ax.axhline(level, ls=(0, (4 + 2 * j, 2)), lw=0.8, color="0.5", label=f"{v}: {level:.1f}")
    for v in dict.fromkeys(table.index.get_level_values(0)):
        if is_control(v) and (v, "transfer_acc") in table.index:
            level = table.loc[(v, "transfer_acc")]["mean"]
            ax.axhline(level, ls=":", lw=1.0, color="k", label=f"{v} (control): {level:.1f}")
    ax.set_xlabel("source (MNIST) test accuracy, %", fontsize=8)
    ax.set_ylabel("transfer (Fashion-MNIST probe) test accuracy, %; x: target ceiling", fontsize=8)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the axes: no point hidden
    _suptitle(fig, title, preset, table.reset_index())
    return fig


@plot("sensitivity")
def sensitivity(inputs: dict, title: str, preset: str, spec: dict):
    """Per model a panel: its gap to its random init (transfer minus random init, %) under each
    setting of the protocol, mean with 95 % CI, the protocol's bar in grey; random inits' own
    transfer accuracy per setting in a last panel."""
    table = inputs["table"]
    gaps = table[(table.metric == "transfer_acc") & table.reference.notna()]
    inits = table[(table.metric == "transfer_acc") & table.variant.map(is_random_init)]
    models = list(dict.fromkeys(gaps.variant))
    settings = list(dict.fromkeys(table.setting))
    fig, axes = _grid(len(models) + 1, max(3.4, 0.5 * len(settings) + 1.2))
    for ax, model in zip(axes, models):
        rows = gaps[gaps.variant == model].set_index("setting").reindex(settings)
        err = [
            (rows.delta_vs_ref - rows.delta_ci_low).clip(lower=0).fillna(0).to_numpy(),
            (rows.delta_ci_high - rows.delta_vs_ref).clip(lower=0).fillna(0).to_numpy(),
        ]
        colours = ["0.6" if s == settings[0] else "C0" for s in settings]
        ax.bar(range(len(settings)), rows.delta_vs_ref.to_numpy(), yerr=err, color=colours, capsize=3)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(range(len(settings)), settings, rotation=45, ha="right", fontsize=7)
        ax.set_title(f"{model} − {rows.reference.dropna().iloc[0]} (pp)", fontsize=9)
    ax = axes[-1]
    for i, (init, rows) in enumerate(inits.groupby("variant", sort=False)):
        rows = rows.set_index("setting").reindex(settings)
        ax.plot(range(len(settings)), rows["mean"].to_numpy(), marker="o", color=f"C{i}", label=init)
    ax.set_xticks(range(len(settings)), settings, rotation=45, ha="right", fontsize=7)
    ax.set_title("random-init transfer accuracy (%)", fontsize=9)
    ax.legend(fontsize=6)
    _suptitle(fig, title, preset, table)
    return fig


@plot("waterfall")
def waterfall(inputs: dict, title: str, preset: str, spec: dict):
    """A gap ladder (ffmodels.tables.ladder): our protocol's bar, then each step as a floating bar
    from the rung above to this rung (green up, red down; hatched where the step is within noise)
    with the rung's 95 % CI, and the slides' number as a dashed line."""
    table = inputs["table"].sort_values("rung")
    rungs, slides = table[table.variant != "slides"], table[table.variant == "slides"].iloc[0]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.55 * len(rungs) + 1.5), 4.2), layout="constrained")
    means = rungs["mean"].to_numpy()
    for i, r in enumerate(rungs.itertuples()):
        low = means[i - 1] if i else 0.0
        colour = "0.6" if i == 0 else ("C2" if r.mean >= low else "C3")
        ax.bar(i, r.mean - low, bottom=low, color=colour, hatch="//" if r.status == "within noise" else None)
        ax.errorbar(i, r.mean, yerr=[[max(r.mean - r.ci_low, 0)], [max(r.ci_high - r.mean, 0)]], fmt="_k", capsize=3)
    ax.axhline(slides["mean"], ls="--", color="C3", lw=1, label=slides["step"])
    ax.set_xticks(range(len(rungs)), rungs.step, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel(f"{rungs.metric.iloc[0]} (%)", fontsize=8)
    ax.set_ylim(bottom=max(0.0, min(means.min(), slides["mean"]) - 10))
    ax.legend(fontsize=7)
    _suptitle(fig, title, preset, rungs)
    return fig
