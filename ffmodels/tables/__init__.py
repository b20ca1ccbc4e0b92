"""Result tables, one format for all: a long table with one row per (variant, metric[, epoch],
reference), mean ± sd over seeds, n, 95 % CI, the test against the reference (paired by seed,
Holm-Bonferroni within the table, Cohen's d) and, where a table derives one, a status.

A table is a config entry `tables.<name>: {kind: ..., ...}`; its kind (a class registered here
with @table_kind, one module per kind, imported automatically) says which runs it reads
(`runs`) and how it summarises them (`build`). The workflow, the figures and the claims ledger
only see the long format.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from pathlib import Path

from ffmodels import stats
from ffmodels.lazy import lazy_import

pd = lazy_import("pandas")

KINDS: dict[str, type] = {}

# Every table has these columns, in this order (extra columns, e.g. epoch or status, follow).
COLUMNS = [
    "preset",
    "table",
    "variant",
    "metric",
    "n",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "n_collapsed",
    "reference",
    "delta_vs_ref",
    "delta_ci_low",
    "delta_ci_high",
    "n_pairs",
    "test",
    "p",
    "p_holm",
    "cohen_d",
    "significant",
]


# Presets whose numbers come from reduced seeds, epochs and data: every table and the ledger say so.
REDUCED_PRESETS = ("quick", "test")


def reduced_banner(preset: str) -> str:
    if preset not in REDUCED_PRESETS:
        return ""
    return f" — {preset.upper()} numbers (reduced seeds, epochs and data), not the reproduction"


def table_kind(name: str):
    def deco(cls):
        cls.kind = name
        KINDS[name] = cls
        return cls

    return deco


def runs_of(spec: dict, variants: dict) -> dict[str, list[str]]:
    """{stage: [run names]} a table reads. variants: {"random_init_of": {variant: its baseline
    run}, "family_of": {variant: its family class}}."""
    return KINDS[spec["kind"]].runs(spec, variants)


def summary_row(values, statuses=()) -> dict:
    return {**stats.summarise(values), "n_collapsed": sum(s == "collapsed" for s in statuses)}


def collapse_note(table: pd.DataFrame, metric: str) -> list[str]:
    """A note naming, in the table's row order, each variant with collapsed runs among its
    `metric` rows (ffmodels.collapse, config stats.collapse): where a sweep starts collapsing."""
    rows = table[(table.metric == metric) & (table.n_collapsed > 0)].drop_duplicates("variant")
    if rows.empty:
        return []
    found = ", ".join(f"{r.variant} {int(r.n_collapsed)}/{int(r.n)}" for r in rows.itertuples())
    return [
        f"collapsed runs (loss non-finite, or validation predictions one class or at chance; config "
        f"stats.collapse): {found}; every other row none."
    ]


# The transfer control's column (config transfer_control): each transfer row's mean minus the
# control's, in pp; descriptive, no test.
CONTROL_COLUMN = "delta_vs_control"
TRANSFER_METRIC = "transfer_acc"


def control_runs(variants: dict) -> list[str]:
    """The transfer control run a table reporting transfer accuracy adds ([] without one)."""
    control = variants.get("transfer_control")
    return [control] if control else []


def control_row(records: pd.DataFrame, control: str) -> dict:
    """The control's row: its transfer accuracy, no reference and no test (outside Holm's family)."""
    mine = records[records.variant == control]
    return {"variant": control, "metric": TRANSFER_METRIC, **summary_row(mine.value, mine.status), "reference": None}


def add_control_delta(table: pd.DataFrame, control: str | None) -> list[str]:
    """Set CONTROL_COLUMN on the transfer-accuracy rows of a table holding the control's row
    (the others NaN); returns the note that explains it ([] without a control). Also for a
    published table to which the control's row was added."""
    if not control:
        return []
    level = table.loc[(table.variant == control) & (table.metric == TRANSFER_METRIC), "mean"]
    level = level.iloc[0] if len(level) else math.nan
    table[CONTROL_COLUMN] = (table["mean"] - level).where(table.metric == TRANSFER_METRIC)
    return [
        f"Δ vs control: each transfer_acc row's mean minus that of {control} (the same probe on the target "
        f"images' raw pixels, no network), pp; descriptive, no test. {control} has no reference and no test, so "
        "it is outside the table's Holm family."
    ]


def paired_or_welch(a: pd.Series, b: pd.Series, method: str) -> dict:
    """a - b: paired by seed (the index) when any seed is shared, else Welch's t (PROTOCOL 8)."""
    seeds = a.index.intersection(b.index).sort_values()
    if len(seeds):
        out = stats.paired_test(a[seeds], b[seeds], method)
        out["test"] = f"paired {method}"
    else:
        out = stats.welch_test(a, b)
        out.update(test="welch", n_pairs=0)
    return {
        "delta_vs_ref": out["diff"],
        "delta_ci_low": out["ci_low"],
        "delta_ci_high": out["ci_high"],
        "n_pairs": out["n_pairs"],
        "p": out["p"],
        "cohen_d": out["cohen_d"],
        "test": out["test"],
    }


def comparison_table(
    records: pd.DataFrame, rows: list[str], reference_of: dict[str, str | None], method: str, alpha: float
) -> pd.DataFrame:
    """records: columns variant, seed, value, status (one metric). reference_of: row -> reference
    row (None for rows that are themselves references)."""
    out = []
    for row in rows:
        mine = records[records.variant == row].set_index("seed")
        entry = {"variant": row, **summary_row(mine.value, mine.status), "reference": reference_of[row]}
        if reference_of[row] is not None:
            theirs = records[records.variant == reference_of[row]].set_index("seed")
            entry.update(paired_or_welch(mine.value, theirs.value, method))
        out.append(entry)
    return finish(pd.DataFrame(out), alpha)


def finish(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Holm-Bonferroni over every test of the table; missing columns filled."""
    for col in COLUMNS:
        if col not in table:
            table[col] = math.nan
    table["p_holm"] = stats.holm(table.p)
    table["significant"] = table.p_holm < alpha
    return table


def write_table(
    table: pd.DataFrame, name: str, title: str, preset: str, notes: list[str], csv_out: str, md_out: str
) -> None:
    table = table.copy()
    table["preset"], table["table"] = preset, name
    table = table[COLUMNS + [c for c in table.columns if c not in COLUMNS]]
    if "epoch" in table:
        table["epoch"] = table["epoch"].astype("Int64")  # 3, not 3.0; empty where a row has none
    Path(csv_out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv_out, index=False)
    Path(md_out).write_text(to_markdown(table, title, preset, notes))


def _fmt(x, digits=2):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, str):
        return x
    return f"{x:.{digits}f}" if abs(x) >= 0.01 or x == 0 else f"{x:.2e}"


def _fmt_delta(r) -> str:
    """Δ and, where it has one, its 95 % CI."""
    if pd.isna(r["delta_ci_low"]):
        return _fmt(r["delta_vs_ref"])
    return f"{_fmt(r['delta_vs_ref'])} [{_fmt(r['delta_ci_low'])}, {_fmt(r['delta_ci_high'])}]"


def _fmt_p(p):
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "–"
    return f"{p:.2g}" if p >= 1e-4 else "<1e-4"


def to_markdown(table: pd.DataFrame, title: str, preset: str, notes: list[str]) -> str:
    quick = reduced_banner(preset)
    optional = [c for c in ("step", "setting", "metric", "epoch") if c in table and table[c].nunique(dropna=True) > 1]
    control = CONTROL_COLUMN in table
    head = (
        [
            "variant",
            *optional,
            "n",
            "mean ± sd",
            "95 % CI",
            "Δ vs ref [95 % CI]",
            "ref",
            "test",
            "p (Holm)",
            "Cohen's d",
            "collapsed",
        ]
        + (["Δ vs control"] if control else [])
        + (["status"] if "status" in table else [])
    )
    lines = [
        f"### {title}",
        "",
        f"**preset: {preset}**{quick}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in table.to_dict("records"):
        cells = (
            [
                r["variant"],
                *("–" if pd.isna(r[c]) else str(r[c]) for c in optional),
                str(r["n"]),
                f"{_fmt(r['mean'])} ± {_fmt(r['sd'])}",
                f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}]",
                _fmt_delta(r),
                r["reference"] if isinstance(r["reference"], str) else "–",
                r["test"] if isinstance(r["test"], str) else "–",
                _fmt_p(r["p_holm"]),
                _fmt(r["cohen_d"]),
                str(r["n_collapsed"]),
            ]
            + ([_fmt(r[CONTROL_COLUMN])] if control else [])
            + ([str(r["status"])] if "status" in table else [])
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + [""] + [f"- {n}" for n in notes]) + "\n"


for _mod in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_mod.name}")
