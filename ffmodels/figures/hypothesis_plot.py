"""The root-cause hypothesis test's figure (table kind hypothesis): per quantity a panel, per model
a point, the quantity's mean over seeds against the model's mean transfer accuracy, with the
table's rank correlations (over all models and within the FF variants) in the panel title."""

from __future__ import annotations

from ffmodels.figures import plot
from ffmodels.figures.table_plots import _grid
from ffmodels.lazy import lazy_import
from ffmodels.names import is_random_init
from ffmodels.tables import TRANSFER_METRIC
from ffmodels.tables.hypothesis import QUANTITIES, RHO_PREFIX, SCOPES

pd = lazy_import("pandas")


def _rho_text(rows: pd.DataFrame, scope: str) -> str:
    row = rows[rows.variant == scope]
    if row.empty or pd.isna(row["mean"].iloc[0]):
        return f"{scope}: –"
    r = row.iloc[0]
    return f"{scope} ρ {r['mean']:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}], n {int(r.n)}"


def _err(rows: pd.DataFrame) -> list:
    """Error bar lengths below and above the mean: its 95 % t-interval (0 where there is none)."""
    low = (rows["mean"] - rows.ci_low).fillna(0).clip(lower=0)
    return [low, (rows.ci_high - rows["mean"]).fillna(0).clip(lower=0)]


@plot("hypothesis")
def hypothesis(inputs: dict, title: str, preset: str, spec: dict):
    """A point per model (grey: random inits), x: the quantity's mean over seeds with its 95 %
    t-interval, y: transfer accuracy likewise; the rank correlations in each panel's title."""
    table = inputs["table"]
    correlations = table[table.variant.isin(list(SCOPES))]
    quantities = spec.get("metrics") or [m[len(RHO_PREFIX) :] for m in dict.fromkeys(correlations.metric)]
    per_model = table[~table.variant.isin(list(SCOPES))]
    transfer = per_model[per_model.metric == TRANSFER_METRIC].set_index("variant")
    fig, axes = _grid(len(quantities), 4.2, height=3.8)
    for ax, name in zip(axes, quantities):
        rows = per_model[per_model.metric == name].set_index("variant")
        rows = rows[rows.index.isin(transfer.index)]
        y = transfer.loc[rows.index]
        colours = ["0.6" if is_random_init(v) else "C0" for v in rows.index]
        ax.errorbar(rows["mean"], y["mean"], xerr=_err(rows), yerr=_err(y), fmt="none", ecolor="0.8", lw=0.8)
        ax.scatter(rows["mean"], y["mean"], c=colours, s=18, zorder=3)
        for v, xv, yv in zip(rows.index, rows["mean"], y["mean"]):
            ax.annotate(v, (xv, yv), fontsize=5, xytext=(2, 2), textcoords="offset points")
        mine = correlations[correlations.metric == RHO_PREFIX + name]
        ax.set_title(f"{QUANTITIES[name].words}\n" + "\n".join(_rho_text(mine, s) for s in SCOPES), fontsize=7)
        ax.set_xlabel(name, fontsize=7)
        ax.set_ylabel("transfer accuracy (%)", fontsize=7)
        ax.tick_params(labelsize=6)
    n = int(transfer.n.max()) if len(transfer) else 0
    fig.suptitle(
        f"{title}\npreset {preset}; a point per model (grey: random inits), up to n = {n} seeds each; "
        "bars: 95 % t-interval; ρ: Spearman over models, [seed-bootstrap 95 % CI]",
        fontsize=8,
    )
    return fig
