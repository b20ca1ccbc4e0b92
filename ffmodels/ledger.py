"""The claims ledger (PROTOCOL section 8): every numeric or directional claim of the slides, the
pipeline's value from the table cell that answers it, and a verdict by a declared rule.

Claims are data (claims.yaml): each names its table cell (table, variant, metric and, where a
table has them, reference, setting, epoch) and a rule. A claim is added without code. Rules:

- level       a plain level ("94.5 % on MNIST"): `reproduced` when the claimed value lies inside
              our 95 % CI of the mean, else `not reproduced`, with our value higher or lower by
              how much.
- direction   a directional claim on a tested row ("FF < random init", "10x variance" as > 1):
              the row's Holm-corrected test decides. Significant in the claimed direction:
              `reproduced`, or `direction only` when a claimed `value` lies outside our CI of
              the mean; not significant: `not reproduced`; significant the other way:
              `contradicted`.
- difference  as direction, for a claimed difference to the row's reference ("4.7 pp gap to
              BP"): the sign of `value` is the direction, and the magnitude is checked against
              the 95 % CI of the difference.
- ordering    the claimed order of `variants` by mean (highest first): `reproduced` when our
              means are in that order, else `not reproduced` with our order.
- none_improve  "variants X don't help": the rows of a table (metric, reference) tested against
              the reference; none significantly above it: `reproduced`; any: `contradicted`.
- status      a claimed status of a row (e.g. "collapsed"): `reproduced` when ours is it.

A claim whose table is not built, or whose cell is not in it, is `not run`.
"""

from __future__ import annotations

import math

import pandas as pd

from ffmodels.tables import reduced_banner

VERDICTS = ("reproduced", "direction only", "not reproduced", "contradicted", "not run")
CELL_KEYS = ("variant", "metric", "reference", "setting", "epoch")

LEDGER_COLUMNS = ["id", "slide", "claim", "slide_value", "ours", "n", "test", "rule", "verdict", "detail",
                  "table", "variant", "metric", "protocol_note"]


class ClaimError(ValueError):
    """A claim that names no single table cell, or an unknown rule."""


def _num(x, digits=2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def find_cell(tables: dict[str, pd.DataFrame], cell: dict, claim_id: str) -> pd.Series | None:
    """The one row of cell["table"] that matches the cell's keys (epoch: last = the highest
    epoch); None when the table is not built or has no such row."""
    table = tables.get(cell["table"])
    if table is None:
        return None
    rows = table
    for key in CELL_KEYS:
        if key not in cell:
            continue
        if key not in rows:
            raise ClaimError(f"claims: '{claim_id}': table {cell['table']} has no column '{key}'")
        if key == "epoch" and cell[key] == "last":
            rows = rows[rows.epoch == rows.epoch.max()]
        else:
            rows = rows[rows[key].astype(str) == str(cell[key])]
    if len(rows) > 1:
        raise ClaimError(f"claims: '{claim_id}' matches {len(rows)} rows of {cell['table']}; "
                         f"add one of {[k for k in CELL_KEYS if k not in cell]} to its cell")
    return rows.iloc[0] if len(rows) else None


def _level(row, claim, alpha):
    value = claim["value"]
    if row.ci_low <= value <= row.ci_high:
        return "reproduced", f"{value:g} inside our 95 % CI"
    word = "higher" if row["mean"] > value else "lower"
    return "not reproduced", f"ours {word} by {abs(row['mean'] - value):.2f}"


def _effect(row, claim, alpha, magnitude: str):
    """direction / difference: significance and sign from the row's test; magnitude checked
    against the CI of the mean (direction) or of the difference (difference)."""
    claimed_sign = 1 if claim.get("direction", "greater" if claim.get("value", 0) >= 0 else "less") == "greater" else -1
    p, delta = row.p_holm, row.delta_vs_ref
    if math.isnan(p):
        return "not reproduced", "no test (too few seeds)"
    if p >= alpha:
        return "not reproduced", f"not significant (p_holm = {p:.2g})"
    if (delta > 0) != (claimed_sign > 0):
        return "contradicted", f"significant the other way (Δ = {delta:.2f}, p_holm = {p:.2g})"
    if "value" not in claim:
        return "reproduced", f"significant in the claimed direction (p_holm = {p:.2g})"
    lo, hi = (row.ci_low, row.ci_high) if magnitude == "mean" else (row.delta_ci_low, row.delta_ci_high)
    if lo <= claim["value"] <= hi:
        return "reproduced", f"significant, and {claim['value']:g} inside our 95 % CI"
    return "direction only", f"significant, but {claim['value']:g} outside our 95 % CI [{_num(lo)}, {_num(hi)}]"


def _status(row, claim, alpha):
    ours = str(row.get("status", ""))
    if ours.startswith(claim["value"]):
        return "reproduced", f"status {ours}"
    return "not reproduced", f"status {ours or 'ok'}"


def _ours(row, rule) -> tuple[str, int | None, str]:
    """(value text, n, test text) of a row: the mean and its CI; for a tested difference to
    another row, the difference and its CI; for a status claim, the status."""
    ours = f"{_num(row['mean'])} [{_num(row.ci_low)}, {_num(row.ci_high)}]"
    if rule in ("direction", "difference") and not pd.isna(row.get("delta_ci_low")):
        ours = f"Δ {_num(row.delta_vs_ref)} [{_num(row.delta_ci_low)}, {_num(row.delta_ci_high)}] vs {row.reference}"
    if rule == "status":
        ours = str(row.get("status") or "ok")
    test = "–"
    if isinstance(row.get("test"), str) and rule in ("direction", "difference"):
        test = f"{row.test} vs {row.reference}, p_holm = {row.p_holm:.2g}"
    return ours, int(row.n), test


def _ordering(tables, claim, alpha):
    rows = [find_cell(tables, {**claim["cell"], "variant": v}, claim["id"]) for v in claim["variants"]]
    if any(r is None for r in rows):
        return None
    ours = sorted(claim["variants"], key=lambda v: -rows[claim["variants"].index(v)]["mean"])
    text = " > ".join(f"{v} {_num(r['mean'])}" for v, r in zip(claim["variants"], rows))
    n = min(int(r.n) for r in rows)
    if ours == list(claim["variants"]):
        return text, n, "order of means", "reproduced", "our means are in the claimed order"
    return text, n, "order of means", "not reproduced", "our order: " + " > ".join(ours)


def _none_improve(tables, claim, alpha):
    table = tables.get(claim["cell"]["table"])
    if table is None:
        return None
    rows = table[(table.metric == claim["cell"]["metric"]) & (table.reference == claim["cell"]["reference"])]
    if not len(rows):
        return None
    better = rows[rows.significant.astype(bool) & (rows.delta_vs_ref > 0)]
    worse = rows[rows.significant.astype(bool) & (rows.delta_vs_ref < 0)]
    text = ", ".join(f"{r.variant} {_num(r.delta_vs_ref)}" for r in rows.itertuples())
    n = int(rows.n.min())
    detail = f"{len(better)} of {len(rows)} significantly better, {len(worse)} significantly worse"
    test = f"each vs {claim['cell']['reference']}, Holm"
    if len(better):
        return text, n, test, "contradicted", detail + ": " + ", ".join(better.variant)
    return text, n, test, "reproduced", detail


ROW_RULES = {"level": _level, "direction": lambda r, c, a: _effect(r, c, a, "mean"),
             "difference": lambda r, c, a: _effect(r, c, a, "delta"), "status": _status}
TABLE_RULES = {"ordering": _ordering, "none_improve": _none_improve}


def check_claims(claims: list[dict]) -> None:
    """Raise ClaimError naming the first malformed claim."""
    seen = set()
    for claim in claims:
        cid = claim.get("id", "?")
        for key in ("id", "slide", "claim", "slide_value", "rule", "cell"):
            if key not in claim:
                raise ClaimError(f"claims: '{cid}' lacks '{key}'")
        if claim["rule"] not in ROW_RULES and claim["rule"] not in TABLE_RULES:
            raise ClaimError(f"claims: '{cid}': unknown rule '{claim['rule']}'; known: {sorted({**ROW_RULES, **TABLE_RULES})}")
        if claim["rule"] in ("level", "difference", "status") and "value" not in claim:
            raise ClaimError(f"claims: '{cid}': rule {claim['rule']} needs a 'value'")
        if cid in seen:
            raise ClaimError(f"claims: duplicate id '{cid}'")
        seen.add(cid)


def verdict(tables: dict[str, pd.DataFrame], claim: dict, alpha: float) -> dict:
    """One ledger row for one claim."""
    entry = {k: claim.get(k) for k in ("id", "slide", "claim", "slide_value", "rule")}
    entry.update(table=claim["cell"]["table"], variant=claim["cell"].get("variant", ""),
                 metric=claim["cell"].get("metric", ""), protocol_note="")
    not_run = {"ours": "–", "n": None, "test": "–", "verdict": "not run",
               "detail": f"table {claim['cell']['table']} not built, or this row not in it"}
    if claim["rule"] in TABLE_RULES:
        got = TABLE_RULES[claim["rule"]](tables, claim, alpha)
        if got is None:
            return {**entry, **not_run}
        ours, n, test, word, detail = got
        return {**entry, "ours": ours, "n": n, "test": test, "verdict": word, "detail": detail}
    row = find_cell(tables, claim["cell"], claim["id"])
    if row is None:
        return {**entry, **not_run}
    ours, n, test = _ours(row, claim["rule"])
    word, detail = ROW_RULES[claim["rule"]](row, claim, alpha)
    if "protocol_check" in claim:
        entry["protocol_note"] = protocol_note(tables, claim)
    return {**entry, "ours": ours, "n": n, "test": test, "verdict": word, "detail": detail}


def protocol_note(tables, claim) -> str:
    """Where the claim's cell was also measured under another protocol setting (the sensitivity
    table): that value, and whether the slide's value falls inside its CI there."""
    cell = {**claim["cell"], **claim["protocol_check"]}
    row = find_cell(tables, cell, claim["id"])
    if row is None:
        return ""
    lo, hi, value = row.ci_low, row.ci_high, claim["value"]
    if claim["rule"] == "difference":
        lo, hi, mean = row.delta_ci_low, row.delta_ci_high, row.delta_vs_ref
    else:
        mean = row["mean"]
    inside = "inside" if lo <= value <= hi else "outside"
    return (f"under {cell.get('setting')} ({cell['table']}): {_num(mean)} [{_num(lo)}, {_num(hi)}]; "
            f"the slide's {value:g} is {inside} this CI")


def build_ledger(tables: dict[str, pd.DataFrame], claims: list[dict], alpha: float) -> pd.DataFrame:
    check_claims(claims)
    ledger = pd.DataFrame([verdict(tables, c, alpha) for c in claims], columns=LEDGER_COLUMNS)
    ledger["n"] = ledger["n"].astype("Int64")  # 5, not 5.0; empty where not run
    return ledger


def _why(r: dict) -> str:
    return r["detail"] + (f"; {r['protocol_note']}" if r["protocol_note"] else "")


def _n(r: dict) -> str:
    return "–" if pd.isna(r["n"]) else str(int(r["n"]))


def _summary(ledger: pd.DataFrame) -> str:
    counts = ledger.verdict.value_counts()
    return "Verdicts: " + ", ".join(f"{v} {int(counts.get(v, 0))}" for v in VERDICTS)


def to_rst(ledger: pd.DataFrame, preset: str) -> str:
    """The ledger as a reStructuredText list-table, for the front page of the Snakemake report."""
    quick = reduced_banner(preset).replace(" — ", " (", 1) + (")" if reduced_banner(preset) else "")
    head = ["slide", "claim", "slide value", "ours (mean [95 % CI])", "n", "verdict", "why"]
    lines = ["Claims ledger", "-------------", "", f"Preset {preset}{quick}. {_summary(ledger)}.", "",
             ".. list-table::", "   :header-rows: 1", ""]
    for cells in [head] + [[r["slide"], r["claim"], r["slide_value"], r["ours"], _n(r), r["verdict"], _why(r)]
                           for r in ledger.to_dict("records")]:
        for i, cell in enumerate(cells):
            text = str(cell).replace("\\", "\\\\").replace("*", "\\*").replace("`", "\\`").replace("|", "\\|")
            lines.append(("   * - " if i == 0 else "     - ") + (text or "–"))
    return "\n".join(lines) + "\n"


def to_markdown(ledger: pd.DataFrame, preset: str) -> str:
    quick = reduced_banner(preset)
    lines = ["### Claims ledger: the slides' claims against this pipeline's numbers", "",
             f"**preset: {preset}**{quick}", "", _summary(ledger), "",
             "| slide | claim | slide | ours (mean [95 % CI]) | n | test | verdict | why |",
             "|---|---|---|---|---|---|---|---|"]
    for r in ledger.to_dict("records"):
        lines.append("| " + " | ".join([r["slide"], r["claim"], r["slide_value"], r["ours"], _n(r), r["test"],
                                         f"**{r['verdict']}**", _why(r)]).replace("\n", " ") + " |")
    lines += ["", "- Rules (ffmodels/ledger.py, PROTOCOL 8): level = the slide's value inside our 95 % CI; direction / "
                  "difference = the row's Holm-corrected test significant in the claimed direction (and a claimed "
                  "magnitude inside our CI, else 'direction only'); not significant = 'not reproduced'; significant "
                  "the other way = 'contradicted'; 'not run' = the experiment is not in this preset's config.",
              "- Claims and the cells that answer them: claims.yaml."]
    return "\n".join(lines) + "\n"
