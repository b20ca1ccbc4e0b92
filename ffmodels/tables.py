"""Result tables: one row per variant, mean ± sd over seeds, 95 % CI, paired tests by seed
against a reference row, Holm-corrected within the table, Cohen's d."""

from __future__ import annotations

import math

import pandas as pd

from ffmodels import stats

TITLES = {
    "rq1_negative_strategies": "RQ1: negative strategies, source (MNIST) test accuracy",
    "rq2_transfer": "RQ2: transfer MNIST → Fashion-MNIST, linear-probe test accuracy on frozen features",
}


def comparison_table(records: pd.DataFrame, rows: list[str], reference_of: dict[str, str | None],
                     method: str, alpha: float) -> pd.DataFrame:
    """records: columns variant, seed, value (%), status. reference_of: row -> reference row
    (None for rows that are themselves references)."""
    out = []
    for row in rows:
        mine = records[records.variant == row].set_index("seed")
        entry = {"variant": row, **stats.summarise(mine.value),
                 "n_collapsed": int((mine.status == "collapsed").sum()), "reference": reference_of[row]}
        ref = reference_of[row]
        if ref is not None:
            theirs = records[records.variant == ref].set_index("seed")
            seeds = mine.index.intersection(theirs.index).sort_values()
            if len(seeds):
                test = stats.paired_test(mine.value[seeds], theirs.value[seeds], method)
                test["test"] = f"paired {method}"
            else:  # runs that share no seeds cannot be paired (PROTOCOL section 8: Welch otherwise)
                test = stats.welch_test(mine.value, theirs.value)
                test.update(test="welch", n_pairs=len(seeds))
            entry.update({"delta_vs_ref": test["diff"], "n_pairs": test["n_pairs"], "p": test["p"],
                          "cohen_d": test["cohen_d"], "test": test["test"]})
        out.append(entry)
    table = pd.DataFrame(out)
    for col in ("delta_vs_ref", "n_pairs", "p", "cohen_d", "test"):
        if col not in table:
            table[col] = math.nan
    table["p_holm"] = stats.holm(table.p)
    table["significant"] = table.p_holm < alpha
    return table


def _fmt(x, digits=2):
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _fmt_p(p):
    if p is None or math.isnan(p):
        return "–"
    return f"{p:.2g}" if p >= 1e-4 else "<1e-4"


def to_markdown(table: pd.DataFrame, title: str, preset: str, notes: list[str]) -> str:
    label = f"**preset: {preset}**" + (" — QUICK numbers (reduced seeds, epochs and data), not the reproduction" if preset == "quick" else "")
    head = ["variant", "n", "mean ± sd (%)", "95 % CI", "Δ vs ref (pp)", "ref", "test", "p (Holm)", "Cohen's d", "collapsed"]
    lines = [f"### {title}", "", label, "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table.itertuples():
        lines.append("| " + " | ".join([
            r.variant, str(r.n), f"{_fmt(r.mean)} ± {_fmt(r.sd)}", f"[{_fmt(r.ci_low)}, {_fmt(r.ci_high)}]",
            _fmt(r.delta_vs_ref), r.reference or "–", r.test if isinstance(r.test, str) else "–", _fmt_p(r.p_holm), _fmt(r.cohen_d), str(r.n_collapsed),
        ]) + " |")
    return "\n".join(lines + [""] + [f"- {n}" for n in notes]) + "\n"
